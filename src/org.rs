//! The organisation, kept offline by IT: its signing key and recovery identity (sealed under
//! the IT passphrase), worker enrollment, revocation and signed, versioned rosters. No server:
//! files travel by hand or through any shared folder. See docs/it-guide.md.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::str::FromStr;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::fsx::{self, Follow, Owner};
use crate::i18n::t;
use crate::secret::{ExposeSecret, SecretString};
use crate::vault::{self, KdfParams};

/// Context prefix of every signature, so a kluis signature means nothing elsewhere.
const SIGN_CONTEXT: &[u8] = b"kluis.nl/v1/signed\0";
/// Files in the organisation directory.
pub const STATE_FILE: &str = "org.json";
/// The organisation's Ed25519 public key, for workers to pin.
pub const PUBLIC_KEY_FILE: &str = "org-public-key.txt";
/// The organisation's age recovery recipient.
pub const RECIPIENT_FILE: &str = "recovery-recipient.txt";
/// The sealed Ed25519 signing key.
pub const SIGNING_KEY_FILE: &str = "signing-key.age";
/// The sealed X25519 recovery identity.
pub const RECOVERY_KEY_FILE: &str = "recovery-key.age";

pub use crate::model::roster::{Member, Reassignment, RetiredKey, Revocation, Role, Roster};

/// The organisation's public state, kept in `org.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrgState {
    /// The organisation's name.
    pub name: String,
    /// Ed25519 public key, base64.
    pub public_key: String,
    /// age recovery recipient.
    pub recovery_recipient: String,
    /// Roster version: bumped by every change.
    pub version: u64,
    /// Everyone ever issued keys.
    pub members: Vec<Member>,
    /// Revocations.
    pub revocations: Vec<Revocation>,
    /// Enrollments waiting for the worker's device to be admitted (`org admit`).
    #[serde(default)]
    pub pending: Vec<Pending>,
    /// Dossiers IT reassigned (`org reassign`).
    #[serde(default)]
    pub reassignments: Vec<Reassignment>,
}

/// An enrollment file IT issued whose device has not been admitted yet: the public half of
/// the one-time key inside it, which signs the worker's device request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    /// Worker id.
    pub id: String,
    /// Ed25519 public key (base64) of the enrollment file's key.
    pub enrollment_key: String,
    /// When the file was issued (UTC, RFC 3339).
    pub issued_at: String,
}

/// A document and the organisation's signature over it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Signed {
    /// The JSON document, exactly as signed.
    pub body: String,
    /// Ed25519 signature over SIGN_CONTEXT || body, base64.
    pub signature: String,
}

/// A worker certificate: the member entry and the key of their enrollment file, signed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Certificate {
    /// Always `kluis-worker-cert/v2`.
    pub kind: String,
    /// Organisation name.
    pub org: String,
    /// The signing key, base64.
    pub org_public_key: String,
    /// The worker (without device keys: those are made on the worker's computer).
    pub member: Member,
    /// Ed25519 public key (base64) of the enrollment file's one-time key.
    pub enrollment_key: String,
}

/// What an enrollment file holds (sealed under the one-time code). No device keys: the
/// worker's computer makes them at enrollment, and IT admits them (`org admit`), so a copy
/// of the file used a second time yields keys the roster never lists.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrollment {
    /// Always `kluis-enrollment/v2`.
    pub kind: String,
    /// Organisation name.
    pub org: String,
    /// The key the worker's vault pins.
    pub org_public_key: String,
    /// Written into every save of the worker's vault.
    pub org_recovery_recipient: String,
    /// The worker.
    pub member: Member,
    /// The enrollment file's one-time Ed25519 secret key, base64: it signs the device
    /// request, and nothing else.
    pub enrollment_secret: String,
    /// Signed certificate.
    pub certificate: Signed,
    /// The roster as of enrollment.
    pub roster: Signed,
}

impl Drop for Enrollment {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.enrollment_secret.zeroize();
    }
}

/// A worker's device asks IT to be admitted: the device's public keys, signed by the
/// enrollment file's one-time key (this came from the file IT issued) and by the device key
/// itself (the device holds it). `org admit` checks both.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRequest {
    /// Always `kluis-device-request/v1`.
    pub kind: String,
    /// A [`RequestBody`] as JSON, exactly as signed.
    pub body: String,
    /// Ed25519 signature by the enrollment key over `REQUEST_CONTEXT || body`, base64.
    pub enrollment_signature: String,
    /// Ed25519 signature by the device key over `PROOF_CONTEXT || body`, base64.
    pub device_signature: String,
}

