//! Team sync in the database: every change to a dossier is also written as an operation with
//! an HLC version (`crate::merge`), and operations from colleagues are merged here into the
//! client, note and assignment tables. No crypto and no files: bundles are `crate::sync`.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Store, new_id};
use crate::error::{Error, Result};
use crate::i18n::t;
use crate::merge::{self, CLIENT_FIELDS, Field, Op, REQUIRED_FIELDS};

/// A note as it travels in a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteRow {
    /// Note id.
    pub id: String,
    /// The dossier.
    pub client_id: String,
    /// Kind code.
    pub kind: String,
    /// When it happened (local time as written).
    pub occurred_at: String,
    /// Text.
    pub body: String,
    /// Author.
    pub author: String,
    /// When it was written (UTC).
    pub created_at: String,
    /// The note it corrects.
    pub supersedes: Option<String>,
    /// Special-category data. Left out when false, so plain notes travel as before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub special: bool,
}

// A note body is the most sensitive text kluis holds: wiped when the row goes.
impl Drop for NoteRow {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.body.zeroize();
    }
}

/// A bundle file as the index remembers it.
#[derive(Clone, Debug)]
pub struct BundleMark<'a> {
    /// SHA-256 of the file, hex.
    pub hash: &'a str,
    /// Bundle id.
    pub bundle_id: &'a str,
    /// Author.
    pub author: &'a str,
    /// The author's bundle counter.
    pub seq: u64,
    /// `imported`, `own`, `not_for_me` or `refused`.
    pub status: &'a str,
    /// For `refused`: the roster version it was refused under.
    pub roster_version: u64,
}

/// What a merge changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MergeStats {
    /// Operations this vault did not have.
    pub ops_new: u64,
    /// Operations it already had (a bundle seen twice changes nothing).
    pub ops_known: u64,
    /// Dossiers that appeared.
    pub clients_new: u64,
    /// Dossiers whose details changed.
    pub clients_changed: u64,
    /// Notes that appeared.
    pub notes_new: u64,
    /// Notes waiting for their dossier or for the note they correct.
    pub notes_waiting: u64,
    /// Access log entries that arrived with the dossiers.
    pub log_entries: u64,
    /// Dossiers erased by a colleague at the end of their retention.
    pub erased: u64,
    /// Ops the bundle forwarded that do not count (their author was revoked at their time,
    /// or wrote them with a retired device key; or, in a bundle of the older format, any op
    /// its signer did not write): left out.
    pub left_out: u64,
}

/// An open conflict, for the conflicts command and screen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpenConflict {
    /// The dossier.
    pub client_id: String,
    /// Its name (as it stands now).
    pub client_name: String,
    /// The field.
    pub field: String,
    /// The value shown.
    pub winner: Op,
    /// The other value.
    pub loser: Op,
}

/// The vault's hybrid logical clock, kept in memory during a transaction and written to the
/// meta table once at commit.
#[derive(Debug, Default)]
pub(super) struct Clock {
    state: RefCell<Option<ClockState>>,
}

#[derive(Debug)]
struct ClockState {
    last: (u64, u32),
    node: String,
    dirty: bool,
}

