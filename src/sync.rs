//! Team sync by files: encrypted bundles that travel through any shared folder (a network
//! share, Syncthing, Nextcloud, a USB stick, a git repository). No server.
//!
//! A bundle holds the operations (`crate::merge`) a recipient set has not had yet, encrypted
//! with age to exactly the workers assigned to those dossiers. Every op carries its author's
//! seal (an Ed25519 signature over its hash, `bundle::Seal`), so whoever forwards it can
//! neither change it nor write in someone else's name; the header is signed too, by whoever
//! wrote the file. The organisation's signed roster, which IT publishes into the same
//! folder, binds worker ids to their device keys. Files are named after the SHA-256 of their
//! bytes and never change after they are written, so sync engines and git never see a
//! conflict. The format is in docs/sync-format.md.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use serde::Serialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::fsx::{self, Follow, Owner};
use crate::i18n::t;
use crate::merge::{self, Field, ORG_AUTHOR, Op};
use crate::model::record::Kind;
use crate::model::roster::{KeyStanding, Roster};
use crate::model::{self, hex};
use crate::org;
use crate::session::Session;
use crate::store::{BundleMark, HeldErasure, MergeStats, NoteRow, Orphan, SealRow, Store};

mod ack;
mod bundle;
mod forget;
mod share;

pub use ack::{ACK_EXTENSION, ack_name};
use bundle::refused;
pub use bundle::{
    Blob, Header, LogHead, MAGIC, MAGIC_V1, Parsed, Payload, Seal, Version, parse_bundle,
    payload_from_plaintext,
};
pub use forget::ForgetReport;
pub use share::{REQUEST_EXTENSION, ROSTER_EXTENSION, place, publish_roster};

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

/// This vault's identity in the organisation.
struct Me {
    id: String,
    x25519: age::x25519::Identity,
    signing: SigningKey,
    /// The device's Ed25519 public key, base64.
    public: String,
    pinned: String,
    roster: Roster,
}

impl Me {
    /// Whether the roster lists this device's key for this worker (IT admitted it).
    fn admitted(&self) -> bool {
        self.roster
            .key_standing(&self.id, &self.public)
            .is_some_and(|k| k == KeyStanding::Current)
    }
}

impl bundle::KnownSeals for Store {
    fn known(&self, id: &str) -> Result<Option<SealRow>> {
        self.seal(id)
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
    let signing = SigningKey::from_bytes(arr);
    let roster = roster(store, path)?;
    Ok(Me {
        id,
        x25519,
        public: BASE64_STANDARD.encode(signing.verifying_key().to_bytes()),
        signing,
        pinned,
        roster,
    })
}

/// The newest roster in the vault, checked against the pinned organisation key.
pub fn roster(store: &Store, path: &Path) -> Result<Roster> {
    crate::session::verified_roster(store, path)
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

/// Creates a worker's vault from an opened enrollment. The device keys are made here, on
/// the worker's computer, and never leave it: the vault keeps them, with the organisation's
/// recovery recipient and the roster, and a request for IT to admit them (signed with the
/// enrollment file's one-time key), which `sync` puts into the shared folder until IT has.
/// `file` names the enrollment in messages.
pub fn create_enrolled(
    path: &Path,
    pass: &crate::secret::SecretString,
    params: crate::vault::KdfParams,
    enrollment: &org::Enrollment,
    file: &Path,
) -> Result<Session> {
    let x25519 = age::x25519::Identity::generate();
    let signing = SigningKey::generate(&mut rand::rngs::OsRng);
    create_with_keys(path, pass, params, enrollment, file, &x25519, &signing)
}

/// [`create_enrolled`] with device keys made elsewhere: for the test vectors, whose bundles
/// are encrypted to fixed test keys (`internals::create_enrolled_with_keys`).
pub(in crate::engine) fn create_with_keys(
    path: &Path,
    pass: &crate::secret::SecretString,
    params: crate::vault::KdfParams,
    enrollment: &org::Enrollment,
    file: &Path,
    x25519: &age::x25519::Identity,
    signing: &SigningKey,
) -> Result<Session> {
    use age::secrecy::ExposeSecret;
    let roster = org::verify_roster(&enrollment.org_public_key, &enrollment.roster, file)?;
    let member = &enrollment.member;
    let recovery = [enrollment.org_recovery_recipient.clone()];
    let roster_text = org::to_json(&enrollment.roster)?;
    let request = org::to_json(&org::device_request(
        enrollment,
        &x25519.to_public(),
        signing,
    )?)?;
    let identity = Zeroizing::new(x25519.to_string().expose_secret().to_owned());
    let secret = Zeroizing::new(BASE64_STANDARD.encode(signing.to_bytes()));
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
            ("worker_x25519_identity", &identity),
            ("worker_ed25519_secret", &secret),
            ("worker_certificate", &cert),
            ("device_request", &request),
        ] {
            s.set_meta(k, v)?;
        }
        s.add_roster(roster.version, &roster_text)
    })
}

/// This device's standing in the organisation, for `whoami` and `sync`.
#[derive(Clone, Debug, Serialize)]
pub struct Device {
    /// The fingerprint of its Ed25519 key (compare it with what `org admit` shows).
    pub fingerprint: String,
    /// Whether the roster lists this device's keys.
    pub admitted: bool,
}

/// This device's fingerprint and whether IT admitted it; None outside an organisation.
pub fn device(session: &Session) -> Result<Option<Device>> {
    let store = session.store();
    if store.meta("worker_id")?.is_none() {
        return Ok(None);
    }
    let me = me(store, session.path())?;
    Ok(Some(Device {
        fingerprint: model::roster::fingerprint(&me.public),
        admitted: me.admitted(),
    }))
}

