//! `kluis record kinds|add|list`: every kind of record that has no command of its own, entered
//! and listed from its declaration (src/model/record.rs), so a new kind needs no command code.

use std::path::Path;

use clap::Subcommand;
use serde_json::{Value, json};

use super::open;
use super::output::print_json;
use crate::error::Error;
use crate::i18n::t;
use crate::model::record::{Input, Kind, Record, Section, Visitor};
use crate::session::Access;
use crate::store::IdTable;

#[derive(Subcommand, Debug)]
pub(super) enum RecordCmd {
    /// The kinds of record this command enters, with their fields
    Kinds {
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// Add a record: `--set FIELD=VALUE` for each field; prints the new id
    Add {
        /// The kind (see `kluis record kinds`)
        kind: String,
        /// Client id or a unique prefix of at least 8 characters
        client: String,
        /// A field's value, FIELD=VALUE; repeatable
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
    },
    /// A dossier's records of one kind
    List {
        /// The kind (see `kluis record kinds`)
        kind: String,
        /// Client id or a unique prefix of at least 8 characters
        client: String,
        /// Show the text of special-category records (logged)
        #[arg(long)]
        reveal: bool,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
}

/// The kinds shown by the generic code (their section is `Records`).
fn generic_kinds() -> impl Iterator<Item = Kind> {
    Kind::ALL
        .iter()
        .copied()
        .filter(|k| k.spec().section == Section::Records)
}

fn kind_of(code: &str) -> Result<Kind, Error> {
    let code = code.trim().to_lowercase();
    generic_kinds()
        .find(|k| k.spec().code == code)
        .ok_or_else(|| {
            let allowed: Vec<&str> = generic_kinds().map(|k| k.spec().code).collect();
            Error::invalid(
                "KIND",
                t!("val.choice", value = code, allowed = allowed.join(", ")),
            )
        })
}

/// A kind's entered fields: name, how it is entered, whether it may be left out.
fn fields_of(kind: Kind) -> Vec<Value> {
    struct Fields;
    impl Visitor for Fields {
        type Out = Vec<Value>;
        fn visit<R: Record>(self) -> Vec<Value> {
            R::FIELDS
                .iter()
                .filter(|f| f.input.is_entered())
                .map(|f| {
                    let input = match f.input {
                        Input::Ref(k) => format!("id of a {}", k.spec().code),
                        Input::Choice => f.codes.join("|"),
                        other => format!("{other:?}").to_lowercase(),
                    };
                    json!({ "field": f.name, "input": input, "optional": f.optional })
                })
                .collect()
        }
    }
    kind.visit(Fields).unwrap_or_default()
}

/// `record kinds|add|list`.
pub(super) fn run(path: &Path, pass_file: Option<&Path>, cmd: RecordCmd) -> anyhow::Result<()> {
    match cmd {
        RecordCmd::Kinds { json } => {
            let kinds: Vec<Value> = generic_kinds()
                .map(|k| json!({ "kind": k.spec().code, "fields": fields_of(k) }))
                .collect();
            if json {
                return print_json(&json!(kinds));
            }
            if kinds.is_empty() {
                eprintln!("{}", t!("record.no_kinds"));
            }
            for k in generic_kinds() {
                println!("{} ({})", k.spec().code, k.label());
                for f in fields_of(k) {
                    let optional = if f["optional"] == true {
                        format!(" [{}]", t!("record.optional"))
                    } else {
                        String::new()
                    };
                    println!(
                        "  {}: {}{optional}",
                        f["field"].as_str().unwrap_or(""),
                        f["input"].as_str().unwrap_or("")
                    );
                }
            }
            Ok(())
        }
        RecordCmd::Add { kind, client, set } => {
            let kind = kind_of(&kind)?;
            let prefix = crate::model::parse_id_prefix("CLIENT", &client)?;
            let typed = set
                .iter()
                .map(|s| {
                    s.split_once('=')
                        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
                        .ok_or_else(|| Error::invalid("--set", t!("record.set_form")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut session = open(path, pass_file, Access::Write)?;
            let client = session.resolve(IdTable::Client, &prefix)?;
            // The nudges look at every free text typed, with the record's own special flag.
            let special = typed.iter().any(|(k, v)| {
                k == "special"
                    && matches!(
                        v.trim().to_lowercase().as_str(),
                        "ja" | "yes" | "true" | "1"
                    )
            });
            for (name, value) in &typed {
                let is_text = crate::model::record::fields_of(kind)
                    .iter()
                    .any(|f| f.name == name.as_str() && f.input == Input::Text);
                if is_text {
                    super::practice::warn(&t!("nudge.what_text"), value, special, &[]);
                }
            }
            let id = session.add_record(kind, &client, &typed, &super::depth::life_domains())?;
            println!("{id}");
            Ok(session.close()?)
        }
        RecordCmd::List {
            kind,
            client,
            reveal,
            json,
        } => {
            let kind = kind_of(&kind)?;
            let prefix = crate::model::parse_id_prefix("CLIENT", &client)?;
            let mut session = open(path, pass_file, Access::Write)?;
            let client = session.resolve(IdTable::Client, &prefix)?;
            let rows = session.generic_records(kind, &client, reveal)?;
            if json {
                print_json(&json!(rows.iter().map(|r| &r.value).collect::<Vec<_>>()))?;
            } else if rows.is_empty() {
                eprintln!("{}", t!("depth.none"));
            } else {
                for r in &rows {
                    println!("{}", r.id);
                    for (name, value) in &r.fields {
                        let shown = if r.masked && value.is_empty() {
                            t!("note.special_masked").into_owned()
                        } else {
                            value.clone()
                        };
                        println!("    {name}: {shown}");
                    }
                }
            }
            Ok(session.close()?)
        }
    }
}
