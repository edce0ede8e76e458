//! `client assign|unassign`, `export`, `import`, `sync` and `conflicts`.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::json;

use super::open;
use crate::error::Error;
use crate::i18n::t;
use crate::model;
use crate::session::Access;
use crate::store::{IdTable, MergeStats, OpenConflict};
use crate::sync::{self, Imported};

/// What to do with a conflict.
#[derive(Subcommand, Debug)]
pub(super) enum ConflictCmd {
    /// Keep the value the dossier shows now
    Confirm {
        /// The conflict's id (or a unique prefix), from `kluis conflicts`
        id: String,
    },
    /// Take the other value instead
    Choose {
        /// The conflict's id (or a unique prefix), from `kluis conflicts`
        id: String,
    },
}

fn print_json(v: &serde_json::Value) -> anyhow::Result<()> {
    super::output::print_json(v)
}

/// `client assign ID WORKER...` and `client unassign ID WORKER`.
pub(super) fn assign(
    path: &Path,
    pass_file: Option<&Path>,
    id: &str,
    workers: &[String],
    on: bool,
) -> anyhow::Result<()> {
    let prefix = model::parse_id_prefix("ID", id)?;
    let mut session = open(path, pass_file, Access::Write)?;
    let id = session.resolve(IdTable::Client, &prefix)?;
    if on {
        for w in workers {
            crate::sync::check_assignable(&session, w)?;
        }
    }
    let changed: Vec<bool> =
        session.change(|s| workers.iter().map(|w| s.assign(&id, w, on)).collect())?;
    for (w, changed) in workers.iter().zip(changed) {
        let msg = match (on, changed) {
            (true, true) => t!("sync.assigned", worker = w, id = id),
            (false, true) => t!("sync.unassigned", worker = w, id = id),
            (true, false) => t!("sync.already_assigned", worker = w, id = id),
            (false, false) => t!("sync.not_assigned", worker = w, id = id),
        };
        eprintln!("{msg}");
    }
    Ok(session.close()?)
}

fn check_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.is_dir() {
        return Err(Error::invalid("DIR", t!("sync.no_dir", path = dir.display())).into());
    }
    Ok(())
}

/// `export --out DIR [--client ID]...`.
pub(super) fn export(
    path: &Path,
    pass_file: Option<&Path>,
    out: &Path,
    clients: &[String],
    as_json: bool,
) -> anyhow::Result<()> {
    check_dir(out)?;
    let prefixes = clients
        .iter()
        .map(|c| model::parse_id_prefix("--client", c))
        .collect::<Result<Vec<_>, _>>()?;
    let mut session = open(path, pass_file, Access::Write)?;
    let ids = prefixes
        .iter()
        .map(|p| session.resolve(IdTable::Client, p))
        .collect::<Result<Vec<_>, _>>()?;
    let only = (!ids.is_empty()).then_some(&ids[..]);
    let (written, only_me) = {
        let _busy = super::progress::spinner(&t!("status.exporting"));
        sync::export(&mut session, out, only)?
    };
    session.close()?;
    if as_json {
        return print_json(&json!({ "bundles": written, "only_me": only_me }));
    }
    for b in &written {
        println!("{}", b.file.display());
        eprintln!(
            "{}",
            t!(
                "sync.exported",
                clients = b.clients,
                ops = b.ops,
                to = b.recipients.join(", ")
            )
        );
    }
    if written.is_empty() {
        eprintln!("{}", t!("sync.nothing_to_export"));
    }
    if only_me > 0 {
        eprintln!("{}", t!("sync.only_me", n = only_me));
    }
    Ok(())
}

fn describe(stats: &MergeStats) -> String {
    let mut text = t!(
        "sync.merged",
        clients_new = stats.clients_new,
        clients_changed = stats.clients_changed,
        notes = stats.notes_new,
        ops = stats.ops_new,
        known = stats.ops_known
    )
    .into_owned();
    if stats.erased > 0 {
        text.push_str(&format!("; {}", t!("sync.merged_erased", n = stats.erased)));
    }
    if stats.left_out > 0 {
        text.push_str(&format!("; {}", t!("sync.left_out", n = stats.left_out)));
    }
    text
}

