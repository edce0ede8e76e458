//! Acknowledgements: one signed file per worker in the shared folder, naming the bundles in
//! the folder that worker's vault has merged. Authors remove their bundles once every
//! current recipient acknowledged them (`super::forget`). Format in docs/sync-format.md,
//! "How files leave the shared folder".
//!
//! ```text
//! kluis-ack/v1\n
//! {"kind":"kluis-ack/v1","worker":"w001","key":"…","org_public_key":"…","roster_version":4,"created":"…","merged":["<sha256>",…]}\n
//! BASE64(Ed25519 signature over "kluis.nl/v2/ack\0" || the JSON line's bytes)\n
//! ```

use std::collections::HashSet;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use ed25519_dalek::{Signer, SigningKey, Verifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::fsx::{self, Follow, Owner};
use crate::i18n::t;
use crate::model::hex;
use crate::model::roster::{KeyStanding, Roster};
use crate::org;

/// Extension of an acknowledgement file.
pub const ACK_EXTENSION: &str = "kluisack";
/// First line of an acknowledgement.
pub const ACK_MAGIC: &str = "kluis-ack/v1";
const ACK_CONTEXT: &[u8] = b"kluis.nl/v2/ack\0";
/// Most bundles one acknowledgement names (what is left over is named at a later sync,
/// once some of the others have left the share).
pub const MAX_ACK_ENTRIES: usize = 100_000;
/// Largest acknowledgement file read (100,000 names of 67 bytes, and the rest).
pub const MAX_ACK_BYTES: u64 = 8 << 20;

/// What an acknowledgement says, signed by the worker's device key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ack {
    /// [`ACK_MAGIC`].
    pub kind: String,
    /// The worker whose vault merged the bundles.
    pub worker: String,
    /// The device key (Ed25519, base64) that signed it.
    pub key: String,
    /// The organisation's public key (base64).
    pub org_public_key: String,
    /// The roster version the worker had.
    pub roster_version: u64,
    /// When it was written (UTC).
    pub created: String,
    /// SHA-256s (hex) of the bundle files in the share that this vault has merged, sorted.
    pub merged: Vec<String>,
    /// The worker's access-log head, like a bundle header's: it anchors the log's end in the
    /// share also once the worker's bundles have left it (`audit verify --share`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_head: Option<super::LogHead>,
}

/// The file name of a worker's acknowledgement: the SHA-256 of the worker id under a
/// context, so that any worker id (up to 200 characters of any text) makes a safe name, and
/// every device of the worker writes the same file.
pub fn ack_name(worker: &str) -> String {
    let mut h = Sha256::new();
    h.update(ACK_CONTEXT);
    h.update(worker.as_bytes());
    format!("{}.{ACK_EXTENSION}", hex(&h.finalize()))
}

fn message(line: &[u8]) -> Vec<u8> {
    let mut m = ACK_CONTEXT.to_vec();
    m.extend_from_slice(line);
    m
}

/// The whole file of a signed acknowledgement.
pub fn write(signing: &SigningKey, ack: &Ack) -> Result<Vec<u8>> {
    let line = serde_json::to_vec(ack).map_err(|e| Error::Encrypt(e.to_string()))?;
    let sig = BASE64_STANDARD.encode(signing.sign(&message(&line)).to_bytes());
    let mut out = Vec::with_capacity(line.len() + 120);
    out.extend_from_slice(ACK_MAGIC.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&line);
    out.push(b'\n');
    out.extend_from_slice(sig.as_bytes());
    out.push(b'\n');
    Ok(out)
}

/// Checks an acknowledgement file said to be `worker`'s: the layout, the organisation key,
/// a device key the roster lists as the worker's current one, its signature, and every
/// name in it. Returns the bundles it names, or why it does not count (in the reader's
/// language). A half-written file never counts: its signature cannot verify.
pub fn verify(
    bytes: &[u8],
    worker: &str,
    pinned: &str,
    roster: &Roster,
) -> std::result::Result<Ack, String> {
    let malformed = || t!("ack.malformed").into_owned();
    let mut lines = bytes.splitn(4, |b| *b == b'\n');
    if lines.next() != Some(ACK_MAGIC.as_bytes()) {
        return Err(malformed());
    }
    let line = lines.next().ok_or_else(malformed)?;
    let sig: [u8; 64] = lines
        .next()
        .and_then(|l| BASE64_STANDARD.decode(l).ok())
        .and_then(|s| s.try_into().ok())
        .ok_or_else(malformed)?;
    if lines.next().is_none_or(|rest| !rest.is_empty()) {
        return Err(malformed());
    }
    let ack: Ack = serde_json::from_slice(line).map_err(|_| malformed())?;
    if ack.kind != ACK_MAGIC || ack.worker != worker {
        return Err(malformed());
    }
    if ack.org_public_key != pinned {
        return Err(t!("ack.other_org").into_owned());
    }
    match roster.key_standing(worker, &ack.key) {
        Some(KeyStanding::Current) => {}
        // A device IT has replaced: what it merged is of no use to the new one.
        Some(KeyStanding::RetiredFrom(_)) => return Err(t!("ack.retired_device").into_owned()),
        None => return Err(t!("ack.unknown_key", id = worker).into_owned()),
    }
    let signed = org::public_key(&ack.key).is_some_and(|k| {
        k.verify(&message(line), &ed25519_dalek::Signature::from_bytes(&sig))
            .is_ok()
    });
    if !signed {
        return Err(t!("ack.bad_signature").into_owned());
    }
    let names_ok = ack.merged.len() <= MAX_ACK_ENTRIES
        && ack.merged.iter().all(|h| {
            h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        });
    if !names_ok {
        return Err(malformed());
    }
    Ok(ack)
}