/// What a device request says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    /// The organisation's key, base64.
    pub org_public_key: String,
    /// Worker id.
    pub worker: String,
    /// The enrollment file's public key, base64.
    pub enrollment_key: String,
    /// The device's age X25519 recipient.
    pub x25519: String,
    /// The device's Ed25519 public key, base64.
    pub ed25519: String,
    /// When the vault was made (UTC, RFC 3339).
    pub created: String,
}

const REQUEST_CONTEXT: &[u8] = b"kluis.nl/v1/device-request\0";
const PROOF_CONTEXT: &[u8] = b"kluis.nl/v1/device-proof\0";

fn refused(path: &Path, reason: impl Into<String>) -> Error {
    Error::NotAuthentic {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::io(t!("io.write", path = path.display()), e)
}

/// Writes a new file (mode 0600); never replaces one.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::FileExists {
                    path: path.to_owned(),
                }
            } else {
                io(path, e)
            }
        })?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| io(path, e))
}

/// Replaces `org.json` atomically (temp file, fsync, rename).
fn save_state(dir: &Path, state: &OrgState) -> Result<()> {
    let path = dir.join(STATE_FILE);
    let tmp = vault::temp_path(&path);
    let json = serde_json::to_vec_pretty(state).map_err(|e| Error::Encrypt(e.to_string()))?;
    write_new(&tmp, &json)?;
    fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
    vault::sync_dir(&path)
}

/// Largest organisation file (org.json with its roster, an enrollment) read.
const MAX_ORG_FILE: u64 = 16 << 20;

/// Reads a file in the organisation's folder: never through a link, never a special file.
fn read_org_file(path: &Path) -> Result<Vec<u8>> {
    fsx::read(path, Follow::No, Owner::Anyone, MAX_ORG_FILE).map_err(|r| r.into_damaged(path))
}

/// Reads `org.json`.
pub fn load_state(dir: &Path) -> Result<OrgState> {
    let path = dir.join(STATE_FILE);
    let bytes = match fsx::read(&path, Follow::No, Owner::Anyone, MAX_ORG_FILE) {
        Ok(b) => b,
        Err(fsx::Refusal::Missing) => {
            return Err(Error::NoOrg {
                path: dir.to_owned(),
            });
        }
        Err(r) => return Err(r.into_damaged(&path)),
    };
    serde_json::from_slice(&bytes).map_err(|e| refused(&path, e.to_string()))
}

fn sign(key: &SigningKey, body: String) -> Signed {
    let mut msg = SIGN_CONTEXT.to_vec();
    msg.extend_from_slice(body.as_bytes());
    Signed {
        body,
        signature: BASE64_STANDARD.encode(key.sign(&msg).to_bytes()),
    }
}

/// Parses a base64 Ed25519 public key.
pub fn public_key(b64: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = BASE64_STANDARD.decode(b64.trim()).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// Checks a signature by the organisation with public key `org` (base64).
pub fn verify(org: &str, doc: &Signed, path: &Path) -> Result<()> {
    let key = public_key(org).ok_or_else(|| refused(path, t!("org.bad_key")))?;
    let sig: [u8; 64] = BASE64_STANDARD
        .decode(&doc.signature)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| refused(path, t!("org.bad_signature")))?;
    let mut msg = SIGN_CONTEXT.to_vec();
    msg.extend_from_slice(doc.body.as_bytes());
    key.verify(&msg, &ed25519_dalek::Signature::from_bytes(&sig))
        .map_err(|_| refused(path, t!("org.bad_signature")))
}

fn unseal_file(dir: &Path, name: &str, pass: &SecretString) -> Result<Zeroizing<Vec<u8>>> {
    let path = dir.join(name);
    let bytes = read_org_file(&path)?;
    vault::unseal(pass, &bytes, &path)
}

