//! Team sync by files: signed, encrypted bundles that travel through any shared folder (a
//! network share, Syncthing, Nextcloud, a USB stick, a git repository). No server.
//!
//! A bundle holds the operations (`crate::merge`) a recipient set has not had yet, encrypted
//! with age to exactly the workers assigned to those dossiers, behind a header signed with the
//! author's Ed25519 key from the organisation's roster. Its file name is the SHA-256 of its
//! bytes and it is never changed after it is written, so sync engines and git never see a
//! conflict. The format is in docs/sync-format.md.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use chrono::{DateTime, NaiveDate, Utc};
use ed25519_dalek::{Signer, SigningKey, Verifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::fsx::{self, Follow, Owner};
use crate::i18n::t;
use crate::merge::{self, Field, Op};
use crate::model::record::{Kind, is_id};
use crate::model::{self, NoteKind, hex};
use crate::org::{self, Roster};
use crate::session::Session;
use crate::store::{BundleMark, MergeStats, NoteRow, Store};

/// First line of every bundle file.
pub const MAGIC: &str = "kluis-bundle/v1";
/// File name extension.
pub const EXTENSION: &str = "kluisb";
/// Largest bundle file accepted (checked before reading it).
pub const MAX_BUNDLE_BYTES: u64 = 256 * 1024 * 1024;
/// Largest signed header line.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Most operations in one bundle.
pub const MAX_OPS: usize = 1_000_000;
/// Largest value of a client field, a worker id or an op id.
pub const MAX_FIELD_BYTES: usize = 4 * 1024;
/// How far in the future an operation's clock may be (clocks drift; a forged far-future
/// version would win every later edit).
pub const MAX_CLOCK_AHEAD_MS: u64 = 24 * 3600 * 1000;
/// Context prefix of a bundle signature, so it means nothing elsewhere.
const SIGN_CONTEXT: &[u8] = b"kluis.nl/v1/bundle\0";
const PAYLOAD_KIND: &str = "kluis-bundle-payload/v1";

/// The signed header of a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always [`MAGIC`].
    pub kind: String,
    /// Bundle id (UUID v7).
    pub id: String,
    /// The author's worker id.
    pub author: String,
    /// The author's bundle counter.
    pub seq: u64,
    /// When it was written (UTC, RFC 3339).
    pub created: String,
    /// The roster version the author had.
    pub roster_version: u64,
    /// The organisation's public key (base64).
    pub org_public_key: String,
    /// Worker ids it is encrypted to, sorted.
    pub recipients: Vec<String>,
    /// SHA-256 of the encrypted payload, hex.
    pub payload_sha256: String,
    /// Length of the encrypted payload.
    pub payload_len: u64,
}

/// What a bundle carries, inside the encryption.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    /// Always `kluis-bundle-payload/v1`.
    pub kind: String,
    /// The header's bundle id, bound inside the encryption too.
    pub bundle: String,
    /// Operations.
    pub ops: Vec<Op>,
    /// The notes that `note/…` ops name.
    pub notes: Vec<NoteRow>,
    /// The bytes of the files that `attachment/…` ops describe.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blobs: Vec<Blob>,
}

/// A file's bytes, beside the `attachment/ID` op that describes it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Blob {
    /// The attachment's id.
    pub id: String,
    /// Its dossier.
    pub client_id: String,
    /// The bytes, base64.
    pub data: String,
}

// A file's bytes are client data: wiped when the bundle's contents go.
impl Drop for Blob {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.data.zeroize();
    }
}

/// A bundle file, split and checked against its own hashes (not yet against a roster).
pub struct Parsed {
    /// SHA-256 of the whole file, hex: its name.
    pub hash: String,
    /// The header.
    pub header: Header,
    header_line: Vec<u8>,
    signature: [u8; 64],
    payload: Vec<u8>,
}

/// This vault's identity in the organisation.
struct Me {
    id: String,
    x25519: age::x25519::Identity,
    signing: SigningKey,
    pinned: String,
    roster: Roster,
}

