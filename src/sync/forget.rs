//! The shared folder forgets (docs/sync-format.md, "How files leave the shared folder"). At
//! every sync a vault publishes its signed acknowledgement (`super::ack`) of the bundles in
//! the folder it has merged, then looks at the bundles it wrote itself (and recorded when it
//! wrote them, `store::ShareFile`): one that every current recipient has acknowledged is
//! removed; one that carried a dossier erased here is written again without it (for the
//! recipients who have not merged it yet) and then removed. A vault never removes a file it
//! did not write, and never one whose bytes are not the bytes it wrote.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::ack::{self, ACK_MAGIC, Ack, MAX_ACK_ENTRIES};
use super::{EXTENSION, LogHead, MAX_BUNDLE_BYTES, Me, outgoing, set_key, write_bundle};
use crate::error::{Error, Result};
use crate::fsx::{self, Follow, Owner};
use crate::i18n::t;
use crate::model::roster::Roster;
use crate::model::{self, hex};
use crate::session::Session;
use crate::store::{Left, ShareFile, Store};

/// What the shared folder forgot at one sync, and what it still holds of this vault's.
#[derive(Debug, Default, Serialize)]
pub struct ForgetReport {
    /// Whether this vault wrote a new acknowledgement (it is not written again unchanged).
    pub ack_published: bool,
    /// Bundles in the folder this vault's acknowledgement names.
    pub acked: usize,
    /// Colleagues' acknowledgements read that count.
    pub acks_read: usize,
    /// Acknowledgements that do not count, with why (forged, half-written, a link, another
    /// organisation's, an old device's): a warning, never an error.
    pub acks_ignored: Vec<(PathBuf, String)>,
    /// This vault's bundles removed: every current recipient had acknowledged them.
    pub removed: usize,
    /// This vault's bundles that carried a dossier erased here: written again without it
    /// (or removed, when nobody else needs the rest).
    pub rewritten: usize,
    /// This vault's bundles still in the folder that a current recipient has not
    /// acknowledged yet.
    pub waiting: usize,
    /// Per worker, how many of them wait for that worker's acknowledgement (a worker who
    /// never syncs again holds them up until IT revokes them or ends their membership).
    pub waiting_on: BTreeMap<String, usize>,
    /// Files under this vault's bundle names whose bytes are not what it wrote: left alone.
    pub not_ours: Vec<(PathBuf, String)>,
    /// What could not be done in the folder (an acknowledgement that could not be written,
    /// a file that could not be removed): a warning, tried again at the next sync.
    pub problems: Vec<(PathBuf, String)>,
}

/// Acknowledges, then removes or rewrites this vault's own bundles in `dir`. `present` are
/// the bundle files the listing at the start of this sync showed (by hash); `may_send` is
/// false while a bundle waits for a newer roster (then nothing is written but the
/// acknowledgement: the newer roster may revoke a recipient).
pub(super) fn forget(
    session: &mut Session,
    me: &Me,
    dir: &Path,
    present: &HashSet<String>,
    may_send: bool,
    out: &mut ForgetReport,
) -> Result<()> {
    publish_ack(session, me, dir, present, out)?;
    adopt_earlier(session, me, dir, present)?;
    let files = session.store().share_files()?;
    let now = Utc::now();
    let mut acks: HashMap<String, Option<HashSet<String>>> = HashMap::new();
    for f in files {
        // Not in this folder (or not yet listed): nothing to do here.
        if !present.contains(&f.hash) {
            continue;
        }
        // Who still needs it: recipients still active, on the device it was encrypted to
        // (a worker on a new device gets the dossiers' whole history anew).
        let still: Vec<String> = f
            .recipients
            .split(',')
            .filter_map(|e| {
                let w = e.split_once('#').map_or(e, |(w, _)| w);
                (me.roster.active(w, now) && set_key(&me.roster, &[w.to_owned()]) == e)
                    .then(|| w.to_owned())
            })
            .collect();
        let mut missing = Vec::new();
        for w in still.iter().filter(|w| **w != me.id) {
            let merged = acks.entry(w.clone()).or_insert_with(|| {
                match ack::read(dir, w, &me.pinned, &me.roster) {
                    ack::Read::Valid(set) => {
                        out.acks_read += 1;
                        Some(set)
                    }
                    ack::Read::Missing => None,
                    ack::Read::Ignored(path, why) => {
                        out.acks_ignored.push((path, why));
                        None
                    }
                }
            });
            if !merged.as_ref().is_some_and(|m| m.contains(&f.hash)) {
                missing.push(w.clone());
            }
        }
        if missing.is_empty() {
            if leave(session, dir, &f.hash, Left::Removed, out)? {
                out.removed += 1;
            }
            continue;
        }
        let mut erased = false;
        for (client, _, _) in &f.contents {
            erased |= session.store().is_erased(client)?;
        }
        if erased && may_send {
            rewrite(session, me, dir, &f, &still, out)?;
            continue;
        }
        out.waiting += 1;
        for w in missing {
            *out.waiting_on.entry(w).or_default() += 1;
        }
    }
    Ok(())
}