fn signing_key(dir: &Path, pass: &SecretString) -> Result<SigningKey> {
    let path = dir.join(SIGNING_KEY_FILE);
    let secret = unseal_file(dir, SIGNING_KEY_FILE, pass)?;
    let bytes: Zeroizing<Vec<u8>> = Zeroizing::new(
        BASE64_STANDARD
            .decode(&secret[..])
            .map_err(|_| refused(&path, t!("org.bad_key")))?,
    );
    let arr: &[u8; 32] = bytes[..]
        .try_into()
        .map_err(|_| refused(&path, t!("org.bad_key")))?;
    Ok(SigningKey::from_bytes(arr))
}

/// Unseals the organisation's recovery identity (for `org recover`, and for IT's own use
/// with stock `age`).
pub fn recovery_identity(dir: &Path, pass: &SecretString) -> Result<age::x25519::Identity> {
    let path = dir.join(RECOVERY_KEY_FILE);
    let secret = unseal_file(dir, RECOVERY_KEY_FILE, pass)?;
    let text = std::str::from_utf8(&secret).map_err(|_| refused(&path, t!("org.bad_key")))?;
    age::x25519::Identity::from_str(text.trim()).map_err(|_| refused(&path, t!("org.bad_key")))
}

/// Creates the organisation in `dir` (which must not hold one yet).
pub fn init(dir: &Path, name: &str, pass: &SecretString, params: KdfParams) -> Result<OrgState> {
    if dir.join(STATE_FILE).exists() {
        return Err(Error::FileExists {
            path: dir.join(STATE_FILE),
        });
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(t!("io.mkdir", path = dir.display()), e))?;
    let signing = SigningKey::generate(&mut rand::rngs::OsRng);
    let recovery = age::x25519::Identity::generate();
    let state = OrgState {
        name: name.to_owned(),
        public_key: BASE64_STANDARD.encode(signing.verifying_key().to_bytes()),
        recovery_recipient: recovery.to_public().to_string(),
        version: 1,
        members: Vec::new(),
        revocations: Vec::new(),
        pending: Vec::new(),
        reassignments: Vec::new(),
    };
    let signing_b64 = Zeroizing::new(BASE64_STANDARD.encode(signing.to_bytes()));
    write_new(
        &dir.join(SIGNING_KEY_FILE),
        &vault::seal(pass, params, signing_b64.as_bytes())?,
    )?;
    let recovery_text = recovery.to_string();
    write_new(
        &dir.join(RECOVERY_KEY_FILE),
        &vault::seal(pass, params, recovery_text.expose_secret().as_bytes())?,
    )?;
    write_new(
        &dir.join(PUBLIC_KEY_FILE),
        format!("{}\n", state.public_key).as_bytes(),
    )?;
    write_new(
        &dir.join(RECIPIENT_FILE),
        format!("{}\n", state.recovery_recipient).as_bytes(),
    )?;
    save_state(dir, &state)?;
    Ok(state)
}

fn roster_of(state: &OrgState) -> Roster {
    Roster {
        kind: "kluis-roster/v1".into(),
        org: state.name.clone(),
        org_public_key: state.public_key.clone(),
        version: state.version,
        issued_at: crate::model::now_utc(),
        members: state.members.clone(),
        revocations: state.revocations.clone(),
        reassignments: state.reassignments.clone(),
    }
}

/// JSON text of a document kluis writes, with kluis's error.
pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Encrypt(e.to_string()))
}

/// The current roster, signed.
pub fn signed_roster(dir: &Path, pass: &SecretString) -> Result<Signed> {
    let state = load_state(dir)?;
    let key = signing_key(dir, pass)?;
    Ok(sign(&key, to_json(&roster_of(&state))?))
}

/// Crockford's base32 alphabet: no I, L, O or U to misread.
const CODE_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A one-time enrollment code: 20 characters (100 bits) in groups of four.
pub fn new_code() -> SecretString {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| CODE_ALPHABET[(*b & 31) as usize] as char)
        .collect();
    let code = chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-");
    SecretString::from(code)
}

/// Normalizes a typed code: case, dashes and spaces do not matter; I/L read as 1, O as 0.
pub fn normalize_code(typed: &str) -> SecretString {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            other => other,
        })
        .collect();
    SecretString::from(code)
}