fn refused(path: &Path, reason: impl Into<String>) -> Error {
    Error::BundleRefused {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn me(store: &Store, path: &Path) -> Result<Me> {
    let not_enrolled = || Error::NotEnrolled {
        path: path.to_owned(),
    };
    let id = store.meta("worker_id")?.ok_or_else(not_enrolled)?;
    let pinned = store.meta("org_public_key")?.ok_or_else(not_enrolled)?;
    let identity = Zeroizing::new(
        store
            .meta("worker_x25519_identity")?
            .ok_or_else(not_enrolled)?,
    );
    let x25519 = age::x25519::Identity::from_str(&identity).map_err(|_| not_enrolled())?;
    let secret = Zeroizing::new(
        store
            .meta("worker_ed25519_secret")?
            .ok_or_else(not_enrolled)?,
    );
    let bytes: Zeroizing<Vec<u8>> = Zeroizing::new(
        BASE64_STANDARD
            .decode(secret.as_bytes())
            .map_err(|_| not_enrolled())?,
    );
    let arr: &[u8; 32] = bytes[..].try_into().map_err(|_| not_enrolled())?;
    let roster = roster(store, path)?;
    Ok(Me {
        id,
        x25519,
        signing: SigningKey::from_bytes(arr),
        pinned,
        roster,
    })
}

/// The newest roster in the vault, checked against the pinned organisation key.
pub fn roster(store: &Store, path: &Path) -> Result<Roster> {
    let not_enrolled = || Error::NotEnrolled {
        path: path.to_owned(),
    };
    let pinned = store.meta("org_public_key")?.ok_or_else(not_enrolled)?;
    let (_, text) = store.latest_roster()?.ok_or_else(not_enrolled)?;
    let signed: org::Signed =
        serde_json::from_str(&text).map_err(|_| refused(path, t!("org.not_roster")))?;
    org::verify_roster(&pinned, &signed, path)
}

/// Why a worker may not sign or receive at `at`, if they may not.
fn inactive_reason(roster: &Roster, worker: &str, at: DateTime<Utc>) -> Option<String> {
    let Some(member) = roster.members.iter().find(|m| m.id == worker) else {
        return Some(t!("sync.unknown_worker", id = worker, version = roster.version).into_owned());
    };
    for r in roster.revocations.iter().filter(|r| r.id == worker) {
        let from = DateTime::parse_from_rfc3339(&r.effective_at).map(|d| d.with_timezone(&Utc));
        if from.is_err() || from.is_ok_and(|from| from <= at) {
            return Some(t!("sync.revoked", id = worker, at = r.effective_at).into_owned());
        }
    }
    if let Some(until) = &member.valid_until
        && NaiveDate::parse_from_str(until, "%Y-%m-%d").is_ok_and(|u| at.date_naive() > u)
    {
        return Some(t!("sync.expired", id = worker, until = until).into_owned());
    }
    None
}

/// Creates a worker's vault from the enrollment file IT gave them (the terminal app's first
/// run): reads and opens the file with its code, checks the new passphrase against the
/// worker's own name and id, then as [`create_enrolled`].
pub fn create_from_enrollment_file(
    path: &Path,
    file: &Path,
    code: &crate::secret::SecretString,
    pass: &crate::secret::SecretString,
    params: crate::vault::KdfParams,
) -> Result<Session> {
    let bytes = std::fs::read(file)
        .map_err(|e| crate::error::Error::io(t!("io.read", path = file.display()), e))?;
    let enrollment = org::open_enrollment(&bytes, code, file)?;
    let member = &enrollment.member;
    crate::strength::check_strength(pass, &[&member.name, &member.id])?;
    create_enrolled(path, pass, params, &enrollment, file)
}

/// Creates a worker's vault from an opened enrollment: their keys, the organisation's
/// recovery recipient and the roster go in with the first save. `file` names the enrollment
/// in messages.
pub fn create_enrolled(
    path: &Path,
    pass: &crate::secret::SecretString,
    params: crate::vault::KdfParams,
    enrollment: &org::Enrollment,
    file: &Path,
) -> Result<Session> {
    let roster = org::verify_roster(&enrollment.org_public_key, &enrollment.roster, file)?;
    let member = &enrollment.member;
    let recovery = [enrollment.org_recovery_recipient.clone()];
    let roster_text = org::to_json(&enrollment.roster)?;
    Session::create_with(path, pass, params, &recovery, &member.name, |s| {
        let teams = org::to_json(&member.teams)?;
        let cert = org::to_json(&enrollment.certificate)?;
        let role = if member.role == org::Role::Lead {
            "lead"
        } else {
            "worker"
        };
        for (k, v) in [
            ("org_name", enrollment.org.as_str()),
            ("org_public_key", &enrollment.org_public_key),
            ("worker_id", &member.id),
            ("worker_name", &member.name),
            ("worker_role", role),
            ("worker_teams", &teams),
            ("worker_x25519_identity", &enrollment.x25519_identity),
            ("worker_ed25519_secret", &enrollment.ed25519_secret),
            ("worker_certificate", &cert),
        ] {
            s.set_meta(k, v)?;
        }
        s.add_roster(roster.version, &roster_text)
    })
}

/// Checks that a worker may be assigned a dossier: on the roster and active now.
pub fn check_worker(store: &Store, path: &Path, worker: &str) -> Result<()> {
    let roster = roster(store, path)?;
    match inactive_reason(&roster, worker, Utc::now()) {
        None => Ok(()),
        Some(reason) => Err(Error::invalid("worker_id", reason)),
    }
}

/// [`check_worker`] for a session's vault (before `assign` or `handover`).
pub fn check_assignable(session: &Session, worker: &str) -> Result<()> {
    check_worker(session.store(), session.path(), worker)
}

/// Reads and splits a bundle file, checking its size, layout and payload hash. Nothing here
/// trusts the content yet. Only regular files are read (a FIFO would block).
pub fn read_bundle(path: &Path) -> Result<Parsed> {
    parse_bundle(read_capped(path)?, path)
}

fn read_capped(path: &Path) -> Result<Vec<u8>> {
    read_bundle_file(path, Follow::No)
}

/// Reads a bundle of at most `MAX_BUNDLE_BYTES` through `fsx` (never blocking on a FIFO).
/// One found in a shared folder is never read through a link and is refused like any bad
/// bundle; one the user named (`import FILE`) is followed, and a special file there is a
/// usage error (exit 2).
fn read_bundle_file(path: &Path, follow: Follow) -> Result<Vec<u8>> {
    fsx::read(path, follow, Owner::Anyone, MAX_BUNDLE_BYTES).map_err(|r| match r {
        fsx::Refusal::Io(e) => Error::io(t!("io.read", path = path.display()), e),
        fsx::Refusal::TooLarge(_) => refused(
            path,
            t!("sync.too_large", max = MAX_BUNDLE_BYTES / 1024 / 1024),
        ),
        r @ fsx::Refusal::Missing => r.into_invalid("file", path),
        r if follow == Follow::Yes => r.into_invalid("file", path),
        r => refused(path, r.reason()),
    })
}

/// Splits bundle bytes (see [`read_bundle`]); `path` names the file in messages.
pub fn parse_bundle(bytes: Vec<u8>, path: &Path) -> Result<Parsed> {
    let hash = hex(&Sha256::digest(&bytes));
    let malformed = || refused(path, t!("sync.malformed"));
    let mut rest = &bytes[..];
    let mut line = |max: usize| -> Result<&[u8]> {
        let end = rest
            .iter()
            .take(max + 1)
            .position(|b| *b == b'\n')
            .ok_or_else(malformed)?;
        let (l, r) = rest.split_at(end);
        rest = &r[1..];
        Ok(l)
    };
    if line(MAGIC.len())? != MAGIC.as_bytes() {
        return Err(refused(path, t!("sync.not_bundle")));
    }
    let header_line = line(MAX_HEADER_BYTES)?.to_vec();
    let sig_line = line(128)?;
    let signature: [u8; 64] = BASE64_STANDARD
        .decode(sig_line)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| refused(path, t!("org.bad_signature")))?;
    let header: Header = serde_json::from_slice(&header_line).map_err(|_| malformed())?;
    if header.kind != MAGIC {
        return Err(malformed());
    }
    let payload = rest.to_vec();
    if header.payload_len != payload.len() as u64
        || hex(&Sha256::digest(&payload)) != header.payload_sha256
    {
        return Err(refused(path, t!("sync.payload_hash")));
    }
    Ok(Parsed {
        hash,
        header,
        header_line,
        signature,
        payload,
    })
}

/// Checks the header against the roster: the organisation, the author (known, not revoked
/// when the bundle was made) and the signature.
fn verify_header(p: &Parsed, me: &Me, path: &Path) -> Result<()> {
    let h = &p.header;
    if h.org_public_key != me.pinned {
        return Err(refused(path, t!("sync.other_org")));
    }
    let created = DateTime::parse_from_rfc3339(&h.created)
        .map_err(|_| refused(path, t!("sync.malformed")))?
        .with_timezone(&Utc);
    if let Some(reason) = inactive_reason(&me.roster, &h.author, created) {
        return Err(refused(path, reason));
    }
    let member = me
        .roster
        .members
        .iter()
        .find(|m| m.id == h.author)
        .expect("active means known");
    let key = org::public_key(&member.ed25519).ok_or_else(|| refused(path, t!("org.bad_key")))?;
    let mut msg = SIGN_CONTEXT.to_vec();
    msg.extend_from_slice(&p.header_line);
    key.verify(&msg, &ed25519_dalek::Signature::from_bytes(&p.signature))
        .map_err(|_| refused(path, t!("org.bad_signature")))
}

/// A worker id as IT may issue them (see `org issue`): short text without control characters.
fn is_worker(s: &str) -> bool {
    s.len() <= 200 && model::parse_name("worker", s).is_ok_and(|p| p == s)
}

/// An HLC version written by `author`.
fn is_version(v: &str, author: &str) -> bool {
    merge::parse_hlc(v).is_some() && v.len() == 19 + author.len() && v.ends_with(author)
}

/// Checks every operation and note of a decrypted payload before anything is merged.
fn check_payload(payload: &Payload, header: &Header, roster: &Roster, path: &Path) -> Result<()> {
    let bad = |what: &str| refused(path, t!("sync.bad_record", what = what));
    if payload.kind != PAYLOAD_KIND || payload.bundle != header.id {
        return Err(refused(path, t!("sync.malformed")));
    }
    if payload.ops.len() > MAX_OPS || payload.notes.len() > MAX_OPS {
        return Err(refused(path, t!("sync.too_many", max = MAX_OPS)));
    }
    let now = Utc::now().timestamp_millis().max(0) as u64;
    let mut op_ids = HashSet::new();
    let mut note_ops = HashSet::new();
    let mut authors_checked = HashSet::new();
    for op in &payload.ops {
        if !is_id(&op.id) || !is_id(&op.client) || !is_worker(&op.author) {
            return Err(bad(&op.id));
        }
        if !op_ids.insert(op.id.as_str()) {
            return Err(refused(path, t!("sync.duplicate", id = op.id)));
        }
        // The version's node is the author: nobody writes versions in someone else's name.
        if !is_version(&op.hlc, &op.author)
            || op.prev.as_deref().is_some_and(|p| {
                merge::parse_hlc(p).is_none()
                    || p.len() > 19 + 200
                    || p.chars().any(char::is_control)
            })
        {
            return Err(bad(&op.id));
        }
        let (ms, _) = merge::parse_hlc(&op.hlc).expect("checked");
        if ms > now + MAX_CLOCK_AHEAD_MS {
            return Err(refused(path, t!("sync.clock_ahead", id = op.id)));
        }
        // Forwarded ops keep their author: refuse what a revoked worker wrote after the
        // revocation, whoever forwards it. One check per author and second.
        if authors_checked.insert((op.author.as_str(), ms / 1000)) {
            let at = DateTime::from_timestamp_millis(ms as i64).ok_or_else(|| bad(&op.id))?;
            if let Some(reason) = inactive_reason(roster, &op.author, at) {
                return Err(refused(path, reason));
            }
        }
        let value = op.value.as_deref();
        if value.is_some_and(|v| v.len() > MAX_FIELD_BYTES) {
            return Err(bad(&op.id));
        }
        let ok = match merge::field(&op.field) {
            None => false,
            Some(Field::Column(col)) => model::check_client_field(col, value),
            Some(Field::Assign(w)) => {
                roster.members.iter().any(|m| m.id == w) && matches!(value, Some("0" | "1"))
            }
            Some(Field::Note(n)) => {
                note_ops.insert((op.client.as_str(), n));
                is_id(n) && value.is_none()
            }
            Some(Field::Resolve(o)) => is_id(o) && value == Some("confirmed"),
            Some(Field::Record(kind, id)) => {
                is_id(id)
                    && value.is_some_and(|v| crate::store::records::check_register(kind, id, op, v))
            }
            Some(Field::Log(id)) => {
                is_id(id) && value.is_some_and(|v| model::TravellingEntry::check(v, &op.author))
            }
            Some(Field::Erased) => {
                value.is_some_and(|v| NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok())
            }
        };
        if !ok {
            return Err(bad(&op.id));
        }
    }
    // Every note op brings its note, and every note its op: nothing half.
    let mut note_ids = HashSet::new();
    for n in &payload.notes {
        let ok = note_ops.contains(&(n.client_id.as_str(), n.id.as_str()))
            && is_id(&n.id)
            && n.kind.parse::<NoteKind>().is_ok_and(|k| k.code() == n.kind)
            && model::parse_datetime("note", &n.occurred_at).is_ok()
            && DateTime::parse_from_rfc3339(&n.created_at).is_ok()
            && model::parse_note_body(&n.body).is_ok_and(|b| b == n.body)
            && model::parse_name("author", &n.author).is_ok_and(|a| a == n.author)
            && n.supersedes.as_deref().is_none_or(is_id);
        if !ok {
            return Err(bad(&n.id));
        }
        if !note_ids.insert(n.id.as_str()) {
            return Err(refused(path, t!("sync.duplicate", id = n.id)));
        }
    }
    if note_ids.len() != note_ops.len() {
        return Err(refused(path, t!("sync.note_missing")));
    }
    if !check_blobs(payload) {
        return Err(refused(path, t!("sync.bad_record", what = "attachment")));
    }
    Ok(())
}

/// Stores the files that came with a bundle (already checked against their records).
fn put_blobs(s: &Store, blobs: &[Blob]) -> Result<()> {
    for b in blobs {
        if let Ok(data) = BASE64_STANDARD.decode(&b.data) {
            let data = Zeroizing::new(data);
            s.put_blob(&b.id, &b.client_id, &data)?;
        }
    }
    Ok(())
}

/// Every file in a bundle belongs to an `attachment/ID` op of that dossier in the same
/// bundle, decodes, fits the cap, and has the size and hash the record says.
fn check_blobs(payload: &Payload) -> bool {
    let mut seen = HashSet::new();
    payload.blobs.iter().all(|b| {
        let meta = payload
            .ops
            .iter()
            .filter(|o| o.client == b.client_id && o.field == format!("attachment/{}", b.id))
            .filter_map(|o| o.value.as_deref())
            .filter_map(|v| serde_json::from_str::<model::Attachment>(v).ok())
            .next();
        let data = BASE64_STANDARD.decode(&b.data).ok().map(Zeroizing::new);
        seen.insert(b.id.as_str())
            && meta.zip(data).is_some_and(|(m, d)| {
                d.len() as u64 <= model::MAX_ATTACHMENT_BYTES
                    && m.size == d.len() as u64
                    && m.sha256 == model::sha256_hex(&d)
            })
    })
}

/// Writes a new file in `dir` under its content hash: a temp name first, then a hard link to
/// the final name (which never replaces a file), then the temp name goes. Where the folder
/// cannot hard-link (FAT or exFAT sticks, some network shares), the final name is created
/// exclusively and written; a reader that finds it half-written refuses it (its hash does not
/// match its name) and reads it again at the next sync.
fn place(dir: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let name = format!("{}.{EXTENSION}", hex(&Sha256::digest(bytes)));
    let path = dir.join(&name);
    let tmp = dir.join(format!(".{}.part", crate::store::new_id()));
    if let Err(e) = org::write_new(&tmp, bytes) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let linked = fs::hard_link(&tmp, &path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        // Same name, same bytes: it is already there.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(_) => match org::write_new(&path, bytes) {
            Ok(()) | Err(Error::FileExists { .. }) => {}
            Err(e) => {
                let _ = fs::remove_file(&path);
                return Err(e);
            }
        },
    }
    crate::vault::sync_dir(&path)?;
    Ok(path)
}

