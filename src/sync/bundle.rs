//! The bundle file: its two versions, reading and writing them, the seals that bind each op
//! to its author, and every check a bundle goes through before anything is merged
//! (docs/sync-format.md, "The bundle file" and "Import").

use std::collections::{HashMap, HashSet};
use std::path::Path;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use chrono::{DateTime, NaiveDate, Utc};
use ed25519_dalek::{Signer, SigningKey, Verifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{MAX_BUNDLE_BYTES, MAX_CLOCK_AHEAD_MS, MAX_FIELD_BYTES, MAX_HEADER_BYTES, MAX_OPS};
use crate::error::{Error, Result};
use crate::i18n::t;
use crate::merge::{self, Field, Op};
use crate::model::record::{Kind, creation_counts, is_id};
use crate::model::roster::{Inactive, KeyStanding, Roster};
use crate::model::{self, NoteKind, hex};
use crate::org;
use crate::store::{NoteRow, SealRow};

/// First line of every bundle this kluis writes.
pub const MAGIC: &str = "kluis-bundle/v2";
/// First line of a bundle from a kluis before every change was signed: still read (only
/// what its signer wrote themselves counts, see [`Version::V1`]).
pub const MAGIC_V1: &str = "kluis-bundle/v1";
/// Context prefixes of signatures, so that they mean nothing elsewhere.
const SIGN_CONTEXT_V1: &[u8] = b"kluis.nl/v1/bundle\0";
const SIGN_CONTEXT: &[u8] = b"kluis.nl/v2/bundle\0";
const SEAL_CONTEXT: &[u8] = b"kluis.nl/v2/seal\0";
const PAYLOAD_KIND_V1: &str = "kluis-bundle-payload/v1";
const PAYLOAD_KIND: &str = "kluis-bundle-payload/v2";

/// Which format a bundle is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// Signed per bundle: ops written by others than the signer are left out.
    V1,
    /// Every op sealed by its author.
    V2,
}

/// The newest entry of the author's access log when they wrote the bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogHead {
    /// Its sequence number.
    pub seq: u64,
    /// Its hash in the chain.
    pub hash: String,
}

/// The signed header of a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// [`MAGIC`] (or [`MAGIC_V1`]).
    pub kind: String,
    /// Bundle id (UUID v7).
    pub id: String,
    /// The signer's worker id.
    pub author: String,
    /// The signer's bundle counter.
    pub seq: u64,
    /// When it was written (UTC, RFC 3339).
    pub created: String,
    /// The roster version the signer had: a vault with an older one holds the bundle until
    /// it has this version.
    pub roster_version: u64,
    /// The organisation's public key (base64).
    pub org_public_key: String,
    /// Worker ids it is encrypted to, sorted.
    pub recipients: Vec<String>,
    /// SHA-256 of the encrypted payload, hex.
    pub payload_sha256: String,
    /// Length of the encrypted payload.
    pub payload_len: u64,
    /// The signer's access-log head (v2 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_head: Option<LogHead>,
}

/// A seal as it travels: one author's signature over the hashes of ops they wrote in one
/// dossier (`merge::op_hash`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    /// The worker who wrote the ops.
    pub author: String,
    /// The dossier.
    pub client: String,
    /// The ops' SHA-256s, 32 bytes each, base64.
    pub ops: String,
    /// Ed25519 signature over `SEAL_CONTEXT || len(author) || author || len(client) ||
    /// client || hashes` (lengths as u32 big-endian), base64.
    pub signature: String,
}

/// What a bundle carries, inside the encryption.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    /// `kluis-bundle-payload/v2` (or `/v1`).
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
    /// The seals that cover the ops (v2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seals: Vec<Seal>,
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
    /// Which format.
    pub version: Version,
    /// The header.
    pub header: Header,
    pub(super) header_line: Vec<u8>,
    pub(super) signature: [u8; 64],
    pub(super) payload: Vec<u8>,
}