/// Who gets keys, for [`issue`].
pub struct IssueRequest<'a> {
    /// Worker id.
    pub id: &'a str,
    /// Full name.
    pub name: &'a str,
    /// Teams.
    pub teams: &'a [String],
    /// Role.
    pub role: Role,
    /// Last valid day.
    pub valid_until: Option<String>,
    /// KDF parameters for sealing the enrollment file under its code.
    pub code_params: KdfParams,
}

/// Issues a new worker: returns the sealed enrollment file and its one-time code. The file
/// holds no device keys: the worker's computer makes them at enrollment (see [`Enrollment`]).
pub fn issue(
    dir: &Path,
    pass: &SecretString,
    req: &IssueRequest<'_>,
) -> Result<(Vec<u8>, SecretString)> {
    let mut state = load_state(dir)?;
    if state.members.iter().any(|m| m.id == req.id) {
        return Err(Error::invalid("worker_id", t!("org.id_taken", id = req.id)));
    }
    if req.id.starts_with(crate::merge::ORG_AUTHOR) {
        return Err(Error::invalid("worker_id", t!("org.id_reserved")));
    }
    let signing = signing_key(dir, pass)?;
    state.members.push(Member {
        id: req.id.to_owned(),
        name: req.name.to_owned(),
        teams: req.teams.to_vec(),
        role: req.role,
        x25519: String::new(),
        ed25519: String::new(),
        issued_at: crate::model::now_utc(),
        valid_until: req.valid_until.clone(),
        retired: Vec::new(),
    });
    enrollment_file(dir, &mut state, &signing, req.id, req.code_params)
}

/// Issues a worker id again, for a new device (a lost or replaced laptop, or an
/// enrollment file that was used twice): the keys of the device the roster lists now are
/// retired from this moment (nothing they sign from now on counts, and nothing is sent to
/// them), and a new enrollment file is made whose device IT admits as before.
pub fn reissue(
    dir: &Path,
    pass: &SecretString,
    id: &str,
    code_params: KdfParams,
) -> Result<(Vec<u8>, SecretString)> {
    let mut state = load_state(dir)?;
    if state.revocations.iter().any(|r| r.id == id) {
        return Err(Error::invalid(
            "worker_id",
            t!("org.already_revoked", id = id),
        ));
    }
    let signing = signing_key(dir, pass)?;
    let member = state
        .members
        .iter_mut()
        .find(|m| m.id == id)
        .ok_or_else(|| Error::NotFound {
            what: t!("word.worker").into_owned(),
            id: id.to_owned(),
        })?;
    if member.has_device() {
        member.retired.push(RetiredKey {
            x25519: std::mem::take(&mut member.x25519),
            ed25519: std::mem::take(&mut member.ed25519),
            until: crate::model::now_utc(),
        });
    }
    member.x25519.clear();
    member.ed25519.clear();
    enrollment_file(dir, &mut state, &signing, id, code_params)
}

/// Makes the enrollment file for `id` (already in `state.members`): a one-time key whose
/// public half IT keeps as pending, the certificate, the roster; sealed under a new code.
/// Saves the state with the roster version bumped.
fn enrollment_file(
    dir: &Path,
    state: &mut OrgState,
    signing: &SigningKey,
    id: &str,
    code_params: KdfParams,
) -> Result<(Vec<u8>, SecretString)> {
    let one_time = SigningKey::generate(&mut rand::rngs::OsRng);
    let enrollment_key = BASE64_STANDARD.encode(one_time.verifying_key().to_bytes());
    state.pending.retain(|p| p.id != id);
    state.pending.push(Pending {
        id: id.to_owned(),
        enrollment_key: enrollment_key.clone(),
        issued_at: crate::model::now_utc(),
    });
    state.version += 1;
    let member = state
        .members
        .iter()
        .find(|m| m.id == id)
        .expect("the caller put the member in")
        .clone();
    let cert = Certificate {
        kind: "kluis-worker-cert/v2".into(),
        org: state.name.clone(),
        org_public_key: state.public_key.clone(),
        member: member.clone(),
        enrollment_key,
    };
    let enrollment = Enrollment {
        kind: ENROLLMENT_KIND.into(),
        org: state.name.clone(),
        org_public_key: state.public_key.clone(),
        org_recovery_recipient: state.recovery_recipient.clone(),
        member,
        enrollment_secret: BASE64_STANDARD.encode(one_time.to_bytes()),
        certificate: sign(signing, to_json(&cert)?),
        roster: sign(signing, to_json(&roster_of(state))?),
    };
    let plain =
        Zeroizing::new(serde_json::to_vec(&enrollment).map_err(|e| Error::Encrypt(e.to_string()))?);
    drop(enrollment);
    let code = new_code();
    let normalized = normalize_code(code.expose_secret());
    let sealed = vault::seal(&normalized, code_params, &plain)?;
    let mut file = format!(
        "{ENROLL_TAG} {}\n",
        BASE64_STANDARD.encode(enrollment_mac(&normalized, &sealed))
    )
    .into_bytes();
    file.extend_from_slice(&sealed);
    save_state(dir, state)?;
    Ok((file, code))
}

