//! Privacy commands: consent, disclose, audit, retention and the client's own report.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

use chrono::{Local, NaiveDate};
use clap::Subcommand;
use serde_json::json;

use super::{open, optional, output::print_json};
use crate::error::Error;
use crate::i18n::{Lang, t};
use crate::model::{self, Domain, NewConsent, Scope, parse_choice};
use crate::report::{self, Format, Kind};
use crate::session::{Access, Session};
use crate::session::{DisclosureRequest, Reveal};
use crate::store::IdTable;

#[derive(Subcommand, Debug)]
pub(super) enum ConsentCmd {
    /// Record a client's consent to share with another organisation; prints the new id
    Add {
        /// Client id or a unique prefix of at least 8 characters
        client: String,
        /// The receiving organisation (GGD, school, schuldhulp partner...)
        #[arg(long)]
        org: String,
        /// What it may be used for, as agreed with the client
        #[arg(long)]
        purpose: String,
        /// What it covers: details (name, BSN, birth date, address, phone), notes, or all
        #[arg(long, default_value = "details")]
        scope: String,
        /// It explicitly covers special-category data (health, for example) too
        #[arg(long)]
        special: bool,
        /// Day it was given, YYYY-MM-DD [default: today]
        #[arg(long)]
        given: Option<String>,
        /// Last day it is valid, YYYY-MM-DD
        #[arg(long)]
        until: Option<String>,
        /// Where the proof is: the id of the signed form kept with `attach add` (then the
        /// dossier shows the consent as signed), or a text (a form in a paper file)
        #[arg(long)]
        evidence: Option<String>,
    },
    /// Write a consent form to print and sign (A4, plain language): who asks, which
    /// information, with whom, what for, until when, how to withdraw, the resident's rights
    Form(super::practice::FormArgs),
    /// Point a consent at its signed form, a file kept with `attach add`
    Evidence {
        /// Consent id or a unique prefix of at least 8 characters
        consent: String,
        /// The attachment's id (or prefix)
        attachment: String,
    },
    /// A client's consents, and which have a signed form
    List {
        /// Client id or a unique prefix of at least 8 characters
        client: String,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// Withdraw a consent (what it allowed before stays recorded)
    Withdraw {
        /// Consent id or a unique prefix of at least 8 characters
        id: String,
        /// Day it was withdrawn, YYYY-MM-DD [default: today]
        #[arg(long)]
        at: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum AuditCmd {
    /// Check the log's hash chain; reports the first broken link
    Verify {
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum RetentionCmd {
    /// Erase dossiers whose retention has ended, after confirmation
    Purge {
        /// Only this dossier (id or prefix)
        #[arg(long, value_name = "ID")]
        client: Option<String>,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
    /// Show the retention periods per domain, or set one
    Policy {
        /// jeugd, wmo, participatie, schuldhulp or overig
        #[arg(long, requires = "years")]
        domain: Option<String>,
        /// Years a closed dossier of that domain is kept
        #[arg(long, requires = "domain")]
        years: Option<String>,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `disclose`.
#[derive(clap::Args, Debug)]
pub(super) struct DiscloseArgs {
    /// Client id or a unique prefix of at least 8 characters
    client: String,
    /// The receiving organisation
    #[arg(long)]
    org: String,
    /// What it is shared for (must match the consent's purpose)
    #[arg(long)]
    purpose: String,
    /// The receiving organisation's age public key
    #[arg(long, value_name = "age1...")]
    recipient: String,
    /// The encrypted file to write
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Use this consent (id or prefix) [default: the active one for --org and --purpose]
    #[arg(long, value_name = "ID", conflicts_with = "legal_ground")]
    consent: Option<String>,
    /// Share without consent on this legal ground (for example a Veilig Thuis report)
    #[arg(long, value_name = "TEXT")]
    legal_ground: Option<String>,
    /// With --legal-ground: what to share (details, notes or all) [default: details]
    #[arg(long, requires = "legal_ground")]
    scope: Option<String>,
    /// Also share notes marked as special-category data (needs a consent given with
    /// --special, or --legal-ground; each note shared is logged)
    #[arg(long)]
    include_special: bool,
    /// Share the whole BSN instead of its last three digits (only where the law allows the
    /// receiver to use it)
    #[arg(long)]
    show_bsn: bool,
    /// md or html
    #[arg(long, value_enum, default_value = "md")]
    format: Format,
    /// Language of the report [default: the language of messages]
    #[arg(long = "report-lang", value_enum, value_name = "LANG")]
    report_lang: Option<Lang>,
}

/// Arguments of `report`.
#[derive(clap::Args, Debug)]
pub(super) struct ReportArgs {
    /// Client id or a unique prefix of at least 8 characters
    client: String,
    /// md or html
    #[arg(long, value_enum, default_value = "html")]
    format: Format,
    /// The file to write (plain text: it is outside the vault)
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Language of the report [default: the language of messages]
    #[arg(long = "report-lang", value_enum, value_name = "LANG")]
    report_lang: Option<Lang>,
    /// Show the whole BSN instead of its last three digits (logged)
    #[arg(long)]
    show_bsn: bool,
}

fn today() -> NaiveDate {
    Local::now().date_naive()
}

fn refuse_existing(path: &Path) -> Result<(), Error> {
    if path.symlink_metadata().is_ok() {
        return Err(Error::FileExists {
            path: path.to_owned(),
        });
    }
    Ok(())
}

/// `consent add|list|withdraw`.
pub(super) fn consent(
    path: &Path,
    pass_file: Option<&Path>,
    cmd: ConsentCmd,
) -> anyhow::Result<()> {
    let today = today();
    match cmd {
        ConsentCmd::Add {
            client,
            org,
            purpose,
            scope,
            given,
            until,
            evidence,
            special,
        } => {
            let prefix = model::parse_id_prefix("CLIENT", &client)?;
            let new = NewConsent {
                client_id: String::new(),
                org: model::parse_name("--org", &org)?,
                purpose: model::parse_name("--purpose", &purpose)?,
                scope: parse_choice("--scope", &scope, Scope::ALL)?,
                special,
                given_on: optional(given, |v| model::parse_date("--given", v))?.unwrap_or(today),
                until: optional(until, |v| model::parse_date("--until", v))?,
                evidence: optional(evidence, |v| model::parse_optional_line("--evidence", v))?
                    .flatten(),
            };
            let mut session = open(path, pass_file, Access::Write)?;
            let client_id = session.resolve(IdTable::Client, &prefix)?;
            // A signed form kept in the dossier: the consent points at the file itself.
            let form = new
                .evidence
                .as_deref()
                .and_then(|e| super::practice::evidence_attachment(&session, e));
            let new = NewConsent {
                client_id,
                evidence: if form.is_some() { None } else { new.evidence },
                ..new
            };
            let id = session.change(|s| {
                let id = s.add_consent(&new)?;
                if let Some(a) = &form {
                    s.set_consent_evidence(&id, a)?;
                }
                Ok(id)
            })?;
            println!("{id}");
            Ok(session.close()?)
        }
        ConsentCmd::Form(args) => super::practice::consent_form(path, pass_file, args),
        ConsentCmd::Evidence {
            consent,
            attachment,
        } => super::practice::consent_evidence(path, pass_file, &consent, &attachment),
        ConsentCmd::List { client, json } => {
            super::practice::consent_list(path, pass_file, &client, json)
        }
        ConsentCmd::Withdraw { id, at } => {
            let prefix = model::parse_id_prefix("ID", &id)?;
            let at = optional(at, |v| model::parse_date("--at", v))?.unwrap_or(today);
            let mut session = open(path, pass_file, Access::Write)?;
            let id = session.resolve(IdTable::Consent, &prefix)?;
            let done = session.change(|s| s.withdraw_consent(&id, at))?;
            eprintln!(
                "{}",
                if done {
                    t!("consent.withdrawn", id = id, at = at)
                } else {
                    t!("consent.already_withdrawn", id = id)
                }
            );
            Ok(session.close()?)
        }
    }
}

/// `disclose`: a readable report of exactly the consented scope, encrypted with age to the
/// receiving organisation, and recorded.
pub(super) fn disclose(
    path: &Path,
    pass_file: Option<&Path>,
    a: DiscloseArgs,
) -> anyhow::Result<()> {
    let today = today();
    let prefix = model::parse_id_prefix("CLIENT", &a.client)?;
    let org = model::parse_name("--org", &a.org)?;
    let purpose = model::parse_name("--purpose", &a.purpose)?;
    let recipient = model::parse_recipient("--recipient", &a.recipient)?;
    let legal_ground = optional(a.legal_ground, |v| model::parse_name("--legal-ground", v))?;
    let legal_scope = optional(a.scope, |v| parse_choice("--scope", v, Scope::ALL))?;
    let consent_prefix = optional(a.consent, |v| model::parse_id_prefix("--consent", v))?;
    refuse_existing(&a.out)?;
    let mut session = open(path, pass_file, Access::Write)?;
    let client = session.resolve(IdTable::Client, &prefix)?;
    let request = DisclosureRequest {
        client,
        org,
        purpose,
        recipient,
        legal_ground,
        legal_scope,
        consent: consent_prefix,
        include_special: a.include_special,
        show_bsn: a.show_bsn,
        format: a.format,
        lang: a.report_lang.unwrap_or_else(crate::i18n::current),
        today,
    };
    let disclosure = session.disclose(&request, &a.out)?;
    println!("{}", disclosure.id);
    eprintln!(
        "{}",
        t!(
            "disclose.done",
            path = a.out.display(),
            org = disclosure.org
        )
    );
    Ok(session.close()?)
}

/// `report`: the client's own report (inzage).
pub(super) fn report(path: &Path, pass_file: Option<&Path>, a: ReportArgs) -> anyhow::Result<()> {
    let prefix = model::parse_id_prefix("CLIENT", &a.client)?;
    refuse_existing(&a.out)?;
    let mut session = open(path, pass_file, Access::Write)?;
    let client = session.resolve(IdTable::Client, &prefix)?;
    let lang = a.report_lang.unwrap_or_else(crate::i18n::current);
    let reveal = Reveal {
        bsn: a.show_bsn,
        special: true,
    };
    let detail = format!("{:?}", a.format).to_lowercase();
    let contents = session.report(&client, reveal, &detail)?;
    let doc = report::render(
        &contents,
        &Kind::Inzage,
        a.format,
        lang,
        a.show_bsn,
        today(),
    );
    crate::org::write_new(&a.out, doc.as_bytes())?;
    println!("{}", a.out.display());
    eprintln!("{}", t!("report.written", path = a.out.display()));
    Ok(session.close()?)
}

/// `audit [--client ID] [--json]` and `audit verify`.
pub(super) fn audit(
    path: &Path,
    pass_file: Option<&Path>,
    action: Option<AuditCmd>,
    client: Option<String>,
    as_json: bool,
) -> anyhow::Result<()> {
    let prefix = optional(client, |v| model::parse_id_prefix("--client", v))?;
    // Reading the log shows ids, times and workers, no client data: a shared lock will do.
    let session = open(path, pass_file, Access::Read)?;
    if let Some(AuditCmd::Verify { json }) = action {
        return verify(&session, json);
    }
    let client = prefix
        .map(|p| resolve_logged_client(&session, &p))
        .transpose()?;
    let entries = session.audit(client.as_deref())?;
    if as_json {
        return print_json(&serde_json::to_value(&entries)?);
    }
    if entries.is_empty() {
        eprintln!("{}", t!("audit.empty"));
    }
    for e in &entries {
        let mut line = format!(
            "{:>6}  {}  {:<14} {:<16} {}",
            e.seq,
            e.at,
            e.action.code(),
            e.user,
            e.client_id.as_deref().unwrap_or("-")
        );
        if let Some(b) = &e.on_behalf {
            line.push_str(&format!("  ({})", t!("audit.on_behalf", who = b)));
        }
        if let Some(d) = e.detail.as_deref().filter(|d| !d.is_empty()) {
            line.push_str(&format!("  {d}"));
        }
        println!("{line}");
    }
    Ok(())
}

/// A client id for the log: also an erased dossier's, which has no client row any more.
fn resolve_logged_client(session: &Session, prefix: &str) -> anyhow::Result<String> {
    match session.resolve(IdTable::Client, prefix) {
        Ok(id) => Ok(id),
        Err(Error::NotFound { .. }) => {
            let ids: Vec<String> = session
                .audit(None)?
                .into_iter()
                .filter_map(|e| e.client_id)
                .filter(|c| c.starts_with(prefix))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            match ids.as_slice() {
                [one] => Ok(one.clone()),
                [] => Err(Error::NotFound {
                    what: t!("word.client").into_owned(),
                    id: prefix.to_owned(),
                }
                .into()),
                _ => Err(Error::Ambiguous {
                    id: prefix.to_owned(),
                    candidates: ids,
                }
                .into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

fn verify(session: &Session, as_json: bool) -> anyhow::Result<()> {
    let result = session.verify_log()?;
    if as_json {
        print_json(&match &result {
            Ok(n) => json!({ "ok": true, "entries": n }),
            Err((seq, why)) => json!({ "ok": false, "broken_at": seq, "reason": why }),
        })?;
    }
    match result {
        Ok(n) => {
            if !as_json {
                println!("{}", t!("audit.intact", n = n));
            }
            Ok(())
        }
        Err((seq, why)) => Err(Error::Damaged {
            path: session.path().to_owned(),
            reason: t!("audit.broken", seq = seq, reason = why).into_owned(),
        }
        .into()),
    }
}

/// `retention [--json]`, `retention purge`, `retention policy`.
pub(super) fn retention(
    path: &Path,
    pass_file: Option<&Path>,
    action: Option<RetentionCmd>,
    as_json: bool,
) -> anyhow::Result<()> {
    let today = today();
    match action {
        None => {
            let mut session = open(path, pass_file, Access::Write)?;
            let items = session.retention(today, "retention")?;
            if as_json {
                print_json(&serde_json::to_value(&items)?)?;
            } else if items.is_empty() {
                eprintln!("{}", t!("retention.none"));
            } else {
                for i in &items {
                    println!(
                        "{}  {:<12} {}  {}  {}  {}",
                        i.client_id,
                        i.domain,
                        i.closed_on,
                        i.retention_until,
                        if i.due {
                            t!("retention.due")
                        } else {
                            t!("retention.kept")
                        },
                        i.name
                    );
                }
            }
            Ok(session.close()?)
        }
        Some(RetentionCmd::Policy {
            domain,
            years,
            json,
        }) => {
            let mut session = open(path, pass_file, Access::Write)?;
            if let (Some(d), Some(y)) = (domain, years) {
                let d = parse_choice("--domain", &d, Domain::ALL)?;
                let y = model::parse_years("--years", &y)?;
                session.change(|s| s.set_retention_years(d, y))?;
                eprintln!("{}", t!("retention.policy_set", domain = d, years = y));
            }
            let mut rows = Vec::new();
            for d in Domain::ALL {
                let (years, source) = session.retention_policy(*d)?;
                rows.push((*d, years, source));
            }
            if json || as_json {
                print_json(&json!(
                    rows.iter()
                        .map(|(d, y, source)| json!({
                            "domain": d.code(),
                            "years": y,
                            "source": source,
                            "default": model::default_retention_years(*d),
                            "legal_minimum": model::legal_minimum_years(*d),
                        }))
                        .collect::<Vec<_>>()
                ))?;
            } else {
                for (d, y, source) in rows {
                    println!("{:<13} {y:>3}  ({source})", d.code());
                }
            }
            Ok(session.close()?)
        }
        Some(RetentionCmd::Purge { client, yes }) => {
            let prefix = optional(client, |v| model::parse_id_prefix("--client", v))?;
            let mut session = open(path, pass_file, Access::Write)?;
            let items = session.retention_dates(today)?;
            let chosen: Vec<_> = match &prefix {
                Some(p) => {
                    let id = session.resolve(IdTable::Client, p)?;
                    match items.into_iter().find(|i| i.client_id == id) {
                        Some(i) if i.due => vec![i],
                        Some(i) => {
                            return Err(Error::Refused {
                                reason: t!("retention.not_due", id = id, until = i.retention_until)
                                    .into_owned(),
                            }
                            .into());
                        }
                        None => {
                            return Err(Error::Refused {
                                reason: t!("retention.not_closed", id = id).into_owned(),
                            }
                            .into());
                        }
                    }
                }
                None => items.into_iter().filter(|i| i.due).collect(),
            };
            if chosen.is_empty() {
                eprintln!("{}", t!("retention.nothing_due"));
                return Ok(session.close()?);
            }
            // The names are about to be shown.
            let named = session.retention(today, "retention purge")?;
            let chosen: Vec<_> = named
                .into_iter()
                .filter(|i| chosen.iter().any(|c| c.client_id == i.client_id))
                .collect();
            for i in &chosen {
                eprintln!(
                    "  {}  {}  {}  {}",
                    i.client_id, i.domain, i.retention_until, i.name
                );
            }
            if !yes && !confirm(chosen.len())? {
                eprintln!("{}", t!("retention.cancelled"));
                return Ok(session.close()?);
            }
            let ids: Vec<String> = chosen.iter().map(|i| i.client_id.clone()).collect();
            // One transaction, one new generation: all of them or none.
            {
                let _busy = super::progress::spinner(&t!("status.erasing"));
                session.change(|s| {
                    for id in &ids {
                        s.erase_client(id, today)?;
                    }
                    Ok(())
                })?;
            }
            for id in &ids {
                println!("{id}");
            }
            eprintln!("{}", t!("retention.purged", n = ids.len()));
            Ok(session.close()?)
        }
    }
}

/// Asks to type the confirmation word; without a terminal, `--yes` is needed.
fn confirm(n: usize) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::invalid("--yes", t!("retention.needs_yes")).into());
    }
    let word = t!("retention.confirm_word").into_owned();
    eprint!("{} ", t!("retention.confirm", n = n, word = word));
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().eq_ignore_ascii_case(&word))
}