fn outcome_text(outcome: &Imported) -> String {
    match outcome {
        Imported::Merged { author, stats, .. } => {
            format!("{} {}", t!("sync.from", author = author), describe(stats))
        }
        Imported::AlreadyImported { .. } => t!("sync.already_imported").into_owned(),
        Imported::NotForMe => t!("sync.skipped_not_for_me").into_owned(),
        Imported::Held {
            author,
            roster_version,
            ..
        } => t!("sync.held", author = author, version = roster_version).into_owned(),
        Imported::Incomplete {
            size,
            expected: Some(expected),
        } => t!("sync.incomplete", size = size, expected = expected).into_owned(),
        Imported::Incomplete {
            size,
            expected: None,
        } => t!("sync.incomplete_unknown", size = size).into_owned(),
    }
}

/// Most files listed one by one per kind in `sync`'s report for people (10,000 junk files
/// are one line more, not 10,000); `--json` lists them all.
const LISTED: usize = 20;

/// Prints `lines` on stderr, the first [`LISTED`], then how many more there are.
fn list_some(lines: impl ExactSizeIterator<Item = String>) {
    let n = lines.len();
    for line in lines.take(LISTED) {
        eprintln!("{line}");
    }
    if n > LISTED {
        eprintln!("{}", t!("sync.more", n = n - LISTED));
    }
}

fn conflict_hint(session: &crate::session::Session) -> anyhow::Result<()> {
    let n = session.conflict_count()?;
    if n > 0 {
        eprintln!("{}", t!("sync.conflicts_open", n = n));
    }
    Ok(())
}