pub(super) fn refused(path: &Path, reason: impl Into<String>) -> Error {
    Error::BundleRefused {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Why a worker may not sign or receive at `at`, in the reader's language.
pub(super) fn inactive_text(roster: &Roster, worker: &str, why: &Inactive) -> String {
    match why {
        Inactive::Unknown => {
            t!("sync.unknown_worker", id = worker, version = roster.version).into_owned()
        }
        Inactive::NoDevice => t!("sync.no_device", id = worker).into_owned(),
        Inactive::Revoked(at) => t!("sync.revoked", id = worker, at = at).into_owned(),
        Inactive::Expired(until) => t!("sync.expired", id = worker, until = until).into_owned(),
    }
}

/// Splits bundle bytes; `path` names them in messages.
pub fn parse_bundle(bytes: Vec<u8>, path: &Path) -> Result<Parsed> {
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
    let version = match line(MAGIC.len())? {
        m if m == MAGIC.as_bytes() => Version::V2,
        m if m == MAGIC_V1.as_bytes() => Version::V1,
        _ => return Err(refused(path, t!("sync.not_bundle"))),
    };
    let header_line = line(MAX_HEADER_BYTES)?.to_vec();
    let sig_line = line(128)?;
    let signature: [u8; 64] = BASE64_STANDARD
        .decode(sig_line)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| refused(path, t!("org.bad_signature")))?;
    let header: Header = serde_json::from_slice(&header_line).map_err(|_| malformed())?;
    let magic = match version {
        Version::V1 => MAGIC_V1,
        Version::V2 => MAGIC,
    };
    if header.kind != magic || (version == Version::V1 && header.log_head.is_some()) {
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
        version,
        header,
        header_line,
        signature,
        payload,
    })
}

/// The message a header signature covers.
fn header_message(version: Version, header_line: &[u8]) -> Vec<u8> {
    let mut msg = match version {
        Version::V1 => SIGN_CONTEXT_V1,
        Version::V2 => SIGN_CONTEXT,
    }
    .to_vec();
    msg.extend_from_slice(header_line);
    msg
}

/// Checks the header against the roster: the organisation and the signature, with a key the
/// roster lists for the signer (the current one, or a retired one for a bundle written
/// before it was retired). A v2 bundle whose signer was revoked since is still read: each
/// change carries its own author's seal, and what they wrote after the revocation is
/// refused op by op; that is how a departed worker's recovered vault hands its dossiers
/// over. A v1 bundle vouches for its contents with this signature alone, so its signer
/// must have been active when it was written.
pub(super) fn verify_header(p: &Parsed, pinned: &str, roster: &Roster, path: &Path) -> Result<()> {
    let h = &p.header;
    if h.org_public_key != pinned {
        return Err(refused(path, t!("sync.other_org")));
    }
    let created = DateTime::parse_from_rfc3339(&h.created)
        .map_err(|_| refused(path, t!("sync.malformed")))?
        .with_timezone(&Utc);
    if roster.member(&h.author).is_none() {
        return Err(refused(
            path,
            inactive_text(roster, &h.author, &Inactive::Unknown),
        ));
    }
    if p.version == Version::V1
        && let Some(why) = roster.inactive(&h.author, created)
    {
        return Err(refused(path, inactive_text(roster, &h.author, &why)));
    }
    let msg = header_message(p.version, &p.header_line);
    let sig = ed25519_dalek::Signature::from_bytes(&p.signature);
    let good = roster
        .keys_of(&h.author)
        .into_iter()
        .find(|k| org::public_key(k).is_some_and(|key| key.verify(&msg, &sig).is_ok()));
    match good.and_then(|k| roster.key_standing(&h.author, k)) {
        Some(KeyStanding::Current) => Ok(()),
        Some(KeyStanding::RetiredFrom(until)) if created < until => Ok(()),
        Some(KeyStanding::RetiredFrom(_)) => Err(refused(
            path,
            t!("sync.retired_key", id = h.author).into_owned(),
        )),
        None if roster.keys_of(&h.author).is_empty() => Err(refused(
            path,
            inactive_text(roster, &h.author, &Inactive::NoDevice),
        )),
        None => Err(refused(path, t!("sync.not_roster_key", id = h.author))),
    }
}