/// One bundle written by [`export`].
#[derive(Clone, Debug, Serialize)]
pub struct Exported {
    /// The file.
    pub file: PathBuf,
    /// Bundle id.
    pub bundle_id: String,
    /// Worker ids it is encrypted to.
    pub recipients: Vec<String>,
    /// Dossiers in it.
    pub clients: usize,
    /// Operations in it.
    pub ops: usize,
}

/// One dossier's ops for a recipient set, and the sequence number they reach.
struct Outgoing {
    client: String,
    ops: Vec<Op>,
    notes: Vec<NoteRow>,
    blobs: Vec<Blob>,
    upto: i64,
    bytes: usize,
}

/// Most ops in a bundle kluis writes (a tenth of what it accepts).
const EXPORT_OPS: usize = MAX_OPS / 10;
/// Roughly the most payload bytes in a bundle kluis writes: well under the 256 MiB it accepts
/// and the 64 MiB of one journal record.
const EXPORT_BYTES: usize = 32 * 1024 * 1024;

/// Writes into `dir`, per recipient set, bundles with every change that set has not had yet;
/// only the dossiers in `only` when given. Large sets are split over several bundles, whole
/// dossiers each. Dossiers nobody else is assigned to are counted in the second value.
pub fn export(
    session: &mut Session,
    dir: &Path,
    only: Option<&[String]>,
) -> Result<(Vec<Exported>, usize)> {
    let vault = session.path().to_owned();
    let me = me(session.store(), &vault)?;
    export_as(session, &me, dir, only)
}