/// Erasures that arrived and wait, with why (ids and worker ids only: nothing to log).
pub fn held_erasures(session: &Session) -> Result<Vec<HeldErasure>> {
    session.store().held_erasures()
}

/// Checks that a worker may be assigned a dossier: on the roster and active now.
pub fn check_worker(store: &Store, path: &Path, worker: &str) -> Result<()> {
    let roster = roster(store, path)?;
    match roster.inactive(worker, Utc::now()) {
        None => Ok(()),
        Some(why) => Err(Error::invalid(
            "worker_id",
            bundle::inactive_text(&roster, worker, &why),
        )),
    }
}

/// [`check_worker`] for a session's vault (before `assign` or `handover`).
pub fn check_assignable(session: &Session, worker: &str) -> Result<()> {
    check_worker(session.store(), session.path(), worker)
}

/// Reads and splits a bundle file, checking its size, layout and payload hash. Nothing here
/// trusts the content yet. Only regular files are read (a FIFO would block).
pub fn read_bundle(path: &Path) -> Result<Parsed> {
    parse_bundle(read_bundle_file(path, Follow::No)?, path)
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
    seals: Vec<SealRow>,
    /// The local sequence numbers of the ops it carries: `(after, upto]`.
    after: i64,
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
    if !me.admitted() {
        return Err(Error::invalid(
            "worker_id",
            t!(
                "sync.not_admitted",
                fingerprint = model::roster::fingerprint(&me.public)
            ),
        ));
    }
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
    let mut groups: BTreeMap<(Vec<String>, String), Vec<Outgoing>> = BTreeMap::new();
    let mut only_me = 0;
    let mut new_seals = Vec::new();
    {
        let store = session.store();
        for (client, workers) in store.assignments()? {
            if only.is_some_and(|o| !o.contains(&client)) {
                continue;
            }
            let recipients: Vec<String> = workers
                .into_iter()
                .filter(|w| me.roster.active(w, now))
                .collect();
            if recipients.iter().all(|w| *w == me.id) {
                only_me += 1;
                continue;
            }
            let to = set_key(&me.roster, &recipients);
            let upto = forget::sent_upto(store, &client, &to)?;
            let (ops, max) = store.ops_after(&client, upto, &to)?;
            if max <= upto {
                continue;
            }
            let d = outgoing(store, me, &client, ops, upto, max, &mut new_seals)?;
            groups.entry((recipients, to)).or_default().push(d);
        }
        // A worker this vault unassigned is no recipient any more, but must learn that it
        // was unassigned (or it would go on believing it is): the op that unassigned them
        // goes to them alone, once, and nothing after it.
        for (client, worker, op, seq) in store.unassignments(&me.id)? {
            if only.is_some_and(|o| !o.contains(&client)) || !me.roster.active(&worker, now) {
                continue;
            }
            let recipients = vec![worker];
            let to = format!("{}|unassigned", set_key(&me.roster, &recipients));
            let upto = store.sent_upto(&client, &to)?;
            if upto >= seq {
                continue;
            }
            let d = outgoing(store, me, &client, vec![op], upto, seq, &mut new_seals)?;
            groups.entry((recipients, to)).or_default().push(d);
        }
    }
    // The seals made for this worker's own new ops are kept before any bundle carries them.
    if !new_seals.is_empty() {
        session.change(|s| new_seals.iter().try_for_each(|seal| s.add_seal(seal)))?;
    }
    let mut out = Vec::new();
    for ((recipients, to), dossiers) in groups {
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
                if let Some(e) =
                    write_bundle(session, me, dir, &vault, &recipients, &to, &chunk, true)?
                {
                    out.push(e);
                }
                chunk.clear();
                (n_ops, n_bytes) = (0, 0);
            }
        }
    }
    Ok((out, only_me))
}

/// One dossier's ops with the notes, files and seals that travel with them: the ops that
/// went (or go) out with local sequence numbers in `(after, upto]`.
fn outgoing(
    store: &Store,
    me: &Me,
    client: &str,
    ops: Vec<Op>,
    after: i64,
    upto: i64,
    new_seals: &mut Vec<SealRow>,
) -> Result<Outgoing> {
    let (ops, seals) = seal_outgoing(store, me, client, ops, new_seals)?;
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
                        client_id: client.to_owned(),
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
        .chain(seals.iter().map(|s| 200 + s.hashes.len() * 4 / 3))
        .sum();
    Ok(Outgoing {
        client: client.to_owned(),
        ops,
        notes,
        blobs,
        seals,
        after,
        upto,
        bytes,
    })
}

/// The ops of one dossier that can travel, with the seals that cover them: this worker's
/// own ops not sealed yet get a new seal (kept by the caller), others' ops travel with the
/// seal they came with. IT's reassignments never travel (every vault makes them from its
/// roster), nor do others' ops that came without a seal (from a kluis before every change
/// was signed): their authors send them.
fn seal_outgoing(
    store: &Store,
    me: &Me,
    client: &str,
    ops: Vec<Op>,
    new_seals: &mut Vec<SealRow>,
) -> Result<(Vec<Op>, Vec<SealRow>)> {
    let mut seals = store.seals_of(client)?;
    let mut covered: HashMap<[u8; 32], usize> = HashMap::new();
    for (i, s) in seals.iter().enumerate() {
        for h in s.covers() {
            covered.insert(h, i);
        }
    }
    let hashes: Vec<[u8; 32]> = ops.iter().map(merge::op_hash).collect();
    let unsealed: Vec<&Op> = ops
        .iter()
        .zip(&hashes)
        .filter(|(o, h)| o.author == me.id && !covered.contains_key(*h))
        .map(|(o, _)| o)
        .collect();
    if !unsealed.is_empty() {
        let seal = bundle::make_seal(&me.signing, &me.id, client, &unsealed);
        let i = seals.len();
        for h in seal.covers() {
            covered.insert(h, i);
        }
        new_seals.push(seal.clone());
        seals.push(seal);
    }
    let mut used = BTreeSet::new();
    let mut keep = Vec::with_capacity(ops.len());
    for (op, h) in ops.into_iter().zip(hashes) {
        if op.author == ORG_AUTHOR {
            continue;
        }
        match covered.get(&h) {
            Some(&i) if seals[i].author == op.author => {
                used.insert(i);
                keep.push(op);
            }
            _ => {}
        }
    }
    let seals = seals
        .into_iter()
        .enumerate()
        .filter(|(i, _)| used.contains(i))
        .map(|(_, s)| s)
        .collect();
    Ok((keep, seals))
}

