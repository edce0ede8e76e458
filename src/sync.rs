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
use std::io::{Read, Write};
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
use crate::i18n::t;
use crate::merge::{self, Field, Op};
use crate::model::{self, Bsn, Domain, NoteKind, Status};
use crate::org::{self, Roster};
use crate::session::Session;
use crate::store::{MergeStats, NoteRow, Store};

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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
    let roster_text = json(&enrollment.roster)?;
    Session::create_with(path, pass, params, &recovery, &member.name, |s| {
        let teams = json(&member.teams)?;
        let cert = json(&enrollment.certificate)?;
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

fn json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Encrypt(e.to_string()))
}

/// Checks that a worker may be assigned a dossier: on the roster and active now.
pub fn check_worker(store: &Store, path: &Path, worker: &str) -> Result<()> {
    let roster = roster(store, path)?;
    match inactive_reason(&roster, worker, Utc::now()) {
        None => Ok(()),
        Some(reason) => Err(Error::invalid("WORKER_ID", reason)),
    }
}

/// Reads and splits a bundle file, checking its size, layout and payload hash. Nothing here
/// trusts the content yet.
pub fn read_bundle(path: &Path) -> Result<Parsed> {
    let read_err = |e| Error::io(t!("io.read", path = path.display()), e);
    let file = fs::File::open(path).map_err(read_err)?;
    let len = file.metadata().map_err(read_err)?.len();
    if len > MAX_BUNDLE_BYTES {
        return Err(refused(
            path,
            t!("sync.too_large", max = MAX_BUNDLE_BYTES / 1024 / 1024),
        ));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_BUNDLE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(refused(
            path,
            t!("sync.too_large", max = MAX_BUNDLE_BYTES / 1024 / 1024),
        ));
    }
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
    let short = |s: &str| !s.is_empty() && s.len() <= 64 && !s.chars().any(char::is_control);
    let mut note_ops = HashSet::new();
    let mut authors_checked: BTreeMap<(&str, u64), ()> = BTreeMap::new();
    for op in &payload.ops {
        if !short(&op.id) || !short(&op.client) || !short(&op.author) {
            return Err(bad(&op.id));
        }
        let Some((ms, _)) = merge::parse_hlc(&op.hlc) else {
            return Err(bad(&op.id));
        };
        if ms > now + MAX_CLOCK_AHEAD_MS
            || op
                .prev
                .as_deref()
                .is_some_and(|p| merge::parse_hlc(p).is_none())
        {
            return Err(bad(&op.id));
        }
        // Forwarded ops keep their author: refuse what a revoked worker wrote after the
        // revocation, whoever forwards it. One check per author and second.
        if authors_checked
            .insert((op.author.as_str(), ms / 1000), ())
            .is_none()
        {
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
            Some(Field::Column(col)) => check_column(col, value),
            Some(Field::Assign(w)) => short(w) && matches!(value, Some("0" | "1")),
            Some(Field::Note(n)) => {
                note_ops.insert((op.client.as_str(), n));
                short(n) && value.is_none()
            }
            Some(Field::Resolve(o)) => short(o) && value == Some("confirmed"),
        };
        if !ok {
            return Err(bad(&op.id));
        }
    }
    for n in &payload.notes {
        let ok = note_ops.contains(&(n.client_id.as_str(), n.id.as_str()))
            && n.kind.parse::<NoteKind>().is_ok()
            && model::parse_datetime("note", &n.occurred_at).is_ok()
            && DateTime::parse_from_rfc3339(&n.created_at).is_ok()
            && model::parse_note_body(&n.body).is_ok_and(|b| b == n.body)
            && short(&n.author)
            && n.supersedes.as_deref().is_none_or(short);
        if !ok {
            return Err(bad(&n.id));
        }
    }
    Ok(())
}

/// Whether a value fits a client column (as kluis itself would have written it).
fn check_column(col: &str, value: Option<&str>) -> bool {
    let date = |v: &str| NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok();
    let line = |v: &str| model::parse_name("field", v).is_ok_and(|p| p == v);
    match (col, value) {
        ("name" | "domain" | "status" | "opened_on" | "created_at", None) => false,
        (_, None) => true,
        ("name" | "address" | "phone", Some(v)) => line(v),
        ("bsn", Some(v)) => Bsn::parse(v).is_ok_and(|b| b.digits() == v),
        ("birth_date" | "opened_on" | "closed_on", Some(v)) => date(v),
        ("domain", Some(v)) => v.parse::<Domain>().is_ok_and(|d| d.code() == v),
        ("status", Some(v)) => v.parse::<Status>().is_ok_and(|s| s.code() == v),
        ("created_at", Some(v)) => DateTime::parse_from_rfc3339(v).is_ok(),
        _ => false,
    }
}

