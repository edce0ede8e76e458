//! A shared folder that forgets, in the database (docs/sync-format.md, "How files leave the
//! shared folder"): which bundles this vault wrote into the share, to whom, and what they
//! carried, so that it can remove them once every current recipient has acknowledged them,
//! or write them again without a dossier that was erased. No files and no crypto here:
//! `crate::sync` does both.

use rusqlite::params;

use super::Store;
use crate::error::Result;

/// A bundle this vault wrote into the shared folder and that is still there, as far as it
/// knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareFile {
    /// SHA-256 of the file, hex: its name.
    pub hash: String,
    /// The recipient set it was encrypted to (`sync::set_key`: worker '#' fingerprint).
    pub recipients: String,
    /// What it carried: (dossier, after op seq, up to op seq).
    pub contents: Vec<(String, i64, i64)>,
    /// Its size.
    pub bytes: u64,
}

/// How a bundle of this vault left the shared folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Left {
    /// Every current recipient had acknowledged it.
    Removed,
    /// It carried a dossier erased here: written again without it, or removed.
    Rewritten,
}

impl Store {
    /// Remembers a bundle this vault just wrote into the share.
    pub(in crate::engine) fn add_share_file(&self, f: &ShareFile) -> Result<()> {
        let contents = serde_json::to_string(&f.contents).unwrap_or_else(|_| "[]".into());
        self.conn
            .prepare_cached(
                "INSERT INTO share_file (hash, recipients, contents, bytes, written_at, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'present')
                 ON CONFLICT (hash) DO UPDATE SET state = 'present',
                     recipients = excluded.recipients, contents = excluded.contents",
            )?
            .execute(params![
                f.hash,
                f.recipients,
                contents,
                f.bytes as i64,
                self.now()
            ])?;
        self.record("share_file", &f.hash)
    }