/// The payload kind of an enrollment file.
const ENROLLMENT_KIND: &str = "kluis-enrollment/v2";

/// First word of an enrollment file's first line; the MAC follows it.
const ENROLL_TAG: &str = "kluis-enrollment/v3";
/// The tag of enrollment files that carried the worker's keys (before issue 16): refused.
const ENROLL_TAG_WITH_KEYS: &str = "kluis-enrollment/v2";
const ENROLL_KEY_SALT: &[u8] = b"kluis.nl/v1/enrollment-code";
const ENROLL_KEY_LABEL: &[u8] = b"kluis.nl/v1/enrollment-mac-key";
const ENROLL_MAC_LABEL: &[u8] = b"kluis.nl/v1/enrollment-mac";

/// The MAC that proves an enrollment file was made with its code, checked before anything
/// expensive runs (docs/it-guide.md): `K = HKDF-SHA-256(salt = "kluis.nl/v1/enrollment-code",
/// ikm = code, info = "kluis.nl/v1/enrollment-mac-key")`, then `HKDF-SHA-256(salt = K,
/// ikm = SHA-256(sealed file), info = "kluis.nl/v1/enrollment-mac")`, whose extract step is
/// HMAC-SHA-256 keyed with `K`. The code carries 100 random bits, so a cheap check is as
/// hard to guess against as the code itself.
fn enrollment_mac(normalized_code: &SecretString, sealed: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    let mut key = age_core::primitives::hkdf(
        ENROLL_KEY_SALT,
        ENROLL_KEY_LABEL,
        normalized_code.expose_secret().as_bytes(),
    );
    let digest = sha2::Sha256::digest(sealed);
    let mac = age_core::primitives::hkdf(&key, ENROLL_MAC_LABEL, &digest);
    zeroize::Zeroize::zeroize(&mut key);
    mac
}

/// Splits an enrollment file into its MAC and the sealed enrollment. Nothing is trusted yet.
fn split_enrollment<'a>(bytes: &'a [u8], path: &Path) -> Result<([u8; 32], &'a [u8])> {
    if bytes.starts_with(b"age-encryption.org/") {
        return Err(refused(path, t!("org.enrollment_too_old")));
    }
    if bytes.starts_with(format!("{ENROLL_TAG_WITH_KEYS} ").as_bytes()) {
        return Err(refused(path, t!("org.enrollment_with_keys")));
    }
    let not_one = || refused(path, t!("org.not_enrollment"));
    let end = bytes
        .iter()
        .take(128)
        .position(|b| *b == b'\n')
        .ok_or_else(not_one)?;
    let line = std::str::from_utf8(&bytes[..end]).map_err(|_| not_one())?;
    let b64 = line
        .strip_prefix(ENROLL_TAG)
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or_else(not_one)?;
    // A MAC changed into something that no longer decodes is a changed MAC: it fails the
    // comparison like any other (a tampered file is not told from a wrong code).
    let mac = BASE64_STANDARD
        .decode(b64)
        .ok()
        .and_then(|m| <[u8; 32]>::try_from(m).ok())
        .unwrap_or([0; 32]);
    Ok((mac, &bytes[end + 1..]))
}

/// Revokes a worker from `at` on.
pub fn revoke(dir: &Path, id: &str, reason: &str, at: String) -> Result<()> {
    let mut state = load_state(dir)?;
    if !state.members.iter().any(|m| m.id == id) {
        return Err(Error::NotFound {
            what: t!("word.worker").into_owned(),
            id: id.to_owned(),
        });
    }
    if state.revocations.iter().any(|r| r.id == id) {
        return Err(Error::invalid(
            "worker_id",
            t!("org.already_revoked", id = id),
        ));
    }
    state.revocations.push(Revocation {
        id: id.to_owned(),
        effective_at: at,
        reason: reason.to_owned(),
    });
    state.version += 1;
    save_state(dir, &state)
}