impl Clock {
    /// Forgets unsaved readings (after a rollback).
    pub(super) fn reset(&self) {
        *self.state.borrow_mut() = None;
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(super) const OP_COLUMNS: &str = "id, client_id, field, value, prev, hlc, author";

pub(super) fn op_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Op> {
    Ok(Op {
        id: r.get(0)?,
        client: r.get(1)?,
        field: r.get(2)?,
        value: r.get(3)?,
        prev: r.get(4)?,
        hlc: r.get(5)?,
        author: r.get(6)?,
    })
}

impl Store {
    /// Who this vault writes ops as: the worker id when enrolled, else the owner's name.
    pub(in crate::engine) fn node(&self) -> Result<String> {
        Ok(match self.meta("worker_id")? {
            Some(id) => id,
            None => self.meta("owner")?.unwrap_or_else(|| "me".into()),
        })
    }

    fn with_clock<T>(&self, f: impl FnOnce(&mut ClockState) -> T) -> Result<T> {
        if self.clock.state.borrow().is_none() {
            let last = self
                .meta("hlc")?
                .and_then(|h| merge::parse_hlc(&h))
                .unwrap_or((0, 0));
            let node = self.node()?;
            *self.clock.state.borrow_mut() = Some(ClockState {
                last,
                node,
                dirty: false,
            });
        }
        let mut state = self.clock.state.borrow_mut();
        Ok(f(state.as_mut().expect("clock loaded")))
    }

    /// The next HLC reading and the node it belongs to.
    fn tick(&self) -> Result<(String, String)> {
        self.with_clock(|c| {
            c.last = merge::next_hlc(c.last, now_ms());
            c.dirty = true;
            (
                merge::format_hlc(c.last.0, c.last.1, &c.node),
                c.node.clone(),
            )
        })
    }

    /// Moves the clock past an HLC seen in a colleague's op, so that what is written here next
    /// is newer than everything already seen.
    fn observe(&self, hlc: &str) -> Result<()> {
        if let Some(seen) = merge::parse_hlc(hlc) {
            self.with_clock(|c| {
                if seen > c.last {
                    c.last = seen;
                    c.dirty = true;
                }
            })?;
        }
        Ok(())
    }

    /// Writes the clock into the meta table if it moved (inside the transaction).
    pub(super) fn flush_clock(&self) -> Result<()> {
        let reading = self.with_clock(|c| {
            let r = c
                .dirty
                .then(|| merge::format_hlc(c.last.0, c.last.1, &c.node));
            c.dirty = false;
            r
        })?;
        match reading {
            Some(r) => self.set_meta("hlc", &r),
            None => Ok(()),
        }
    }

    /// Writes an op for a change made here: the field's new value, versioned after the value it
    /// replaces.
    pub(super) fn emit(&self, client: &str, field: &str, value: Option<&str>) -> Result<String> {
        self.emit_as(&new_id(), client, field, value)
    }

    /// [`Store::emit`] with the op's id chosen by the caller (a dossier's creation, whose id
    /// the dossier's id is bound to).
    fn emit_as(&self, id: &str, client: &str, field: &str, value: Option<&str>) -> Result<String> {
        // The newest version, taken here rather than by max(): SQLite plans a max() over the
        // index (client_id, field, hlc) anew for every new pair of values bound, which cost
        // more than the rest of the op. HLCs compare as bytes, as SQLite compares them.
        let prev: Option<String> = self
            .conn
            .prepare_cached("SELECT hlc FROM op WHERE client_id = ?1 AND field = ?2")?
            .query_map(params![client, field], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?
            .into_iter()
            .max();
        self.insert_op(id, client, field, value, prev.as_deref())
    }

    /// [`Store::emit`] for a field named after an id made in this transaction (a new note,
    /// an access-log entry): no op can have had it before, so there is no version to look up.
    pub(super) fn emit_new(
        &self,
        client: &str,
        field: &str,
        value: Option<&str>,
    ) -> Result<String> {
        self.insert_op(&new_id(), client, field, value, None)
    }

    fn insert_op(
        &self,
        id: &str,
        client: &str,
        field: &str,
        value: Option<&str>,
        prev: Option<&str>,
    ) -> Result<String> {
        let (hlc, author) = self.tick()?;
        self.conn
            .prepare_cached(
                "INSERT INTO op (id, seq, client_id, field, value, prev, hlc, author, via)
                 VALUES (?1, (SELECT max((SELECT coalesce(max(seq), 0) FROM op), (SELECT coalesce(max(upto), 0) FROM sent)) + 1), ?2, ?3, ?4, ?5, ?6, ?7, NULL)",
            )?
            .execute(params![id, client, field, value, prev, hlc, author])?;
        self.record("op", id)?;
        Ok(id.to_owned())
    }

    /// Ops for the client columns that differ between `before` and `after` (None: a new
    /// client, whose creation op gets the id `creation` when given).
    pub(super) fn emit_client_fields(
        &self,
        id: &str,
        before: Option<&[Option<String>]>,
        after: &[Option<String>],
        creation: Option<&str>,
    ) -> Result<()> {
        for (i, name) in CLIENT_FIELDS.iter().enumerate() {
            let changed = match before {
                Some(b) => b[i] != after[i],
                None => after[i].is_some(),
            };
            if changed {
                match creation.filter(|_| *name == "created_at") {
                    Some(op) => self.emit_as(op, id, name, after[i].as_deref())?,
                    None => self.emit(id, name, after[i].as_deref())?,
                };
            }
        }
        // The row's `updated_at` follows from the ops, so that every vault agrees on it.
        self.materialize_client(id)?;
        Ok(())
    }

    /// The client's row as the values of [`CLIENT_FIELDS`], in order.
    pub(super) fn client_fields(&self, id: &str) -> Result<Option<Vec<Option<String>>>> {
        let sql = format!(
            "SELECT {} FROM client WHERE id = ?1",
            CLIENT_FIELDS.join(", ")
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([id], |r| {
                (0..CLIENT_FIELDS.len())
                    .map(|i| r.get::<_, Option<String>>(i))
                    .collect()
            })
            .optional()?)
    }

    /// Workers assigned to a dossier, sorted.
    pub(in crate::engine) fn assignees(&self, client: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT worker FROM assignment WHERE client_id = ?1 AND assigned = 1 ORDER BY worker",
        )?;
        let rows = stmt
            .query_map([client], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Every dossier's assigned workers (sorted), in one query.
    pub(in crate::engine) fn assignees_by_client(&self) -> Result<HashMap<String, Vec<String>>> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        let mut stmt = self.conn.prepare(
            "SELECT client_id, worker FROM assignment WHERE assigned = 1 ORDER BY client_id, worker",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
        for row in rows {
            let (client, worker) = row?;
            out.entry(client).or_default().push(worker);
        }
        Ok(out)
    }

    /// In a team vault, refuses a change to a dossier this worker is not assigned to: it would
    /// not count anywhere (see `merge::fold`).
    pub(super) fn require_assigned(&self, client: &str) -> Result<()> {
        let Some(me) = self.meta("worker_id")? else {
            return Ok(());
        };
        let known: bool = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM assignment WHERE client_id = ?1)")?
            .query_row([client], |r| r.get(0))?;
        if !known || self.assignees(client)?.contains(&me) {
            Ok(())
        } else {
            Err(Error::invalid("client_id", t!("sync.not_your_dossier")))
        }
    }

    /// Assigns (or unassigns) a worker; false when that was already so.
    pub fn assign(&self, client: &str, worker: &str, on: bool) -> Result<bool> {
        self.client(client)?;
        self.require_assigned(client)?;
        if self.assignees(client)?.iter().any(|w| w == worker) == on {
            return Ok(false);
        }
        if !on {
            self.require_active_left(client, worker)?;
        }
        self.emit(
            client,
            &format!("assign/{worker}"),
            Some(if on { "1" } else { "0" }),
        )?;
        self.materialize_client(client)?;
        let what = if on { "assign" } else { "unassign" };
        self.log(
            crate::model::Action::Change,
            Some(client),
            &format!("{what} {worker}"),
        )?;
        Ok(true)
    }

    pub(super) fn set_assignment(&self, client: &str, worker: &str, on: bool) -> Result<()> {
        let id = format!("{client}/{worker}");
        let n = self
            .conn
            .prepare_cached(
                "INSERT INTO assignment (id, client_id, worker, assigned) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET assigned = excluded.assigned
             WHERE assigned IS NOT excluded.assigned",
            )?
            .execute(params![id, client, worker, on as i64])?;
        if n > 0 {
            self.record("assignment", &id)?;
        }
        Ok(())
    }

    /// Every dossier with the workers it goes to (sorted), for export: the assigned ones, and
    /// for an erased dossier everyone who ever was.
    pub(in crate::engine) fn assignments(&self) -> Result<BTreeMap<String, Vec<String>>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        // An erased dossier's tombstone also goes to those who were assigned once: their copy
        // must go too.
        let mut stmt = self.conn.prepare(
            "SELECT client_id, worker FROM assignment
             WHERE assigned = 1 OR client_id IN (SELECT client_id FROM erased)
             ORDER BY client_id, worker",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
        for row in rows {
            let (client, worker) = row?;
            out.entry(client).or_default().push(worker);
        }
        Ok(out)
    }

    /// A dossier's ops after local sequence number `upto`, leaving out those that came in a
    /// bundle to recipient set `to` or to a set that holds all of it (they have them); and
    /// the highest sequence number seen.
    pub(in crate::engine) fn ops_after(
        &self,
        client: &str,
        upto: i64,
        to: &str,
    ) -> Result<(Vec<Op>, i64)> {
        self.ops_range(client, upto, i64::MAX, to)
    }

    /// [`Store::ops_after`] up to sequence number `until` (included).
    pub(super) fn ops_range(
        &self,
        client: &str,
        upto: i64,
        until: i64,
        to: &str,
    ) -> Result<(Vec<Op>, i64)> {
        let sql = format!(
            "SELECT {OP_COLUMNS}, seq, via FROM op
             WHERE client_id = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut ops = Vec::new();
        let mut max = upto;
        let rows = stmt.query_map(params![client, upto, until], |r| {
            Ok((
                op_from_row(r)?,
                r.get::<_, i64>(7)?,
                r.get::<_, Option<String>>(8)?,
            ))
        })?;
        for row in rows {
            let (op, seq, via) = row?;
            max = max.max(seq);
            // IT's reassignments are made by every vault from its roster: they never travel.
            if !via.as_deref().is_some_and(|v| super::forget::covers(v, to))
                && op.author != merge::ORG_AUTHOR
            {
                ops.push(op);
            }
        }
        Ok((ops, max))
    }

    /// A note as it travels, from the note table or from the notes still waiting.
    pub(in crate::engine) fn note_row(&self, id: &str) -> Result<Option<NoteRow>> {
        let found = self
            .conn
            .prepare_cached(
                "SELECT id, client_id, kind, occurred_at, body, author, created_at, supersedes,
                        special
                 FROM note WHERE id = ?1",
            )?
            .query_row([id], |r| {
                Ok(NoteRow {
                    id: r.get(0)?,
                    client_id: r.get(1)?,
                    kind: r.get(2)?,
                    occurred_at: r.get(3)?,
                    body: r.get(4)?,
                    author: r.get(5)?,
                    created_at: r.get(6)?,
                    supersedes: r.get(7)?,
                    special: r.get(8)?,
                })
            })
            .optional()?;
        if found.is_some() {
            return Ok(found);
        }
        let waiting: Option<String> = self
            .conn
            .prepare_cached("SELECT row FROM note_pending WHERE id = ?1 AND done = 0")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        Ok(waiting.and_then(|w| serde_json::from_str(&w).ok()))
    }

    /// The last op sequence number sent for a dossier to a recipient set.
    pub(in crate::engine) fn sent_upto(&self, client: &str, to: &str) -> Result<i64> {
        Ok(self
            .conn
            .prepare_cached("SELECT upto FROM sent WHERE id = ?1")?
            .query_row([format!("{client}|{to}")], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }

    /// Records what was sent.
    pub(in crate::engine) fn set_sent(&self, client: &str, to: &str, upto: i64) -> Result<()> {
        let id = format!("{client}|{to}");
        self.conn
            .prepare_cached(
                "INSERT INTO sent (id, upto) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET upto = max(upto, excluded.upto)",
            )?
            .execute(params![id, upto])?;
        self.record("sent", &id)
    }

    /// How a bundle file (by content hash) was handled before, if it was.
    pub(in crate::engine) fn bundle_seen(&self, hash: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT status FROM bundle_seen WHERE hash = ?1")?
            .query_row([hash], |r| r.get(0))
            .optional()?)
    }

    /// Remembers a bundle file: `imported`, `own` or `not_for_me`.
    pub(in crate::engine) fn mark_bundle(&self, b: &BundleMark<'_>) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO bundle_seen (hash, bundle_id, author, seq, status, roster_version, seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (hash) DO UPDATE SET status = excluded.status,
                     bundle_id = excluded.bundle_id, author = excluded.author,
                     seq = excluded.seq, roster_version = excluded.roster_version,
                     seen_at = excluded.seen_at",
            )?
            .execute(params![
                b.hash,
                b.bundle_id,
                b.author,
                b.seq as i64,
                b.status,
                b.roster_version as i64,
                self.now()
            ])?;
        self.record("bundle_seen", b.hash)
    }

    /// Bundle files this vault has handled: hash → (status, roster version when refused,
    /// bundle id). A refusal from before kluis told half-written files apart has an empty
    /// bundle id (see `sync::sync`).
    pub(in crate::engine) fn bundles_seen(&self) -> Result<HashMap<String, (String, u64, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT hash, status, roster_version, bundle_id FROM bundle_seen")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?))))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// How many refused files the vault remembers (they are capped: `sync::REFUSALS_KEPT`).
    pub(in crate::engine) fn refusals_kept(&self) -> Result<usize> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM bundle_seen WHERE status = 'refused'",
            [],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }

    /// Merges ops and the notes they name (from a verified bundle) into this vault. Run inside
    /// a transaction: a failure leaves nothing half-merged. Who may write what is decided when
    /// the dossier is materialized (`merge::fold`), the same way in every vault.
    ///
    /// Refused with [`Error::Invalid`] field `bundle` (a forgery, since ids are never reused
    /// and a dossier is created once): an op or note whose id is already here with other
    /// contents, a second creation of a dossier, a correction of another dossier's note.
    #[cfg(test)]
    pub(in crate::engine) fn merge_ops(
        &self,
        ops: &[Op],
        notes: &[NoteRow],
        via: &str,
    ) -> Result<MergeStats> {
        self.merge_ops_from(ops, notes, via, None)
    }

    /// [`Store::merge_ops`] for a bundle signed by `signer`. An erasure is applied only when
    /// this vault can check it for itself (`Store::recheck_erasures`); until then it waits,
    /// and once applied it wins over everything about the dossier that arrives before or
    /// after.
    pub(in crate::engine) fn merge_ops_from(
        &self,
        ops: &[Op],
        notes: &[NoteRow],
        via: &str,
        signer: Option<&str>,
    ) -> Result<MergeStats> {
        let mut stats = MergeStats::default();
        let notes: HashMap<&str, &NoteRow> = notes.iter().map(|n| (n.id.as_str(), n)).collect();
        let mut incoming: Vec<&NoteRow> = Vec::new();
        let mut affected = BTreeSet::new();
        let mut seen_ids = HashSet::new();
        // Local arrival order: past every op here and every number `sent` remembers. Only
        // this loop adds ops until it ends, so the next number is counted here rather than
        // looked up again (`sent` has no index on it) for every op.
        let mut seq: i64 = self.conn.query_row(
            "SELECT max((SELECT coalesce(max(seq), 0) FROM op), (SELECT coalesce(max(upto), 0) FROM sent)) + 1",
            [],
            |r| r.get(0),
        )?;
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO op (id, seq, client_id, field, value, prev, hlc, author, via)
             VALUES (?1, ?9, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (id) DO NOTHING",
        )?;
        let existing_sql = format!("SELECT {OP_COLUMNS} FROM op WHERE id = ?1");
        let mut erasures = BTreeSet::new();
        let mut entries = Vec::new();
        let mut erased_here = HashMap::new();
        // New ops, and a lower bound of the bytes their rows and notes take in the journal.
        let mut new_ops: Vec<&str> = Vec::new();
        let mut new_bytes = 0;
        for op in ops {
            if !seen_ids.insert(op.id.as_str()) {
                continue;
            }
            let gone = match erased_here.get(op.client.as_str()) {
                Some(g) => *g,
                None => {
                    let g = self.is_erased(&op.client)?;
                    erased_here.insert(op.client.as_str(), g);
                    g
                }
            };
            if gone {
                stats.ops_known += 1;
                continue;
            }
            if op.field == "erased" {
                erasures.insert(op.client.clone());
            }
            // A dossier is created once: a second creation would make its author the creator
            // (see `merge::fold`).
            if op.field == "created_at" {
                let other: Option<String> = self
                    .conn
                    .prepare_cached(
                        "SELECT id FROM op WHERE client_id = ?1 AND field = 'created_at' AND id <> ?2",
                    )?
                    .query_row([&op.client, &op.id], |r| r.get(0))
                    .optional()?;
                if other.is_some() {
                    return Err(Error::invalid(
                        "bundle",
                        t!("sync.second_creation", id = op.client),
                    ));
                }
            }
            let n = insert.execute(params![
                op.id, op.client, op.field, op.value, op.prev, op.hlc, op.author, via, seq
            ])?;
            if n == 0 {
                let here = self
                    .conn
                    .prepare_cached(&existing_sql)?
                    .query_row([&op.id], op_from_row)?;
                if here != *op {
                    return Err(Error::invalid("bundle", t!("sync.id_reused", id = op.id)));
                }
                self.arrived_again(&op.id, via)?;
                stats.ops_known += 1;
            } else {
                seq += 1;
                stats.ops_new += 1;
                new_ops.push(&op.id);
                new_bytes += [&op.id, &op.client, &op.field, &op.hlc, &op.author]
                    .iter()
                    .map(|t| t.len())
                    .sum::<usize>()
                    + op.value.as_ref().map_or(0, String::len)
                    + op.prev.as_ref().map_or(0, String::len)
                    + via.len();
                if let Some(Field::Note(note_id)) = merge::field(&op.field)
                    && let Some(row) = notes.get(note_id)
                {
                    new_bytes += row.id.len() + row.client_id.len() + row.body.len();
                }
                self.observe(&op.hlc)?;
                affected.insert(op.client.clone());
            }
            if let Some(Field::Log(entry)) = merge::field(&op.field)
                && let Some(value) = op.value.as_deref()
            {
                entries.push((entry, op.client.as_str(), op.author.as_str(), value));
            }
            // A note travels with its op every time, so a note that did not make it before
            // (or waits for its dossier) is still placed.
            if let Some(Field::Note(note_id)) = merge::field(&op.field)
                && let Some(row) = notes.get(note_id)
                && row.client_id == op.client
            {
                incoming.push(row);
                affected.insert(op.client.clone());
            }
        }
        // A bulk import whose rows alone pass the journal's limit would be compacted right
        // after its record was appended: it is saved as a new generation instead, and no row
        // is read back for the journal. Else the new ops are noted for it here.
        if new_bytes > self.journal_limit() {
            self.save_whole();
        }
        for id in new_ops {
            self.record("op", id)?;
        }
        for client in &affected {
            match self.materialize_client(client)? {
                Materialized::New => stats.clients_new += 1,
                Materialized::Changed => stats.clients_changed += 1,
                Materialized::Same | Materialized::Waiting => {}
            }
        }
        stats.notes_new = self.place_notes(&affected, incoming)?;
        // After materializing, so the assignments that say who may have written them are in.
        for (id, client, author, value) in entries {
            if self.import_entry(id, client, author, value, signer)? {
                stats.log_entries += 1;
            }
        }
        // Once the rest is in place: an erasure that waited for its dossier (or its close)
        // may be checked now.
        erasures.extend(affected.iter().cloned());
        stats.erased = self.recheck_erasures(Some(&erasures))?;
        for client in &affected {
            if !self.is_erased(client)? {
                self.log(crate::model::Action::Import, Some(client), via)?;
            }
        }
        self.act_on_handovers()?;
        stats.notes_waiting = self.conn.query_row(
            "SELECT count(*) FROM note_pending WHERE done = 0",
            [],
            |r| r.get(0),
        )?;
        Ok(stats)
    }

    /// Puts notes in place once their dossier (and the note a correction corrects, in the same
    /// dossier) is there: the notes that just arrived and those waiting for these dossiers.
    /// What still cannot be placed waits in `note_pending`. Returns how many were placed.
    pub(super) fn place_notes(
        &self,
        clients: &BTreeSet<String>,
        incoming: Vec<&NoteRow>,
    ) -> Result<u64> {
        // id → (row, came from note_pending)
        let mut candidates: BTreeMap<String, (NoteRow, bool)> = BTreeMap::new();
        let mut client_exists = HashMap::new();
        for client in clients {
            let exists = self.has_client(client)?;
            client_exists.insert(client.as_str(), exists);
            if !exists {
                continue;
            }
            let rows: Vec<String> = self
                .conn
                .prepare_cached("SELECT row FROM note_pending WHERE client_id = ?1 AND done = 0")?
                .query_map([client], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for json in rows {
                let row: NoteRow = serde_json::from_str(&json)
                    .map_err(|e| Error::invalid("note_pending", e.to_string()))?;
                candidates.insert(row.id.clone(), (row, true));
            }
        }
        let mut new_waiting = Vec::new();
        for row in incoming {
            if candidates.contains_key(&row.id) {
                continue;
            }
            if let Some(here) = self.note_row(&row.id)? {
                if here != *row {
                    return Err(Error::invalid("bundle", t!("sync.id_reused", id = row.id)));
                }
                continue;
            }
            if client_exists
                .get(row.client_id.as_str())
                .copied()
                .unwrap_or(false)
            {
                candidates.insert(row.id.clone(), (row.clone(), false));
            } else {
                new_waiting.push(row.clone());
            }
        }
        // Corrections in dependency order, in one pass: a note is ready when what it corrects
        // is in this dossier already or placed before it here.
        let mut children: HashMap<String, Vec<String>> = HashMap::new();
        let mut queue = std::collections::VecDeque::new();
        for (id, (row, _)) in &candidates {
            match &row.supersedes {
                None => queue.push_back(id.clone()),
                Some(old) if candidates.contains_key(old) => {
                    children.entry(old.clone()).or_default().push(id.clone())
                }
                Some(old) => {
                    let base: Option<String> = self
                        .conn
                        .prepare_cached("SELECT client_id FROM note WHERE id = ?1")?
                        .query_row([old], |r| r.get(0))
                        .optional()?;
                    match base {
                        Some(c) if c == row.client_id => queue.push_back(id.clone()),
                        Some(_) => {
                            return Err(Error::invalid(
                                "bundle",
                                t!("sync.correction_elsewhere", id = id),
                            ));
                        }
                        None => {}
                    }
                }
            }
        }
        let mut ready = Vec::new();
        while let Some(id) = queue.pop_front() {
            let Some(entry) = candidates.remove(&id) else {
                continue;
            };
            if let Some(kids) = children.remove(&id) {
                for kid in kids {
                    if candidates
                        .get(&kid)
                        .is_some_and(|(k, _)| k.client_id == entry.0.client_id)
                    {
                        queue.push_back(kid);
                    }
                }
            }
            ready.push(entry);
        }
        self.insert_notes(&ready)?;
        // Still waiting: corrections of notes that have not arrived, and notes of dossiers
        // that have not.
        let waiting = candidates
            .into_values()
            .filter(|(_, was_waiting)| !was_waiting)
            .map(|(row, _)| row)
            .chain(new_waiting);
        for row in waiting {
            let json = serde_json::to_string(&row).map_err(|e| Error::Encrypt(e.to_string()))?;
            self.conn
                .prepare_cached(
                    "INSERT INTO note_pending (id, client_id, row, done) VALUES (?1, ?2, ?3, 0)
                     ON CONFLICT (id) DO NOTHING",
                )?
                .execute(params![row.id, row.client_id, json])?;
            self.record("note_pending", &row.id)?;
        }
        Ok(ready.len() as u64)
    }

    /// Inserts notes many rows per statement: FTS5 flushes its index at every statement, so
    /// thousands of single-row inserts cost several times what a few batches do.
    fn insert_notes(&self, rows: &[(NoteRow, bool)]) -> Result<()> {
        for chunk in rows.chunks(500) {
            let tuples = (0..chunk.len())
                .map(|i| {
                    let b = i * 9;
                    let params: Vec<String> = (1..=9).map(|k| format!("?{}", b + k)).collect();
                    format!("({})", params.join(", "))
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO note (id, client_id, kind, occurred_at, body, author, created_at,
                                   supersedes, special)
                 VALUES {tuples} ON CONFLICT (id) DO NOTHING"
            );
            let values = chunk.iter().flat_map(|(r, _)| {
                [
                    rusqlite::types::Value::from(r.id.clone()),
                    r.client_id.clone().into(),
                    r.kind.clone().into(),
                    r.occurred_at.clone().into(),
                    r.body.clone().into(),
                    r.author.clone().into(),
                    r.created_at.clone().into(),
                    r.supersedes.clone().into(),
                    r.special.into(),
                ]
            });
            self.conn
                .prepare_cached(&sql)?
                .execute(rusqlite::params_from_iter(values))?;
            for (row, was_waiting) in chunk {
                self.record("note", &row.id)?;
                if *was_waiting {
                    self.conn
                        .prepare_cached("UPDATE note_pending SET row = '', done = 1 WHERE id = ?1")?
                        .execute([&row.id])?;
                    self.record("note_pending", &row.id)?;
                }
            }
        }
        Ok(())
    }

    /// Brings a dossier's row and assignments in line with its ops.
    pub(super) fn materialize_client(&self, client: &str) -> Result<Materialized> {
        let sql = format!(
            "SELECT {OP_COLUMNS} FROM op WHERE client_id = ?1
             AND field NOT LIKE 'note/%' AND field NOT LIKE 'resolve/%' AND field NOT LIKE 'log/%'"
        );
        let ops: Vec<Op> = self
            .conn
            .prepare_cached(&sql)?
            .query_map([client], op_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        let folded = merge::fold(&ops);
        for (worker, on) in &folded.assigned {
            self.set_assignment(client, worker, *on)?;
        }
        let mut values: BTreeMap<&str, Option<String>> = BTreeMap::new();
        let mut newest = "";
        for (field, win) in &folded.winners {
            match merge::field(field) {
                Some(Field::Column(col)) => {
                    newest = newest.max(win.hlc.as_str());
                    values.insert(col, win.value.clone());
                }
                // Consents and disclosures have rows of their own.
                Some(Field::Record(kind, id)) => {
                    if let Some(v) = win.value.as_deref() {
                        self.materialize_register(kind, id, client, v)?;
                    }
                }
                _ => newest = newest.max(win.hlc.as_str()),
            }
        }
        if REQUIRED_FIELDS
            .iter()
            .any(|f| values.get(f).is_none_or(Option::is_none))
        {
            return Ok(Materialized::Waiting);
        }
        let after: Vec<Option<String>> = CLIENT_FIELDS
            .iter()
            .map(|f| values.get(f).cloned().flatten())
            .collect();
        let updated_at = merge::parse_hlc(newest)
            .and_then(|(ms, _)| chrono::DateTime::from_timestamp_millis(ms as i64))
            .map(crate::model::format_utc)
            .unwrap_or_else(crate::model::now_utc);
        let before = self.client_fields(client)?;
        let stamp: Option<String> = self
            .conn
            .prepare_cached("SELECT updated_at FROM client WHERE id = ?1")?
            .query_row([client], |r| r.get(0))
            .optional()?;
        if before.as_ref() == Some(&after) && stamp.as_deref() == Some(updated_at.as_str()) {
            return Ok(Materialized::Same);
        }
        // One upsert for a new and a known dossier: the insert and update triggers keep the
        // full-text index right either way.
        let sets = CLIENT_FIELDS
            .iter()
            .chain(["updated_at"].iter())
            .map(|f| format!("{f} = excluded.{f}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO client (id, {}, updated_at) VALUES (?1, {}, ?{})
             ON CONFLICT (id) DO UPDATE SET {sets}",
            CLIENT_FIELDS.join(", "),
            (2..=CLIENT_FIELDS.len() + 1)
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", "),
            CLIENT_FIELDS.len() + 2
        );
        let mut p: Vec<rusqlite::types::Value> = vec![client.to_owned().into()];
        p.extend(after.iter().map(|v| v.clone().into()));
        p.push(updated_at.into());
        self.conn
            .prepare_cached(&sql)?
            .execute(rusqlite::params_from_iter(p))?;
        let outcome = if before.is_none() {
            Materialized::New
        } else {
            Materialized::Changed
        };
        self.record("client", client)?;
        Ok(outcome)
    }

    /// Open conflicts, oldest first; only one dossier's with `client`.
    pub(in crate::engine) fn conflicts(&self, client: Option<&str>) -> Result<Vec<OpenConflict>> {
        let resolved: Vec<String> = self
            .conn
            .prepare("SELECT substr(field, 9) FROM op WHERE field LIKE 'resolve/%'")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let resolved: HashSet<&str> = resolved.iter().map(String::as_str).collect();
        let groups: Vec<(String, String)> = self
            .conn
            .prepare(
                "SELECT client_id, field FROM op
                 WHERE field NOT LIKE 'note/%' AND field NOT LIKE 'resolve/%'
                   AND field NOT LIKE 'log/%' AND (?1 IS NULL OR client_id = ?1)
                 GROUP BY client_id, field HAVING count(DISTINCT author) > 1",
            )?
            .query_map([client], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let sql = format!(
            "SELECT {OP_COLUMNS} FROM op WHERE client_id = ?1
             AND field NOT LIKE 'note/%' AND field NOT LIKE 'resolve/%' AND field NOT LIKE 'log/%'"
        );
        let mut out = Vec::new();
        let mut counted_of: Option<(String, HashSet<String>)> = None;
        for (client_id, field) in groups {
            // Only ops that count (by a worker assigned at the time) can be in conflict.
            if counted_of.as_ref().is_none_or(|(c, _)| *c != client_id) {
                let all: Vec<Op> = self
                    .conn
                    .prepare_cached(&sql)?
                    .query_map([&client_id], op_from_row)?
                    .collect::<rusqlite::Result<_>>()?;
                let counted = merge::fold(&all)
                    .counted
                    .into_iter()
                    .map(str::to_owned)
                    .collect();
                counted_of = Some((client_id.clone(), counted));
            }
            let counted = &counted_of.as_ref().expect("just set").1;
            let ops: Vec<Op> = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {OP_COLUMNS} FROM op WHERE client_id = ?1 AND field = ?2"
                ))?
                .query_map(params![client_id, field], op_from_row)?
                .filter(|o| o.as_ref().map_or(true, |o| counted.contains(&o.id)))
                .collect::<rusqlite::Result<_>>()?;
            let name = self.client(&client_id).map(|c| c.name).unwrap_or_default();
            for c in merge::conflicts(&ops, &resolved) {
                out.push(OpenConflict {
                    client_id: client_id.clone(),
                    client_name: name.clone(),
                    field: field.clone(),
                    winner: c.winner.clone(),
                    loser: c.loser.clone(),
                });
            }
        }
        out.sort_by(|a, b| a.loser.hlc.cmp(&b.loser.hlc));
        Ok(out)
    }

    /// Settles a conflict: keeps the value shown, or (`take_other`) makes the other value the
    /// newest. Either way the confirmation travels to colleagues as an op.
    pub fn resolve_conflict(&self, loser_id: &str, take_other: bool) -> Result<()> {
        let open = self.conflicts(None)?;
        let c = open
            .iter()
            .find(|c| c.loser.id == loser_id)
            .ok_or_else(|| Error::NotFound {
                what: t!("word.conflict").into_owned(),
                id: loser_id.to_owned(),
            })?;
        self.require_assigned(&c.client_id)?;
        if take_other {
            self.emit(&c.client_id, &c.field, c.loser.value.as_deref())?;
            self.materialize_client(&c.client_id)?;
        }
        self.emit(
            &c.client_id,
            &format!("resolve/{loser_id}"),
            Some("confirmed"),
        )?;
        Ok(())
    }

    /// Resolves a full op id or unique prefix among the open conflicts' losing ops.
    pub(in crate::engine) fn resolve_conflict_id(&self, prefix: &str) -> Result<String> {
        let ids: Vec<String> = self
            .conflicts(None)?
            .into_iter()
            .map(|c| c.loser.id.clone())
            .filter(|id| id.starts_with(prefix))
            .collect();
        match ids.len() {
            0 => Err(Error::NotFound {
                what: t!("word.conflict").into_owned(),
                id: prefix.to_owned(),
            }),
            1 => Ok(ids.into_iter().next().expect("one id")),
            _ => Err(Error::Ambiguous {
                id: prefix.to_owned(),
                candidates: ids,
            }),
        }
    }

    /// How many ops the vault holds.
    pub(in crate::engine) fn op_count(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM op", [], |r| r.get(0))?)
    }

    /// Every op, for tests and the sync property test.
    #[cfg(test)]
    pub(in crate::engine) fn all_ops(&self) -> Result<Vec<Op>> {
        let sql = format!("SELECT {OP_COLUMNS} FROM op ORDER BY id");
        let rows = self
            .conn
            .prepare(&sql)?
            .query_map([], op_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

/// What [`Store::materialize_client`] did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Materialized {
    /// The dossier appeared.
    New,
    /// Its details changed.
    Changed,
    /// Nothing to do.
    Same,
    /// Not all required fields have arrived yet.
    Waiting,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientPatch, Domain, NewClient, NewNote};
    use proptest::prelude::*;

    /// A worker's vault in memory.
    fn worker(id: &str) -> Store {
        let mut s = Store::create(id).unwrap();
        s.transaction(|s| s.set_meta("worker_id", id)).unwrap();
        s
    }

    /// Everything a worker has, as a bundle would carry it.
    fn bundle(s: &Store) -> (Vec<Op>, Vec<NoteRow>) {
        let ops = s.all_ops().unwrap();
        let notes = ops
            .iter()
            .filter_map(|o| match merge::field(&o.field) {
                Some(Field::Note(id)) => s.note_row(id).unwrap(),
                _ => None,
            })
            .collect();
        (ops, notes)
    }

    /// What must agree between vaults: client rows, notes, assignments and open conflicts.
    type Snapshot = (
        Vec<Vec<Option<String>>>,
        Vec<(String, String)>,
        BTreeMap<String, Vec<String>>,
        Vec<String>,
    );

    fn snapshot(s: &Store) -> Snapshot {
        let mut clients = Vec::new();
        let mut notes = Vec::new();
        for (c, _, _) in s.clients(true).unwrap() {
            let mut row = s.client_fields(&c.id).unwrap().unwrap();
            row.push(Some(c.id.clone()));
            row.push(Some(c.updated_at.clone()));
            clients.push(row);
            for n in s.notes(&c.id).unwrap() {
                notes.push((n.id, n.body));
            }
        }
        clients.sort();
        notes.sort();
        let conflicts = s
            .conflicts(None)
            .unwrap()
            .into_iter()
            .map(|c| format!("{}/{}/{}", c.client_id, c.field, c.loser.id))
            .collect();
        (clients, notes, s.assignments().unwrap(), conflicts)
    }

    #[derive(Clone, Debug)]
    enum Step {
        Add,
        Edit(usize, u8),
        Note(usize),
        Close(usize),
        Assign(usize, usize),
        Send,
    }

    fn step() -> impl Strategy<Value = (usize, Step)> {
        let s = prop_oneof![
            Just(Step::Add),
            (any::<usize>(), 0..4u8).prop_map(|(c, v)| Step::Edit(c, v)),
            any::<usize>().prop_map(Step::Note),
            any::<usize>().prop_map(Step::Close),
            (any::<usize>(), 0..3usize).prop_map(|(c, w)| Step::Assign(c, w)),
            Just(Step::Send),
        ];
        (0..3usize, s)
    }

    fn apply(s: &mut Store, step: &Step, n: usize) -> Result<Option<String>> {
        let ids: Vec<String> = s.clients(true)?.into_iter().map(|(c, _, _)| c.id).collect();
        let pick = |i: usize| ids.get(i % ids.len().max(1)).cloned();
        let result = s.transaction(|s| match step {
            Step::Add => s
                .add_client(&NewClient {
                    name: format!("Client {n}"),
                    bsn: None,
                    birth_date: None,
                    address: None,
                    phone: None,
                    domain: Domain::Wmo,
                    opened_on: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                })
                .map(|_| None),
            Step::Edit(c, v) => match pick(*c) {
                Some(id) => s
                    .edit_client(
                        &id,
                        &ClientPatch {
                            phone: Some(Some(format!("06-{v}{n}"))),
                            ..Default::default()
                        },
                    )
                    .map(|_| None),
                None => Ok(None),
            },
            Step::Note(c) => match pick(*c) {
                Some(id) => s
                    .add_note(&NewNote {
                        client_id: id,
                        kind: crate::model::NoteKind::Overig,
                        occurred_at: chrono::NaiveDate::from_ymd_opt(2026, 2, 1)
                            .unwrap()
                            .and_hms_opt(9, 0, 0)
                            .unwrap(),
                        body: format!("note {n}"),
                        supersedes: None,
                        special: false,
                    })
                    .map(Some),
                None => Ok(None),
            },
            Step::Close(c) => match pick(*c) {
                Some(id) => s
                    .close_client(&id, chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap())
                    .map(|_| None),
                None => Ok(None),
            },
            Step::Assign(c, w) => match pick(*c) {
                Some(id) => s.assign(&id, &format!("w{w}"), true).map(|_| None),
                None => Ok(None),
            },
            Step::Send => Ok(None),
        });
        match result {
            Ok((out, _)) => Ok(out),
            // A worker not assigned to the dossier: refused, as the CLI would.
            Err(Error::Invalid { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn shuffle<T>(v: &mut [T], mut x: u64) {
        x |= 1;
        for i in (1..v.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.swap(i, (x % (i as u64 + 1)) as usize);
        }
    }

    /// Adds a client in its own transaction and returns its id.
    fn add(s: &mut Store, name: &str, domain: Domain) -> String {
        s.transaction(|s| {
            s.add_client(&NewClient {
                name: name.into(),
                bsn: None,
                birth_date: None,
                address: None,
                phone: None,
                domain,
                opened_on: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            })
        })
        .unwrap()
        .0
    }

    fn note_row(id: &str, client: &str, body: &str, supersedes: Option<&str>) -> NoteRow {
        NoteRow {
            id: id.into(),
            client_id: client.into(),
            kind: "overig".into(),
            occurred_at: "2026-02-01T09:00:00".into(),
            body: body.into(),
            author: "w1".into(),
            created_at: "2026-02-01T09:00:00Z".into(),
            supersedes: supersedes.map(Into::into),
            special: false,
        }
    }

    fn note_op(id: &str, client: &str, note: &str, ms: u64) -> Op {
        Op {
            id: id.into(),
            client: client.into(),
            field: format!("note/{note}"),
            value: None,
            prev: None,
            hlc: merge::format_hlc(ms, 0, "w1"),
            author: "w1".into(),
        }
    }

    #[test]
    fn forged_records_are_refused_and_change_nothing() {
        let mut a = worker("w0");
        let id = add(&mut a, "Echt", Domain::Wmo);
        let (ops, _) = bundle(&a);
        let mut b = worker("w1");
        b.transaction(|s| s.merge_ops(&ops, &[], "t")).unwrap();
        let before = snapshot(&b);
        let refused = |b: &mut Store, ops: &[Op], notes: &[NoteRow]| {
            let e = b.transaction(|s| s.merge_ops(ops, notes, "t")).unwrap_err();
            assert!(
                matches!(&e, Error::Invalid { field, .. } if field.name() == "bundle"),
                "{e:?}"
            );
        };
        // An op id already here, with another value.
        let mut reused = ops.iter().find(|o| o.field == "name").unwrap().clone();
        reused.value = Some("Vervalst".into());
        refused(&mut b, &[reused], &[]);
        // A second creation of the dossier.
        let mut second = ops
            .iter()
            .find(|o| o.field == "created_at")
            .unwrap()
            .clone();
        second.id = "0190aaaa-0000-7000-8000-00000000000c".into();
        refused(&mut b, &[second], &[]);
        // A note id already here with another body; a correction of another dossier's note.
        let n1 = "0190aaaa-0000-7000-8000-000000000001";
        b.transaction(|s| {
            s.merge_ops(
                &[note_op("0190aaaa-0000-7000-8000-0000000000a1", &id, n1, 5)],
                &[note_row(n1, &id, "echt", None)],
                "t",
            )
        })
        .unwrap();
        let with_note = snapshot(&b);
        refused(
            &mut b,
            &[note_op("0190aaaa-0000-7000-8000-0000000000a2", &id, n1, 6)],
            &[note_row(n1, &id, "vervalst", None)],
        );
        assert_eq!(snapshot(&b), with_note);
        // A note in this dossier that claims to correct a note in another one.
        let other = add(&mut a, "Ander", Domain::Jeugd);
        let (ops, _) = bundle(&a);
        let n3 = "0190aaaa-0000-7000-8000-000000000003";
        let mut with_other = ops.clone();
        with_other.push(note_op(
            "0190aaaa-0000-7000-8000-0000000000a4",
            &other,
            n3,
            8,
        ));
        b.transaction(|s| s.merge_ops(&with_other, &[note_row(n3, &other, "ander", None)], "t"))
            .unwrap();
        let with_note = snapshot(&b);
        let n2 = "0190aaaa-0000-7000-8000-000000000002";
        refused(
            &mut b,
            &[note_op("0190aaaa-0000-7000-8000-0000000000a3", &id, n2, 9)],
            &[note_row(n2, &id, "correctie", Some(n3))],
        );
        assert_ne!(before, with_note);
        assert_eq!(snapshot(&b), with_note);
    }

    #[test]
    fn a_long_chain_of_corrections_arriving_backwards_is_placed_in_one_pass() {
        let mut a = worker("w0");
        let id = add(&mut a, "Keten", Domain::Wmo);
        let (mut ops, _) = bundle(&a);
        let n = 2_000;
        let note_id = |i: usize| format!("0190aaaa-0000-7000-8000-{i:012}");
        let mut notes = Vec::new();
        for i in (0..n).rev() {
            ops.push(note_op(
                &format!("0190cccc-0000-7000-8000-{i:012}"),
                &id,
                &note_id(i),
                10 + i as u64,
            ));
            notes.push(note_row(
                &note_id(i),
                &id,
                &format!("versie {i}"),
                (i > 0).then(|| note_id(i - 1)).as_deref(),
            ));
        }
        let mut b = worker("w1");
        let (stats, _) = b.transaction(|s| s.merge_ops(&ops, &notes, "t")).unwrap();
        assert_eq!(stats.notes_new, n as u64);
        assert_eq!(stats.notes_waiting, 0);
        assert_eq!(b.notes(&id).unwrap().len(), n);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Any edits by three workers, bundles taken at any moment and delivered in any order,
        /// some twice: every vault ends in the same state and no note is lost.
        #[test]
        fn vaults_converge_whatever_the_order_and_no_note_is_lost(
            steps in proptest::collection::vec(step(), 1..40),
            seeds in proptest::collection::vec(any::<u64>(), 3),
        ) {
            let mut vaults: Vec<Store> = (0..3).map(|i| worker(&format!("w{i}"))).collect();
            let mut sent: Vec<(Vec<Op>, Vec<NoteRow>)> = Vec::new();
            let mut written = Vec::new();
            for (n, (who, step)) in steps.iter().enumerate() {
                if let Step::Send = step {
                    sent.push(bundle(&vaults[*who]));
                    // A colleague merges what was sent so far, in between their own edits.
                    let next = (*who + 1) % 3;
                    let b = sent.last().unwrap().clone();
                    vaults[next].transaction(|s| s.merge_ops(&b.0, &b.1, "t")).unwrap();
                }
                if let Some(note) = apply(&mut vaults[*who], step, n).unwrap() {
                    written.push(note);
                }
            }
            for v in &vaults {
                sent.push(bundle(v));
            }
            for (i, v) in vaults.iter_mut().enumerate() {
                let mut order: Vec<usize> = (0..sent.len()).chain(0..sent.len() / 2).collect();
                shuffle(&mut order, seeds[i]);
                for k in order {
                    let (ops, notes) = &sent[k];
                    v.transaction(|s| s.merge_ops(ops, notes, "t")).unwrap();
                }
            }
            let first = snapshot(&vaults[0]);
            prop_assert_eq!(&snapshot(&vaults[1]), &first);
            prop_assert_eq!(&snapshot(&vaults[2]), &first);
            let mut have: Vec<String> = first.1.iter().map(|(id, _)| id.clone()).collect();
            written.sort();
            have.sort();
            prop_assert_eq!(have, written);
            // The store's incremental merge agrees with the pure reference.
            let reference = merge::state(&vaults[0].all_ops().unwrap());
            for row in &first.0 {
                let id = row[CLIENT_FIELDS.len()].clone().unwrap();
                for (i, f) in CLIENT_FIELDS.iter().enumerate() {
                    let expected = reference.fields[&id].get(*f).cloned().flatten();
                    prop_assert_eq!(&row[i], &expected);
                }
            }
        }
    }
}