fn export_as(
    session: &mut Session,
    me: &Me,
    dir: &Path,
    only: Option<&[String]>,
) -> Result<(Vec<Exported>, usize)> {
    let vault = session.path().to_owned();
    let now = Utc::now();
    let store = session.store();
    let mut groups: BTreeMap<Vec<String>, Vec<Outgoing>> = BTreeMap::new();
    let mut only_me = 0;
    for (client, workers) in store.assignments()? {
        if only.is_some_and(|o| !o.contains(&client)) {
            continue;
        }
        let recipients: Vec<String> = workers
            .into_iter()
            .filter(|w| inactive_reason(&me.roster, w, now).is_none())
            .collect();
        if recipients.iter().all(|w| *w == me.id) {
            only_me += 1;
            continue;
        }
        let to = recipients.join(",");
        let upto = store.sent_upto(&client, &to)?;
        let (ops, max) = store.ops_after(&client, upto, &to)?;
        if max <= upto {
            continue;
        }
        let mut notes = Vec::new();
        let mut blobs = Vec::new();
        for op in &ops {
            match merge::field(&op.field) {
                Some(Field::Note(id)) => {
                    if let Some(row) = store.note_row(id)? {
                        notes.push(row);
                    }
                }
                // A file travels with its record, every time (like a note).
                Some(Field::Record(Kind::Attachment, id)) => {
                    if let Some(data) = store.attachment_data(id)? {
                        blobs.push(Blob {
                            id: id.to_owned(),
                            client_id: client.clone(),
                            data: BASE64_STANDARD.encode(&*data),
                        });
                    }
                }
                _ => {}
            }
        }
        let bytes = ops
            .iter()
            .map(|o| 200 + o.value.as_ref().map_or(0, String::len))
            .chain(notes.iter().map(|n| 300 + n.body.len()))
            .chain(blobs.iter().map(|b| 100 + b.data.len()))
            .sum();
        groups.entry(recipients).or_default().push(Outgoing {
            client,
            ops,
            notes,
            blobs,
            upto: max,
            bytes,
        });
    }
    let mut out = Vec::new();
    for (recipients, dossiers) in groups {
        let to = recipients.join(",");
        let mut chunk: Vec<Outgoing> = Vec::new();
        let (mut n_ops, mut n_bytes) = (0, 0);
        let mut dossiers = dossiers.into_iter().peekable();
        while let Some(d) = dossiers.next() {
            n_ops += d.ops.len();
            n_bytes += d.bytes;
            chunk.push(d);
            let full = dossiers.peek().is_none_or(|next| {
                n_ops + next.ops.len() > EXPORT_OPS || n_bytes + next.bytes > EXPORT_BYTES
            });
            if full {
                if let Some(e) = write_bundle(session, me, dir, &vault, &recipients, &to, &chunk)? {
                    out.push(e);
                }
                chunk.clear();
                (n_ops, n_bytes) = (0, 0);
            }
        }
    }
    Ok((out, only_me))
}