/// Writes one bundle for `recipients` with `chunk`'s dossiers, then records them as sent
/// (with `record_sent`; a bundle written again without an erased dossier changes nothing
/// there) and remembers the file, so that this vault can remove it from the share later.
#[allow(clippy::too_many_arguments)]
fn write_bundle(
    session: &mut Session,
    me: &Me,
    dir: &Path,
    vault: &Path,
    recipients: &[String],
    to: &str,
    chunk: &[Outgoing],
    record_sent: bool,
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
        let n_ops = ops.len();
        let payload = Payload {
            kind: bundle::payload_kind(),
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
            seals: chunk
                .iter()
                .flat_map(|d| d.seals.iter().map(bundle::seal_to_wire))
                .collect(),
        };
        let keys: Vec<age::x25519::Recipient> = recipients
            .iter()
            .map(|w| {
                let m = me.roster.member(w).expect("active");
                age::x25519::Recipient::from_str(&m.x25519).map_err(|_| Error::NotAuthentic {
                    path: vault.to_owned(),
                    reason: t!("org.bad_key").into_owned(),
                })
            })
            .collect::<Result<_>>()?;
        let log_head = session
            .store()
            .log_head()?
            .map(|(seq, hash)| LogHead { seq, hash });
        let header = Header {
            kind: MAGIC.into(),
            id: id.clone(),
            author: me.id.clone(),
            seq,
            created: model::now_utc(),
            roster_version: me.roster.version,
            org_public_key: me.pinned.clone(),
            recipients: recipients.to_vec(),
            payload_sha256: String::new(),
            payload_len: 0,
            log_head,
        };
        let file = bundle::write(&me.signing, header, &payload, &keys)?;
        drop(payload);
        let path = place(dir, &file, EXTENSION)?;
        let hash = hex(&Sha256::digest(&file));
        exported = Some(Exported {
            file: path,
            bundle_id: id.clone(),
            recipients: recipients.to_vec(),
            clients: chunk.len(),
            ops: n_ops,
        });
        written = Some((hash, id, seq, file.len() as u64));
    }
    // Only after the file is in place: a crash before this sends the same again, which the
    // recipients' merge ignores.
    session.change(|s| {
        if record_sent {
            for d in chunk {
                s.set_sent(&d.client, to, d.upto)?;
            }
        }
        if let Some((hash, id, seq, bytes)) = &written {
            s.add_share_file(&crate::store::ShareFile {
                hash: hash.clone(),
                recipients: set_key(&me.roster, recipients),
                contents: chunk
                    .iter()
                    .filter(|d| !d.ops.is_empty())
                    .map(|d| (d.client.clone(), d.after, d.upto))
                    .collect(),
                bytes: *bytes,
            })?;
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
    /// Not whole yet (half-written, or still being copied by a sync engine): nothing merged,
    /// nothing remembered, read again at the next sync.
    Incomplete {
        /// Bytes there now.
        size: u64,
        /// Bytes its header says the whole file has, when the header is there.
        expected: Option<u64>,
    },
    /// Written under a newer roster than this vault has: kept for later, nothing merged.
    Held {
        /// Bundle id.
        bundle_id: String,
        /// Who wrote it.
        author: String,
        /// The roster version it needs.
        roster_version: u64,
        /// Whether its signature checked out with a key this vault's roster lists (then
        /// this vault sends nothing until it has that roster: it may revoke a recipient).
        verified: bool,
    },
}

/// Verifies, decrypts and merges one bundle file. With `strict`, a bundle for others, or
/// one that needs a newer roster, is refused (exit 4) instead of reported.
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
/// `bundle_payload` (built under `cargo fuzz` and with `internals`): what follows decryption in [`import`],
/// for a v2 payload whose signer is `signer`.
#[cfg(any(fuzzing, feature = "internals"))]
pub fn fuzz_payload(
    store: &mut Store,
    roster: &Roster,
    signer: &str,
    bytes: &[u8],
) -> Result<MergeStats> {
    let path = Path::new("fuzz");
    let mut payload = bundle::payload_from_plaintext(bytes, path)?;
    let header = Header {
        kind: MAGIC.into(),
        id: payload.bundle.clone(),
        author: signer.to_owned(),
        seq: 0,
        created: String::new(),
        roster_version: roster.version,
        org_public_key: roster.org_public_key.clone(),
        recipients: Vec::new(),
        payload_sha256: String::new(),
        payload_len: 0,
        log_head: None,
    };
    let checked = bundle::check_payload(&payload, &header, Version::V2, roster, &*store, path)?;
    bundle::keep_only(&mut payload, &checked.keep);
    store
        .transaction(|s| {
            for seal in &checked.seals {
                s.add_seal(seal)?;
            }
            let stats = s.merge_ops_from(&payload.ops, &payload.notes, "fuzz", Some(signer))?;
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
    if h.roster_version > me.roster.version {
        if strict {
            return Err(refused(
                path,
                t!(
                    "sync.needs_roster",
                    version = h.roster_version,
                    current = me.roster.version
                ),
            ));
        }
        let verified = me.roster.keys_of(&h.author).into_iter().any(|k| {
            bundle::header_signed_by(parsed.version, &parsed.header_line, &parsed.signature, k)
        });
        return Ok(Imported::Held {
            bundle_id: h.id.clone(),
            author: h.author.clone(),
            roster_version: h.roster_version,
            verified,
        });
    }
    bundle::verify_header(parsed, &me.pinned, &me.roster, path)?;
    let decryptor = age::Decryptor::new(&parsed.payload[..])
        .map_err(|_| refused(path, t!("sync.payload_damaged")))?;
    let mut reader = match decryptor.decrypt(std::iter::once(&me.x25519 as &dyn age::Identity)) {
        Ok(r) => r,
        // Written for this worker's earlier device (before IT issued the id again): not
        // this device's business; colleagues send the history to this one anew.
        Err(_) if !strict && for_earlier_device(&me.roster, &me.id, &h.created) => {
            return Ok(Imported::NotForMe);
        }
        Err(_) => return Err(refused(path, t!("sync.payload_damaged"))),
    };
    let mut plain = Zeroizing::new(Vec::with_capacity(parsed.payload.len()));
    reader
        .read_to_end(&mut plain)
        .map_err(|_| refused(path, t!("sync.payload_damaged")))?;
    let mut payload = bundle::payload_from_plaintext(&plain, path)?;
    drop(plain);
    let checked = bundle::check_payload(
        &payload,
        h,
        parsed.version,
        &me.roster,
        session.store(),
        path,
    )?;
    bundle::keep_only(&mut payload, &checked.keep);
    // With the devices the recipients had when it was written: a worker on a new device
    // since (or one its writer may not have known) has not had these ops.
    let to = forget::set_key_at(&me.roster, &h.recipients, &h.created, h.roster_version);
    let stats = session.change(|s| {
        for seal in &checked.seals {
            s.add_seal(seal)?;
        }
        let mut stats = s
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
        stats.left_out = checked.left_out;
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

/// The key of a recipient set in what was sent and where ops came from: each worker id
/// with the fingerprint of its device's key, so a worker issued again (a new device) is a
/// new set, which gets the whole history.
fn set_key(roster: &Roster, recipients: &[String]) -> String {
    recipients
        .iter()
        .map(|w| match roster.member(w) {
            Some(m) if !m.x25519.is_empty() => {
                format!("{w}#{}", &model::sha256_hex(m.x25519.as_bytes())[..12])
            }
            _ => w.clone(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether a bundle written at `created` was written for an earlier device of `worker`:
/// before (or in the same second as: times are kept to the second) IT retired one of
/// their keys.
fn for_earlier_device(roster: &Roster, worker: &str, created: &str) -> bool {
    let Ok(created) = DateTime::parse_from_rfc3339(created) else {
        return false;
    };
    roster.member(worker).is_some_and(|m| {
        m.retired
            .iter()
            .any(|k| DateTime::parse_from_rfc3339(&k.until).is_ok_and(|until| created <= until))
    })
}

/// What [`sync`] did.
#[derive(Debug, Default, Serialize)]
pub struct SyncReport {
    /// The roster version taken from the shared folder, if a newer one was there.
    pub roster: Option<u64>,
    /// Ops a newer roster took out again (what revoked workers wrote after the revocation).
    pub withdrawn: u64,
    /// Whether IT admitted this device; when not, nothing is sent or read.
    pub admitted: bool,
    /// This device's key fingerprint.
    pub fingerprint: String,
    /// Where this device's request to be admitted is in the shared folder (not admitted).
    pub request: Option<PathBuf>,
    /// Bundles written.
    pub exported: Vec<Exported>,
    /// Dossiers only this worker is assigned to (nothing to send).
    pub only_me: usize,
    /// A roster version that bundles in the folder were written under and this vault does
    /// not have: nothing is sent until it arrives (it may revoke a recipient).
    pub export_held: Option<u64>,
    /// Bundles merged, with what they changed.
    pub imported: Vec<(PathBuf, Imported)>,
    /// Bundles that need a newer roster, and files not whole yet: read again at every sync.
    pub held: Vec<(PathBuf, Imported)>,
    /// Entries skipped with a warning: no regular file (a link, a directory, a FIFO, a
    /// socket, a device), or unreadable. Not remembered, never a refusal.
    pub unreadable: Vec<(PathBuf, String)>,
    /// Bundles and rosters refused now, with the reason.
    pub refused: Vec<(PathBuf, String)>,
    /// Bundle files handled before (imported, written here, for others): not read at all.
    pub known: usize,
    /// Bundle files refused before under the same roster: not read again.
    pub refused_before: usize,
    /// New bundle files for other workers.
    pub skipped: usize,
    /// Erasures applied now that this vault could check them (held before).
    pub erased: u64,
    /// Erasures that arrived and wait, with why.
    pub held_erasures: Vec<HeldErasure>,
    /// Dossiers here that no active worker is assigned to: ask IT to reassign them.
    pub orphaned: Vec<Orphan>,
    /// Acknowledgements, and this vault's bundles that left the folder or wait.
    pub forget: ForgetReport,
}

/// What `sync` merged.
#[derive(Debug, Default, Serialize)]
pub struct MergedSummary {
    /// Bundles merged.
    pub bundles: usize,
    /// What they changed, added up.
    #[serde(flatten)]
    pub stats: MergeStats,
}

/// What `sync` holds, to read or apply again at a later sync.
#[derive(Debug, Default, Serialize)]
pub struct HeldSummary {
    /// Bundles written under a roster this vault does not have yet.
    pub newer_roster: usize,
    /// Files not whole yet (half-written or still being copied).
    pub incomplete: usize,
    /// Erasures that wait until this vault can check them.
    pub erasures: usize,
}

/// What `sync` refused.
#[derive(Debug, Default, Serialize)]
pub struct RefusedSummary {
    /// Refused now (the exit code is then 4).
    pub now: usize,
    /// Refused at an earlier sync under the same roster: not read again.
    pub before: usize,
}

/// What the shared folder forgot at a sync.
#[derive(Debug, Default, Serialize)]
pub struct ShareSummary {
    /// Acknowledgements this vault published (0 or 1: not written again unchanged).
    pub acks_published: usize,
    /// Colleagues' acknowledgements read that count.
    pub acks_read: usize,
    /// Acknowledgements that do not count (forged, half-written, a link, an old device's).
    pub acks_ignored: usize,
    /// This vault's bundles removed: every current recipient had acknowledged them.
    pub removed: usize,
    /// This vault's bundles written again without a dossier erased here.
    pub rewritten: usize,
    /// This vault's bundles that wait for a current recipient's acknowledgement.
    pub waiting: usize,
}

/// A sync per category: what it merged, held, refused, erased, skipped and wrote. The same
/// for people and for `--json`.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// Merged.
    pub merged: MergedSummary,
    /// Held.
    pub held: HeldSummary,
    /// Refused.
    pub refused: RefusedSummary,
    /// Dossiers erased (by a colleague's erasure this vault could check).
    pub erased: u64,
    /// Entries skipped with a warning (no regular file, or unreadable).
    pub unreadable: usize,
    /// Bundles written.
    pub written: usize,
    /// Files handled at an earlier sync: not read again.
    pub known: usize,
    /// New bundles for other workers.
    pub for_others: usize,
    /// Acknowledgements, and this vault's bundles that left the folder.
    pub share: ShareSummary,
}

impl SyncReport {
    /// The report per category.
    pub fn summary(&self) -> Summary {
        let mut merged = MergedSummary::default();
        for (_, outcome) in &self.imported {
            if let Imported::Merged { stats, .. } = outcome {
                merged.bundles += 1;
                let m = &mut merged.stats;
                m.ops_new += stats.ops_new;
                m.ops_known += stats.ops_known;
                m.clients_new += stats.clients_new;
                m.clients_changed += stats.clients_changed;
                m.notes_new += stats.notes_new;
                m.notes_waiting += stats.notes_waiting;
                m.log_entries += stats.log_entries;
                m.erased += stats.erased;
                m.left_out += stats.left_out;
            }
        }
        let incomplete = self
            .held
            .iter()
            .filter(|(_, o)| matches!(o, Imported::Incomplete { .. }))
            .count();
        Summary {
            merged,
            held: HeldSummary {
                newer_roster: self.held.len() - incomplete,
                incomplete,
                erasures: self.held_erasures.len(),
            },
            refused: RefusedSummary {
                now: self.refused.len(),
                before: self.refused_before,
            },
            erased: self.erased,
            unreadable: self.unreadable.len(),
            written: self.exported.len(),
            known: self.known,
            for_others: self.skipped,
            share: ShareSummary {
                acks_published: usize::from(self.forget.ack_published),
                acks_read: self.forget.acks_read,
                acks_ignored: self.forget.acks_ignored.len(),
                removed: self.forget.removed,
                rewritten: self.forget.rewritten,
                waiting: self.forget.waiting,
            },
        }
    }
}

/// Whether a file name is a bundle's: 64 hex digits and the extension.
pub fn bundle_name(name: &str) -> Option<&str> {
    share::hashed_name(name, EXTENSION)
}

/// Takes the newest roster published in `dir` that is newer than this vault's (signed by
/// the pinned key); older ones are passed over, forged or damaged ones reported. Returns
/// the version adopted and how many ops it took out.
fn roster_from_share(
    session: &mut Session,
    me: &Me,
    dir: &Path,
    report: &mut SyncReport,
) -> Result<()> {
    let seen = session.store().bundles_seen()?;
    let mut kept = session.store().refusals_kept()?;
    let mut newest: Option<(org::Signed, Roster)> = None;
    let mut marks: Vec<(String, &str)> = Vec::new();
    let found = share::scan(dir, ROSTER_EXTENSION)?;
    report.unreadable.extend(found.skipped);
    for (hash, path) in found.files {
        if remembered(&seen, &hash, me.roster.version).is_some() {
            continue;
        }
        let Some(bytes) = read_found(&path, share::MAX_SHARE_FILE, report) else {
            continue;
        };
        let parsed = serde_json::from_slice::<org::Signed>(&bytes);
        if hex(&Sha256::digest(&bytes)) != hash {
            // JSON that ends too early is a roster still being written: read again next time.
            match parsed {
                Err(e) if e.is_eof() => report.held.push((
                    path,
                    Imported::Incomplete {
                        size: bytes.len() as u64,
                        expected: None,
                    },
                )),
                _ => report
                    .refused
                    .push((path, t!("sync.name_not_hash").into_owned())),
            }
            continue;
        }
        let checked = parsed
            .map_err(|_| t!("org.not_roster").into_owned())
            .and_then(|signed| {
                let roster =
                    org::verify_roster(&me.pinned, &signed, &path).map_err(|e| match e {
                        Error::NotAuthentic { reason, .. } => reason,
                        other => other.to_string(),
                    })?;
                Ok((signed, roster))
            });
        match checked {
            Ok((signed, roster)) => {
                marks.push((hash, "imported"));
                if roster.version > me.roster.version
                    && newest
                        .as_ref()
                        .is_none_or(|(_, n)| roster.version > n.version)
                {
                    newest = Some((signed, roster));
                }
            }
            Err(reason) => {
                if keep_refusal(&seen, &hash, &mut kept) {
                    marks.push((hash, "refused"));
                }
                report.refused.push((path, reason));
            }
        }
    }
    if let Some((signed, roster)) = newest {
        report.withdrawn += session.adopt_roster(&signed, &roster)?;
        report.roster = Some(roster.version);
    }
    if !marks.is_empty() {
        let version = me.roster.version.max(report.roster.unwrap_or(0));
        session.change(|s| {
            for (hash, status) in &marks {
                let refused = *status == "refused";
                s.mark_bundle(&BundleMark {
                    hash,
                    bundle_id: if refused { REFUSED_MARK } else { "" },
                    author: "",
                    seq: 0,
                    status,
                    roster_version: if refused { version } else { 0 },
                })?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Most refused files a vault remembers (so that it need not read them again until a new
/// roster arrives). Past the cap a refused file costs reading time at every sync, never
/// space: 10,000 files of junk in a share leave nothing lasting in the vault.
pub const REFUSALS_KEPT: usize = 1_000;

/// The bundle id a remembered refusal carries. Refusals remembered before kluis told
/// half-written files apart carry none, and are read once more (one may have been a
/// half-written bundle, whole by now).
const REFUSED_MARK: &str = "-";

/// How a file in the share was handled before, as far as this sync is concerned.
enum Seen {
    /// Imported, written here, or for others: never read again.
    Handled,
    /// Refused under this same roster: not read again.
    Refused,
}

fn remembered(
    seen: &HashMap<String, (String, u64, String)>,
    hash: &str,
    roster: u64,
) -> Option<Seen> {
    match seen.get(hash) {
        Some((status, _, _)) if status != "refused" => Some(Seen::Handled),
        Some((_, version, id)) if *version == roster && id == REFUSED_MARK => Some(Seen::Refused),
        _ => None,
    }
}

/// Whether to remember a refusal: always when the file is remembered already (the row is
/// updated), otherwise while fewer than [`REFUSALS_KEPT`] are.
fn keep_refusal(
    seen: &HashMap<String, (String, u64, String)>,
    hash: &str,
    kept: &mut usize,
) -> bool {
    if seen.contains_key(hash) {
        return true;
    }
    if *kept >= REFUSALS_KEPT {
        return false;
    }
    *kept += 1;
    true
}

/// Reads a file the listing showed as a regular file: opened with `O_NONBLOCK` and without
/// following a link, then checked on the descriptor (`fsx`), so one swapped for a FIFO,
/// a link or a directory since the listing is skipped too, never waited on. A file that
/// cannot be read is skipped with a warning (it may be readable next time); one over the
/// cap is refused. Neither is remembered.
fn read_found(path: &Path, max: u64, report: &mut SyncReport) -> Option<Vec<u8>> {
    match fsx::read(path, Follow::No, Owner::Anyone, max) {
        Ok(bytes) => Some(bytes),
        Err(fsx::Refusal::TooLarge(_)) => {
            report.refused.push((
                path.to_owned(),
                t!("fsx.too_large", max = format!("{} MiB", max >> 20)).into_owned(),
            ));
            None
        }
        Err(r) => {
            report.unreadable.push((path.to_owned(), r.reason()));
            None
        }
    }
}

/// Syncs with the shared folder `dir`: takes the newest roster IT published there, then
/// imports every bundle addressed to this worker that was not imported before (holding
/// those written under a roster this vault does not have yet, and those not whole yet),
/// then exports what colleagues have not had. Files already handled are recognised by name
/// and not read again; a refused one is read again only after a new roster arrived, a
/// half-written one at every sync. An entry that is no regular file, or cannot be read, is
/// skipped with a warning. A device IT has not admitted yet only puts its request into the
/// folder.
pub fn sync(session: &mut Session, dir: &Path) -> Result<SyncReport> {
    let vault = session.path().to_owned();
    let mut report = SyncReport::default();
    let first = me(session.store(), &vault)?;
    roster_from_share(session, &first, dir, &mut report)?;
    let me = me(session.store(), &vault)?;
    report.fingerprint = model::roster::fingerprint(&me.public);
    report.admitted = me.admitted();
    if !report.admitted {
        if let Some(request) = session.store().meta("device_request")? {
            report.request = Some(place(dir, request.as_bytes(), REQUEST_EXTENSION)?);
        }
        return Ok(report);
    }
    // Time passes: a held erasure may be due now.
    report.erased += session.change(|s| s.recheck_erasures(None))?;
    let seen = session.store().bundles_seen()?;
    let mut kept = session.store().refusals_kept()?;
    let found = share::scan(dir, EXTENSION)?;
    report.unreadable.extend(found.skipped);
    let present: std::collections::HashSet<String> =
        found.files.iter().map(|(h, _)| h.clone()).collect();
    // (hash, bundle id, author, seq, status)
    let mut marks: Vec<(String, String, String, u64, &str)> = Vec::new();
    for (stem, path) in found.files {
        match remembered(&seen, &stem, me.roster.version) {
            Some(Seen::Handled) => {
                report.known += 1;
                continue;
            }
            Some(Seen::Refused) => {
                report.refused_before += 1;
                continue;
            }
            None => {}
        }
        let Some(bytes) = read_found(&path, MAX_BUNDLE_BYTES, &mut report) else {
            continue;
        };
        if hex(&Sha256::digest(&bytes)) != stem {
            // Not what its name promises, yet: the start of a bundle is a file still being
            // written or copied, and is read again at every sync until it is whole. Nothing
            // about it is remembered: it may change.
            match bundle::shape(&bytes) {
                bundle::Shape::Incomplete { expected } => report.held.push((
                    path,
                    Imported::Incomplete {
                        size: bytes.len() as u64,
                        expected,
                    },
                )),
                bundle::Shape::NotBundle => report
                    .refused
                    .push((path, t!("sync.not_bundle").into_owned())),
                bundle::Shape::Whole => report
                    .refused
                    .push((path, t!("sync.name_not_hash").into_owned())),
            }
            continue;
        }
        let outcome = parse_bundle(bytes, &path).and_then(|parsed| {
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
            Ok((held @ Imported::Held { .. }, _)) => {
                if let Imported::Held {
                    roster_version,
                    verified: true,
                    ..
                } = held
                {
                    report.export_held = report.export_held.max(Some(roster_version));
                }
                report.held.push((path, held));
            }
            Ok((outcome, _)) => {
                if let Imported::Merged { stats, .. } = &outcome {
                    report.erased += stats.erased;
                }
                report.imported.push((path, outcome))
            }
            Err(Error::BundleRefused { reason, .. }) => {
                // Whole and named after its bytes, so it never changes: remembered (up to
                // a cap) with the roster version, as a newer roster may know its author.
                if keep_refusal(&seen, &stem, &mut kept) {
                    marks.push((stem, REFUSED_MARK.into(), String::new(), 0, "refused"));
                }
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
    let may_send = report.export_held.is_none();
    if may_send {
        let (exported, only_me) = export_as(session, &me, dir, None)?;
        report.exported = exported;
        report.only_me = only_me;
    }
    forget::forget(session, &me, dir, &present, may_send, &mut report.forget)?;
    report.held_erasures = session.store().held_erasures()?;
    report.orphaned = session.store().orphaned()?;
    Ok(report)
}

/// Test-vector and fuzzing access to the bundle format (`kluis::internals`): sealing ops as
/// any author, writing a bundle in either format with any header, opening one.
#[cfg(feature = "internals")]
pub mod raw {
    use super::*;

    /// Seals ops of one dossier as `author` with `signing`.
    pub fn seal(signing: &SigningKey, author: &str, client: &str, ops: &[Op]) -> Seal {
        let refs: Vec<&Op> = ops.iter().collect();
        bundle::seal_to_wire(&bundle::make_seal(signing, author, client, &refs))
    }

    /// The payload kind of a format.
    pub fn payload_kind(version: Version) -> String {
        bundle::payload_kind_of(version).to_owned()
    }

    /// A whole bundle file.
    pub fn write(
        version: Version,
        signing: &SigningKey,
        header: Header,
        payload: &Payload,
        keys: &[age::x25519::Recipient],
    ) -> Result<Vec<u8>> {
        bundle::write_as(version, signing, header, payload, keys)
    }

    /// A vault's device keys (tests scan the share with every key they hold).
    pub fn device_keys(store: &Store) -> Result<(age::x25519::Identity, SigningKey)> {
        let m = me(store, Path::new("vault"))?;
        Ok((m.x25519, m.signing))
    }

    /// A signed acknowledgement file in `worker`'s name, signed with `signing`, claiming
    /// device key `key` (tests forge them).
    pub fn ack_file(
        signing: &SigningKey,
        worker: &str,
        key: &str,
        org_public_key: &str,
        merged: Vec<String>,
    ) -> Result<Vec<u8>> {
        ack::write(
            signing,
            &ack::Ack {
                kind: ack::ACK_MAGIC.into(),
                worker: worker.into(),
                key: key.into(),
                org_public_key: org_public_key.into(),
                roster_version: 1,
                created: model::now_utc(),
                merged,
                log_head: None,
            },
        )
    }

    /// A bundle's header and decrypted payload.
    pub fn open(bytes: Vec<u8>, identity: &age::x25519::Identity) -> Result<(Header, Payload)> {
        let p = parse_bundle(bytes, Path::new("bundle"))?;
        let d = age::Decryptor::new(&p.payload[..])
            .map_err(|_| refused(Path::new("bundle"), t!("sync.payload_damaged")))?;
        let mut r = d
            .decrypt(std::iter::once(identity as &dyn age::Identity))
            .map_err(|_| refused(Path::new("bundle"), t!("sync.payload_damaged")))?;
        let mut plain = Vec::new();
        r.read_to_end(&mut plain)
            .map_err(|_| refused(Path::new("bundle"), t!("sync.payload_damaged")))?;
        let payload = bundle::payload_from_plaintext(&plain, Path::new("bundle"))?;
        Ok((p.header, payload))
    }
}

/// What `audit verify --share` found: the log heads this worker's own bundles in a shared
/// folder carry (signed when they were written), against the access log as it is now.
#[derive(Debug, Default, Serialize)]
pub struct LogCheck {
    /// Bundles of this worker that carry a log head.
    pub bundles: usize,
    /// The highest entry number a bundle saw.
    pub highest: u64,
    /// What does not match: entries gone from the end, or entries changed.
    pub problems: Vec<String>,
}

/// Checks the access log against the log heads in this worker's own bundles in `dir`: a
/// bundle written when the log had N entries proves that entry N existed with that hash.
/// Entries cut from the end of the log, which the chain itself cannot show, show here for
/// as long as such a bundle is in the folder.
pub fn check_log_against(session: &Session, dir: &Path) -> Result<LogCheck> {
    let me = me(session.store(), session.path())?;
    let mut out = LogCheck::default();
    let mut heads: Vec<(u64, String, PathBuf)> = Vec::new();
    for (_, path) in share::list(dir, EXTENSION)? {
        // The header is near the start: no need to read a whole bundle.
        let Ok((file, _)) = fsx::open(&path, Follow::No, Owner::Anyone, MAX_BUNDLE_BYTES) else {
            continue;
        };
        let mut start = Vec::new();
        if file
            .take((MAX_HEADER_BYTES + 256) as u64)
            .read_to_end(&mut start)
            .is_err()
        {
            continue;
        }
        let Ok((version, header, line, sig)) = bundle::read_header(&start, &path) else {
            continue;
        };
        // This device's own: an earlier device of the worker (IT issued the id again) kept
        // another log, which this vault never had.
        let own_key = bundle::header_signed_by(version, &line, &sig, &me.public);
        if header.author != me.id || !own_key {
            continue;
        }
        if let Some(head) = header.log_head {
            heads.push((head.seq, head.hash, path));
        }
    }
    // The worker's acknowledgement carries the head too: it stays when the bundles left.
    let ack_path = dir.join(ack::ack_name(&me.id));
    if let Ok(bytes) = fsx::read(&ack_path, Follow::No, Owner::Anyone, ack::MAX_ACK_BYTES)
        && let Ok(a) = ack::verify(&bytes, &me.id, &me.pinned, &me.roster)
        && let Some(head) = a.log_head
    {
        heads.push((head.seq, head.hash, ack_path));
    }
    heads.sort();
    let end = session.store().log_head()?.map_or(0, |(s, _)| s);
    for (seq, hash, path) in heads {
        out.bundles += 1;
        out.highest = out.highest.max(seq);
        match session.store().log_hash_at(seq)? {
            None => out
                .problems
                .push(t!("audit.cut", path = path.display(), seq = seq, end = end).into_owned()),
            Some(h) if h != hash => out
                .problems
                .push(t!("audit.head_differs", path = path.display(), seq = seq).into_owned()),
            Some(_) => {}
        }
    }
    Ok(out)
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

    /// A small bundle, v1 or v2.
    fn small_bundle(version: Version) -> Vec<u8> {
        let signing = SigningKey::from_bytes(&[7; 32]);
        let key = age::x25519::Identity::generate().to_public();
        let header = Header {
            kind: match version {
                Version::V1 => MAGIC_V1,
                Version::V2 => MAGIC,
            }
            .into(),
            id: "01a20581-54c8-7217-9685-a9190cfb6551".into(),
            author: "w001".into(),
            seq: 1,
            created: "2026-11-22T10:00:00Z".into(),
            roster_version: 1,
            org_public_key: "x".into(),
            recipients: vec!["w002".into()],
            payload_sha256: String::new(),
            payload_len: 0,
            log_head: None,
        };
        let payload = Payload {
            kind: bundle::payload_kind_of(version).into(),
            bundle: header.id.clone(),
            ops: vec![op("phone", "w001")],
            notes: Vec::new(),
            blobs: Vec::new(),
            seals: Vec::new(),
        };
        bundle::write_as(version, &signing, header, &payload, &[key]).unwrap()
    }

    /// Every prefix of a bundle, the empty file too, is a file not whole yet (read again,
    /// never refused or remembered); the whole file, one with more bytes, one damaged before
    /// its size shows, and anything else are not.
    #[test]
    fn every_prefix_of_a_bundle_is_incomplete_and_nothing_else_is() {
        for version in [Version::V1, Version::V2] {
            let whole = small_bundle(version);
            for n in 0..whole.len() {
                assert!(
                    matches!(bundle::shape(&whole[..n]), bundle::Shape::Incomplete { .. }),
                    "{version:?} prefix of {n} bytes"
                );
            }
            let past_header = whole.len() - 10;
            assert_eq!(
                bundle::shape(&whole[..past_header]),
                bundle::Shape::Incomplete {
                    expected: Some(whole.len() as u64)
                }
            );
            assert_eq!(bundle::shape(&whole), bundle::Shape::Whole);
            let mut longer = whole.clone();
            longer.extend_from_slice(b"junk");
            assert_eq!(bundle::shape(&longer), bundle::Shape::Whole);
            // A damaged header line can never become whole by growing.
            let mut damaged = whole.clone();
            let at = whole.iter().position(|b| *b == b'\n').unwrap() + 2;
            damaged[at] = b'!';
            assert_eq!(bundle::shape(&damaged), bundle::Shape::Whole);
        }
        for junk in [&b"garbled"[..], b"kluis-bundle/v3\n", b"\x00\x01", b"{}"] {
            assert_eq!(bundle::shape(junk), bundle::Shape::NotBundle, "{junk:?}");
        }
        // A header that claims more than any bundle may hold is not waited for.
        let whole = small_bundle(Version::V2);
        let field = b"\"payload_len\":";
        let at = whole.windows(field.len()).position(|w| w == field).unwrap() + field.len();
        let digits = whole[at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let mut huge = whole[..at].to_vec();
        huge.extend_from_slice((MAX_BUNDLE_BYTES + 1).to_string().as_bytes());
        huge.extend_from_slice(&whole[at + digits..]);
        assert_eq!(
            bundle::shape(&huge[..huge.len() - 10]),
            bundle::Shape::Whole
        );
    }

    #[test]
    fn refusals_are_remembered_up_to_the_cap_and_updated_beyond_it() {
        let mut seen = HashMap::new();
        seen.insert("old".to_owned(), ("refused".to_owned(), 1, String::new()));
        let mut kept = REFUSALS_KEPT - 1;
        assert!(keep_refusal(&seen, "new1", &mut kept));
        assert!(!keep_refusal(&seen, "new2", &mut kept), "over the cap");
        assert!(keep_refusal(&seen, "old", &mut kept), "a row already there");
        assert_eq!(kept, REFUSALS_KEPT);
        // A refusal from before kluis told half-written files apart is read once more.
        assert!(remembered(&seen, "old", 1).is_none());
        seen.insert("new1".into(), ("refused".into(), 1, REFUSED_MARK.into()));
        assert!(matches!(remembered(&seen, "new1", 1), Some(Seen::Refused)));
        assert!(remembered(&seen, "new1", 2).is_none(), "a newer roster");
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
            given_on: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
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
