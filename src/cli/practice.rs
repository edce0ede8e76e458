//! Privacy in daily practice on the command line: the consent form and the leaflet, the
//! nudges toward less data, group sessions, the meldcode and the access review.

use std::io::{BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{Local, NaiveDate};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::output::print_json;
use super::{open, optional};
use crate::error::Error;
use crate::i18n::{Lang, t};
use crate::model::nudge::{self, Lexicon, What};
use crate::model::{
    self, Consulted, Decision, MeldStep, ReviewReason, Scope, TeamOverview, Trajectory, Withhold,
    parse_choice,
};
use crate::session::{Access, Session};
use crate::store::{IdTable, NewGroupSession, NewStep};

fn today() -> NaiveDate {
    Local::now().date_naive()
}

/// The words the nudges look for: kluis's list and the config's `[special_words]`.
pub(super) fn lexicon() -> Lexicon {
    super::settings().map_or_else(Lexicon::builtin, |s| s.lexicon())
}

fn review_months(given: Option<String>) -> anyhow::Result<u32> {
    Ok(match given {
        Some(m) => model::parse_months("--months", &m)?,
        None => super::settings().map_or(model::DEFAULT_REVIEW_MONTHS, |s| {
            s.access_review_months.value
        }),
    })
}

/// What the terminal app takes from the same settings.
pub(super) fn tui_practice() -> crate::tui::app::Practice {
    crate::tui::app::Practice {
        lexicon: lexicon(),
        review_months: review_months(None).unwrap_or(model::DEFAULT_REVIEW_MONTHS),
        privacy_officer: privacy_officer(),
    }
}

fn privacy_officer() -> Option<String> {
    super::settings().and_then(|s| s.privacy_officer.value.clone())
}

/// Where a byte offset is: line and column, from 1.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

fn describe(f: &nudge::Finding) -> String {
    match f.what {
        What::Special(c) => t!(
            "nudge.found_special",
            category = c.label(),
            word = f.shown()
        ),
        What::Name => t!("nudge.found_name", name = f.shown()),
        w => t!(format!("nudge.found_{}", w.code()), shown = f.shown()),
    }
    .into_owned()
}

/// The nudge for a free text, on stderr: what it may hold that is not needed, and the
/// choices (mark it special, remove the detail, keep it). Never stops anything: the text is
/// saved as it is. `special` says whether it is marked special already; `names` are names
/// of others to look for (a group session's participants).
pub(super) fn warn(what: &str, text: &str, special: bool, names: &[String]) {
    let mut found = nudge::scan(text, &lexicon());
    found.extend(nudge::scan_names(text, names));
    found.sort_by_key(|f| f.range.start);
    let advice = nudge::advise(&found, special);
    if advice.is_empty() {
        return;
    }
    eprintln!("{}", t!("nudge.head", what = what));
    for f in found
        .iter()
        .filter(|f| f.what.is_detail() || advice.suggest_special)
    {
        let (line, col) = line_col(text, f.range.start);
        eprintln!(
            "  {}",
            t!("nudge.at", line = line, col = col, what = describe(f))
        );
    }
    if advice.suggest_special {
        eprintln!("{}", t!("nudge.offer_special"));
    }
    if !advice.details.is_empty() {
        eprintln!("{}", t!("nudge.offer_remove"));
    }
    eprintln!("{}", t!("nudge.kept"));
}

fn read_text(given: Option<String>) -> anyhow::Result<String> {
    match given {
        Some(t) => Ok(t),
        None => {
            if std::io::stdin().is_terminal() {
                eprintln!("{}", t!("prompt.note_stdin"));
            }
            let mut buf = String::new();
            std::io::stdin()
                .read_to_string(&mut buf)
                .with_context(|| t!("io.stdin").into_owned())?;
            Ok(buf)
        }
    }
}

fn refuse_existing(path: &Path) -> Result<(), Error> {
    if path.symlink_metadata().is_ok() {
        return Err(Error::FileExists {
            path: path.to_owned(),
        });
    }
    Ok(())
}

fn resolve_client(session: &Session, arg: &'static str, client: &str) -> anyhow::Result<String> {
    let prefix = model::parse_id_prefix(arg, client)?;
    Ok(session.resolve(IdTable::Client, &prefix)?)
}

// ---------------------------------------------------------------- consent form, leaflet

/// Arguments of `consent form`.
#[derive(Args, Debug)]
pub(super) struct FormArgs {
    /// Client id or a unique prefix of at least 8 characters
    client: String,
    /// The organisation the information would go to
    #[arg(long)]
    org: String,
    /// What it would be used for
    #[arg(long)]
    purpose: String,
    /// What it would cover: details (name, BSN, birth date, address, phone), notes, or all
    #[arg(long, default_value = "details")]
    scope: String,
    /// It would explicitly cover special-category data (health, for example) too
    #[arg(long)]
    special: bool,
    /// Last day it would be valid, YYYY-MM-DD
    #[arg(long)]
    until: Option<String>,
    /// The HTML file to write (print it, or print it to PDF)
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Language of the form [default: the language of messages]
    #[arg(long = "doc-lang", value_enum, value_name = "LANG")]
    doc_lang: Option<Lang>,
}

/// `consent form`: a printable A4 form to sign.
pub(super) fn consent_form(
    path: &Path,
    pass_file: Option<&Path>,
    a: FormArgs,
) -> anyhow::Result<()> {
    let today = today();
    let org = model::parse_name("--org", &a.org)?;
    let purpose = model::parse_name("--purpose", &a.purpose)?;
    let scope = parse_choice("--scope", &a.scope, Scope::ALL)?;
    let until = optional(a.until, |v| model::parse_date("--until", v))?;
    if until.is_some_and(|u| u < today) {
        return Err(Error::invalid("--until", t!("val.until_before_given")).into());
    }
    refuse_existing(&a.out)?;
    let mut session = open(path, pass_file, Access::Write)?;
    let client = resolve_client(&session, "CLIENT", &a.client)?;
    let facts = session.consent_form(
        &client,
        &org,
        &purpose,
        scope,
        a.special,
        until,
        privacy_officer(),
        today,
    )?;
    let lang = a.doc_lang.unwrap_or_else(crate::i18n::current);
    let html = zeroize::Zeroizing::new(crate::documents::consent_form(&facts, lang));
    crate::org::write_new(&a.out, html.as_bytes())?;
    println!("{}", a.out.display());
    eprintln!(
        "{}",
        t!("doc.form.written", path = a.out.display(), id = client)
    );
    Ok(session.close()?)
}

/// Arguments of `leaflet`.
#[derive(Args, Debug)]
pub(super) struct LeafletArgs {
    /// The HTML file to write (print it, or print it to PDF)
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Language of the leaflet [default: the language of messages]
    #[arg(long = "doc-lang", value_enum, value_name = "LANG")]
    doc_lang: Option<Lang>,
}

/// `leaflet`: what this vault keeps and what residents may ask, from its settings.
pub(super) fn leaflet(path: &Path, pass_file: Option<&Path>, a: LeafletArgs) -> anyhow::Result<()> {
    refuse_existing(&a.out)?;
    // Settings only, no dossier: a shared lock will do.
    let session = open(path, pass_file, Access::Read)?;
    let facts = session.leaflet_facts(privacy_officer())?;
    let lang = a.doc_lang.unwrap_or_else(crate::i18n::current);
    let html = crate::documents::leaflet(&facts, lang, today());
    crate::org::write_new(&a.out, html.as_bytes())?;
    println!("{}", a.out.display());
    eprintln!("{}", t!("doc.leaflet.written", path = a.out.display()));
    Ok(())
}

/// `consent add --evidence`: an attachment id (prefix) when it names one of the dossier's
/// files (the signed form), else the text as it is (a form in a paper file).
pub(super) fn evidence_attachment(session: &Session, evidence: &str) -> Option<String> {
    let prefix = model::parse_id_prefix("--evidence", evidence).ok()?;
    session.resolve(IdTable::Attachment, &prefix).ok()
}

/// `consent evidence CONSENT ATTACHMENT`.
pub(super) fn consent_evidence(
    path: &Path,
    pass_file: Option<&Path>,
    consent: &str,
    attachment: &str,
) -> anyhow::Result<()> {
    let consent = model::parse_id_prefix("CONSENT", consent)?;
    let attachment = model::parse_id_prefix("ATTACHMENT", attachment)?;
    let mut session = open(path, pass_file, Access::Write)?;
    let consent = session.resolve(IdTable::Consent, &consent)?;
    let attachment = session.resolve(IdTable::Attachment, &attachment)?;
    let changed = session.change(|s| s.set_consent_evidence(&consent, &attachment))?;
    eprintln!(
        "{}",
        if changed {
            t!(
                "consent.evidence_set",
                id = consent,
                attachment = attachment
            )
        } else {
            t!("consent.evidence_same", id = consent)
        }
    );
    Ok(session.close()?)
}

/// `consent list`: each consent with its state and whether a signed form is kept.
pub(super) fn consent_list(
    path: &Path,
    pass_file: Option<&Path>,
    client: &str,
    as_json: bool,
) -> anyhow::Result<()> {
    let today = today();
    let mut session = open(path, pass_file, Access::Write)?;
    let id = resolve_client(&session, "CLIENT", client)?;
    let list = session.consents_with_forms(&id)?;
    if as_json {
        print_json(&json!(
            list.iter()
                .map(|(c, form)| {
                    let mut v = serde_json::to_value(c).unwrap_or_default();
                    v["state"] = json!(c.state(today));
                    v["signed_form"] = json!(form);
                    v
                })
                .collect::<Vec<_>>()
        ))?;
    } else if list.is_empty() {
        eprintln!("{}", t!("consent.none"));
    } else {
        for (c, form) in &list {
            let form = match form {
                Some(a) => t!("consent.form_signed", id = &a[..8]),
                None => t!("consent.form_missing"),
            };
            println!(
                "{}  {:<9} {:<7} {} .. {:<10}  {} — {}  [{form}]",
                c.id,
                t!(format!("consent.state.{}", c.state(today))),
                c.scope.code(),
                c.given_on,
                c.until.map(|u| u.to_string()).unwrap_or_else(|| "-".into()),
                c.org,
                c.purpose
            );
        }
    }
    Ok(session.close()?)
}

// ---------------------------------------------------------------- nudges

#[derive(Subcommand, Debug)]
pub(super) enum NudgeCmd {
    /// Look for what a text may hold that a dossier does not need (BSN, IBAN, phone
    /// numbers, e-mail addresses, special-category words); needs no vault
    Check {
        /// A text file [default: standard input]
        file: Option<PathBuf>,
        /// Count per line: how many lines would get a warning (to try a word list on a
        /// corpus)
        #[arg(long)]
        lines: bool,
        /// The text is marked special already (special-category words need no warning)
        #[arg(long)]
        special: bool,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
}

/// `nudge check`.
pub(super) fn nudge(cmd: NudgeCmd) -> anyhow::Result<()> {
    let NudgeCmd::Check {
        file,
        lines,
        special,
        json: as_json,
    } = cmd;
    let text = match &file {
        Some(f) => std::fs::read(f)
            .map_err(|e| Error::io(t!("io.read", path = f.display()).into_owned(), e))?,
        None => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .with_context(|| t!("io.stdin").into_owned())?;
            buf
        }
    };
    let text = String::from_utf8_lossy(&text).into_owned();
    let lex = lexicon();
    let units: Vec<(usize, &str)> = if lines {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|(i, l)| (i + 1, l))
            .collect()
    } else {
        vec![(1, text.as_str())]
    };
    let mut flagged = 0;
    let mut out = Vec::new();
    for (n, unit) in &units {
        let found: Vec<_> = nudge::scan(unit, &lex)
            .into_iter()
            .filter(|f| f.what.is_detail() || !special)
            .collect();
        if !found.is_empty() {
            flagged += 1;
        }
        for f in found {
            let (line, col) = line_col(unit, f.range.start);
            let line = if lines { *n } else { line };
            if !as_json {
                println!("{line}:{col}  {}", describe(&f));
            }
            let mut v = serde_json::to_value(&f)?;
            v["line"] = json!(line);
            v["column"] = json!(col);
            out.push(v);
        }
    }
    if as_json {
        return print_json(&json!({
            "units": units.len(),
            "flagged": flagged,
            "findings": out,
        }));
    }
    if lines {
        println!(
            "{}",
            t!(
                "nudge.summary",
                flagged = flagged,
                n = units.len(),
                pct = format!(
                    "{:.1}",
                    100.0 * flagged as f64 / (units.len().max(1)) as f64
                )
            )
        );
    } else if flagged == 0 {
        eprintln!("{}", t!("nudge.nothing"));
    }
    Ok(())
}