/// Writes a new file in `dir` under its content hash: a temp name first, then a hard link to
/// the final name (which never replaces a file), then the temp name goes.
fn place(dir: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let name = format!("{}.{EXTENSION}", hex(&Sha256::digest(bytes)));
    let path = dir.join(&name);
    let tmp = dir.join(format!(".{}.part", store_id()));
    org::write_new(&tmp, bytes)?;
    let linked = fs::hard_link(&tmp, &path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        // Same name, same bytes: it is already there.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io(t!("io.write", path = path.display()), e)),
    }
    crate::vault::sync_dir(&path)?;
    Ok(path)
}

fn store_id() -> String {
    crate::store::new_id()
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
type Outgoing = (String, Vec<Op>, i64);

/// Writes into `dir` one bundle per recipient set with every change that set has not had
/// yet; only the dossiers in `only` when given. Dossiers nobody else is assigned to are
/// counted in the second value.
pub fn export(
    session: &mut Session,
    dir: &Path,
    only: Option<&[String]>,
) -> Result<(Vec<Exported>, usize)> {
    let vault = session.path().to_owned();
    let me = me(session.store(), &vault)?;
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
        if max > upto {
            groups
                .entry(recipients)
                .or_default()
                .push((client, ops, max));
        }
    }
    let mut out = Vec::new();
    for (recipients, dossiers) in groups {
        let to = recipients.join(",");
        let ops: Vec<Op> = dossiers
            .iter()
            .flat_map(|(_, o, _)| o.iter().cloned())
            .collect();
        let mut written = None;
        if !ops.is_empty() {
            let mut notes = Vec::new();
            for op in &ops {
                if let Some(Field::Note(id)) = merge::field(&op.field)
                    && let Some(row) = session.store().note_row(id)?
                {
                    notes.push(row);
                }
            }
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
                notes,
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
                    age::x25519::Recipient::from_str(&m.x25519)
                        .map_err(|_| refused(&vault, t!("org.bad_key")))
                })
                .collect::<Result<_>>()?;
            let encrypted = encrypt(&keys, &plain)?;
            let header = Header {
                kind: MAGIC.into(),
                id: id.clone(),
                author: me.id.clone(),
                seq,
                created: model::now_utc(),
                roster_version: me.roster.version,
                org_public_key: me.pinned.clone(),
                recipients: recipients.clone(),
                payload_sha256: hex(&Sha256::digest(&encrypted)),
                payload_len: encrypted.len() as u64,
            };
            let header_line =
                serde_json::to_vec(&header).map_err(|e| Error::Encrypt(e.to_string()))?;
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
            out.push(Exported {
                file: path,
                bundle_id: id.clone(),
                recipients: recipients.clone(),
                clients: dossiers.len(),
                ops: n_ops,
            });
            written = Some((hash, id, seq));
        }
        // Only after the file is in place: a crash before this sends the same again, which
        // the recipients' merge ignores.
        let me_id = me.id.clone();
        session.change(|s| {
            for (client, _, max) in &dossiers {
                s.set_sent(client, &to, *max)?;
            }
            if let Some((hash, id, seq)) = &written {
                s.set_meta("bundle_seq", &seq.to_string())?;
                s.mark_bundle(hash, id, &me_id, *seq, "own")?;
            }
            Ok(())
        })?;
    }
    Ok((out, only_me))
}

fn encrypt(keys: &[age::x25519::Recipient], plain: &[u8]) -> Result<Vec<u8>> {
    let encryptor = age::Encryptor::with_recipients(keys.iter().map(|k| k as &dyn age::Recipient))
        .map_err(|e| Error::Encrypt(e.to_string()))?;
    let mut out = Vec::with_capacity(plain.len() + plain.len() / 4096 * 16 + 1024);
    let mut w = encryptor
        .wrap_output(&mut out)
        .map_err(|e| Error::Encrypt(e.to_string()))?;
    w.write_all(plain)
        .and_then(|_| w.finish().map(|_| ()))
        .map_err(|e| Error::Encrypt(e.to_string()))?;
    Ok(out)
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
    /// Written by this vault (sync skips it).
    Own,
    /// For other workers (sync skips it; `import` refuses it).
    NotForMe,
}

