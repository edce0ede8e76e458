//! Privacy commands: consent, disclose, audit, retention and the client's own report.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use chrono::{Local, NaiveDate};
use clap::Subcommand;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{open, optional, output::print_json};
use crate::error::Error;
use crate::i18n::{Lang, t};
use crate::model::{self, Action, Consent, Disclosure, Domain, NewConsent, Scope, parse_choice};
use crate::report::{self, Contents, Format, Kind};
use crate::session::{Access, Session};
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
        /// Where the proof is (a signed form, a note id)
        #[arg(long)]
        evidence: Option<String>,
    },
    /// A client's consents
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

fn consent_json(c: &Consent, today: NaiveDate) -> serde_json::Value {
    let mut v = serde_json::to_value(c).unwrap_or_default();
    v["state"] = json!(c.state(today));
    v
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
            let client_id = session.store().resolve_id(IdTable::Client, &prefix)?;
            let new = NewConsent { client_id, ..new };
            let id = session.change(|s| s.add_consent(&new))?;
            println!("{id}");
            Ok(session.close()?)
        }
        ConsentCmd::List { client, json } => {
            let prefix = model::parse_id_prefix("CLIENT", &client)?;
            let mut session = open(path, pass_file, Access::Write)?;
            let id = session.store().resolve_id(IdTable::Client, &prefix)?;
            let list = session.store().consents(&id)?;
            session.change(|s| s.log(Action::View, Some(&id), "consents"))?;
            if json {
                print_json(&json!(
                    list.iter()
                        .map(|c| consent_json(c, today))
                        .collect::<Vec<_>>()
                ))?;
            } else if list.is_empty() {
                eprintln!("{}", t!("consent.none"));
            } else {
                for c in &list {
                    println!(
                        "{}  {:<9} {:<7} {} .. {}  {} — {}",
                        c.id,
                        t!(format!("consent.state.{}", c.state(today))),
                        c.scope,
                        c.given_on,
                        c.until.map(|u| u.to_string()).unwrap_or_else(|| "-".into()),
                        c.org,
                        c.purpose
                    );
                }
            }
            Ok(session.close()?)
        }
        ConsentCmd::Withdraw { id, at } => {
            let prefix = model::parse_id_prefix("ID", &id)?;
            let at = optional(at, |v| model::parse_date("--at", v))?.unwrap_or(today);
            let mut session = open(path, pass_file, Access::Write)?;
            let id = session.store().resolve_id(IdTable::Consent, &prefix)?;
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

/// The consent a disclosure relies on, or why there is none.
fn find_consent(
    session: &Session,
    client: &str,
    org: &str,
    purpose: &str,
    chosen: Option<&str>,
    today: NaiveDate,
    want_special: bool,
) -> anyhow::Result<Consent> {
    let all = session.store().consents(client)?;
    if let Some(prefix) = chosen {
        let id = session.store().resolve_id(IdTable::Consent, prefix)?;
        let c = all
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| Error::Refused {
                reason: t!("disclose.consent_other_client", id = id).into_owned(),
            })?;
        if !c.covers(org, purpose) {
            return Err(Error::Refused {
                reason: t!(
                    "disclose.consent_other_use",
                    id = c.id,
                    org = c.org,
                    purpose = c.purpose
                )
                .into_owned(),
            }
            .into());
        }
        if !c.is_active(today) {
            return Err(Error::Refused {
                reason: t!(
                    "disclose.consent_inactive",
                    id = c.id,
                    state = t!(format!("consent.state.{}", c.state(today)))
                )
                .into_owned(),
            }
            .into());
        }
        return Ok(c);
    }
    let matching: Vec<&Consent> = all.iter().filter(|c| c.covers(org, purpose)).collect();
    // With --include-special, an active consent that covers special-category data first.
    if let Some(c) = matching
        .iter()
        .filter(|c| c.is_active(today))
        // Newest first among equals: max_by_key keeps the last maximum it sees.
        .rev()
        .max_by_key(|c| want_special && c.special)
    {
        return Ok((*c).clone());
    }
    let reason = match matching.first() {
        Some(c) => t!(
            "disclose.consent_inactive",
            id = c.id,
            state = t!(format!("consent.state.{}", c.state(today)))
        ),
        None => t!("disclose.no_consent", org = org, purpose = purpose),
    };
    Err(Error::Refused {
        reason: reason.into_owned(),
    }
    .into())
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
    let client = session.store().resolve_id(IdTable::Client, &prefix)?;
    let (consent, scope) = match &legal_ground {
        // The narrowest scope unless the ground is said to need more.
        Some(_) => (None, legal_scope.unwrap_or(Scope::Details)),
        None => {
            let c = find_consent(
                &session,
                &client,
                &org,
                &purpose,
                consent_prefix.as_deref(),
                today,
                a.include_special,
            )?;
            if a.include_special && !c.special {
                return Err(Error::Refused {
                    reason: t!("disclose.no_special_consent", id = c.id).into_owned(),
                }
                .into());
            }
            let scope = c.scope;
            (Some(c), scope)
        }
    };
    let lang = a.report_lang.unwrap_or_else(crate::i18n::current);
    let basis = {
        let before = crate::i18n::current();
        crate::i18n::set_lang(lang);
        let text = match (&consent, &legal_ground) {
            (Some(c), _) => t!("report.basis_consent_long", id = c.id, given = c.given_on),
            (None, Some(g)) => t!("report.basis_legal", ground = g),
            (None, None) => unreachable!("a consent or a legal ground"),
        }
        .into_owned();
        crate::i18n::set_lang(before);
        text
    };
    let kind = Kind::Disclosure {
        org: org.clone(),
        purpose: purpose.clone(),
        scope,
        basis,
        include_special: a.include_special,
    };
    let contents = Contents::read(session.store(), &client)?;
    let special_ids = contents.special_note_ids(&kind);
    let doc = report::render(&contents, &kind, a.format, lang, a.show_bsn, today);
    let sealed = seal_for(&recipient, doc.as_bytes())?;
    drop(doc);
    // Written beside the target first and put in place only once the disclosure is
    // recorded: a file never exists without its record.
    let tmp = crate::vault::temp_path(&a.out);
    crate::org::write_new(&tmp, &sealed)?;
    let disclosure = Disclosure {
        id: crate::store::new_id(),
        client_id: client.clone(),
        org,
        purpose,
        scope,
        consent_id: consent.map(|c| c.id),
        legal_ground,
        recipient: recipient.to_string(),
        file_sha256: Sha256::digest(&sealed)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        at: model::now_utc(),
        by: session.store().user()?,
    };
    let recorded = session.change(|s| {
        s.record_disclosure(&disclosure)?;
        for id in &special_ids {
            s.log(
                Action::RevealSpecial,
                Some(&client),
                &format!("note {id} disclosed"),
            )?;
        }
        if a.show_bsn {
            s.log(Action::RevealBsn, Some(&client), "disclosed")?;
        }
        Ok(())
    });
    match recorded {
        // Recorded in memory; the session saves it (NotWritten says so).
        Ok(()) | Err(Error::NotWritten { .. }) => {
            let placed = std::fs::hard_link(&tmp, &a.out);
            let _ = std::fs::remove_file(&tmp);
            placed.map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    Error::FileExists {
                        path: a.out.clone(),
                    }
                } else {
                    Error::io(t!("io.write", path = a.out.display()).into_owned(), e)
                }
            })?;
            recorded?;
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
    }
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