/// The message a seal's signature covers.
fn seal_message(author: &str, client: &str, hashes: &[u8]) -> Vec<u8> {
    let mut msg =
        Vec::with_capacity(SEAL_CONTEXT.len() + 8 + author.len() + client.len() + hashes.len());
    msg.extend_from_slice(SEAL_CONTEXT);
    msg.extend_from_slice(&(author.len() as u32).to_be_bytes());
    msg.extend_from_slice(author.as_bytes());
    msg.extend_from_slice(&(client.len() as u32).to_be_bytes());
    msg.extend_from_slice(client.as_bytes());
    msg.extend_from_slice(hashes);
    msg
}

/// Seals ops this vault's worker wrote in one dossier.
pub(super) fn make_seal(signing: &SigningKey, author: &str, client: &str, ops: &[&Op]) -> SealRow {
    let mut hashes = Vec::with_capacity(ops.len() * 32);
    for op in ops {
        hashes.extend_from_slice(&merge::op_hash(op));
    }
    let signature = signing
        .sign(&seal_message(author, client, &hashes))
        .to_bytes()
        .to_vec();
    SealRow {
        id: hex(&Sha256::digest(&signature)),
        client_id: client.to_owned(),
        author: author.to_owned(),
        key: BASE64_STANDARD.encode(signing.verifying_key().to_bytes()),
        hashes,
        signature,
    }
}

/// A seal as it travels.
pub(super) fn seal_to_wire(s: &SealRow) -> Seal {
    Seal {
        author: s.author.clone(),
        client: s.client_id.clone(),
        ops: BASE64_STANDARD.encode(&s.hashes),
        signature: BASE64_STANDARD.encode(&s.signature),
    }
}

/// What the checks let through: the ops (and their notes and files) that count, the seals
/// that vouch for them, and how many ops were left out.
pub(super) struct Checked {
    pub keep: Vec<bool>,
    pub seals: Vec<SealRow>,
    pub left_out: u64,
}

/// Looks up seals this vault already holds (their signatures were checked when they came).
pub(super) trait KnownSeals {
    fn known(&self, id: &str) -> Result<Option<SealRow>>;
}