/// A bundle file as the index remembers it.
pub struct Seen {
    /// SHA-256 of the file, hex.
    pub hash: String,
    /// Bundle id.
    pub id: String,
    /// Author.
    pub author: String,
    /// The author's bundle counter.
    pub seq: u64,
}

/// Verifies, decrypts and merges one bundle file. With `strict`, a bundle for others is
/// refused (exit 4) instead of reported as [`Imported::NotForMe`].
pub fn import(session: &mut Session, path: &Path, strict: bool) -> Result<(Imported, Seen)> {
    let vault = session.path().to_owned();
    let parsed = read_bundle(path)?;
    let seen = Seen {
        hash: parsed.hash.clone(),
        id: parsed.header.id.clone(),
        author: parsed.header.author.clone(),
        seq: parsed.header.seq,
    };
    let me = me(session.store(), &vault)?;
    if session.store().bundle_seen(&seen.hash)?.as_deref() == Some("imported")
        || session.store().bundle_id_seen(&parsed.header.id)?
    {
        let bundle_id = seen.id.clone();
        return Ok((Imported::AlreadyImported { bundle_id }, seen));
    }
    if !strict && parsed.header.author == me.id {
        return Ok((Imported::Own, seen));
    }
    // Others' bundles are none of this vault's business: not even their signature is checked.
    if !parsed.header.recipients.contains(&me.id) {
        if strict {
            return Err(refused(path, t!("sync.not_for_me", id = me.id)));
        }
        return Ok((Imported::NotForMe, seen));
    }
    verify_header(&parsed, &me, path)?;
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
    check_payload(&payload, &parsed.header, &me.roster, path)?;
    let to = parsed.header.recipients.join(",");
    let h = &parsed.header;
    let stats = session.change(|s| {
        let stats = s.merge_ops(&payload.ops, &payload.notes, &to)?;
        s.mark_bundle(&seen.hash, &h.id, &h.author, h.seq, "imported")?;
        Ok(stats)
    })?;
    let merged = Imported::Merged {
        bundle_id: h.id.clone(),
        author: h.author.clone(),
        stats,
    };
    Ok((merged, seen))
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
    /// Bundles refused, with the reason.
    pub refused: Vec<(PathBuf, String)>,
    /// Bundle files skipped because they were handled before (no reading at all).
    pub known: usize,
    /// New bundle files for other workers or written here.
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
/// not imported before. Files already handled are recognised by name and not read again.
pub fn sync(session: &mut Session, dir: &Path) -> Result<SyncReport> {
    let (exported, only_me) = export(session, dir, None)?;
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
    let mut marks = Vec::new();
    for (stem, path) in names {
        if seen.contains(&stem) {
            report.known += 1;
            continue;
        }
        match import(session, &path, false) {
            Ok((_, seen)) if seen.hash != stem => report
                .refused
                .push((path, t!("sync.name_not_hash").into_owned())),
            Ok((outcome @ (Imported::Own | Imported::NotForMe), seen)) => {
                let status = if matches!(outcome, Imported::Own) {
                    "own"
                } else {
                    "not_for_me"
                };
                marks.push((seen, status));
                report.skipped += 1;
            }
            Ok((outcome, _)) => report.imported.push((path, outcome)),
            Err(Error::BundleRefused { reason, .. }) => report.refused.push((path, reason)),
            Err(e @ (Error::NotAuthentic { .. } | Error::Damaged { .. })) => {
                report.refused.push((path, e.to_string()))
            }
            Err(e) => return Err(e),
        }
    }
    if !marks.is_empty() {
        session.change(|s| {
            for (seen, status) in &marks {
                s.mark_bundle(&seen.hash, &seen.id, &seen.author, seen.seq, status)?;
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
        assert!(check_column("domain", Some("jeugd")));
        assert!(!check_column("domain", Some("Jeugd")));
        assert!(!check_column("name", None));
        assert!(check_column("phone", None));
        assert!(!check_column("name", Some(" padded ")));
        assert!(!check_column("bsn", Some("123456789")));
        assert!(check_column("bsn", Some("111222333")));
        assert!(!check_column("birth_date", Some("2020-02-30")));
    }
}