/// Writes one bundle for `recipients` with `chunk`'s dossiers, then records them as sent.
fn write_bundle(
    session: &mut Session,
    me: &Me,
    dir: &Path,
    vault: &Path,
    recipients: &[String],
    to: &str,
    chunk: &[Outgoing],
) -> Result<Option<Exported>> {
    let ops: Vec<Op> = chunk.iter().flat_map(|d| d.ops.iter().cloned()).collect();
    let mut written = None;
    let mut exported = None;
    if !ops.is_empty() {
        let seq = session
            .store()
            .meta("bundle_seq")?
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        let id = crate::store::new_id();
        let payload = Payload {
            kind: PAYLOAD_KIND.into(),
            bundle: id.clone(),
            ops,
            notes: chunk.iter().flat_map(|d| d.notes.iter().cloned()).collect(),
            blobs: chunk
                .iter()
                .flat_map(|d| {
                    d.blobs.iter().map(|b| Blob {
                        id: b.id.clone(),
                        client_id: b.client_id.clone(),
                        data: b.data.clone(),
                    })
                })
                .collect(),
        };
        let plain = Zeroizing::new(
            serde_json::to_vec(&payload).map_err(|e| Error::Encrypt(e.to_string()))?,
        );
        let n_ops = payload.ops.len();
        drop(payload);
        let keys: Vec<age::x25519::Recipient> = recipients
            .iter()
            .map(|w| {
                let m = me
                    .roster
                    .members
                    .iter()
                    .find(|m| m.id == *w)
                    .expect("active");
                age::x25519::Recipient::from_str(&m.x25519).map_err(|_| Error::NotAuthentic {
                    path: vault.to_owned(),
                    reason: t!("org.bad_key").into_owned(),
                })
            })
            .collect::<Result<_>>()?;
        let encrypted = crate::vault::seal_to(&keys, &plain)?;
        drop(plain);
        let header = Header {
            kind: MAGIC.into(),
            id: id.clone(),
            author: me.id.clone(),
            seq,
            created: model::now_utc(),
            roster_version: me.roster.version,
            org_public_key: me.pinned.clone(),
            recipients: recipients.to_vec(),
            payload_sha256: hex(&Sha256::digest(&encrypted)),
            payload_len: encrypted.len() as u64,
        };
        let header_line = serde_json::to_vec(&header).map_err(|e| Error::Encrypt(e.to_string()))?;
        let mut msg = SIGN_CONTEXT.to_vec();
        msg.extend_from_slice(&header_line);
        let signature = BASE64_STANDARD.encode(me.signing.sign(&msg).to_bytes());
        let mut file = Vec::with_capacity(encrypted.len() + header_line.len() + 200);
        file.extend_from_slice(MAGIC.as_bytes());
        file.push(b'\n');
        file.extend_from_slice(&header_line);
        file.push(b'\n');
        file.extend_from_slice(signature.as_bytes());
        file.push(b'\n');
        file.extend_from_slice(&encrypted);
        let path = place(dir, &file)?;
        let hash = hex(&Sha256::digest(&file));
        exported = Some(Exported {
            file: path,
            bundle_id: id.clone(),
            recipients: recipients.to_vec(),
            clients: chunk.len(),
            ops: n_ops,
        });
        written = Some((hash, id, seq));
    }
    // Only after the file is in place: a crash before this sends the same again, which the
    // recipients' merge ignores.
    session.change(|s| {
        for d in chunk {
            s.set_sent(&d.client, to, d.upto)?;
        }
        if let Some((hash, id, seq)) = &written {
            for d in chunk {
                s.log(model::Action::Export, Some(&d.client), id)?;
            }
            s.set_meta("bundle_seq", &seq.to_string())?;
            s.mark_bundle(&BundleMark {
                hash,
                bundle_id: id,
                author: &me.id,
                seq: *seq,
                status: "own",
                roster_version: 0,
            })?;
        }
        Ok(())
    })?;
    Ok(exported)
}