/// What reading one worker's acknowledgement found.
pub enum Read {
    /// None there (the worker has not synced since acknowledgements came).
    Missing,
    /// It counts: the bundles it names.
    Valid(HashSet<String>),
    /// It does not count, and why (a counted warning).
    Ignored(PathBuf, String),
}

/// Reads `worker`'s acknowledgement in `dir`: opened without following a link and without
/// blocking (`fsx`), at most [`MAX_ACK_BYTES`].
pub fn read(dir: &Path, worker: &str, pinned: &str, roster: &Roster) -> Read {
    let path = dir.join(ack_name(worker));
    let bytes = match fsx::read(&path, Follow::No, Owner::Anyone, MAX_ACK_BYTES) {
        Ok(b) => b,
        Err(fsx::Refusal::Missing) => return Read::Missing,
        Err(r) => return Read::Ignored(path, r.reason()),
    };
    match verify(&bytes, worker, pinned, roster) {
        Ok(ack) => Read::Valid(ack.merged.into_iter().collect()),
        Err(why) => Read::Ignored(path, why),
    }
}

/// Puts `bytes` in place as `name` in `dir` in one step: written under a temporary name,
/// fsynced, then renamed over the old acknowledgement, so a reader sees the old file or the
/// new one, never half of one. Where the folder cannot rename over a file, the old one is
/// removed (a link or a FIFO put there is removed as an entry, never followed) and the new
/// one created exclusively: a reader that meets it half-written ignores it (its signature
/// does not verify) until the next sync. Returns the path.
pub fn publish(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    publish_with(dir, name, bytes, |from, to| fs::rename(from, to))
}