/// Records the bundles this vault wrote before it recorded what it writes (a kluis before
/// schema v13), and those an earlier device of this worker wrote (a lost or replaced laptop
/// that will not sync again), from their headers in the folder: signed by this device, or
/// by a key of this worker that the roster lists as retired and before IT retired it. What
/// they carried is not known (nor can this device open the earlier device's), so they
/// leave once acknowledged, never rewritten.
fn adopt_earlier(
    session: &mut Session,
    me: &Me,
    dir: &Path,
    present: &HashSet<String>,
) -> Result<()> {
    let mut found = Vec::new();
    for hash in session.store().own_bundles_unrecorded(&me.id)? {
        if !present.contains(&hash) {
            continue;
        }
        let path = dir.join(format!("{hash}.{EXTENSION}"));
        let Ok(bytes) = fsx::read(&path, Follow::No, Owner::Anyone, MAX_BUNDLE_BYTES) else {
            continue;
        };
        if hex(&Sha256::digest(&bytes)) != hash {
            continue;
        }
        let Ok((version, header, line, sig)) = super::bundle::read_header(&bytes, &path) else {
            continue;
        };
        if header.author != me.id || !signed_by_me(me, version, &line, &sig, &header.created) {
            continue;
        }
        found.push(ShareFile {
            hash,
            // Who must acknowledge it: here a worker whose device its writer may not have
            // known still counts with their current one (it waits rather than leaves unread).
            recipients: set_key_at(&me.roster, &header.recipients, &header.created, u64::MAX),
            contents: Vec::new(),
            bytes: bytes.len() as u64,
        });
    }
    if !found.is_empty() {
        session.change(|s| found.iter().try_for_each(|f| s.add_share_file(f)))?;
    }
    Ok(())
}

/// Whether a header was signed by this device, or by an earlier device of this worker
/// before IT retired its key (`created` no later than that).
fn signed_by_me(
    me: &Me,
    version: super::bundle::Version,
    line: &[u8],
    sig: &[u8; 64],
    created: &str,
) -> bool {
    if super::bundle::header_signed_by(version, line, sig, &me.public) {
        return true;
    }
    let Ok(created) = chrono::DateTime::parse_from_rfc3339(created) else {
        return false;
    };
    me.roster.member(&me.id).is_some_and(|m| {
        m.retired.iter().any(|k| {
            chrono::DateTime::parse_from_rfc3339(&k.until).is_ok_and(|until| created <= until)
                && super::bundle::header_signed_by(version, line, sig, &k.ed25519)
        })
    })
}