/// What importing one bundle did.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Imported {
    /// Merged.
    Merged {
        /// Bundle id.
        bundle_id: String,
        /// Author.
        author: String,
        /// What changed.
        #[serde(flatten)]
        stats: MergeStats,
    },
    /// Imported before: nothing changed.
    AlreadyImported {
        /// Bundle id.
        bundle_id: String,
    },
    /// For other workers (sync skips it; `import` refuses it).
    NotForMe,
}

/// Verifies, decrypts and merges one bundle file. With `strict`, a bundle for others is
/// refused (exit 4) instead of reported as [`Imported::NotForMe`].
pub fn import(session: &mut Session, path: &Path, strict: bool) -> Result<Imported> {
    import_bytes(session, read_bundle_file(path, Follow::Yes)?, path, strict)
}

/// [`import`] of bytes already read; `path` names them in messages.
pub fn import_bytes(
    session: &mut Session,
    bytes: Vec<u8>,
    path: &Path,
    strict: bool,
) -> Result<Imported> {
    let vault = session.path().to_owned();
    let me = me(session.store(), &vault)?;
    let parsed = parse_bundle(bytes, path)?;
    import_parsed(session, &me, &parsed, path, strict)
}

/// A decrypted payload checked against `roster` and merged into `store`, for the fuzz target
/// `bundle_payload` (built only under `cargo fuzz`): what follows decryption in [`import`].
#[cfg(fuzzing)]
pub fn fuzz_payload(store: &mut Store, roster: &Roster, bytes: &[u8]) -> Result<MergeStats> {
    let path = Path::new("fuzz");
    let payload: Payload =
        serde_json::from_slice(bytes).map_err(|_| refused(path, t!("sync.malformed")))?;
    let header = Header {
        kind: MAGIC.into(),
        id: payload.bundle.clone(),
        author: String::new(),
        seq: 0,
        created: String::new(),
        roster_version: roster.version,
        org_public_key: roster.org_public_key.clone(),
        recipients: Vec::new(),
        payload_sha256: String::new(),
        payload_len: 0,
    };
    check_payload(&payload, &header, roster, path)?;
    store
        .transaction(|s| {
            let stats = s.merge_ops(&payload.ops, &payload.notes, "fuzz")?;
            put_blobs(s, &payload.blobs)?;
            Ok(stats)
        })
        .map(|(stats, _)| stats)
}