/// Checks every operation, note, file and seal of a decrypted payload before anything is
/// merged. What the signer wrote must be sound and theirs, or the whole bundle is refused;
/// an op they forward that its author could not have written at its time (revoked, or a
/// retired device) is left out, as is, in a v1 bundle, everything the signer forwards.
pub(super) fn check_payload(
    payload: &Payload,
    header: &Header,
    version: Version,
    roster: &Roster,
    known: &dyn KnownSeals,
    path: &Path,
) -> Result<Checked> {
    let bad = |what: &str| refused(path, t!("sync.bad_record", what = what));
    let kind = match version {
        Version::V1 => PAYLOAD_KIND_V1,
        Version::V2 => PAYLOAD_KIND,
    };
    if payload.kind != kind
        || payload.bundle != header.id
        || (version == Version::V1 && !payload.seals.is_empty())
    {
        return Err(refused(path, t!("sync.malformed")));
    }
    if payload.ops.len() > MAX_OPS || payload.notes.len() > MAX_OPS || payload.seals.len() > MAX_OPS
    {
        return Err(refused(path, t!("sync.too_many", max = MAX_OPS)));
    }
    // The seals' signatures are checked on another core while this one checks every
    // record; a refusal is reported in the same order either way (records first).
    let (records, verified) = std::thread::scope(|scope| -> Result<_> {
        let verifying = match version {
            Version::V2 => {
                let prepared = prepare_seals(payload, known)?;
                Some(scope.spawn(move || verify_seals(payload, prepared, roster)))
            }
            Version::V1 => None,
        };
        let records = check_records(payload, roster, path);
        let verified = verifying.map(|v| v.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        Ok((records, verified))
    })?;
    records?;
    // Who wrote each op, and whether they could have written it then.
    let (seals, sealed_by) = match verified {
        Some(verified) => index_seals(payload, verified, roster, path)?,
        None => (Vec::new(), HashMap::new()),
    };
    let mut keep = Vec::with_capacity(payload.ops.len());
    let mut left_out = 0;
    // One roster lookup per author and second.
    let mut standing: HashMap<(&str, u64), Option<Inactive>> = HashMap::new();
    for op in &payload.ops {
        let own = op.author == header.author;
        let (ms, _) = merge::parse_hlc(&op.hlc).expect("checked");
        let retired = match version {
            // Only the signer vouches in v1, and only for themselves.
            Version::V1 if !own => {
                keep.push(false);
                left_out += 1;
                continue;
            }
            Version::V1 => None,
            Version::V2 => {
                let Some(&(seal, retired)) = sealed_by.get(&merge::op_hash(op)) else {
                    return Err(refused(
                        path,
                        t!("sync.unsealed", id = op.id, author = op.author),
                    ));
                };
                let s: &SealRow = &seals[seal];
                if s.author != op.author || s.client_id != op.client {
                    return Err(refused(
                        path,
                        t!("sync.unsealed", id = op.id, author = op.author),
                    ));
                }
                retired
            }
        };
        let at = DateTime::from_timestamp_millis(ms as i64).ok_or_else(|| bad(&op.id))?;
        let why = standing
            .entry((op.author.as_str(), ms / 1000))
            .or_insert_with(|| roster.inactive(&op.author, at))
            .clone();
        // Sealed with a retired device key: it counts for what it wrote before it was
        // retired, also while IT has not admitted the worker's next device.
        let retired_late = retired.is_some_and(|until| at >= until);
        let why = match why {
            Some(Inactive::NoDevice) if retired.is_some() && !retired_late => None,
            None if retired_late => Some(Inactive::NoDevice),
            other => other,
        };
        match why {
            None => keep.push(true),
            Some(why) if own => {
                let reason = if retired_late {
                    t!("sync.retired_key", id = op.author).into_owned()
                } else {
                    inactive_text(roster, &op.author, &why)
                };
                return Err(refused(path, reason));
            }
            Some(_) => {
                keep.push(false);
                left_out += 1;
            }
        }
    }
    Ok(Checked {
        keep,
        seals,
        left_out,
    })
}

/// Checks every operation, note and file of a payload as kluis itself would write them
/// (docs/sync-format.md, "Import", step 8).
fn check_records(payload: &Payload, roster: &Roster, path: &Path) -> Result<()> {
    let bad = |what: &str| refused(path, t!("sync.bad_record", what = what));
    let now = Utc::now().timestamp_millis().max(0) as u64;
    let mut op_ids = HashSet::new();
    let mut note_ops = HashSet::new();
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
        let value = op.value.as_deref();
        if value.is_some_and(|v| v.len() > MAX_FIELD_BYTES) {
            return Err(bad(&op.id));
        }
        let ok = match merge::field(&op.field) {
            None => false,
            Some(Field::Column(col)) => {
                model::check_client_field(col, value)
                    && (col != "created_at" || creation_counts(&op.client, &op.id, &op.author))
            }
            Some(Field::Assign(w)) => {
                roster.member(w).is_some() && matches!(value, Some("0" | "1"))
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
            // A creation that does not hash to its dossier's id claims a colleague's
            // dossier: say so.
            if op.field == "created_at" && !creation_counts(&op.client, &op.id, &op.author) {
                return Err(refused(path, t!("sync.forged_creation", id = op.client)));
            }
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

type SealIndex = HashMap<[u8; 32], (usize, Option<DateTime<Utc>>)>;

/// A seal decoded, before its signature is checked: None when it is malformed (refused when
/// it is reached, in order).
struct Prepared {
    id: String,
    hashes: Vec<u8>,
    signature: [u8; 64],
    /// The key it was found to be signed with: from the seal this vault already holds, or
    /// from [`verify_seals`].
    key: Option<String>,
}

/// Decodes each seal and finds those this vault checked before (their key is known, their
/// signature need not be checked again).
fn prepare_seals(payload: &Payload, known: &dyn KnownSeals) -> Result<Vec<Option<Prepared>>> {
    let mut out = Vec::with_capacity(payload.seals.len());
    for s in &payload.seals {
        if !is_worker(&s.author) || !is_id(&s.client) {
            out.push(None);
            continue;
        }
        let hashes = BASE64_STANDARD
            .decode(&s.ops)
            .ok()
            .filter(|h| !h.is_empty() && h.len() % 32 == 0 && h.len() <= 32 * MAX_OPS);
        let signature: Option<[u8; 64]> = BASE64_STANDARD
            .decode(&s.signature)
            .ok()
            .and_then(|b| b.try_into().ok());
        let (Some(hashes), Some(signature)) = (hashes, signature) else {
            out.push(None);
            continue;
        };
        let id = hex(&Sha256::digest(signature));
        let key = match known.known(&id)? {
            Some(k) if k.author == s.author && k.client_id == s.client && k.hashes == hashes => {
                Some(k.key)
            }
            _ => None,
        };
        out.push(Some(Prepared {
            id,
            hashes,
            signature,
            key,
        }));
    }
    Ok(out)
}

/// Checks the signature of every prepared seal not known before with the keys the roster
/// lists for its author, and notes the key that verifies it. No database and no messages:
/// this runs on another core (`check_payload`).
fn verify_seals(
    payload: &Payload,
    mut prepared: Vec<Option<Prepared>>,
    roster: &Roster,
) -> Vec<Option<Prepared>> {
    // Each key is decoded (a point decompression) once, not once per seal.
    let mut keys: HashMap<&str, Option<ed25519_dalek::VerifyingKey>> = HashMap::new();
    for (s, p) in payload.seals.iter().zip(prepared.iter_mut()) {
        let Some(p) = p.as_mut().filter(|p| p.key.is_none()) else {
            continue;
        };
        let msg = seal_message(&s.author, &s.client, &p.hashes);
        let sig = ed25519_dalek::Signature::from_bytes(&p.signature);
        p.key = roster
            .keys_of(&s.author)
            .into_iter()
            .find(|k| {
                keys.entry(k)
                    .or_insert_with(|| org::public_key(k))
                    .is_some_and(|key| key.verify(&msg, &sig).is_ok())
            })
            .map(str::to_owned);
    }
    prepared
}

/// Refuses the first seal (in order) that is malformed or whose signature no key the
/// roster lists for its author verifies, and maps each op hash the seals cover to its seal,
/// with the moment from which that seal's key no longer counts (a retired one).
fn index_seals(
    payload: &Payload,
    verified: Vec<Option<Prepared>>,
    roster: &Roster,
    path: &Path,
) -> Result<(Vec<SealRow>, SealIndex)> {
    let bad_seal = |author: &str| refused(path, t!("sync.bad_seal", author = author));
    let mut rows = Vec::with_capacity(payload.seals.len());
    let mut index: SealIndex = HashMap::with_capacity(payload.ops.len());
    for (s, p) in payload.seals.iter().zip(verified) {
        let Some(Prepared {
            id,
            hashes,
            signature,
            key: Some(key),
        }) = p
        else {
            return Err(bad_seal(&s.author));
        };
        let retired = match roster.key_standing(&s.author, &key) {
            Some(KeyStanding::Current) => None,
            Some(KeyStanding::RetiredFrom(until)) => Some(until),
            None => return Err(bad_seal(&s.author)),
        };
        let n = rows.len();
        for h in hashes.chunks_exact(32) {
            index.insert(h.try_into().expect("32 bytes"), (n, retired));
        }
        rows.push(SealRow {
            id,
            client_id: s.client.clone(),
            author: s.author.clone(),
            key,
            hashes,
            signature: signature.to_vec(),
        });
    }
    Ok((rows, index))
}

/// A worker id as IT may issue them (see `org issue`): short text without control characters.
pub(super) fn is_worker(s: &str) -> bool {
    s.len() <= 200 && model::parse_name("worker", s).is_ok_and(|p| p == s)
}

/// An HLC version written by `author`.
fn is_version(v: &str, author: &str) -> bool {
    merge::parse_hlc(v).is_some() && v.len() == 19 + author.len() && v.ends_with(author)
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

/// Drops what the checks left out: the ops, and the notes and files that came with them.
pub(super) fn keep_only(payload: &mut Payload, keep: &[bool]) {
    if keep.iter().all(|k| *k) {
        return;
    }
    let mut dropped_notes = HashSet::new();
    let mut dropped_files = HashSet::new();
    let mut i = 0;
    payload.ops.retain(|op| {
        let k = keep[i];
        i += 1;
        if !k {
            match merge::field(&op.field) {
                Some(Field::Note(n)) => {
                    dropped_notes.insert(n.to_owned());
                }
                Some(Field::Record(Kind::Attachment, id)) => {
                    dropped_files.insert(id.to_owned());
                }
                _ => {}
            }
        }
        k
    });
    payload.notes.retain(|n| !dropped_notes.contains(&n.id));
    payload.blobs.retain(|b| !dropped_files.contains(&b.id));
}

/// A payload's plaintext: its JSON, deflated (zlib, RFC 1950). JSON of ops, seals and access-log
/// entries repeats itself (field names, ids, dates), so this is a fraction of its size.
pub(super) fn payload_plaintext(payload: &Payload) -> Result<Zeroizing<Vec<u8>>> {
    use std::io::Write;
    let json =
        Zeroizing::new(serde_json::to_vec(payload).map_err(|e| Error::Encrypt(e.to_string()))?);
    // Room for zlib's worst case (stored blocks: 5 bytes per 16 KiB, plus header and
    // checksum), so the output never moves: a moved buffer would leave a copy unwiped.
    let bound = json.len() + json.len() / 16_000 * 5 + 64;
    let mut out =
        flate2::write::ZlibEncoder::new(Vec::with_capacity(bound), flate2::Compression::default());
    let written = out.write_all(&json).and_then(|()| out.try_finish());
    let deflated = Zeroizing::new(std::mem::take(out.get_mut()));
    written.map_err(|e| Error::Encrypt(e.to_string()))?;
    Ok(deflated)
}

/// Reads all of `r`, at most `limit` bytes and one more, into a buffer that is wiped, as is
/// every smaller one it outgrew.
fn read_wiping(mut r: impl std::io::Read, limit: u64) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(64 * 1024));
    let mut chunk = Zeroizing::new([0u8; 16 * 1024]);
    loop {
        let n = r.read(&mut chunk[..])?;
        if n == 0 || out.len() as u64 > limit {
            return Ok(out);
        }
        if out.len() + n > out.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(out.capacity() * 2 + n));
            bigger.extend_from_slice(&out);
            out = bigger;
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// Reads a payload's plaintext: deflated JSON (first byte 0x78, what kluis writes), or the
/// JSON itself (first byte `{`, what kluis wrote before it deflated). The inflated JSON may
/// be at most [`MAX_BUNDLE_BYTES`]: a small file cannot make kluis hold gigabytes.
pub fn payload_from_plaintext(plain: &[u8], path: &Path) -> Result<Payload> {
    payload_within(plain, path, MAX_BUNDLE_BYTES)
}

fn payload_within(plain: &[u8], path: &Path, limit: u64) -> Result<Payload> {
    use std::io::Read;
    let malformed = || refused(path, t!("sync.malformed"));
    match plain.first() {
        Some(b'{') => serde_json::from_slice(plain).map_err(|_| malformed()),
        Some(0x78) => {
            let json = read_wiping(flate2::read::ZlibDecoder::new(plain).take(limit + 1), limit)
                .map_err(|_| malformed())?;
            if json.len() as u64 > limit {
                return Err(refused(
                    path,
                    t!("sync.too_large", max = limit / 1024 / 1024),
                ));
            }
            serde_json::from_slice(&json).map_err(|_| malformed())
        }
        _ => Err(malformed()),
    }
}

/// Encrypts a payload to `keys` and signs the header: the whole file.
pub(super) fn write(
    signing: &SigningKey,
    header: Header,
    payload: &Payload,
    keys: &[age::x25519::Recipient],
) -> Result<Vec<u8>> {
    write_as(Version::V2, signing, header, payload, keys)
}

/// [`write`] in either format (the test vectors write v1 bundles too).
pub(super) fn write_as(
    version: Version,
    signing: &SigningKey,
    mut header: Header,
    payload: &Payload,
    keys: &[age::x25519::Recipient],
) -> Result<Vec<u8>> {
    let plain = match version {
        Version::V2 => payload_plaintext(payload)?,
        // A v1 payload is what a kluis of that time wrote: the JSON itself.
        Version::V1 => {
            Zeroizing::new(serde_json::to_vec(payload).map_err(|e| Error::Encrypt(e.to_string()))?)
        }
    };
    let encrypted = crate::vault::seal_to(keys, &plain)?;
    drop(plain);
    let magic = match version {
        Version::V1 => MAGIC_V1,
        Version::V2 => MAGIC,
    };
    header.kind = magic.into();
    header.payload_sha256 = hex(&Sha256::digest(&encrypted));
    header.payload_len = encrypted.len() as u64;
    let header_line = serde_json::to_vec(&header).map_err(|e| Error::Encrypt(e.to_string()))?;
    let signature = BASE64_STANDARD.encode(
        signing
            .sign(&header_message(version, &header_line))
            .to_bytes(),
    );
    let mut file = Vec::with_capacity(encrypted.len() + header_line.len() + 200);
    file.extend_from_slice(magic.as_bytes());
    file.push(b'\n');
    file.extend_from_slice(&header_line);
    file.push(b'\n');
    file.extend_from_slice(signature.as_bytes());
    file.push(b'\n');
    file.extend_from_slice(&encrypted);
    Ok(file)
}

/// The payload kind this kluis writes.
pub(super) fn payload_kind() -> String {
    PAYLOAD_KIND.into()
}

/// The payload kind of a format (test vectors write both).
#[cfg(feature = "internals")]
pub(super) fn payload_kind_of(version: Version) -> &'static str {
    match version {
        Version::V1 => PAYLOAD_KIND_V1,
        Version::V2 => PAYLOAD_KIND,
    }
}

/// What a file whose bytes do not hash to its name looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    /// Not a bundle at all: its first bytes are no bundle's first line.
    NotBundle,
    /// The start of a bundle, shorter than its header says it is (or cut before the header
    /// says anything): a file still being written or copied (a share without hard links, a
    /// sync engine mid-transfer). `expected` is the size its header gives, when it gives one.
    Incomplete {
        /// The whole file's size, from its header.
        expected: Option<u64>,
    },
    /// As long as its header says, or longer, or damaged before that could be told: not
    /// something that completes by waiting.
    Whole,
}

/// Tells a half-written bundle from a damaged or foreign file, from its bytes alone: every
/// prefix of a genuine bundle (the empty file too) is `Incomplete`; nothing that could
/// still become one by growing is called anything else.
pub(super) fn shape(bytes: &[u8]) -> Shape {
    let incomplete = Shape::Incomplete { expected: None };
    let magics = [MAGIC.as_bytes(), MAGIC_V1.as_bytes()];
    let Some(end) = bytes.iter().take(MAGIC.len() + 1).position(|b| *b == b'\n') else {
        return if magics.iter().any(|m| m.starts_with(bytes)) {
            incomplete
        } else {
            Shape::NotBundle
        };
    };
    if !magics.contains(&&bytes[..end]) {
        return Shape::NotBundle;
    }
    let rest = &bytes[end + 1..];
    let Some(end) = rest
        .iter()
        .take(MAX_HEADER_BYTES + 1)
        .position(|b| *b == b'\n')
    else {
        return if rest.len() <= MAX_HEADER_BYTES {
            incomplete
        } else {
            Shape::Whole
        };
    };
    let Ok(header) = serde_json::from_slice::<Header>(&rest[..end]) else {
        return Shape::Whole;
    };
    let rest = &rest[end + 1..];
    const SIG_LINE: usize = 128;
    let Some(sig_end) = rest.iter().take(SIG_LINE + 1).position(|b| *b == b'\n') else {
        return if rest.len() <= SIG_LINE {
            incomplete
        } else {
            Shape::Whole
        };
    };
    let head = (bytes.len() - rest.len() + sig_end + 1) as u64;
    let expected = head.saturating_add(header.payload_len);
    if expected > MAX_BUNDLE_BYTES || bytes.len() as u64 >= expected {
        Shape::Whole
    } else {
        Shape::Incomplete {
            expected: Some(expected),
        }
    }
}

/// Reads the first lines of a bundle file only (magic, header, signature): enough to see
/// who wrote it and which roster it needs, for `audit verify --share` and for holding.
pub(super) fn read_header(
    bytes: &[u8],
    path: &Path,
) -> Result<(Version, Header, Vec<u8>, [u8; 64])> {
    let mut lines = bytes.splitn(4, |b| *b == b'\n');
    let magic = lines.next().unwrap_or_default();
    let version = if magic == MAGIC.as_bytes() {
        Version::V2
    } else if magic == MAGIC_V1.as_bytes() {
        Version::V1
    } else {
        return Err(refused(path, t!("sync.not_bundle")));
    };
    let header_line = lines
        .next()
        .filter(|l| l.len() <= MAX_HEADER_BYTES)
        .ok_or_else(|| refused(path, t!("sync.malformed")))?
        .to_vec();
    let signature: [u8; 64] = lines
        .next()
        .and_then(|l| BASE64_STANDARD.decode(l).ok())
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| refused(path, t!("org.bad_signature")))?;
    let header: Header =
        serde_json::from_slice(&header_line).map_err(|_| refused(path, t!("sync.malformed")))?;
    Ok((version, header, header_line, signature))
}

/// Whether the header was signed by `key` (base64).
pub(super) fn header_signed_by(
    version: Version,
    header_line: &[u8],
    signature: &[u8; 64],
    key: &str,
) -> bool {
    org::public_key(key).is_some_and(|k| {
        k.verify(
            &header_message(version, header_line),
            &ed25519_dalek::Signature::from_bytes(signature),
        )
        .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A day's bundle of one worker: 200 views (access-log entries), the bulk of a team's
    /// year, with fresh ids and the seal's hashes as random as real ones.
    fn a_days_payload() -> Payload {
        use rand::RngCore;
        let id = || uuid::Uuid::now_v7().to_string();
        let client = id();
        let ops = (0..200)
            .map(|i| Op {
                id: id(),
                client: client.clone(),
                field: format!("log/{}", id()),
                value: Some(format!(
                    r#"{{"at":"2026-11-30T09:{:02}:{:02}Z","action":"view","user":"w001","on_behalf":null,"detail":""}}"#,
                    i / 60,
                    i % 60
                )),
                prev: None,
                hlc: format!("17645000{i:05}.0000.w001"),
                author: "w001".into(),
            })
            .collect();
        let mut hashes = vec![0u8; 32 * 200];
        rand::thread_rng().fill_bytes(&mut hashes);
        let mut signature = [0u8; 64];
        rand::thread_rng().fill_bytes(&mut signature);
        Payload {
            kind: PAYLOAD_KIND.into(),
            bundle: id(),
            ops,
            notes: Vec::new(),
            blobs: Vec::new(),
            seals: vec![Seal {
                author: "w001".into(),
                client,
                ops: BASE64_STANDARD.encode(hashes),
                signature: BASE64_STANDARD.encode(signature),
            }],
        }
    }

    fn json(p: &Payload) -> Vec<u8> {
        serde_json::to_vec(p).unwrap()
    }

    /// The refusal's message (a payload has no `Debug`: it may hold client data).
    fn refusal(r: Result<Payload>) -> String {
        match r {
            Ok(_) => panic!("read"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_payload_is_deflated_and_one_that_inflates_past_the_limit_is_refused() {
        let path = Path::new("b");
        let p = a_days_payload();
        let plain = payload_plaintext(&p).unwrap();
        assert_eq!(plain[0], 0x78, "a zlib stream");
        let raw = json(&p);
        assert!(
            plain.len() * 3 < raw.len(),
            "{} deflated against {} bytes of JSON",
            plain.len(),
            raw.len()
        );
        assert_eq!(json(&payload_from_plaintext(&plain, path).unwrap()), raw);
        // What kluis wrote before it deflated: the JSON itself.
        assert_eq!(json(&payload_from_plaintext(&raw, path).unwrap()), raw);
        // Right at the limit it is read; one byte less and it is refused, unparsed.
        let n = raw.len() as u64;
        assert!(payload_within(&plain, path, n).is_ok());
        let e = refusal(payload_within(&plain, path, n - 1));
        assert!(e.contains("MiB"), "{e}");
        // A small file of zeros that would inflate to 2 MiB, against a 1 MiB limit.
        let bomb = {
            use std::io::Write;
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
            z.write_all(&vec![0u8; 2 << 20]).unwrap();
            z.finish().unwrap()
        };
        assert!(bomb.len() < 16 * 1024);
        assert!(refusal(payload_within(&bomb, path, 1 << 20)).contains("MiB"));
        // Neither JSON nor zlib, a truncated stream, or nothing: damaged.
        for bad in [&b"\x00abc"[..], &plain[..plain.len() / 2], &[]] {
            let e = refusal(payload_from_plaintext(bad, path));
            assert!(!e.contains("MiB"), "{e}");
        }
    }
}