// ---------------------------------------------------------------- group sessions

#[derive(Subcommand, Debug)]
pub(super) enum GroupCmd {
    /// Record a group session: its day, theme and shared summary go into each
    /// participant's dossier, without the other participants' names; prints its id
    Add {
        /// The day it was held, YYYY-MM-DD [default: today]
        #[arg(long)]
        at: Option<String>,
        /// What it was about
        #[arg(long)]
        theme: String,
        /// What is common to the group; read from standard input when absent
        #[arg(long)]
        summary: Option<String>,
        /// A participant's client id (or prefix); repeatable
        #[arg(long = "participant", value_name = "CLIENT", required = true)]
        participants: Vec<String>,
        /// The summary holds special-category data: masked until revealed
        #[arg(long)]
        special: bool,
    },
    /// The group sessions in this vault, with their participants
    List {
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// One group session
    Show {
        /// The group session's id (or a prefix)
        id: String,
        /// Show a special summary (logged)
        #[arg(long)]
        reveal: bool,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// Write what you observed of one participant as a note in their own dossier; prints
    /// the note's id
    Note {
        /// The group session's id (or a prefix)
        id: String,
        /// The participant's client id (or prefix)
        client: String,
        /// The observation; read from standard input when absent
        #[arg(long)]
        text: Option<String>,
        /// Special-category data: masked until revealed
        #[arg(long)]
        special: bool,
        /// When: YYYY-MM-DD[ HH:MM] [default: the session's day, at noon]
        #[arg(long)]
        at: Option<String>,
    },
}

fn group_json(v: &crate::session::GroupView) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// `group add|list|show|note`.
pub(super) fn group(path: &Path, pass_file: Option<&Path>, cmd: GroupCmd) -> anyhow::Result<()> {
    match cmd {
        GroupCmd::Add {
            at,
            theme,
            summary,
            participants,
            special,
        } => {
            let held_on = optional(at, |v| model::parse_date("--at", v))?.unwrap_or_else(today);
            if held_on > today() {
                return Err(Error::invalid("--at", t!("val.note_in_future")).into());
            }
            let theme = model::parse_name("--theme", &theme)?;
            let prefixes = participants
                .iter()
                .map(|p| model::parse_id_prefix("--participant", p))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(s) = &summary {
                model::parse_text(crate::error::Field::Arg("--summary"), s)?;
            }
            let mut session = open(path, pass_file, Access::Write)?;
            let ids = prefixes
                .iter()
                .map(|p| session.resolve(IdTable::Client, p))
                .collect::<Result<Vec<_>, _>>()?;
            let summary = read_text(summary)?;
            let summary = model::parse_text(crate::error::Field::Arg("--summary"), &summary)?;
            let advice = session.group_nudges(&ids, &summary, special, &lexicon())?;
            if !advice.is_empty() {
                warn_advice(&t!("nudge.what_summary"), &summary, &advice);
                if advice.details.iter().any(|f| f.what == What::Name) {
                    eprintln!("{}", t!("group.names_left_out"));
                }
            }
            let new = NewGroupSession {
                participants: ids,
                held_on,
                theme,
                summary,
                special,
            };
            let id = session.change(|s| s.add_group_session(&new))?;
            println!("{id}");
            eprintln!("{}", t!("group.added", n = new.participants.len()));
            Ok(session.close()?)
        }
        GroupCmd::List { json } => {
            let mut session = open(path, pass_file, Access::Write)?;
            let list = session.group_sessions()?;
            if json {
                print_json(&json!(list.iter().map(group_json).collect::<Vec<_>>()))?;
            } else if list.is_empty() {
                eprintln!("{}", t!("group.none"));
            } else {
                for g in &list {
                    let names: Vec<&str> = g.participants.iter().map(|p| p.name.as_str()).collect();
                    println!(
                        "{}  {}  {}  ({})",
                        g.session_id,
                        g.held_on,
                        g.theme,
                        names.join(", ")
                    );
                }
            }
            Ok(session.close()?)
        }
        GroupCmd::Show { id, reveal, json } => {
            let prefix = model::parse_id_prefix("ID", &id)?;
            let mut session = open(path, pass_file, Access::Write)?;
            let id = session.resolve_group(&prefix)?;
            let g = session.group_session(&id, reveal)?;
            if json {
                return {
                    print_json(&group_json(&g))?;
                    Ok(session.close()?)
                };
            }
            println!("{}  {}", g.held_on, g.theme);
            println!("{}: {}", t!("field.author"), g.author);
            for p in &g.participants {
                println!("  {}  {}", p.client_id, p.name);
            }
            println!();
            match &g.summary {
                Some(s) => println!("{s}"),
                None => println!("{}", t!("note.special_masked")),
            }
            Ok(session.close()?)
        }
        GroupCmd::Note {
            id,
            client,
            text,
            special,
            at,
        } => {
            let prefix = model::parse_id_prefix("ID", &id)?;
            let at = optional(at, |v| model::parse_datetime("--at", v))?;
            if let Some(t) = &text {
                model::parse_note_body(t)?;
            }
            let mut session = open(path, pass_file, Access::Write)?;
            let id = session.resolve_group(&prefix)?;
            let client = resolve_client(&session, "CLIENT", &client)?;
            let body = model::parse_note_body(&read_text(text)?)?;
            warn(&t!("nudge.what_note"), &body, special, &[]);
            let note = session.group_observation(&id, &client, &body, special, at)?;
            println!("{note}");
            Ok(session.close()?)
        }
    }
}

fn warn_advice(what: &str, text: &str, advice: &nudge::Advice) {
    // The same words as `warn`, for advice the session computed (it knows the names).
    eprintln!("{}", t!("nudge.head", what = what));
    let mut shown: Vec<&nudge::Finding> = advice.details.iter().collect();
    let specials: Vec<nudge::Finding> = if advice.suggest_special {
        nudge::scan(text, &lexicon())
            .into_iter()
            .filter(|f| !f.what.is_detail())
            .collect()
    } else {
        Vec::new()
    };
    shown.extend(specials.iter());
    shown.sort_by_key(|f| f.range.start);
    for f in shown {
        let (line, col) = line_col(text, f.range.start);
        eprintln!(
            "  {}",
            t!("nudge.at", line = line, col = col, what = describe(f))
        );
    }
    if advice.suggest_special {
        eprintln!("{}", t!("nudge.offer_special"));
    }
    // Names are taken out of each copy by kluis itself; other details are the worker's.
    if advice.details.iter().any(|f| f.what != What::Name) {
        eprintln!("{}", t!("nudge.offer_remove"));
    }
    eprintln!("{}", t!("nudge.kept"));
}

// ---------------------------------------------------------------- meldcode

/// What every step of the meldcode takes.
#[derive(Args, Debug)]
pub(super) struct StepArgs {
    /// The signal that started this meldcode (its id or prefix, from `meldcode signal`)
    signal: String,
    /// What was done, said or weighed, and why; read from standard input when absent
    #[arg(long)]
    text: Option<String>,
    /// The day, YYYY-MM-DD [default: today]
    #[arg(long)]
    at: Option<String>,
    /// By when the next step should be taken, YYYY-MM-DD [default: a week after this one]
    #[arg(long)]
    next_by: Option<String>,
    /// Not special-category data (meldcode records are, unless you say so)
    #[arg(long)]
    not_special: bool,
    /// Keep it out of the client's own report: safety (of the client or someone else) or
    /// third_party (it is about someone else, such as who gave the signal)
    #[arg(long, value_name = "GROUND")]
    withhold: Option<String>,
}

#[derive(Subcommand, Debug)]
pub(super) enum MeldcodeCmd {
    /// Step 1: record a signal (what you saw or heard); starts a meldcode; prints its id
    Signal {
        /// Client id or a unique prefix of at least 8 characters
        client: String,
        /// What you saw or heard; read from standard input when absent
        #[arg(long)]
        text: Option<String>,
        /// The day you observed it, YYYY-MM-DD [default: today]
        #[arg(long)]
        at: Option<String>,
        /// Not special-category data (meldcode records are, unless you say so)
        #[arg(long)]
        not_special: bool,
        /// Keep it out of the client's own report: safety or third_party
        #[arg(long, value_name = "GROUND")]
        withhold: Option<String>,
    },
    /// Step 2: consult a colleague and/or Veilig Thuis
    Consult {
        #[command(flatten)]
        step: StepArgs,
        /// Whom: colleague, veilig_thuis or both
        #[arg(long = "with", value_name = "WHOM")]
        with: String,
    },
    /// Step 3: talk with the client about the signals
    Talk {
        #[command(flatten)]
        step: StepArgs,
    },
    /// Step 4: weigh with the afwegingskader: is a report necessary, is help possible
    Weigh {
        #[command(flatten)]
        step: StepArgs,
        /// Is a report to Veilig Thuis necessary (acute or structural unsafety): yes or no
        #[arg(long)]
        report_needed: String,
        /// Can you offer or organise help that makes it safe: yes or no
        #[arg(long)]
        help_possible: String,
    },
    /// Step 5: decide: report, help, report_and_help, or close (no suspicion remains)
    Decide {
        #[command(flatten)]
        step: StepArgs,
        /// report, help, report_and_help or close
        #[arg(long)]
        decision: String,
    },
    /// A dossier's meldcodes, each step dated and attributed, with the next step due
    Show {
        /// Client id or a unique prefix of at least 8 characters
        client: String,
        /// Show the text of special-category records (logged)
        #[arg(long)]
        reveal: bool,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// Keep a signal or step out of the client's own report, or put it back (none)
    Withhold {
        /// The signal's or step's id (or a prefix)
        id: String,
        /// safety, third_party or none
        #[arg(long, value_name = "GROUND")]
        ground: String,
    },
}

fn yes_no(field: &'static str, v: &str) -> Result<bool, Error> {
    match v.trim().to_lowercase().as_str() {
        "yes" | "ja" | "y" | "j" => Ok(true),
        "no" | "nee" | "n" => Ok(false),
        _ => Err(Error::invalid(
            field,
            t!("val.choice", value = v, allowed = "yes, no, ja, nee"),
        )),
    }
}

fn withhold(v: Option<String>) -> Result<Option<Withhold>, Error> {
    optional(v, |v| parse_choice("--withhold", v, Withhold::ALL))
}

/// `meldcode signal|consult|talk|weigh|decide|show|withhold`.
pub(super) fn meldcode(
    path: &Path,
    pass_file: Option<&Path>,
    cmd: MeldcodeCmd,
) -> anyhow::Result<()> {
    let today = today();
    let date = |at: Option<String>| -> Result<NaiveDate, Error> {
        let d = optional(at, |v| model::parse_date("--at", v))?.unwrap_or(today);
        if d > today {
            return Err(Error::invalid("--at", t!("val.note_in_future")));
        }
        Ok(d)
    };
    let (step_args, step, consulted, weighing, decision) = match cmd {
        MeldcodeCmd::Signal {
            client,
            text,
            at,
            not_special,
            withhold: ground,
        } => {
            let on = date(at)?;
            let ground = withhold(ground)?;
            if let Some(t) = &text {
                model::parse_note_body(t)?;
            }
            let mut session = open(path, pass_file, Access::Write)?;
            let client = resolve_client(&session, "CLIENT", &client)?;
            let text = model::parse_note_body(&read_text(text)?)?;
            warn(&t!("nudge.what_text"), &text, !not_special, &[]);
            let id = session.change(|s| s.add_signal(&client, on, &text, !not_special, ground))?;
            println!("{id}");
            eprintln!("{}", t!("meldcode.signal_added"));
            return Ok(session.close()?);
        }
        MeldcodeCmd::Consult { step, with } => {
            let with = parse_choice("--with", &with, Consulted::ALL)?;
            (step, MeldStep::Consult, Some(with), None, None)
        }
        MeldcodeCmd::Talk { step } => (step, MeldStep::Talk, None, None, None),
        MeldcodeCmd::Weigh {
            step,
            report_needed,
            help_possible,
        } => {
            let w = (
                yes_no("--report-needed", &report_needed)?,
                yes_no("--help-possible", &help_possible)?,
            );
            (step, MeldStep::Weigh, None, Some(w), None)
        }
        MeldcodeCmd::Decide { step, decision } => {
            let d = parse_choice("--decision", &decision, Decision::ALL)?;
            if step.next_by.is_some() {
                return Err(Error::invalid("--next-by", t!("meldcode.decided_no_next")).into());
            }
            (step, MeldStep::Decide, None, None, Some(d))
        }
        MeldcodeCmd::Show {
            client,
            reveal,
            json,
        } => return show_meldcodes(path, pass_file, &client, reveal, json),
        MeldcodeCmd::Withhold { id, ground } => {
            let prefix = model::parse_id_prefix("ID", &id)?;
            let ground = match ground.trim().to_lowercase().as_str() {
                "none" | "geen" => None,
                g => Some(parse_choice("--ground", g, Withhold::ALL)?),
            };
            let mut session = open(path, pass_file, Access::Write)?;
            let id = session.resolve_meldcode_record(&prefix)?;
            let changed = session.change(|s| s.set_withheld(&id, ground))?;
            eprintln!(
                "{}",
                match (changed, ground) {
                    (false, _) => t!("meldcode.withhold_same"),
                    (true, Some(g)) => t!(
                        "meldcode.withheld",
                        ground = t!(format!("choice.withheld.{}", g.code()))
                    ),
                    (true, None) => t!("meldcode.not_withheld"),
                }
            );
            return Ok(session.close()?);
        }
    };
    let on = date(step_args.at)?;
    let next_by = optional(step_args.next_by, |v| model::parse_date("--next-by", v))?;
    let ground = withhold(step_args.withhold)?;
    let signal = model::parse_id_prefix("SIGNAL", &step_args.signal)?;
    if let Some(t) = &step_args.text {
        model::parse_note_body(t)?;
    }
    let mut session = open(path, pass_file, Access::Write)?;
    let signal = session.resolve(IdTable::Signal, &signal)?;
    let text = model::parse_note_body(&read_text(step_args.text)?)?;
    warn(&t!("nudge.what_text"), &text, !step_args.not_special, &[]);
    let new = NewStep {
        signal_id: signal,
        step,
        taken_on: on,
        text,
        consulted,
        report_needed: weighing.map(|w| w.0),
        help_possible: weighing.map(|w| w.1),
        decision,
        next_by,
        special: !step_args.not_special,
        withheld: ground,
    };
    let id = session.change(|s| s.add_meldcode_step(&new))?;
    println!("{id}");
    if let Some(d) = decision {
        // The afwegingskader's outcome against the decision: said, not refused (the
        // professional decides, and answers for it).
        let client = session.meldcode_client(&new.signal_id)?;
        let contradicts = session
            .meldcodes(&client, false)?
            .iter()
            .find(|t| t.signal.id == new.signal_id)
            .is_some_and(|t| t.contradicts(d));
        if contradicts {
            eprintln!("{}", t!("meldcode.contradicts"));
        }
    }
    eprintln!("{}", t!("meldcode.step_added", n = step.number()));
    Ok(session.close()?)
}

/// A meldcode as JSON: a special record's text is null unless revealed (as `record list`).
fn trajectory_json(t: &Trajectory, today: NaiveDate, reveal: bool) -> Value {
    let masked = |v: Value, special: bool| {
        let mut v = v;
        if special && !reveal {
            v["text"] = Value::Null;
        }
        v
    };
    json!({
        "signal": masked(json!(t.signal), t.signal.special),
        "steps": t.steps.iter().map(|s| masked(json!(s), s.special)).collect::<Vec<_>>(),
        "next_step": t.next_step().map(|s| s.code()),
        "due": t.due(),
        "overdue": t.due().is_some_and(|d| d < today),
    })
}

fn show_meldcodes(
    path: &Path,
    pass_file: Option<&Path>,
    client: &str,
    reveal: bool,
    as_json: bool,
) -> anyhow::Result<()> {
    let today = today();
    let mut session = open(path, pass_file, Access::Write)?;
    let client = resolve_client(&session, "CLIENT", client)?;
    let list = session.meldcodes(&client, reveal)?;
    if as_json {
        print_json(&json!(
            list.iter()
                .map(|t| trajectory_json(t, today, reveal))
                .collect::<Vec<_>>()
        ))?;
        return Ok(session.close()?);
    }
    if list.is_empty() {
        eprintln!("{}", t!("meldcode.none"));
    }
    let text = |special: bool, text: &str| {
        if special && !reveal {
            t!("note.special_masked").into_owned()
        } else {
            text.replace('\n', " ")
        }
    };
    let withheld = |w: Option<Withhold>| {
        w.map(|g| {
            format!(
                "  [{}]",
                t!(
                    "meldcode.withheld_mark",
                    ground = t!(format!("choice.withheld.{}", g.code()))
                )
            )
        })
        .unwrap_or_default()
    };
    for t in &list {
        let s = &t.signal;
        println!(
            "{}  1 {}  {}  {}{}",
            s.observed_on,
            t!("meldcode.step.signal"),
            s.author,
            s.id,
            withheld(s.withheld)
        );
        println!("      {}", text(s.special, &s.text));
        for st in &t.steps {
            let answer = match st.step {
                MeldStep::Consult => st
                    .consulted
                    .map(|c| t!(format!("choice.consulted.{}", c.code())).into_owned()),
                MeldStep::Weigh => Some(
                    t!(
                        "meldcode.weighed",
                        report = t!(if st.report_needed == Some(true) {
                            "word.yes"
                        } else {
                            "word.no"
                        }),
                        help = t!(if st.help_possible == Some(true) {
                            "word.yes"
                        } else {
                            "word.no"
                        })
                    )
                    .into_owned(),
                ),
                MeldStep::Decide => st
                    .decision
                    .map(|d| t!(format!("choice.decision.{}", d.code())).into_owned()),
                MeldStep::Talk => None,
            };
            println!(
                "{}  {} {}{}  {}  {}{}",
                st.taken_on,
                st.step.number(),
                t!(format!("meldcode.step.{}", st.step.code())),
                answer.map(|a| format!(": {a}")).unwrap_or_default(),
                st.author,
                st.id,
                withheld(st.withheld)
            );
            println!("      {}", text(st.special, &st.text));
        }
        match (t.next_step(), t.due()) {
            (Some(next), Some(due)) => println!(
                "      → {}",
                t!(
                    "meldcode.next",
                    n = next.number(),
                    step = t!(format!("meldcode.step.{}", next.code())),
                    date = due
                )
            ),
            _ => println!("      → {}", t!("meldcode.closed")),
        }
        println!();
    }
    Ok(session.close()?)
}

// ---------------------------------------------------------------- access review

#[derive(Subcommand, Debug)]
pub(super) enum AccessCmd {
    /// Your dossiers without activity for a while, and closed ones you are still assigned
    /// to; offers to unassign you where a colleague stays assigned
    Review {
        /// Months without activity [default: `access_review_months` in the config, else 6]
        #[arg(long)]
        months: Option<String>,
        /// Unassign yourself from this dossier (id or prefix); repeatable. Refused when no
        /// colleague would stay assigned
        #[arg(long, value_name = "ID")]
        unassign: Vec<String>,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// For a team lead or IT: per worker, how many dossiers, how many untouched, how many
    /// consents ending; numbers only, no names and no dossier ids
    Overview {
        /// Months without activity that count as untouched [default: as `review`]
        #[arg(long)]
        months: Option<String>,
        /// Combine overviews (`--json` output of several workers) instead of reading a vault
        #[arg(long, value_name = "FILE", num_args = 1..)]
        combine: Vec<PathBuf>,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
}

/// `access review|overview`.
pub(super) fn access(path: &Path, pass_file: Option<&Path>, cmd: AccessCmd) -> anyhow::Result<()> {
    let today = today();
    match cmd {
        AccessCmd::Review {
            months,
            unassign,
            json,
        } => {
            let months = review_months(months)?;
            let prefixes = unassign
                .iter()
                .map(|u| model::parse_id_prefix("--unassign", u))
                .collect::<Result<Vec<_>, _>>()?;
            let mut session = open(path, pass_file, Access::Write)?;
            if !prefixes.is_empty() {
                let ids = prefixes
                    .iter()
                    .map(|p| session.resolve(IdTable::Client, p))
                    .collect::<Result<Vec<_>, _>>()?;
                for id in &ids {
                    unassign_one(&mut session, id)?;
                }
                return Ok(session.close()?);
            }
            let items = session.access_review(today, months)?;
            if json {
                print_json(&serde_json::to_value(&items)?)?;
                return Ok(session.close()?);
            }
            if items.is_empty() {
                eprintln!("{}", t!("access.none", months = months));
                return Ok(session.close()?);
            }
            for i in &items {
                let why = match i.reason {
                    ReviewReason::Inactive => {
                        t!("access.inactive", date = i.last_activity, months = months)
                    }
                    ReviewReason::Closed => t!("access.closed", date = i.since),
                };
                let others = if i.others.is_empty() {
                    t!("access.only_you").into_owned()
                } else {
                    t!("access.others", workers = i.others.join(", ")).into_owned()
                };
                println!("{}  {:<28} {}; {}", i.client_id, i.client_name, why, others);
            }
            let enrolled = session.worker_id()?.is_some();
            if !enrolled {
                eprintln!("{}", t!("access.personal"));
            } else if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
                for i in items.iter().filter(|i| !i.others.is_empty()) {
                    eprint!("{} ", t!("access.ask", name = i.client_name));
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line)?;
                    if matches!(
                        line.trim().to_lowercase().as_str(),
                        "j" | "ja" | "y" | "yes"
                    ) {
                        unassign_one(&mut session, &i.client_id)?;
                    }
                }
            } else {
                eprintln!("{}", t!("access.hint"));
            }
            Ok(session.close()?)
        }
        AccessCmd::Overview {
            months,
            combine,
            json,
        } => {
            let overview = if combine.is_empty() {
                let months = review_months(months)?;
                let session = open(path, pass_file, Access::Read)?;
                session.team_overview(today, months)?
            } else {
                let mut parts = Vec::new();
                for f in &combine {
                    let text = std::fs::read_to_string(f).map_err(|e| {
                        Error::io(t!("io.read", path = f.display()).into_owned(), e)
                    })?;
                    let part: TeamOverview = serde_json::from_str(&text).map_err(|e| {
                        Error::invalid(
                            "--combine",
                            t!(
                                "access.not_overview",
                                path = f.display(),
                                error = e.to_string()
                            ),
                        )
                    })?;
                    parts.push(part);
                }
                TeamOverview::combine(parts)?
            };
            if json {
                return print_json(&serde_json::to_value(&overview)?);
            }
            println!(
                "{}",
                t!(
                    "access.overview_head",
                    months = overview.months,
                    days = overview.consent_days,
                    date = overview.made_on
                )
            );
            println!(
                "{:<16} {:>9} {:>9} {:>9} {:>9}",
                t!("access.col_worker"),
                t!("access.col_dossiers"),
                t!("access.col_untouched"),
                t!("access.col_closed"),
                t!("access.col_consents")
            );
            for r in &overview.workers {
                let mark = if r.complete { "" } else { " *" };
                println!(
                    "{:<16} {:>9} {:>9} {:>9} {:>9}",
                    format!("{}{mark}", r.worker),
                    r.dossiers,
                    r.untouched,
                    r.closed_assigned,
                    r.consents_expiring
                );
            }
            if overview.workers.iter().any(|r| !r.complete) {
                eprintln!("{}", t!("access.partial"));
            }
            Ok(())
        }
    }
}

fn unassign_one(session: &mut Session, id: &str) -> anyhow::Result<()> {
    let done = session.unassign_me(id)?;
    eprintln!(
        "{}",
        if done {
            t!("access.unassigned", id = id)
        } else {
            t!("access.was_not_assigned", id = id)
        }
    );
    Ok(())
}
