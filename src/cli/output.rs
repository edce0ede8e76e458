//! Printing records as text (labels from the catalog) or as stable JSON (docs/json.md).
//!
//! Text is data, never terminal control: every line the command line prints for a person
//! (standard output and standard error alike) goes through [`visible`], because the `cli`
//! module shadows `println!`, `print!`, `eprintln!` and `eprint!` with versions that call it
//! (see the top of `cli/mod.rs`). JSON is printed exactly, with the standard macros: JSON
//! escapes control characters itself.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::i18n::t;
use crate::model::{Client, Consent, Note, SearchHit};
use crate::session::{CaseloadRow, CheckReport, ClientView};

/// Text with every control character other than newline and tab (and a carriage return
/// right before a newline) replaced by a visible form: `\e` for ESC, `\r` for a lone carriage
/// return, `\x07` for the other C0 controls and DEL, `\u{9b}` for the C1 controls. A
/// colleague's note can then not clear the screen, move the cursor or set the clipboard
/// (OSC 52) of whoever reads it, on a terminal or through a pipe.
pub fn visible(text: &str) -> Cow<'_, str> {
    if crate::model::is_clean_text(text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' if chars.peek() == Some(&'\n') => out.push(c),
            '\u{1b}' => out.push_str("\\e"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `println!` for the command line: the line made [`visible`]. (Used through the shadowing
/// macros in `cli/mod.rs`; printing fails like `println!` does, see `cli::main`.)
pub fn out_line(args: std::fmt::Arguments<'_>) {
    std::println!("{}", visible(&args.to_string()));
}

/// `print!` for the command line, made [`visible`].
pub fn out(args: std::fmt::Arguments<'_>) {
    std::print!("{}", visible(&args.to_string()));
}

/// `eprintln!` for the command line, made [`visible`].
pub fn err_line(args: std::fmt::Arguments<'_>) {
    std::eprintln!("{}", visible(&args.to_string()));
}

/// `eprint!` for the command line, made [`visible`].
pub fn err(args: std::fmt::Arguments<'_>) {
    std::eprint!("{}", visible(&args.to_string()));
}

/// JSON, exactly: serde_json escapes control characters, and a visible form would change
/// the data.
pub(super) fn print_json(value: &Value) -> anyhow::Result<()> {
    std::println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A client as JSON: the BSN's digits when the session handed them out (asked for and
/// logged), else its last three.
fn client_json(c: &Client, bsn_masked: Option<&str>) -> anyhow::Result<Value> {
    let mut v = serde_json::to_value(c)?;
    let bsn = c.bsn.as_ref().map(|b| b.digits()).or(bsn_masked);
    v["bsn"] = json!(bsn);
    Ok(v)
}

/// The consents as `client show --json` and `client list --json` give them.
fn consents_json(consents: &[Consent]) -> Value {
    let today = chrono::Local::now().date_naive();
    json!(
        consents
            .iter()
            .map(|k| json!({
                "id": k.id, "org": k.org, "purpose": k.purpose, "scope": k.scope,
                "until": k.until, "state": k.state(today),
            }))
            .collect::<Vec<_>>()
    )
}

/// `client list`. The JSON items are `client show`'s, plus two fields (docs/json.md).
pub fn clients(rows: &[CaseloadRow], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        let mut out = Vec::new();
        for r in rows {
            let mut v = client_json(&r.client, r.bsn_masked.as_deref())?;
            v["assigned"] = json!(r.assigned);
            v["consents"] = consents_json(&r.consents);
            v["note_count"] = json!(r.notes);
            v["last_contact"] = json!(r.last_contact);
            out.push(v);
        }
        return print_json(&Value::Array(out));
    }
    if rows.is_empty() {
        eprintln!("{}", t!("list.no_clients"));
        return Ok(());
    }
    for r in rows {
        let (c, notes) = (&r.client, r.notes);
        let last = r
            .last_contact
            .as_deref()
            .map(|l| &l[..10.min(l.len())])
            .unwrap_or("-");
        println!(
            "{}  {:<12} {:<6} {:>4}  {:<10}  {}",
            c.id, c.domain, c.status, notes, last, c.name
        );
    }
    Ok(())
}

/// `client show`.
pub fn client(view: &ClientView, as_json: bool) -> anyhow::Result<()> {
    let today = chrono::Local::now().date_naive();
    let (c, assigned, consents) = (&view.client, &view.assigned, &view.consents);
    if as_json {
        let mut v = client_json(c, view.bsn_masked.as_deref())?;
        v["assigned"] = json!(assigned);
        v["consents"] = consents_json(consents);
        return print_json(&v);
    }
    let none = || "-".to_owned();
    let bsn = c
        .bsn
        .as_ref()
        .map(|b| b.digits().to_owned())
        .or_else(|| view.bsn_masked.clone());
    let rows = [
        (t!("field.id"), c.id.clone()),
        (t!("field.name"), c.name.clone()),
        (t!("field.bsn"), bsn.unwrap_or_else(none)),
        (
            t!("field.birth_date"),
            c.birth_date.map(|d| d.to_string()).unwrap_or_else(none),
        ),
        (t!("field.address"), c.address.clone().unwrap_or_else(none)),
        (t!("field.phone"), c.phone.clone().unwrap_or_else(none)),
        (t!("field.domain"), c.domain.to_string()),
        (t!("field.status"), c.status.to_string()),
        (t!("field.opened_on"), c.opened_on.to_string()),
        (
            t!("field.closed_on"),
            c.closed_on.map(|d| d.to_string()).unwrap_or_else(none),
        ),
        (
            t!("field.retention_until"),
            c.retention_until
                .map(|d| d.to_string())
                .unwrap_or_else(none),
        ),
        (
            t!("field.assigned"),
            if assigned.is_empty() {
                none()
            } else {
                assigned.join(", ")
            },
        ),
    ];
    let width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0)
        + 1;
    for (label, value) in rows {
        println!("{:<width$} {value}", format!("{label}:"));
    }
    let label = t!("field.consents");
    if consents.is_empty() {
        println!("{:<width$} -", format!("{label}:"));
    }
    for (i, k) in consents.iter().enumerate() {
        let head = if i == 0 {
            format!("{label}:")
        } else {
            String::new()
        };
        let mut line = format!(
            "{head:<width$} {} — {} ({}, {})",
            k.org,
            k.purpose,
            t!(format!("scope.{}", k.scope.code())),
            t!(format!("consent.state.{}", k.state(today)))
        );
        if k.expires_within(today, 30) {
            line.push_str(&format!(
                "  [{}]",
                t!("consent.expires", until = k.until.unwrap_or(today))
            ));
        }
        println!("{line}");
    }
    Ok(())
}

/// `note list`.
pub fn notes(notes: &[Note], reveal: bool, as_json: bool) -> anyhow::Result<()> {
    let masked = t!("note.special_masked").into_owned();
    if as_json {
        let mut v = serde_json::to_value(notes)?;
        if !reveal && let Some(list) = v.as_array_mut() {
            for (n, item) in notes.iter().zip(list) {
                if n.special {
                    item["body"] = serde_json::Value::Null;
                }
            }
        }
        return print_json(&v);
    }
    if notes.is_empty() {
        eprintln!("{}", t!("list.no_notes"));
        return Ok(());
    }
    for n in notes {
        let when = n.occurred_at.replacen('T', " ", 1);
        let mut line = format!(
            "{}  {:<11} {}  {}",
            &when[..16.min(when.len())],
            n.kind,
            n.id,
            n.author
        );
        if let Some(by) = &n.superseded_by {
            line.push_str(&format!("  [{}]", t!("list.superseded_by", id = by)));
        }
        if let Some(old) = &n.supersedes {
            line.push_str(&format!("  [{}]", t!("list.corrects", id = old)));
        }
        if n.special {
            line.push_str(&format!("  [{}]", t!("note.special")));
        }
        println!("{line}");
        if n.special && !reveal {
            println!("    {masked}");
        } else {
            for body_line in n.body.lines() {
                println!("    {body_line}");
            }
        }
        println!();
    }
    Ok(())
}

/// `search`.
pub fn search(hits: &[SearchHit], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return print_json(&serde_json::to_value(hits)?);
    }
    if hits.is_empty() {
        eprintln!("{}", t!("list.no_hits"));
        return Ok(());
    }
    for h in hits {
        let kind = if h.kind == "client" {
            t!("word.client")
        } else {
            t!("word.note")
        };
        let snippet = if h.special {
            t!("note.special_in_search").into_owned()
        } else {
            h.snippet.replace('\n', " ")
        };
        println!("{:<7} {}  {}  {}", kind, h.id, h.client_name, snippet);
    }
    Ok(())
}

/// `check`.
pub fn check(r: &CheckReport, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        let mut v = serde_json::to_value(r)?;
        v["ok"] = json!(r.is_healthy());
        return print_json(&v);
    }
    println!(
        "{}",
        t!(
            "check.schema",
            version = r.schema_version,
            generation = r.generation
        )
    );
    println!(
        "{}",
        t!("check.counts", clients = r.clients, notes = r.notes)
    );
    if r.problems.is_empty() {
        println!("{}", t!("check.integrity_ok"));
        println!("{}", t!("check.access_log", n = r.access_log_entries));
    } else {
        for p in &r.problems {
            println!("{}", t!("check.problem", problem = p));
        }
    }
    println!(
        "{}",
        t!("check.recovery", count = r.recovery_recipients.len())
    );
    match &r.previous {
        None => println!("{}", t!("check.no_previous")),
        Some(p) if p.problems.is_empty() => {
            println!(
                "{}",
                t!("check.previous_ok", generation = p.generation.unwrap_or(0))
            )
        }
        Some(p) => {
            for problem in &p.problems {
                println!("{}", t!("check.previous_problem", problem = problem));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_visible_and_text_stays_text() {
        // The issue's reproduction: OSC 52 (set the clipboard), BEL, CSI 2J (clear screen).
        let hostile = "x\u{1b}]52;c;SGVsbG8=\u{7}\u{1b}[2J";
        assert_eq!(visible(hostile), "x\\e]52;c;SGVsbG8=\\x07\\e[2J");
        assert_eq!(visible("a\u{9b}2J\u{7f}b"), "a\\u{9b}2J\\x7fb");
        assert_eq!(visible("over\rwrite"), "over\\rwrite");
        for clean in [
            "",
            "Fatima el Amrani",
            "twee\nregels\tmet tab",
            "windows\r\nregel",
            "café ✓ 👍",
        ] {
            assert!(matches!(visible(clean), Cow::Borrowed(_)), "{clean:?}");
        }
    }

    proptest::proptest! {
        /// Whatever the input, the output has no control character a terminal acts on, and
        /// text without one comes out unchanged.
        #[test]
        fn nothing_steers_the_terminal(input in proptest::prelude::any::<String>()) {
            let out = visible(&input);
            proptest::prop_assert!(crate::model::is_clean_text(&out));
            let (esc, csi) = ('\u{1b}', '\u{9b}');
            proptest::prop_assert!(!out.contains(esc) && !out.contains(csi), "{:?}", out);
            if crate::model::is_clean_text(&input) {
                proptest::prop_assert_eq!(&*out, &*input);
            }
        }
    }
}
