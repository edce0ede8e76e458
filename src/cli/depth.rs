//! Household, network, support plan and assessments on the command line.

use std::path::{Path, PathBuf};

use chrono::Local;
use clap::{Args, Subcommand};
use serde_json::json;

use super::output::print_json;
use super::{open, optional};
use crate::i18n::t;
use crate::model::{self, Contact, Relation, parse_choice};
use crate::session::{Access, Session};
use crate::store::IdTable;

#[derive(Subcommand, Debug)]
pub(super) enum HouseholdCmd {
    /// Add a member of the client's household; prints the new id
    Add {
        /// Client id or a unique prefix of at least 8 characters
        client: String,
        /// Name
        #[arg(long)]
        name: String,
        /// partner, kind (child), ouder (parent) or overig (other)
        #[arg(long)]
        relation: String,
        /// Birth date, YYYY-MM-DD
        #[arg(long)]
        birth_date: Option<String>,
    },
    /// The household, children first
    List {
        /// Client id or a unique prefix of at least 8 characters
        client: String,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum ContactCmd {
    /// Add someone to the client's network (GP, school, creditor...); prints the new id
    Add {
        /// Client id or a unique prefix of at least 8 characters
        client: String,
        /// Name
        #[arg(long)]
        name: String,
        /// Organisation
        #[arg(long)]
        org: Option<String>,
        /// Role: huisarts, mentor, schuldeiser...
        #[arg(long)]
        role: Option<String>,
        /// Phone number
        #[arg(long)]
        phone: Option<String>,
        /// Email address
        #[arg(long)]
        email: Option<String>,
    },
    /// The network, by name
    List {
        /// Client id or a unique prefix of at least 8 characters
        client: String,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum AttachCmd {
    /// Keep a file in the dossier (a signed form, a letter); prints the new id. The original
    /// stays where it is: delete it yourself
    Add {
        /// Client id or a unique prefix of at least 8 characters
        client: String,
        /// The file (at most 20 MiB)
        file: PathBuf,
        /// What it is [default: the file name]
        #[arg(long)]
        title: Option<String>,
    },
    /// A dossier's files
    List {
        /// Client id or a unique prefix of at least 8 characters
        client: String,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// Write a file out of the vault: as plain bytes (it is then outside the vault), or
    /// encrypted with --recipient
    Export {
        /// Attachment id or a unique prefix of at least 8 characters
        id: String,
        /// Where to write it (never over an existing file)
        #[arg(long)]
        out: PathBuf,
        /// Encrypt it with age to this recipient instead of writing plain bytes
        #[arg(long, value_name = "age1...")]
        recipient: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum VisitCmd {
    /// Plan a visit (a kitchen-table appointment); prints the new id
    Add {
        /// Client id or a unique prefix of at least 8 characters
        client: String,
        /// When: YYYY-MM-DD HH:MM
        #[arg(long)]
        at: String,
        /// What it is for
        #[arg(long)]
        purpose: Option<String>,
    },
    /// A client's planned visits
    List {
        /// Client id or a unique prefix of at least 8 characters
        client: String,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum PlanCmd {
    /// Goals of the support plan
    #[command(subcommand)]
    Goal(GoalCmd),
    /// Agreed actions towards a goal
    #[command(subcommand)]
    Action(ActionCmd),
    /// The plan: goals per life domain with their actions
    Show {
        /// Client id or a unique prefix of at least 8 characters
        client: String,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum GoalCmd {
    /// Add a goal in a life domain; prints the new id
    Add {
        /// Client id or a unique prefix of at least 8 characters
        client: String,
        /// Life domain (see `kluis config show`)
        #[arg(long)]
        domain: String,
        /// The goal, as agreed with the client
        #[arg(long)]
        text: String,
    },
    /// Write an evaluation of a goal: a note linked to it; prints the note's id
    Evaluate {
        /// Goal id or a unique prefix of at least 8 characters
        goal: String,
        /// How it is going
        #[arg(long)]
        text: String,
        /// When: YYYY-MM-DD[ HH:MM] [default: now]
        #[arg(long)]
        at: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum ActionCmd {
    /// Add an action to a goal; prints the new id
    Add {
        /// Goal id or a unique prefix of at least 8 characters
        goal: String,
        /// What is to be done
        #[arg(long)]
        text: String,
        /// Who does it: client, me, a worker id or an organisation
        #[arg(long, default_value = "client")]
        owner: String,
        /// By when, YYYY-MM-DD
        #[arg(long)]
        due: Option<String>,
    },
    /// Mark an action done
    Done {
        /// Action id or a unique prefix of at least 8 characters
        id: String,
        /// The day it was done, YYYY-MM-DD [default: today]
        #[arg(long)]
        at: Option<String>,
    },
}

/// Arguments of `assess`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub(super) struct AssessArgs {
    #[command(subcommand)]
    list: Option<AssessCmd>,
    /// Client id or a unique prefix of at least 8 characters
    client: Option<String>,
    /// Life domain (see `kluis config show`)
    #[arg(long)]
    domain: Option<String>,
    /// 1 (acute problems) to 5 (fully self-sufficient)
    #[arg(long)]
    score: Option<String>,
    /// Why this domain matters for the help asked (required: record a domain only when it
    /// matters)
    #[arg(long)]
    reason: Option<String>,
    /// The day it applies to, YYYY-MM-DD [default: today]
    #[arg(long)]
    at: Option<String>,
}

#[derive(Subcommand, Debug)]
pub(super) enum AssessCmd {
    /// A client's scores over time, per life domain
    List {
        /// Client id or a unique prefix of at least 8 characters
        client: String,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
}

fn resolve(session: &Session, client: &str) -> anyhow::Result<String> {
    let prefix = model::parse_id_prefix("CLIENT", client)?;
    Ok(session.resolve(IdTable::Client, &prefix)?)
}

pub(super) fn life_domains() -> Vec<String> {
    super::settings().map_or_else(
        || {
            model::LIFE_DOMAINS
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        },
        |s| s.life_domains.value.clone(),
    )
}

fn line(field: &'static str, v: Option<String>) -> anyhow::Result<Option<String>> {
    Ok(optional(v, |v| model::parse_optional_line(field, v))?.flatten())
}

/// `household add|list`.
pub(super) fn household(
    path: &Path,
    pass_file: Option<&Path>,
    cmd: HouseholdCmd,
) -> anyhow::Result<()> {
    let today = Local::now().date_naive();
    match cmd {
        HouseholdCmd::Add {
            client,
            name,
            relation,
            birth_date,
        } => {
            let name = model::parse_name("--name", &name)?;
            let relation = parse_choice("--relation", &relation, Relation::ALL)?;
            let birth = optional(birth_date, |v| model::parse_birth_date(v, today))?;
            let mut session = open(path, pass_file, Access::Write)?;
            let client = resolve(&session, &client)?;
            let id = session.change(|s| s.add_household(&client, &name, relation, birth))?;
            println!("{id}");
            Ok(session.close()?)
        }
        HouseholdCmd::List { client, json } => {
            let mut session = open(path, pass_file, Access::Write)?;
            let client = resolve(&session, &client)?;
            let list: Vec<model::HouseholdMember> = session.records(&client)?;
            if json {
                print_json(&serde_json::to_value(&list)?)?;
            } else if list.is_empty() {
                eprintln!("{}", t!("depth.none"));
            } else {
                for h in &list {
                    println!(
                        "{}  {:<8} {:<10}  {}",
                        h.id,
                        h.relation,
                        h.birth_date.map_or_else(|| "-".into(), |d| d.to_string()),
                        h.name
                    );
                }
            }
            Ok(session.close()?)
        }
    }
}

/// `contact add|list`.
pub(super) fn contact(
    path: &Path,
    pass_file: Option<&Path>,
    cmd: ContactCmd,
) -> anyhow::Result<()> {
    match cmd {
        ContactCmd::Add {
            client,
            name,
            org,
            role,
            phone,
            email,
        } => {
            let mut c = Contact {
                id: String::new(),
                client_id: String::new(),
                name: model::parse_name("--name", &name)?,
                org: line("--org", org)?,
                role: line("--role", role)?,
                phone: line("--phone", phone)?,
                email: line("--email", email)?,
                author: String::new(),
                created_at: String::new(),
            };
            let mut session = open(path, pass_file, Access::Write)?;
            c.client_id = resolve(&session, &client)?;
            let id = session.change(|s| s.add_contact(&c))?;
            println!("{id}");
            Ok(session.close()?)
        }
        ContactCmd::List { client, json } => {
            let mut session = open(path, pass_file, Access::Write)?;
            let client = resolve(&session, &client)?;
            let list: Vec<Contact> = session.records(&client)?;
            if json {
                print_json(&serde_json::to_value(&list)?)?;
            } else if list.is_empty() {
                eprintln!("{}", t!("depth.none"));
            } else {
                let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                for c in &list {
                    println!(
                        "{}  {}  {} · {} · {} · {}",
                        c.id,
                        c.name,
                        o(&c.role),
                        o(&c.org),
                        o(&c.phone),
                        o(&c.email)
                    );
                }
            }
            Ok(session.close()?)
        }
    }
}

/// `plan goal add`, `plan action add|done`, `plan show`.
pub(super) fn plan(path: &Path, pass_file: Option<&Path>, cmd: PlanCmd) -> anyhow::Result<()> {
    let today = Local::now().date_naive();
    match cmd {
        PlanCmd::Goal(GoalCmd::Add {
            client,
            domain,
            text,
        }) => {
            let domain = model::parse_life_domain("--domain", &domain, &life_domains())?;
            let text = model::parse_note_body(&text)?;
            let mut session = open(path, pass_file, Access::Write)?;
            let client = resolve(&session, &client)?;
            super::practice::warn(&t!("nudge.what_goal"), &text, false, &[]);
            let id = session.change(|s| s.add_goal(&client, &domain, &text))?;
            println!("{id}");
            Ok(session.close()?)
        }
        PlanCmd::Goal(GoalCmd::Evaluate { goal, text, at }) => {
            let goal = model::parse_id_prefix("GOAL", &goal)?;
            let text = model::parse_note_body(&text)?;
            let at = optional(at, |v| model::parse_moment("--at", v, today))?
                .unwrap_or_else(|| Local::now().naive_local());
            let mut session = open(path, pass_file, Access::Write)?;
            let goal = session.resolve(IdTable::Goal, &goal)?;
            super::practice::warn(&t!("nudge.what_note"), &text, false, &[]);
            let id = session.change(|s| s.evaluate_goal(&goal, &text, at))?;
            println!("{id}");
            Ok(session.close()?)
        }
        PlanCmd::Action(ActionCmd::Add {
            goal,
            text,
            owner,
            due,
        }) => {
            let goal = model::parse_id_prefix("GOAL", &goal)?;
            let text = model::parse_note_body(&text)?;
            let owner = model::parse_owner("--owner", &owner)?;
            let due = optional(due, |v| model::parse_date("--due", v))?;
            let mut session = open(path, pass_file, Access::Write)?;
            let goal = session.resolve(IdTable::Goal, &goal)?;
            super::practice::warn(&t!("nudge.what_text"), &text, false, &[]);
            let id = session.change(|s| s.add_action(&goal, &text, &owner, due))?;
            println!("{id}");
            Ok(session.close()?)
        }
        PlanCmd::Action(ActionCmd::Done { id, at }) => {
            let prefix = model::parse_id_prefix("ID", &id)?;
            let at = optional(at, |v| model::parse_date("--at", v))?.unwrap_or(today);
            let mut session = open(path, pass_file, Access::Write)?;
            let id = session.resolve(IdTable::Action, &prefix)?;
            let done = session.change(|s| s.action_done(&id, at))?;
            eprintln!(
                "{}",
                if done {
                    t!("depth.action_done", id = id)
                } else {
                    t!("depth.action_was_done", id = id)
                }
            );
            Ok(session.close()?)
        }
        PlanCmd::Show { client, json } => {
            let mut session = open(path, pass_file, Access::Write)?;
            let client = resolve(&session, &client)?;
            let plan = session.plan(&client)?;
            let (goals, actions, evals) = (&plan.goals, &plan.actions, &plan.evaluations);
            // An evaluation's text is a note: special ones stay masked here too.
            let eval_text = |n: &model::Note| (!n.special).then(|| n.body.clone());
            if json {
                let list: Vec<_> = goals
                    .iter()
                    .map(|g| {
                        let mut v = serde_json::to_value(g).unwrap_or_default();
                        v["actions"] = json!(
                            actions
                                .iter()
                                .filter(|a| a.goal_id == g.id)
                                .collect::<Vec<_>>()
                        );
                        v["evaluations"] = json!(
                            evals
                                .iter()
                                .filter(|(e, _)| e.goal_id == g.id)
                                .map(|(e, n)| json!({
                                    "note_id": e.note_id,
                                    "occurred_at": n.as_ref().map(|n| n.occurred_at.clone()),
                                    "text": n.as_ref().and_then(eval_text),
                                    "author": e.author,
                                }))
                                .collect::<Vec<_>>()
                        );
                        v
                    })
                    .collect();
                print_json(&json!(list))?;
            } else if goals.is_empty() {
                eprintln!("{}", t!("depth.no_plan"));
            } else {
                let mut domain = "";
                for g in goals {
                    if g.domain != domain {
                        domain = &g.domain;
                        println!("{}", domain.to_uppercase());
                    }
                    println!("  {}  {}", g.id, g.text);
                    for a in actions.iter().filter(|a| a.goal_id == g.id) {
                        let status = match a.done_on {
                            Some(d) => t!("depth.done_on", date = d).into_owned(),
                            None => a.due.map_or_else(
                                || t!("depth.open").into_owned(),
                                |d| t!("depth.due", date = d).into_owned(),
                            ),
                        };
                        println!("    {}  [{}] {} ({})", a.id, status, a.text, a.owner);
                    }
                    for (_, n) in evals.iter().filter(|(e, _)| e.goal_id == g.id) {
                        if let Some(n) = n {
                            let text = eval_text(n)
                                .unwrap_or_else(|| t!("note.special_masked").into_owned());
                            println!(
                                "    {}: {}",
                                t!("depth.evaluation", date = &n.occurred_at[..10]),
                                text.replace('\n', " ")
                            );
                        }
                    }
                }
            }
            Ok(session.close()?)
        }
    }
}

/// `assess CLIENT ...` and `assess list CLIENT`.
pub(super) fn assess(path: &Path, pass_file: Option<&Path>, a: AssessArgs) -> anyhow::Result<()> {
    let today = Local::now().date_naive();
    if let Some(AssessCmd::List { client, json }) = a.list {
        let mut session = open(path, pass_file, Access::Write)?;
        let client = resolve(&session, &client)?;
        let list: Vec<model::Assessment> = session.records(&client)?;
        if json {
            print_json(&serde_json::to_value(&list)?)?;
        } else if list.is_empty() {
            eprintln!("{}", t!("depth.none"));
        } else {
            for s in &list {
                println!(
                    "{}  {}  {:<30} {}  {}",
                    s.id,
                    s.at,
                    s.domain,
                    "●".repeat(s.score as usize) + &"○".repeat(5 - s.score as usize),
                    s.reason
                );
            }
        }
        return Ok(session.close()?);
    }
    let missing = |f: &'static str| crate::error::Error::invalid(f, t!("val.required"));
    let client = a.client.ok_or_else(|| missing("CLIENT"))?;
    let domain = model::parse_life_domain(
        "--domain",
        &a.domain.ok_or_else(|| missing("--domain"))?,
        &life_domains(),
    )?;
    let score = model::parse_score("--score", &a.score.ok_or_else(|| missing("--score"))?)?;
    // Minimisation: a domain is recorded only with the reason it matters for the help.
    let reason = a
        .reason
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| crate::error::Error::invalid("--reason", t!("val.reason_required")))?;
    let reason = model::parse_note_body(&reason)?;
    let at = optional(a.at, |v| model::parse_date("--at", v))?.unwrap_or(today);
    let mut session = open(path, pass_file, Access::Write)?;
    let client = resolve(&session, &client)?;
    super::practice::warn(&t!("nudge.what_text"), &reason, false, &[]);
    let id = session.change(|s| s.add_assessment(&client, &domain, score, &reason, at))?;
    println!("{id}");
    Ok(session.close()?)
}

/// `visit add|list`.
pub(super) fn visit(path: &Path, pass_file: Option<&Path>, cmd: VisitCmd) -> anyhow::Result<()> {
    match cmd {
        VisitCmd::Add {
            client,
            at,
            purpose,
        } => {
            let at = model::parse_moment("--at", &at, Local::now().date_naive())?;
            let purpose = line("--purpose", purpose)?;
            let mut session = open(path, pass_file, Access::Write)?;
            let client = resolve(&session, &client)?;
            let id = session.change(|s| s.add_visit(&client, at, purpose.as_deref()))?;
            println!("{id}");
            Ok(session.close()?)
        }
        VisitCmd::List { client, json } => {
            let mut session = open(path, pass_file, Access::Write)?;
            let client = resolve(&session, &client)?;
            let list: Vec<model::Visit> = session.records(&client)?;
            if json {
                print_json(&serde_json::to_value(&list)?)?;
            } else if list.is_empty() {
                eprintln!("{}", t!("depth.none"));
            } else {
                for v in &list {
                    println!(
                        "{}  {}  {}",
                        v.id,
                        v.at.replacen('T', " ", 1).get(..16).unwrap_or(&v.at),
                        v.purpose.as_deref().unwrap_or("-")
                    );
                }
            }
            Ok(session.close()?)
        }
    }
}

/// `agenda [--days N]`: what is coming up, for a field day.
pub(super) fn agenda(
    path: &Path,
    pass_file: Option<&Path>,
    days: u64,
    json: bool,
) -> anyhow::Result<()> {
    let today = Local::now().date_naive();
    let mut session = open(path, pass_file, Access::Write)?;
    let mut items = session.agenda(today, days)?;
    let months = super::settings().map_or(model::DEFAULT_REVIEW_MONTHS, |s| {
        s.access_review_months.value
    });
    items.extend(session.reminders(today, days, months)?);
    items.sort_by(|a, b| (a.date, &a.time, a.kind, &a.id).cmp(&(b.date, &b.time, b.kind, &b.id)));
    if json {
        print_json(&serde_json::to_value(&items)?)?;
    } else if items.is_empty() {
        eprintln!("{}", t!("agenda.empty", days = days));
    } else {
        for i in &items {
            let what = i.describe();
            println!(
                "{}  {:<5}  {}  {}  {}",
                i.date,
                i.time.as_deref().unwrap_or(""),
                i.client_name,
                i.address.as_deref().unwrap_or("-"),
                what
            );
        }
    }
    Ok(session.close()?)
}

/// `attach add|list|export`.
pub(super) fn attach(path: &Path, pass_file: Option<&Path>, cmd: AttachCmd) -> anyhow::Result<()> {
    match cmd {
        AttachCmd::Add {
            client,
            file,
            title,
        } => {
            use crate::fsx::{self, Follow, Owner, Refusal};
            let too_big = || {
                crate::error::Error::invalid(
                    "FILE",
                    t!(
                        "depth.attachment_too_big",
                        max = model::MAX_ATTACHMENT_BYTES / 1024 / 1024
                    ),
                )
            };
            let refused = |r: Refusal| match r {
                Refusal::TooLarge(_) => too_big(),
                other => other.into_invalid("FILE", &file),
            };
            // Opened (never blocking on a FIFO) and checked before the vault is unlocked; read
            // after, through the same descriptor, at most the cap.
            let (input, meta) = fsx::open(
                &file,
                Follow::Yes,
                Owner::Anyone,
                model::MAX_ATTACHMENT_BYTES,
            )
            .map_err(refused)?;
            let filename = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "file".into());
            let filename = model::parse_name("FILE", &filename)?;
            let title = match title {
                Some(t) => model::parse_name("--title", &t)?,
                None => filename.clone(),
            };
            let mut session = open(path, pass_file, Access::Write)?;
            let client = resolve(&session, &client)?;
            let data = zeroize::Zeroizing::new(
                fsx::read_all(input, &meta, model::MAX_ATTACHMENT_BYTES).map_err(refused)?,
            );
            let id = session.change(|s| s.add_attachment(&client, &title, &filename, &data))?;
            println!("{id}");
            eprintln!("{}", t!("depth.attached", path = file.display()));
            Ok(session.close()?)
        }
        AttachCmd::List { client, json } => {
            let mut session = open(path, pass_file, Access::Write)?;
            let client = resolve(&session, &client)?;
            let list: Vec<model::Attachment> = session.records(&client)?;
            if json {
                print_json(&serde_json::to_value(&list)?)?;
            } else if list.is_empty() {
                eprintln!("{}", t!("depth.none"));
            } else {
                for a in &list {
                    println!(
                        "{}  {:>9}  {}  {} ({})",
                        a.id,
                        a.size,
                        &a.created_at[..10.min(a.created_at.len())],
                        a.title,
                        a.filename
                    );
                }
            }
            Ok(session.close()?)
        }
        AttachCmd::Export { id, out, recipient } => {
            let prefix = model::parse_id_prefix("ID", &id)?;
            let recipient = optional(recipient, |v| model::parse_recipient("--recipient", v))?;
            if out.symlink_metadata().is_ok() {
                return Err(crate::error::Error::FileExists { path: out }.into());
            }
            let mut session = open(path, pass_file, Access::Write)?;
            let id = session.resolve(IdTable::Attachment, &prefix)?;
            let how = if recipient.is_some() {
                "encrypted"
            } else {
                "plain"
            };
            let (_, data) = session.attachment_out(&id, how)?;
            let bytes = match &recipient {
                Some(r) => {
                    zeroize::Zeroizing::new(crate::vault::seal_to(std::slice::from_ref(r), &data)?)
                }
                None => data,
            };
            crate::org::write_new(&out, &bytes)?;
            println!("{}", out.display());
            if recipient.is_none() {
                eprintln!("{}", t!("depth.attachment_plain", path = out.display()));
            }
            Ok(session.close()?)
        }
    }
}