/// Opens an enrollment file with its code and checks that the certificate is the
/// organisation's and matches the keys inside.
///
/// Nothing expensive runs before the file is known to be made with this code: the MAC on
/// its first line is checked first (microseconds), and only then is the Argon2id stanza,
/// within the vault's own caps, opened. A wrong code and a tampered file look the same
/// (exit 3), as a wrong passphrase and a damaged passphrase stanza do for a vault.
pub fn open_enrollment(bytes: &[u8], code: &SecretString, path: &Path) -> Result<Enrollment> {
    let (mac, sealed) = split_enrollment(bytes, path)?;
    let code = normalize_code(code.expose_secret());
    let expected = enrollment_mac(&code, sealed);
    // Compared in constant time: no early exit on the first differing byte.
    if mac
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        != 0
    {
        return Err(Error::WrongCode {
            path: path.to_owned(),
        });
    }
    let plain = vault::unseal(&code, sealed, path).map_err(|e| match e {
        Error::WrongPassphrase => Error::WrongCode {
            path: path.to_owned(),
        },
        Error::Damaged { reason, .. } => refused(path, reason),
        other => other,
    })?;
    check_enrollment(&plain, path)
}

/// Parses an unsealed enrollment and checks it (the part of [`open_enrollment`] after the
/// code opened the file; the fuzz target `enrollment` drives it directly).
pub fn check_enrollment(plain: &[u8], path: &Path) -> Result<Enrollment> {
    let e: Enrollment =
        serde_json::from_slice(plain).map_err(|_| refused(path, t!("org.not_enrollment")))?;
    if e.kind != ENROLLMENT_KIND {
        return Err(refused(path, t!("org.not_enrollment")));
    }
    verify(&e.org_public_key, &e.certificate, path)?;
    verify(&e.org_public_key, &e.roster, path)?;
    let cert: Certificate = serde_json::from_str(&e.certificate.body)
        .map_err(|_| refused(path, t!("org.not_enrollment")))?;
    let one_time =
        secret_key(&e.enrollment_secret).ok_or_else(|| refused(path, t!("org.bad_key")))?;
    let public = BASE64_STANDARD.encode(one_time.verifying_key().to_bytes());
    if cert.kind != "kluis-worker-cert/v2"
        || cert.member != e.member
        || cert.org_public_key != e.org_public_key
        || cert.enrollment_key != public
    {
        return Err(refused(path, t!("org.keys_mismatch")));
    }
    Ok(e)
}

/// An Ed25519 secret key from base64.
fn secret_key(b64: &str) -> Option<SigningKey> {
    let bytes: Zeroizing<Vec<u8>> = Zeroizing::new(BASE64_STANDARD.decode(b64).ok()?);
    let arr: &[u8; 32] = bytes[..].try_into().ok()?;
    Some(SigningKey::from_bytes(arr))
}

/// The request a new device sends IT: its public keys, signed by the enrollment file's
/// one-time key and by the device key itself.
pub fn device_request(
    e: &Enrollment,
    x25519: &age::x25519::Recipient,
    device: &SigningKey,
) -> Result<DeviceRequest> {
    let one_time = secret_key(&e.enrollment_secret).ok_or_else(|| Error::NotAuthentic {
        path: Path::new("enrollment").to_owned(),
        reason: t!("org.bad_key").into_owned(),
    })?;
    let body = to_json(&RequestBody {
        org_public_key: e.org_public_key.clone(),
        worker: e.member.id.clone(),
        enrollment_key: BASE64_STANDARD.encode(one_time.verifying_key().to_bytes()),
        x25519: x25519.to_string(),
        ed25519: BASE64_STANDARD.encode(device.verifying_key().to_bytes()),
        created: crate::model::now_utc(),
    })?;
    let signed = |key: &SigningKey, context: &[u8]| {
        let mut msg = context.to_vec();
        msg.extend_from_slice(body.as_bytes());
        BASE64_STANDARD.encode(key.sign(&msg).to_bytes())
    };
    Ok(DeviceRequest {
        kind: "kluis-device-request/v1".into(),
        enrollment_signature: signed(&one_time, REQUEST_CONTEXT),
        device_signature: signed(device, PROOF_CONTEXT),
        body,
    })
}

