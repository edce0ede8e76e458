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

/// A worker's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A caseworker.
    Worker,
    /// A team lead.
    Lead,
}

/// A worker as the organisation knows them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Worker id, chosen by IT (e.g. an employee number).
    pub id: String,
    /// Full name.
    pub name: String,
    /// Teams.
    pub teams: Vec<String>,
    /// Role.
    pub role: Role,
    /// age X25519 recipient, to receive data.
    pub x25519: String,
    /// Ed25519 public key (base64), to verify what the worker signs.
    pub ed25519: String,
    /// When the keys were issued (UTC, RFC 3339).
    pub issued_at: String,
    /// Last day the membership is valid, if limited.
    pub valid_until: Option<String>,
}

/// A revocation: from `effective_at` on, nothing signed by the worker is accepted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Revocation {
    /// Worker id.
    pub id: String,
    /// From when (UTC, RFC 3339).
    pub effective_at: String,
    /// Why, for the record.
    pub reason: String,
}

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
}

/// The signed roster workers import.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Roster {
    /// Always `kluis-roster/v1`.
    pub kind: String,
    /// Organisation name.
    pub org: String,
    /// The signing key, base64.
    pub org_public_key: String,
    /// Version: a worker accepts only newer ones.
    pub version: u64,
    /// When it was signed.
    pub issued_at: String,
    /// Members.
    pub members: Vec<Member>,
    /// Revocations.
    pub revocations: Vec<Revocation>,
}

/// A document and the organisation's signature over it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Signed {
    /// The JSON document, exactly as signed.
    pub body: String,
    /// Ed25519 signature over SIGN_CONTEXT || body, base64.
    pub signature: String,
}

/// A worker certificate: the member entry, signed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Certificate {
    /// Always `kluis-worker-cert/v1`.
    pub kind: String,
    /// Organisation name.
    pub org: String,
    /// The signing key, base64.
    pub org_public_key: String,
    /// The worker.
    pub member: Member,
}

/// What an enrollment file holds (sealed under the one-time code).
#[derive(Serialize, Deserialize)]
pub struct Enrollment {
    /// Always `kluis-enrollment/v1`.
    pub kind: String,
    /// Organisation name.
    pub org: String,
    /// The key the worker's vault pins.
    pub org_public_key: String,
    /// Written into every save of the worker's vault.
    pub org_recovery_recipient: String,
    /// The worker.
    pub member: Member,
    /// The worker's X25519 identity (`AGE-SECRET-KEY-1…`).
    pub x25519_identity: String,
    /// The worker's Ed25519 secret key, base64.
    pub ed25519_secret: String,
    /// Signed certificate.
    pub certificate: Signed,
    /// The roster as of enrollment.
    pub roster: Signed,
}

impl Drop for Enrollment {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.x25519_identity.zeroize();
        self.ed25519_secret.zeroize();
    }
}

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

/// Issues keys to a new worker: returns the sealed enrollment file and its one-time code.
pub fn issue(
    dir: &Path,
    pass: &SecretString,
    req: &IssueRequest<'_>,
) -> Result<(Vec<u8>, SecretString)> {
    let IssueRequest {
        id,
        name,
        teams,
        role,
        ref valid_until,
        code_params,
    } = *req;
    let valid_until = valid_until.clone();
    let mut state = load_state(dir)?;
    if state.members.iter().any(|m| m.id == id) {
        return Err(Error::invalid("worker_id", t!("org.id_taken", id = id)));
    }
    let signing = signing_key(dir, pass)?;
    let x25519 = age::x25519::Identity::generate();
    let worker_signing = SigningKey::generate(&mut rand::rngs::OsRng);
    let member = Member {
        id: id.to_owned(),
        name: name.to_owned(),
        teams: teams.to_vec(),
        role,
        x25519: x25519.to_public().to_string(),
        ed25519: BASE64_STANDARD.encode(worker_signing.verifying_key().to_bytes()),
        issued_at: crate::model::now_utc(),
        valid_until,
    };
    state.members.push(member.clone());
    state.version += 1;
    let cert = Certificate {
        kind: "kluis-worker-cert/v1".into(),
        org: state.name.clone(),
        org_public_key: state.public_key.clone(),
        member: member.clone(),
    };
    let enrollment = Enrollment {
        kind: "kluis-enrollment/v1".into(),
        org: state.name.clone(),
        org_public_key: state.public_key.clone(),
        org_recovery_recipient: state.recovery_recipient.clone(),
        member,
        x25519_identity: x25519.to_string().expose_secret().to_owned(),
        ed25519_secret: BASE64_STANDARD.encode(worker_signing.to_bytes()),
        certificate: sign(&signing, to_json(&cert)?),
        roster: sign(&signing, to_json(&roster_of(&state))?),
    };
    let plain =
        Zeroizing::new(serde_json::to_vec(&enrollment).map_err(|e| Error::Encrypt(e.to_string()))?);
    let code = new_code();
    let normalized = normalize_code(code.expose_secret());
    let sealed = vault::seal(&normalized, code_params, &plain)?;
    let mut file = format!(
        "{ENROLL_TAG} {}\n",
        BASE64_STANDARD.encode(enrollment_mac(&normalized, &sealed))
    )
    .into_bytes();
    file.extend_from_slice(&sealed);
    save_state(dir, &state)?;
    Ok((file, code))
}

/// First word of an enrollment file's first line; the MAC follows it.
const ENROLL_TAG: &str = "kluis-enrollment/v2";
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
    if e.kind != "kluis-enrollment/v1" {
        return Err(refused(path, t!("org.not_enrollment")));
    }
    verify(&e.org_public_key, &e.certificate, path)?;
    verify(&e.org_public_key, &e.roster, path)?;
    let cert: Certificate = serde_json::from_str(&e.certificate.body)
        .map_err(|_| refused(path, t!("org.not_enrollment")))?;
    let identity = age::x25519::Identity::from_str(&e.x25519_identity)
        .map_err(|_| refused(path, t!("org.bad_key")))?;
    let secret: [u8; 32] = BASE64_STANDARD
        .decode(&e.ed25519_secret)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| refused(path, t!("org.bad_key")))?;
    let ed_public =
        BASE64_STANDARD.encode(SigningKey::from_bytes(&secret).verifying_key().to_bytes());
    if cert.member != e.member
        || cert.org_public_key != e.org_public_key
        || identity.to_public().to_string() != e.member.x25519
        || ed_public != e.member.ed25519
    {
        return Err(refused(path, t!("org.keys_mismatch")));
    }
    Ok(e)
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