fn seal_for(recipient: &age::x25519::Recipient, plain: &[u8]) -> Result<Vec<u8>, Error> {
    let enc = age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
        .map_err(|e| Error::Encrypt(e.to_string()))?;
    let mut out = Vec::with_capacity(plain.len() + 1024);
    let mut w = enc
        .wrap_output(&mut out)
        .map_err(|e| Error::Encrypt(e.to_string()))?;
    w.write_all(plain)
        .and_then(|_| w.finish().map(|_| ()))
        .map_err(|e| Error::Encrypt(e.to_string()))?;
    Ok(out)
}

/// `report`: the client's own report (inzage).
pub(super) fn report(path: &Path, pass_file: Option<&Path>, a: ReportArgs) -> anyhow::Result<()> {
    let prefix = model::parse_id_prefix("CLIENT", &a.client)?;
    refuse_existing(&a.out)?;
    let mut session = open(path, pass_file, Access::Write)?;
    let client = session.store().resolve_id(IdTable::Client, &prefix)?;
    let lang = a.report_lang.unwrap_or_else(crate::i18n::current);
    // Logged first, so the report lists its own making.
    let special: Vec<String> = session
        .store()
        .notes(&client)?
        .into_iter()
        .filter(|n| n.special)
        .map(|n| n.id.clone())
        .collect();
    session.change(|s| {
        s.log(
            Action::Report,
            Some(&client),
            &format!("{:?}", a.format).to_lowercase(),
        )?;
        for id in &special {
            s.log(
                Action::RevealSpecial,
                Some(&client),
                &format!("note {id} in report"),
            )?;
        }
        if a.show_bsn {
            s.log(Action::RevealBsn, Some(&client), "report")?;
        }
        Ok(())
    })?;
    let contents = Contents::read(session.store(), &client)?;
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
    let entries = session.store().audit(client.as_deref())?;
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
    match session.store().resolve_id(IdTable::Client, prefix) {
        Ok(id) => Ok(id),
        Err(Error::NotFound { .. }) => {
            let ids: Vec<String> = session
                .store()
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
    let result = session.store().verify_log()?;
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
            let items = session.store().retention(today)?;
            session.change(|s| s.log(Action::View, None, "retention"))?;
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
                let (years, source) = session.store().retention_policy(*d)?;
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
            let items = session.store().retention(today)?;
            let chosen: Vec<_> = match &prefix {
                Some(p) => {
                    let id = session.store().resolve_id(IdTable::Client, p)?;
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
            session.change(|s| s.log(Action::View, None, "retention purge"))?;
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