/// [`set_key`] of a bundle written at `created` under roster `version`: a worker who was on
/// an earlier device then (IT issued the id again since) gets that device's fingerprint, so
/// the bundle is not taken for one their current device has had. Written under an older
/// roster than this vault's, a worker who ever changed devices gets none at all: the writer
/// may not have known the new device yet.
pub(super) fn set_key_at(
    roster: &Roster,
    recipients: &[String],
    created: &str,
    version: u64,
) -> String {
    let stale = version < roster.version;
    let created = chrono::DateTime::parse_from_rfc3339(created).ok();
    recipients
        .iter()
        .map(|w| {
            let earlier = roster.member(w).and_then(|m| {
                let created = created?;
                m.retired
                    .iter()
                    .filter(|k| {
                        chrono::DateTime::parse_from_rfc3339(&k.until)
                            .is_ok_and(|until| created <= until)
                    })
                    .min_by(|a, b| a.until.cmp(&b.until))
            });
            let changed = roster.member(w).is_some_and(|m| !m.retired.is_empty());
            match earlier {
                Some(k) => format!("{w}#{}", &model::sha256_hex(k.x25519.as_bytes())[..12]),
                None if stale && changed => format!("{w}#?"),
                None => set_key(roster, std::slice::from_ref(w)),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// How far a dossier's ops went to recipient set `to` already: what was sent to it, or to
/// a set that holds all of it (a set that lost a member, by an unassignment or a
/// revocation, has had everything the larger set had), whichever is further.
pub(super) fn sent_upto(store: &Store, client: &str, to: &str) -> Result<i64> {
    let mut upto = store.sent_upto(client, to)?;
    for (set, n) in store.sent_sets(client)? {
        if n > upto && crate::store::covers(&set, to) {
            upto = n;
        }
    }
    Ok(upto)
}

/// Publishes this vault's acknowledgement, unless the one in the folder already says the
/// same (and is genuine).
fn publish_ack(
    session: &Session,
    me: &Me,
    dir: &Path,
    present: &HashSet<String>,
    out: &mut ForgetReport,
) -> Result<()> {
    let store = session.store();
    let all = store.merged_bundles()?;
    let mut merged: Vec<String> = present
        .iter()
        .filter(|h| all.contains(*h))
        .cloned()
        .collect();
    merged.sort();
    merged.truncate(MAX_ACK_ENTRIES);
    out.acked = merged.len();
    let log_head = store.log_head()?.map(|(seq, hash)| LogHead { seq, hash });
    let path = dir.join(ack::ack_name(&me.id));
    let old = fsx::read(&path, Follow::No, Owner::Anyone, ack::MAX_ACK_BYTES)
        .ok()
        .and_then(|b| ack::verify(&b, &me.id, &me.pinned, &me.roster).ok());
    if let Some(old) = &old
        && old.key == me.public
        && old.merged == merged
        && old.log_head == log_head
    {
        return Ok(());
    }
    // Nothing to say and nothing there: no file. (One there that does not count, such as
    // an earlier device's, is replaced.)
    if merged.is_empty()
        && old.is_none()
        && log_head.is_none()
        && fs::symlink_metadata(&path).is_err()
    {
        return Ok(());
    }
    let a = Ack {
        kind: ACK_MAGIC.into(),
        worker: me.id.clone(),
        key: me.public.clone(),
        org_public_key: me.pinned.clone(),
        roster_version: me.roster.version,
        created: model::now_utc(),
        merged,
        log_head,
    };
    let bytes = ack::write(&me.signing, &a)?;
    match ack::publish(dir, &ack::ack_name(&me.id), &bytes) {
        Ok(_) => out.ack_published = true,
        Err(e) => out.problems.push((path, e.to_string())),
    }
    Ok(())
}

/// Writes a bundle again without what an erasure here took out (the erased dossiers' data;
/// their tombstone checks stay), for the recipients who still need it, then removes the
/// original.
fn rewrite(
    session: &mut Session,
    me: &Me,
    dir: &Path,
    f: &ShareFile,
    still: &[String],
    out: &mut ForgetReport,
) -> Result<()> {
    // Rebuilt from the vault as it is now: of an erased dossier only the ops that let a
    // colleague check the erasure are left (dates and worker ids: `ERASED_WITH_DOSSIER`),
    // and they must still reach a recipient who has not merged the original, or its
    // tombstone would wait forever for a close it never gets.
    let keep = f.contents.clone();
    if !keep.is_empty() && still.iter().any(|w| *w != me.id) {
        let mut new_seals = Vec::new();
        let mut chunk = Vec::new();
        {
            let store = session.store();
            for (client, after, upto) in &keep {
                // Every op of the range, also those that came to this set from a colleague:
                // where an op came from may have changed since (`Store::arrived_again`), and
                // a colleague may have counted on this very bundle to carry it, so leaving
                // out what "came from the set" could take the last copy out of the share.
                let ops = store.ops_between(client, *after, *upto, "")?;
                if !ops.is_empty() {
                    chunk.push(outgoing(
                        store,
                        me,
                        client,
                        ops,
                        *after,
                        *upto,
                        &mut new_seals,
                    )?);
                }
            }
        }
        if !new_seals.is_empty() {
            session.change(|s| new_seals.iter().try_for_each(|seal| s.add_seal(seal)))?;
        }
        if !chunk.is_empty() {
            let vault = session.path().to_owned();
            let to = set_key(&me.roster, still);
            write_bundle(session, me, dir, &vault, still, &to, &chunk, false)?;
        }
    }
    if leave(session, dir, &f.hash, Left::Rewritten, out)? {
        out.rewritten += 1;
    }
    Ok(())
}

/// Removes this vault's bundle `hash` from `dir` and records that it left. Returns whether
/// it did; a file there that is not the one this vault wrote is left alone (and reported).
fn leave(
    session: &mut Session,
    dir: &Path,
    hash: &str,
    how: Left,
    out: &mut ForgetReport,
) -> Result<bool> {
    match remove_own(dir, hash) {
        Removal::Removed | Removal::Gone => {}
        Removal::NotOurs(path, why) => {
            // The file this vault wrote is not there under its name any more.
            out.not_ours.push((path, why));
        }
        Removal::Failed(path, why) => {
            out.problems.push((path, why));
            return Ok(false);
        }
    }
    session.change(|s| s.share_file_left(hash, how))?;
    Ok(true)
}

/// What [`remove_own`] did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Removal {
    /// Removed: it held exactly the bytes this vault wrote.
    Removed,
    /// Not there any more (removed by hand, or by a sync engine).
    Gone,
    /// Something else is under the name (other bytes, a link, a FIFO, a directory): left
    /// where it was.
    NotOurs(PathBuf, String),
    /// The folder did not let it go (no permission): tried again at the next sync.
    Failed(PathBuf, String),
}

/// Removes `dir/HASH.kluisb` only if it holds exactly the bytes whose SHA-256 is `hash`:
/// first moved aside (a rename, so that nothing put under the name after the check is
/// removed instead), checked there without following a link or blocking on a FIFO, then
/// removed, or put back under its name when it is not the file this vault wrote. Where the
/// folder cannot rename, it is checked and removed by name.
pub(super) fn remove_own(dir: &Path, hash: &str) -> Removal {
    remove_own_with(dir, hash, |from, to| fs::rename(from, to))
}

/// [`remove_own`] with the rename given: a test makes it fail, as a folder that cannot
/// rename does.
fn remove_own_with(
    dir: &Path,
    hash: &str,
    rename: impl Fn(&Path, &Path) -> std::io::Result<()>,
) -> Removal {
    let path = dir.join(format!("{hash}.{EXTENSION}"));
    let ours = |p: &Path| match fsx::read(p, Follow::No, Owner::Anyone, MAX_BUNDLE_BYTES) {
        Ok(bytes) if hex(&Sha256::digest(&bytes)) == hash => Ok(()),
        Ok(_) => Err(t!("forget.not_ours").into_owned()),
        Err(r) => Err(r.reason()),
    };
    let aside = dir.join(format!(".{hash}.{}.leaving", crate::store::new_id()));
    match rename(&path, &aside) {
        Ok(()) => match ours(&aside) {
            Ok(()) => match fs::remove_file(&aside) {
                Ok(()) => {
                    let _ = crate::vault::sync_dir(&path);
                    Removal::Removed
                }
                Err(e) => {
                    let _ = fs::rename(&aside, &path);
                    Removal::Failed(
                        path,
                        Error::io(t!("io.write", path = aside.display()), e).to_string(),
                    )
                }
            },
            Err(why) => {
                // Back under its name, never over a file that appeared there meanwhile.
                if fs::hard_link(&aside, &path).is_ok() {
                    let _ = fs::remove_file(&aside);
                } else if fs::symlink_metadata(&path).is_err() {
                    let _ = fs::rename(&aside, &path);
                }
                Removal::NotOurs(path, why)
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Removal::Gone,
        Err(_) => match ours(&path) {
            Ok(()) => match fs::remove_file(&path) {
                Ok(()) => Removal::Removed,
                Err(e) => Removal::Failed(
                    path.clone(),
                    Error::io(t!("io.write", path = path.display()), e).to_string(),
                ),
            },
            Err(_) if fs::symlink_metadata(&path).is_err() => Removal::Gone,
            Err(why) => Removal::NotOurs(path, why),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fsx::mkfifo;

    /// Only the exact bytes written are removed; anything else under the name (other
    /// bytes, a link to the genuine file, a FIFO, a directory) stays where it was, and
    /// nothing is left behind under another name.
    #[test]
    fn only_the_file_this_vault_wrote_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = b"kluis-bundle/v2\nthe bundle".to_vec();
        let hash = hex(&Sha256::digest(&bytes));
        let path = dir.path().join(format!("{hash}.{EXTENSION}"));
        let listing = || {
            let mut v: Vec<String> = fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            v.sort();
            v
        };
        // Swapped for other bytes.
        fs::write(&path, b"other").unwrap();
        assert!(matches!(
            remove_own(dir.path(), &hash),
            Removal::NotOurs(..)
        ));
        assert_eq!(fs::read(&path).unwrap(), b"other");
        // A link to a file with the genuine bytes elsewhere: the link is not the file.
        fs::remove_file(&path).unwrap();
        let elsewhere = dir.path().join("elsewhere");
        fs::write(&elsewhere, &bytes).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        let start = std::time::Instant::now();
        assert!(matches!(
            remove_own(dir.path(), &hash),
            Removal::NotOurs(..)
        ));
        assert!(
            fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(elsewhere.exists());
        // A FIFO: never opened blocking.
        fs::remove_file(&path).unwrap();
        mkfifo(&path);
        assert!(matches!(
            remove_own(dir.path(), &hash),
            Removal::NotOurs(..)
        ));
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        fs::remove_file(&path).unwrap();
        // A directory.
        fs::create_dir(&path).unwrap();
        assert!(matches!(
            remove_own(dir.path(), &hash),
            Removal::NotOurs(..)
        ));
        assert!(path.is_dir());
        fs::remove_dir(&path).unwrap();
        assert_eq!(listing(), ["elsewhere"]);
        // The genuine file goes; a second time it is gone.
        fs::write(&path, &bytes).unwrap();
        assert_eq!(remove_own(dir.path(), &hash), Removal::Removed);
        assert_eq!(remove_own(dir.path(), &hash), Removal::Gone);
        assert_eq!(listing(), ["elsewhere"]);
    }

    /// Where the folder cannot rename: the file is checked and removed by name; other
    /// bytes, a link or a FIFO under the name stay, and a missing file is gone.
    #[test]
    fn without_rename_only_the_file_this_vault_wrote_is_removed_by_name() {
        let no_rename = |_: &Path, _: &Path| Err(std::io::Error::other("no rename here"));
        let dir = tempfile::tempdir().unwrap();
        let bytes = b"kluis-bundle/v2\nthe bundle".to_vec();
        let hash = hex(&Sha256::digest(&bytes));
        let path = dir.path().join(format!("{hash}.{EXTENSION}"));
        fs::write(&path, b"other").unwrap();
        assert!(matches!(
            remove_own_with(dir.path(), &hash, no_rename),
            Removal::NotOurs(..)
        ));
        assert_eq!(fs::read(&path).unwrap(), b"other");
        fs::remove_file(&path).unwrap();
        let elsewhere = dir.path().join("elsewhere");
        fs::write(&elsewhere, &bytes).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        assert!(matches!(
            remove_own_with(dir.path(), &hash, no_rename),
            Removal::NotOurs(..)
        ));
        assert!(fs::symlink_metadata(&path).unwrap().is_symlink());
        fs::remove_file(&path).unwrap();
        mkfifo(&path);
        let start = std::time::Instant::now();
        assert!(matches!(
            remove_own_with(dir.path(), &hash, no_rename),
            Removal::NotOurs(..)
        ));
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        fs::remove_file(&path).unwrap();
        fs::write(&path, &bytes).unwrap();
        assert_eq!(
            remove_own_with(dir.path(), &hash, no_rename),
            Removal::Removed
        );
        assert!(!path.exists() && elsewhere.exists());
        assert_eq!(remove_own_with(dir.path(), &hash, no_rename), Removal::Gone);
    }
}