/// Checks a device request's form and both signatures (not yet against what IT issued).
pub fn check_request(req: &DeviceRequest, path: &Path) -> Result<RequestBody> {
    let bad = || refused(path, t!("org.not_request"));
    if req.kind != "kluis-device-request/v1" {
        return Err(bad());
    }
    let body: RequestBody = serde_json::from_str(&req.body).map_err(|_| bad())?;
    age::x25519::Recipient::from_str(&body.x25519).map_err(|_| bad())?;
    let check = |key: &str, sig: &str, context: &[u8]| -> Result<()> {
        let key = public_key(key).ok_or_else(bad)?;
        let sig: [u8; 64] = BASE64_STANDARD
            .decode(sig)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(bad)?;
        let mut msg = context.to_vec();
        msg.extend_from_slice(req.body.as_bytes());
        key.verify(&msg, &ed25519_dalek::Signature::from_bytes(&sig))
            .map_err(|_| refused(path, t!("org.bad_signature")))
    };
    check(
        &body.enrollment_key,
        &req.enrollment_signature,
        REQUEST_CONTEXT,
    )?;
    check(&body.ed25519, &req.device_signature, PROOF_CONTEXT)?;
    Ok(body)
}

/// What [`admit`] did with the device requests it read.
#[derive(Debug, Default, Serialize)]
pub struct AdmitReport {
    /// Workers whose device is admitted now: (id, fingerprint).
    pub admitted: Vec<(String, String)>,
    /// Workers with requests from more than one device: (id, fingerprints). None is
    /// admitted until IT chooses one (`--fingerprint`), after checking with the worker.
    pub ambiguous: Vec<(String, Vec<String>)>,
    /// Requests from a second device for an enrollment whose device was admitted already
    /// (a copy of the file used again): (id, fingerprint). Never admitted.
    pub second_devices: Vec<(String, String)>,
    /// Files that are no request of this organisation, or whose signatures fail.
    pub refused: Vec<(std::path::PathBuf, String)>,
    /// The roster version after admitting (unchanged when nobody was admitted).
    pub version: u64,
}

/// Admits the devices of pending enrollments from their requests: for each worker whose
/// enrollment file IT issued and whose device is not admitted yet, the one device that
/// asked (or the one with fingerprint `choose`) gets its keys on the roster. A request
/// signed with an enrollment key IT no longer waits for is a second use of that file.
pub fn admit(
    dir: &Path,
    pass: &SecretString,
    requests: &[(std::path::PathBuf, Vec<u8>)],
    choose: Option<&str>,
) -> Result<AdmitReport> {
    let mut state = load_state(dir)?;
    // Only who holds the IT passphrase admits a device.
    signing_key(dir, pass)?;
    let mut report = AdmitReport::default();
    let mut by_worker: std::collections::BTreeMap<String, Vec<RequestBody>> = Default::default();
    for (path, bytes) in requests {
        let checked = serde_json::from_slice::<DeviceRequest>(bytes)
            .map_err(|_| refused(path, t!("org.not_request")))
            .and_then(|r| check_request(&r, path));
        let body = match checked {
            Ok(b) if b.org_public_key == state.public_key => b,
            Ok(_) => {
                report
                    .refused
                    .push((path.clone(), t!("sync.other_org").into_owned()));
                continue;
            }
            Err(e) => {
                report.refused.push((path.clone(), e.to_string()));
                continue;
            }
        };
        let waiting = state
            .pending
            .iter()
            .any(|p| p.id == body.worker && p.enrollment_key == body.enrollment_key);
        let member = state.members.iter().find(|m| m.id == body.worker);
        if waiting {
            let list = by_worker.entry(body.worker.clone()).or_default();
            if !list.iter().any(|b| b.ed25519 == body.ed25519) {
                list.push(body);
            }
        } else if member.is_some_and(|m| m.ed25519 != body.ed25519) {
            let fp = crate::model::roster::fingerprint(&body.ed25519);
            if !report
                .second_devices
                .contains(&(body.worker.clone(), fp.clone()))
            {
                report.second_devices.push((body.worker.clone(), fp));
            }
        }
    }
    for (worker, bodies) in by_worker {
        let fingerprints: Vec<String> = bodies
            .iter()
            .map(|b| crate::model::roster::fingerprint(&b.ed25519))
            .collect();
        let chosen = match choose {
            Some(fp) => bodies
                .iter()
                .zip(&fingerprints)
                .find(|(_, f)| f.replace('-', "") == fp.replace('-', "").to_lowercase()),
            None if bodies.len() == 1 => Some((&bodies[0], &fingerprints[0])),
            None => None,
        };
        let Some((body, fp)) = chosen else {
            if choose.is_none() {
                report.ambiguous.push((worker, fingerprints));
            }
            continue;
        };
        if let Some(m) = state.members.iter_mut().find(|m| m.id == worker) {
            m.x25519 = body.x25519.clone();
            m.ed25519 = body.ed25519.clone();
            m.issued_at = crate::model::now_utc();
        }
        state.pending.retain(|p| p.id != worker);
        report.admitted.push((worker, fp.clone()));
    }
    if !report.admitted.is_empty() {
        state.version += 1;
        save_state(dir, &state)?;
    }
    report.version = state.version;
    Ok(report)
}