/// [`publish`] with the rename given: a test makes it fail, as a folder that cannot rename
/// over a file does.
fn publish_with(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    rename: impl Fn(&Path, &Path) -> std::io::Result<()>,
) -> Result<PathBuf> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{}.part", crate::store::new_id()));
    if let Err(e) = org::write_new(&tmp, bytes) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if rename(&tmp, &path).is_err() {
        let _ = fs::remove_file(&tmp);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(t!("io.write", path = path.display()), e)),
        }
        org::write_new(&path, bytes)?;
    }
    crate::vault::sync_dir(&path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roster_with(worker: &str, key: &str) -> Roster {
        serde_json::from_value(serde_json::json!({
            "kind": "kluis-roster/v1",
            "org": "Test",
            "org_public_key": "org",
            "version": 3,
            "issued_at": "2026-11-30T10:00:00Z",
            "members": [{
                "id": worker, "name": "Test", "teams": [], "role": "worker",
                "x25519": "x", "ed25519": key, "issued_at": "2026-11-30T10:00:00Z",
                "valid_until": null
            }],
            "revocations": []
        }))
        .unwrap()
    }

    fn ack(signing: &SigningKey, worker: &str) -> Ack {
        Ack {
            kind: ACK_MAGIC.into(),
            worker: worker.into(),
            key: BASE64_STANDARD.encode(signing.verifying_key().to_bytes()),
            org_public_key: "org".into(),
            roster_version: 3,
            created: "2026-11-30T10:00:00Z".into(),
            merged: vec!["a".repeat(64), "b".repeat(64)],
            log_head: None,
        }
    }

    /// A genuine acknowledgement counts; a forged, foreign, half-written or retargeted one
    /// does not, and every prefix of a genuine one is refused (never half-counted).
    #[test]
    fn only_a_whole_acknowledgement_signed_by_the_workers_current_key_counts() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let other = SigningKey::from_bytes(&[4; 32]);
        let a = ack(&key, "w2");
        let roster = roster_with("w2", &a.key);
        let file = write(&key, &a).unwrap();
        assert_eq!(verify(&file, "w2", "org", &roster).unwrap(), a);
        for n in 0..file.len() {
            assert!(verify(&file[..n], "w2", "org", &roster).is_err(), "{n}");
        }
        // Signed by another key that claims to be w2's.
        let forged = write(
            &other,
            &Ack {
                key: a.key.clone(),
                ..a.clone()
            },
        )
        .unwrap();
        assert!(verify(&forged, "w2", "org", &roster).is_err());
        // Signed with a key the roster does not list for w2.
        let stranger = ack(&other, "w2");
        assert!(verify(&write(&other, &stranger).unwrap(), "w2", "org", &roster).is_err());
        // w2's genuine file put where w3's belongs.
        assert!(verify(&file, "w3", "org", &roster).is_err());
        // Another organisation.
        assert!(verify(&file, "w2", "other-org", &roster).is_err());
        // A name that is no hash.
        let bad = Ack {
            merged: vec!["../x".into()],
            ..a.clone()
        };
        assert!(verify(&write(&key, &bad).unwrap(), "w2", "org", &roster).is_err());
        // Trailing bytes after the signature.
        let mut longer = file.clone();
        longer.extend_from_slice(b"x");
        assert!(verify(&longer, "w2", "org", &roster).is_err());
    }

    /// Two devices of one worker (IT issued the id again): the old device's acknowledgement
    /// does not count, since what it merged is of no use to the new one.
    #[test]
    fn an_acknowledgement_from_a_replaced_device_does_not_count() {
        let old = SigningKey::from_bytes(&[5; 32]);
        let new = SigningKey::from_bytes(&[6; 32]);
        let a_old = ack(&old, "w2");
        let a_new = ack(&new, "w2");
        let mut roster = roster_with("w2", &a_new.key);
        roster.members[0]
            .retired
            .push(crate::model::roster::RetiredKey {
                x25519: "x-old".into(),
                ed25519: a_old.key.clone(),
                until: "2026-11-01T00:00:00Z".into(),
            });
        let why = verify(&write(&old, &a_old).unwrap(), "w2", "org", &roster).unwrap_err();
        assert_eq!(why, t!("ack.retired_device"));
        assert!(verify(&write(&new, &a_new).unwrap(), "w2", "org", &roster).is_ok());
    }

    #[test]
    fn ack_names_are_hashes_that_any_worker_id_makes_safe() {
        let name = ack_name("w/../../etc");
        assert!(super::super::share::hashed_name(&name, ACK_EXTENSION).is_some());
        assert_ne!(ack_name("w1"), ack_name("w2"));
    }

    /// Publishing replaces the old file in one step, and replaces a link or a FIFO planted
    /// under the name as an entry, never writing through it.
    #[test]
    fn publishing_replaces_the_old_file_and_never_writes_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, b"keep").unwrap();
        let name = ack_name("w1");
        std::os::unix::fs::symlink(&target, dir.path().join(&name)).unwrap();
        publish(dir.path(), &name, b"one").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"keep");
        assert_eq!(fs::read(dir.path().join(&name)).unwrap(), b"one");
        publish(dir.path(), &name, b"two").unwrap();
        assert_eq!(fs::read(dir.path().join(&name)).unwrap(), b"two");
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "no temporary file left: {left:?}");
    }

    /// Where the folder cannot rename over a file: the old acknowledgement (or a link or
    /// FIFO planted under its name) is removed as an entry, never followed or opened, the
    /// new one is created exclusively, and no temporary file is left; a directory planted
    /// under the name is an error, and nothing is written.
    #[test]
    fn without_rename_the_old_entry_is_removed_and_the_new_file_created_exclusively() {
        let no_rename = |_: &Path, _: &Path| Err(std::io::Error::other("no rename here"));
        let dir = tempfile::tempdir().unwrap();
        let name = ack_name("w1");
        let path = dir.path().join(&name);
        let only = |dir: &Path| -> Vec<std::ffi::OsString> {
            fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect()
        };
        publish_with(dir.path(), &name, b"one", no_rename).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        publish_with(dir.path(), &name, b"two", no_rename).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(only(dir.path()), vec![std::ffi::OsString::from(&name)]);
        // A link planted under the name: removed, its target untouched.
        let target = dir.path().join("target");
        fs::write(&target, b"keep").unwrap();
        fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        publish_with(dir.path(), &name, b"three", no_rename).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"keep");
        assert!(fs::symlink_metadata(&path).unwrap().is_file());
        assert_eq!(fs::read(&path).unwrap(), b"three");
        // A FIFO: removed without opening it (this would block otherwise).
        fs::remove_file(&path).unwrap();
        crate::fsx::mkfifo(&path);
        publish_with(dir.path(), &name, b"four", no_rename).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"four");
        // A directory: an error; it stays, and no temporary file is left.
        fs::remove_file(&path).unwrap();
        fs::create_dir(&path).unwrap();
        assert!(publish_with(dir.path(), &name, b"five", no_rename).is_err());
        assert!(path.is_dir());
        fs::remove_file(&target).unwrap();
        assert_eq!(only(dir.path()), vec![std::ffi::OsString::from(&name)]);
    }
}