fn import_parsed(
    session: &mut Session,
    me: &Me,
    parsed: &Parsed,
    path: &Path,
    strict: bool,
) -> Result<Imported> {
    let h = &parsed.header;
    // Known by its bytes: nothing to do. (Not by its claimed id: anyone can write any id
    // into a header, and merging twice is harmless anyway.)
    if session.store().bundle_seen(&parsed.hash)?.as_deref() == Some("imported") {
        return Ok(Imported::AlreadyImported {
            bundle_id: h.id.clone(),
        });
    }
    // Others' bundles are none of this vault's business: not even their signature is checked.
    if !h.recipients.contains(&me.id) {
        if strict {
            return Err(refused(path, t!("sync.not_for_me", id = me.id)));
        }
        return Ok(Imported::NotForMe);
    }
    verify_header(parsed, me, path)?;
    let decryptor = age::Decryptor::new(&parsed.payload[..])
        .map_err(|_| refused(path, t!("sync.payload_damaged")))?;
    let mut reader = decryptor
        .decrypt(std::iter::once(&me.x25519 as &dyn age::Identity))
        .map_err(|_| refused(path, t!("sync.payload_damaged")))?;
    let mut plain = Zeroizing::new(Vec::with_capacity(parsed.payload.len()));
    reader
        .read_to_end(&mut plain)
        .map_err(|_| refused(path, t!("sync.payload_damaged")))?;
    let payload: Payload =
        serde_json::from_slice(&plain).map_err(|_| refused(path, t!("sync.malformed")))?;
    drop(plain);
    check_payload(&payload, h, &me.roster, path)?;
    let to = h.recipients.join(",");
    let stats = session.change(|s| {
        let stats = s
            .merge_ops_from(&payload.ops, &payload.notes, &to, Some(&h.author))
            .and_then(|stats| {
                put_blobs(s, &payload.blobs)?;
                Ok(stats)
            })
            .map_err(|e| match e {
                // What the merge refuses (a reused id, a correction of another dossier's
                // note) and what SQLite refuses in data from outside both mean: not this one.
                Error::Invalid {
                    field: crate::error::Field::Input("bundle"),
                    reason,
                } => refused(path, reason),
                Error::Database(d) => refused(path, d.to_string()),
                other => other,
            })?;
        s.mark_bundle(&BundleMark {
            hash: &parsed.hash,
            bundle_id: &h.id,
            author: &h.author,
            seq: h.seq,
            status: "imported",
            roster_version: 0,
        })?;
        Ok(stats)
    })?;
    Ok(Imported::Merged {
        bundle_id: h.id.clone(),
        author: h.author.clone(),
        stats,
    })
}

/// What [`sync`] did.
#[derive(Debug, Default, Serialize)]
pub struct SyncReport {
    /// Bundles written.
    pub exported: Vec<Exported>,
    /// Dossiers only this worker is assigned to (nothing to send).
    pub only_me: usize,
    /// Bundles merged, with what they changed.
    pub imported: Vec<(PathBuf, Imported)>,
    /// Bundles refused now, with the reason.
    pub refused: Vec<(PathBuf, String)>,
    /// Bundle files handled before (imported, written here, for others): not read at all.
    pub known: usize,
    /// Bundle files refused before under the same roster: not read again.
    pub refused_before: usize,
    /// New bundle files for other workers.
    pub skipped: usize,
}