    /// This vault's bundles that are in the share, as far as it knows, oldest first.
    pub(in crate::engine) fn share_files(&self) -> Result<Vec<ShareFile>> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT hash, recipients, contents, bytes FROM share_file
                 WHERE state = 'present' ORDER BY written_at, hash",
            )?
            .query_map([], |r| {
                let contents: String = r.get(2)?;
                Ok(ShareFile {
                    hash: r.get(0)?,
                    recipients: r.get(1)?,
                    contents: serde_json::from_str(&contents).unwrap_or_default(),
                    bytes: r.get::<_, i64>(3)? as u64,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Records that a bundle of this vault left the share. What it carried is forgotten:
    /// only its hash stays, so it is never counted again.
    pub(in crate::engine) fn share_file_left(&self, hash: &str, how: Left) -> Result<()> {
        let state = match how {
            Left::Removed => "removed",
            Left::Rewritten => "rewritten",
        };
        let n = self
            .conn
            .prepare_cached(
                "UPDATE share_file SET state = ?2, contents = '[]', left_at = ?3
                 WHERE hash = ?1",
            )?
            .execute(params![hash, state, self.now()])?;
        if n > 0 {
            self.record("share_file", hash)?;
        }
        Ok(())
    }

    /// Workers unassigned from a dossier (not erased) by an op `author` wrote: (dossier,
    /// worker, that op, its local sequence number). Such a worker is no recipient any
    /// more, yet must be told (`sync::export`).
    pub(in crate::engine) fn unassignments(
        &self,
        author: &str,
    ) -> Result<Vec<(String, String, crate::merge::Op, i64)>> {
        let sql = format!(
            "SELECT {}, op.seq FROM assignment a
             JOIN op ON op.client_id = a.client_id AND op.field = 'assign/' || a.worker
             WHERE a.assigned = 0
               AND a.client_id NOT IN (SELECT client_id FROM erased)
               AND op.id = (SELECT o.id FROM op o WHERE o.client_id = a.client_id
                            AND o.field = 'assign/' || a.worker ORDER BY o.hlc DESC, o.id DESC
                            LIMIT 1)
               AND op.value = '0' AND op.author = ?1
             ORDER BY a.client_id, a.worker",
            super::ops::OP_COLUMNS
                .split(", ")
                .map(|c| format!("op.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let rows = self
            .conn
            .prepare_cached(&sql)?
            .query_map([author], |r| {
                let op = super::ops::op_from_row(r)?;
                let seq: i64 = r.get(7)?;
                Ok((
                    op.client.clone(),
                    op.field["assign/".len()..].to_owned(),
                    op,
                    seq,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Bundles this vault wrote before it recorded what it writes (a kluis before schema
    /// v13), and bundles that say `worker` wrote them and that this device could not open
    /// (written by an earlier device of the worker, before IT issued the id again): by
    /// hash. The caller checks each header's signature before it takes one as its own.
    pub(in crate::engine) fn own_bundles_unrecorded(&self, worker: &str) -> Result<Vec<String>> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT hash FROM bundle_seen
                 WHERE (status = 'own' OR (status = 'not_for_me' AND author = ?1))
                   AND hash NOT IN (SELECT hash FROM share_file) ORDER BY hash",
            )?
            .query_map([worker], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// An op already here came again in a bundle to recipient set `via`: that set has it
    /// now, so an export to it leaves it out (`Store::ops_after`). This is how a dossier's
    /// new assignee gets its history once: a member that merged the snapshot another member
    /// sent the new set sends only what that snapshot lacked. The set it came from first is
    /// kept when it holds all of `via`.
    pub(in crate::engine) fn arrived_again(&self, op: &str, via: &str) -> Result<()> {
        let old: Option<String> = self
            .conn
            .prepare_cached("SELECT via FROM op WHERE id = ?1")?
            .query_row([op], |r| r.get(0))?;
        if old.as_deref().is_some_and(|old| covers(old, via)) {
            return Ok(());
        }
        self.conn
            .prepare_cached("UPDATE op SET via = ?2 WHERE id = ?1")?
            .execute(params![op, via])?;
        self.record("op", op)
    }

    /// The recipient sets (`sync::set_key`) a dossier's ops were sent to, with how far
    /// (local op sequence number); the one-off sets of an unassigned worker left out.
    pub(in crate::engine) fn sent_sets(&self, client: &str) -> Result<Vec<(String, i64)>> {
        let prefix = format!("{client}|");
        let rows: Vec<(String, i64)> = self
            .conn
            .prepare_cached("SELECT id, upto FROM sent WHERE id >= ?1 AND id < ?2")?
            .query_map(params![prefix, format!("{client}}}")], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, upto)| {
                let set = id[prefix.len()..].to_owned();
                (!set.ends_with("|unassigned")).then_some((set, upto))
            })
            .collect())
    }

    /// The bundle files this vault merged (by hash), for its acknowledgement.
    pub(in crate::engine) fn merged_bundles(&self) -> Result<std::collections::HashSet<String>> {
        let rows = self
            .conn
            .prepare_cached("SELECT hash FROM bundle_seen WHERE status = 'imported'")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// A dossier's ops with local sequence number in `(after, until]`, leaving out those
    /// that came in a bundle to recipient set `to` (see [`Store::ops_after`]).
    pub(in crate::engine) fn ops_between(
        &self,
        client: &str,
        after: i64,
        until: i64,
        to: &str,
    ) -> Result<Vec<crate::merge::Op>> {
        let (ops, _) = self.ops_range(client, after, until, to)?;
        Ok(ops)
    }
}

/// Whether recipient set `holder` (`sync::set_key`: members joined by ',') includes every
/// member of `set`: what went to `holder` reached all of `set`.
pub(crate) fn covers(holder: &str, set: &str) -> bool {
    holder == set || {
        let members: std::collections::HashSet<&str> = holder.split(',').collect();
        set.split(',').all(|m| members.contains(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_file_is_remembered_until_it_left_and_then_only_by_hash() {
        let mut s = Store::create("w1").unwrap();
        let f = ShareFile {
            hash: "a".repeat(64),
            recipients: "w1#abc,w2#def".into(),
            contents: vec![("c1".into(), 0, 7), ("c2".into(), 3, 9)],
            bytes: 1234,
        };
        s.transaction(|s| s.add_share_file(&f)).unwrap();
        assert_eq!(s.share_files().unwrap(), vec![f.clone()]);
        let (_, changes) = s
            .transaction(|s| s.share_file_left(&f.hash, Left::Rewritten))
            .unwrap();
        assert_eq!(changes.len(), 1, "journaled");
        assert!(s.share_files().unwrap().is_empty());
        let contents: String = s
            .conn
            .query_row("SELECT contents FROM share_file", [], |r| r.get(0))
            .unwrap();
        assert_eq!(contents, "[]");
    }

    #[test]
    fn a_set_covers_its_own_members_only() {
        assert!(covers("w1#a,w2#b,w3#c", "w1#a,w3#c"));
        assert!(covers("w1#a,w2#b", "w1#a,w2#b"));
        // Another device of w2 is another recipient.
        assert!(!covers("w1#a,w2#b", "w1#a,w2#x"));
        assert!(!covers("w1#a", "w1#a,w2#b"));
        // Whole members, not prefixes.
        assert!(!covers("w1#a,w22#b", "w2#b"));
    }

    #[test]
    fn sent_sets_are_a_dossiers_own_and_leave_out_the_unassigned_channel() {
        let mut s = Store::create("w1").unwrap();
        s.transaction(|s| {
            s.set_sent("c1", "w1#a,w2#b,w3#c", 9)?;
            s.set_sent("c1", "w2#b|unassigned", 12)?;
            s.set_sent("c10", "w1#a,w2#b", 40)?;
            s.set_sent("c0", "w1#a,w2#b", 50)
        })
        .unwrap();
        assert_eq!(
            s.sent_sets("c1").unwrap(),
            vec![("w1#a,w2#b,w3#c".to_owned(), 9)]
        );
    }
}