/// Reassigns a dossier to a worker with the organisation's key: a roster entry every vault
/// applies (the worker is assigned from `at` on, whoever else is or was).
pub fn reassign(dir: &Path, client: &str, to: &str, reason: &str, at: String) -> Result<()> {
    let mut state = load_state(dir)?;
    if !crate::model::record::is_id(client) {
        return Err(Error::invalid(
            "client_id",
            t!("org.not_a_dossier_id", id = client),
        ));
    }
    if !state.members.iter().any(|m| m.id == to) {
        return Err(Error::NotFound {
            what: t!("word.worker").into_owned(),
            id: to.to_owned(),
        });
    }
    if state.revocations.iter().any(|r| r.id == to) {
        return Err(Error::invalid(
            "worker_id",
            t!("org.already_revoked", id = to),
        ));
    }
    state.reassignments.push(Reassignment {
        client: client.to_owned(),
        to: to.to_owned(),
        at,
        reason: reason.to_owned(),
    });
    state.version += 1;
    save_state(dir, &state)
}

/// Checks a roster against the pinned organisation key and returns it.
pub fn verify_roster(pinned: &str, doc: &Signed, path: &Path) -> Result<Roster> {
    verify(pinned, doc, path)?;
    let roster: Roster =
        serde_json::from_str(&doc.body).map_err(|_| refused(path, t!("org.not_roster")))?;
    if roster.kind != "kluis-roster/v1" || roster.org_public_key != pinned {
        return Err(refused(path, t!("org.not_roster")));
    }
    Ok(roster)
}

/// Reads a signed document from a file the user named (followed if a link; a special file
/// or one over 16 MiB is a usage error).
pub fn read_signed(path: &Path) -> Result<Signed> {
    let bytes = fsx::read(path, Follow::Yes, Owner::Anyone, MAX_ORG_FILE)
        .map_err(|r| r.into_invalid("file", path))?;
    serde_json::from_slice(&bytes).map_err(|_| refused(path, t!("org.not_roster")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_long_and_forgiving() {
        let code = new_code();
        assert_eq!(code.expose_secret().len(), 24);
        let typed = code.expose_secret().to_lowercase().replace('-', " ");
        assert_eq!(
            normalize_code(&typed).expose_secret(),
            code.expose_secret().replace('-', "")
        );
        assert_eq!(normalize_code("il-o0").expose_secret(), "1100");
    }

    #[test]
    fn signatures_bind_the_exact_body() {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let public = BASE64_STANDARD.encode(key.verifying_key().to_bytes());
        let doc = sign(&key, "{\"version\":2}".into());
        assert!(verify(&public, &doc, Path::new("x")).is_ok());
        let tampered = Signed {
            body: "{\"version\":3}".into(),
            ..doc.clone()
        };
        assert!(verify(&public, &tampered, Path::new("x")).is_err());
        let other = SigningKey::generate(&mut rand::rngs::OsRng);
        let other_public = BASE64_STANDARD.encode(other.verifying_key().to_bytes());
        assert!(verify(&other_public, &doc, Path::new("x")).is_err());
    }
}