/// Whether a file name is a bundle's: 64 hex digits and the extension.
pub fn bundle_name(name: &str) -> Option<&str> {
    let stem = name.strip_suffix(&format!(".{EXTENSION}"))?;
    (stem.len() == 64
        && stem
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
    .then_some(stem)
}

/// Exports into `dir`, then imports every bundle in `dir` addressed to this worker that was
/// not imported before. Files already handled are recognised by name and not read again; a
/// refused one is read again only after a new roster arrived.
pub fn sync(session: &mut Session, dir: &Path) -> Result<SyncReport> {
    let vault = session.path().to_owned();
    let me = me(session.store(), &vault)?;
    let (exported, only_me) = export_as(session, &me, dir, None)?;
    let mut report = SyncReport {
        exported,
        only_me,
        ..Default::default()
    };
    let seen = session.store().bundles_seen()?;
    let mut names: Vec<(String, PathBuf)> = fs::read_dir(dir)
        .map_err(|e| Error::io(t!("io.read", path = dir.display()), e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = bundle_name(&name)?.to_owned();
            Some((stem, e.path()))
        })
        .collect();
    names.sort();
    // (hash, bundle id, author, seq, status)
    let mut marks: Vec<(String, String, String, u64, &str)> = Vec::new();
    for (stem, path) in names {
        match seen.get(&stem) {
            Some((status, _)) if status != "refused" => {
                report.known += 1;
                continue;
            }
            Some((_, version)) if *version == me.roster.version => {
                report.refused_before += 1;
                continue;
            }
            _ => {}
        }
        let outcome = read_capped(&path).and_then(|bytes| {
            if hex(&Sha256::digest(&bytes)) != stem {
                return Err(refused(&path, t!("sync.name_not_hash")));
            }
            let parsed = parse_bundle(bytes, &path)?;
            let mark = (
                parsed.hash.clone(),
                parsed.header.id.clone(),
                parsed.header.author.clone(),
                parsed.header.seq,
            );
            import_parsed(session, &me, &parsed, &path, false).map(|o| (o, mark))
        });
        match outcome {
            Ok((Imported::NotForMe, (hash, id, author, seq))) => {
                marks.push((hash, id, author, seq, "not_for_me"));
                report.skipped += 1;
            }
            Ok((outcome, _)) => report.imported.push((path, outcome)),
            Err(Error::BundleRefused { reason, .. }) => {
                // Remembered under its name (the file never changes), with the roster version:
                // a newer roster may know its author.
                marks.push((stem, String::new(), String::new(), 0, "refused"));
                report.refused.push((path, reason));
            }
            Err(e) => return Err(e),
        }
    }
    if !marks.is_empty() {
        let version = me.roster.version;
        session.change(|s| {
            for (hash, bundle_id, author, seq, status) in &marks {
                s.mark_bundle(&BundleMark {
                    hash,
                    bundle_id,
                    author,
                    seq: *seq,
                    status,
                    roster_version: if *status == "refused" { version } else { 0 },
                })?;
            }
            Ok(())
        })?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_names_are_lowercase_hashes() {
        let h = "a".repeat(64);
        assert_eq!(bundle_name(&format!("{h}.kluisb")), Some(h.as_str()));
        assert_eq!(bundle_name(&format!("{}.kluisb", "A".repeat(64))), None);
        assert_eq!(bundle_name(&format!("{h}.kluisb.part")), None);
        assert_eq!(bundle_name("x.kluisb"), None);
    }

    #[test]
    fn columns_accept_only_what_kluis_writes() {
        assert!(model::check_client_field("domain", Some("jeugd")));
        assert!(!model::check_client_field("domain", Some("Jeugd")));
        assert!(!model::check_client_field("name", None));
        assert!(model::check_client_field("phone", None));
        assert!(!model::check_client_field("name", Some(" padded ")));
        assert!(!model::check_client_field("bsn", Some("123456789")));
        assert!(model::check_client_field("bsn", Some("111222333")));
        assert!(!model::check_client_field("birth_date", Some("2020-02-30")));
    }

    fn op(field: &str, author: &str) -> Op {
        Op {
            id: "01a20581-54c8-7217-9685-a9190cfb6559".into(),
            client: "01a20581-54c8-7217-9685-a9190cfb6550".into(),
            field: field.into(),
            value: None,
            prev: None,
            hlc: merge::format_hlc(1, 0, author),
            author: author.into(),
        }
    }

    #[test]
    fn travelling_log_entries_and_records_are_checked_against_their_op() {
        let o = op("log/x", "w001");
        let entry = |user: &str, action: &str, detail: &str| {
            serde_json::to_string(&model::TravellingEntry {
                at: "2026-11-22T10:00:00Z".into(),
                action: action.into(),
                user: user.into(),
                on_behalf: None,
                detail: detail.into(),
            })
            .unwrap()
        };
        assert!(model::TravellingEntry::check(
            &entry("w001", "view", ""),
            &o.author
        ));
        assert!(
            !model::TravellingEntry::check(&entry("w002", "view", ""), &o.author),
            "in someone else's name"
        );
        assert!(
            !model::TravellingEntry::check(&entry("w001", "unlock", ""), &o.author),
            "local-only actions"
        );
        assert!(!model::TravellingEntry::check(
            &entry("w001", "View", ""),
            &o.author
        ));
        assert!(!model::TravellingEntry::check(
            &entry("w001", "view", "a\nb"),
            &o.author
        ));
        assert!(!model::TravellingEntry::check("{}", &o.author));
        let consent = model::Consent {
            id: "01a20581-54c8-7217-9685-a9190cfb6551".into(),
            client_id: o.client.clone(),
            org: "GGD".into(),
            purpose: "zorg".into(),
            scope: model::Scope::All,
            special: false,
            given_on: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            until: None,
            evidence: None,
            withdrawn_on: None,
            recorded_by: "w001".into(),
            created_at: "2026-11-22T10:00:00Z".into(),
        };
        let json = serde_json::to_string(&consent).unwrap();
        assert!(crate::store::records::check_register(
            Kind::Consent,
            &consent.id,
            &o,
            &json
        ));
        assert!(
            !crate::store::records::check_register(Kind::Consent, "other-id", &o, &json),
            "id mismatch"
        );
        let other_client = model::Consent {
            client_id: "01a20581-54c8-7217-9685-a9190cfb6552".into(),
            ..consent.clone()
        };
        let json = serde_json::to_string(&other_client).unwrap();
        assert!(
            !crate::store::records::check_register(Kind::Consent, &consent.id, &o, &json),
            "another dossier"
        );
        let json = serde_json::to_string(&consent)
            .unwrap()
            .replace("\"all\"", "\"alles\"");
        assert!(
            !crate::store::records::check_register(Kind::Consent, &consent.id, &o, &json),
            "an alias, not the code"
        );
    }
}