/// `import FILE...`: every file is checked on its own; one refused file does not stop the
/// others, but makes the exit code 4.
pub(super) fn import(
    path: &Path,
    pass_file: Option<&Path>,
    files: &[PathBuf],
    as_json: bool,
) -> anyhow::Result<()> {
    let mut session = open(path, pass_file, Access::Write)?;
    let mut results = Vec::new();
    let mut first_error = None;
    let bar = super::progress::counted(files.len() as u64, &t!("status.importing"));
    for (i, file) in files.iter().enumerate() {
        bar.set(i as u64, &t!("status.importing"));
        match sync::import(&mut session, file, true) {
            Ok(outcome) => {
                if !as_json {
                    bar.println(&format!("{}: {}", file.display(), outcome_text(&outcome)));
                }
                results.push(json!({ "file": file, "result": outcome }));
            }
            Err(
                e @ (Error::BundleRefused { .. }
                | Error::NotAuthentic { .. }
                | Error::Damaged { .. }
                | Error::Io { .. }),
            ) => {
                bar.eprintln(&e.to_string());
                results.push(json!({ "file": file, "result": { "outcome": "refused", "reason": e.to_string() } }));
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e.into()),
        }
    }
    bar.set(files.len() as u64, &t!("status.importing"));
    drop(bar);
    if as_json {
        print_json(&json!(results))?;
    } else {
        for h in sync::held_erasures(&session)? {
            eprintln!(
                "{}",
                t!(
                    "sync.erasure_held",
                    id = h.client_id,
                    author = h.author,
                    reason = h.reason.text()
                )
            );
        }
        conflict_hint(&session)?;
    }
    session.close()?;
    match first_error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// `sync DIR`.
pub(super) fn sync(
    path: &Path,
    pass_file: Option<&Path>,
    dir: &Path,
    as_json: bool,
) -> anyhow::Result<()> {
    check_dir(dir)?;
    let mut session = open(path, pass_file, Access::Write)?;
    let report = {
        let _busy = super::progress::spinner(&t!("status.syncing"));
        sync::sync(&mut session, dir)?
    };
    if as_json {
        let files = |list: &[(PathBuf, Imported)]| -> Vec<serde_json::Value> {
            list.iter()
                .map(|(f, o)| json!({ "file": f, "result": o }))
                .collect()
        };
        let refused: Vec<_> = report
            .refused
            .iter()
            .map(|(f, r)| json!({ "file": f, "reason": r }))
            .collect();
        let unreadable: Vec<_> = report
            .unreadable
            .iter()
            .map(|(f, r)| json!({ "file": f, "reason": r }))
            .collect();
        let held_erasures: Vec<_> = report
            .held_erasures
            .iter()
            .map(|h| {
                let mut v = serde_json::to_value(h).unwrap_or_default();
                v["text"] = json!(h.reason.text());
                v
            })
            .collect();
        print_json(&json!({
            "roster": report.roster, "withdrawn": report.withdrawn,
            "admitted": report.admitted, "fingerprint": report.fingerprint,
            "request": report.request,
            "exported": report.exported, "only_me": report.only_me,
            "export_held": report.export_held,
            "imported": files(&report.imported), "held": files(&report.held),
            "refused": refused, "known": report.known, "refused_before": report.refused_before,
            "skipped": report.skipped, "erased": report.erased,
            "held_erasures": held_erasures, "orphaned": report.orphaned,
            "unreadable": unreadable, "summary": report.summary(),
            "share": share_json(&report.forget),
        }))?;
    } else {
        print_report(&report);
        conflict_hint(&session)?;
    }
    session.close()?;
    if report.refused.is_empty() {
        Ok(())
    } else {
        Err(Error::BundlesRefused {
            path: dir.to_owned(),
            n: report.refused.len(),
        }
        .into())
    }
}

/// The shared folder's side of a sync for `--json`: acknowledgements, and this vault's
/// bundles that left the folder or wait, with who they wait for.
fn share_json(f: &sync::ForgetReport) -> serde_json::Value {
    let files = |v: &[(std::path::PathBuf, String)]| -> Vec<serde_json::Value> {
        v.iter()
            .map(|(p, r)| json!({ "file": p, "reason": r }))
            .collect()
    };
    json!({
        "ack_published": f.ack_published, "acked": f.acked, "acks_read": f.acks_read,
        "acks_ignored": files(&f.acks_ignored), "removed": f.removed,
        "rewritten": f.rewritten, "waiting": f.waiting, "waiting_on": f.waiting_on,
        "not_ours": files(&f.not_ours), "problems": files(&f.problems),
    })
}

/// `sync`'s report for people: what came, what waits and why, what went out.
fn print_report(report: &sync::SyncReport) {
    if let Some(v) = report.roster {
        eprintln!("{}", t!("sync.roster_taken", version = v));
    }
    if report.withdrawn > 0 {
        eprintln!("{}", t!("sync.withdrawn", n = report.withdrawn));
    }
    if !report.admitted {
        eprintln!(
            "{}",
            t!(
                "sync.waiting_admission",
                fingerprint = report.fingerprint,
                path = report
                    .request
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            )
        );
        return;
    }
    for b in &report.exported {
        println!("{}", b.file.display());
    }
    for (f, o) in &report.imported {
        eprintln!("{}: {}", f.display(), outcome_text(o));
    }
    list_some(
        report
            .held
            .iter()
            .map(|(f, o)| format!("{}: {}", f.display(), outcome_text(o))),
    );
    if let Some(v) = report.export_held {
        eprintln!("{}", t!("sync.export_held", version = v));
    }
    list_some(
        report.refused.iter().map(|(f, reason)| {
            t!("sync.refused", path = f.display(), reason = reason).into_owned()
        }),
    );
    if report.refused_before > 0 {
        eprintln!("{}", t!("sync.refused_before", n = report.refused_before));
    }
    list_some(report.unreadable.iter().map(|(f, reason)| {
        t!("sync.unreadable", path = f.display(), reason = reason).into_owned()
    }));
    for h in &report.held_erasures {
        eprintln!(
            "{}",
            t!(
                "sync.erasure_held",
                id = h.client_id,
                author = h.author,
                reason = h.reason.text()
            )
        );
    }
    for o in &report.orphaned {
        let who = if o.assignees.is_empty() {
            "-".to_owned()
        } else {
            o.assignees.join(", ")
        };
        eprintln!("{}", t!("sync.orphaned", id = o.client_id, who = who));
    }
    let f = &report.forget;
    list_some(f.acks_ignored.iter().map(|(p, reason)| {
        t!("sync.ack_ignored", path = p.display(), reason = reason).into_owned()
    }));
    list_some(
        f.not_ours.iter().map(|(p, reason)| {
            t!("sync.not_ours", path = p.display(), reason = reason).into_owned()
        }),
    );
    list_some(f.problems.iter().map(|(p, reason)| {
        t!("sync.forget_problem", path = p.display(), reason = reason).into_owned()
    }));
    list_some(
        f.waiting_on
            .iter()
            .map(|(w, n)| t!("sync.waiting_on", n = n, worker = w).into_owned()),
    );
    let sum = report.summary();
    let m = &sum.merged.stats;
    eprintln!(
        "{}",
        t!(
            "sync.summary_merged",
            bundles = sum.merged.bundles,
            clients_new = m.clients_new,
            clients_changed = m.clients_changed,
            notes = m.notes_new,
            log = m.log_entries,
            ops = m.ops_new
        )
    );
    eprintln!(
        "{}",
        t!(
            "sync.summary_held",
            roster = sum.held.newer_roster,
            incomplete = sum.held.incomplete,
            erasures = sum.held.erasures
        )
    );
    eprintln!(
        "{}",
        t!(
            "sync.summary_refused",
            now = sum.refused.now,
            before = sum.refused.before
        )
    );
    eprintln!("{}", t!("sync.summary_erased", n = sum.erased));
    let sh = &sum.share;
    eprintln!(
        "{}",
        t!(
            "sync.summary_share",
            published = sh.acks_published,
            read = sh.acks_read,
            ignored = sh.acks_ignored,
            removed = sh.removed,
            rewritten = sh.rewritten,
            waiting = sh.waiting
        )
    );
    if sum.unreadable > 0 {
        eprintln!("{}", t!("sync.summary_unreadable", n = sum.unreadable));
    }
    eprintln!(
        "{}",
        t!(
            "sync.summary",
            exported = sum.written,
            known = sum.known,
            skipped = sum.for_others
        )
    );
}

/// A conflicting value as shown: a BSN as its last three digits, like everywhere else.
fn shown(c: &OpenConflict, op: &crate::merge::Op) -> Option<String> {
    op.value
        .as_deref()
        .map(|v| crate::model::shown_value(&c.field, Some(v)))
}

fn conflict_json(c: &OpenConflict) -> serde_json::Value {
    json!({
        "id": c.loser.id, "client_id": c.client_id, "client_name": c.client_name,
        "field": c.field,
        "shown": { "value": shown(c, &c.winner), "author": c.winner.author, "version": c.winner.hlc },
        "other": { "value": shown(c, &c.loser), "author": c.loser.author, "version": c.loser.hlc },
    })
}

/// `conflicts [confirm|choose ID]`.
pub(super) fn conflicts(
    path: &Path,
    pass_file: Option<&Path>,
    action: Option<ConflictCmd>,
    as_json: bool,
) -> anyhow::Result<()> {
    let Some(action) = action else {
        let mut session = open(path, pass_file, Access::Write)?;
        let open = session.conflicts()?;
        if as_json {
            return print_json(&json!(open.iter().map(conflict_json).collect::<Vec<_>>()));
        }
        if open.is_empty() {
            eprintln!("{}", t!("sync.no_conflicts"));
        }
        for c in &open {
            println!(
                "{}  {} ({})  {}",
                c.loser.id,
                c.client_name,
                c.client_id.chars().take(8).collect::<String>(),
                c.field
            );
            println!(
                "    {}: {} ({})",
                t!("sync.shown"),
                crate::model::shown_value(&c.field, c.winner.value.as_deref()),
                c.winner.author
            );
            println!(
                "    {}: {} ({})",
                t!("sync.other"),
                crate::model::shown_value(&c.field, c.loser.value.as_deref()),
                c.loser.author
            );
        }
        return Ok(());
    };
    let (id, take_other) = match action {
        ConflictCmd::Confirm { id } => (id, false),
        ConflictCmd::Choose { id } => (id, true),
    };
    let mut session = open(path, pass_file, Access::Write)?;
    let id = session.resolve_conflict(id.trim())?;
    session.change(|s| s.resolve_conflict(&id, take_other))?;
    eprintln!(
        "{}",
        if take_other {
            t!("sync.chosen", id = id)
        } else {
            t!("sync.confirmed", id = id)
        }
    );
    Ok(session.close()?)
}
