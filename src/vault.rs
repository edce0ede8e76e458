//! The vault file: one age v1 file whose payload is the SQLite image.
//!
//! Header: one `kluis-argon2id` stanza (the passphrase) and zero or more X25519 stanzas
//! (recovery). See docs/vault-format.md. Nothing here draws or prompts.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use age::{DecryptError, EncryptError, Identity, Recipient};
use age_core::format::{FILE_KEY_BYTES, FileKey, Stanza};
use age_core::primitives::{aead_decrypt, aead_encrypt, hkdf};
use base64::Engine;
use base64::prelude::BASE64_STANDARD_NO_PAD;
use rand::RngCore;
use zeroize::Zeroize;

use crate::error::{Error, Result};
use crate::fsx::{self, Follow, Owner};
use crate::i18n::t;
use crate::secret::{ExposeSecret, KdfKey, SecretString};
use crate::store::{ImageError, Store};

/// Tag of the passphrase stanza.
pub const STANZA_TAG: &str = "kluis-argon2id";
/// Prefix of the Argon2id salt, so a kluis key is never the same as another tool's.
const ARGON2_SALT_LABEL: &[u8] = b"kluis.nl/v1/argon2id";
/// HKDF label of the per-save wrapping key.
const WRAP_LABEL: &[u8] = b"kluis.nl/v1/wrap-file-key";
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 16;
/// Stanza body: a fresh random value, then the sealed file key with its tag.
const BODY_LEN: usize = NONCE_LEN + FILE_KEY_BYTES + 16;
/// age STREAM: 64 KiB chunks, each followed by a 16-byte tag; a 16-byte nonce up front.
const CHUNK: u64 = 64 * 1024;
const TAG: u64 = 16;

/// Argon2id cost parameters, as written in the stanza.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl KdfParams {
    /// Defaults for new vaults: about half a second on a 2-core laptop.
    pub const DEFAULT: KdfParams = KdfParams {
        memory_kib: 256 * 1024,
        iterations: 3,
        parallelism: 4,
    };
    /// Largest values accepted from a file, checked before any KDF runs.
    pub const MAX: KdfParams = KdfParams {
        memory_kib: 4 * 1024 * 1024,
        iterations: 32,
        parallelism: 16,
    };
    /// RFC 9106's second recommended option; below it a vault is for testing only.
    pub const RFC9106_LOW: KdfParams = KdfParams {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 1,
    };

    /// Whether these fall below RFC 9106's second recommendation.
    pub fn is_test_strength(&self) -> bool {
        self.memory_kib < Self::RFC9106_LOW.memory_kib
            || self.iterations < Self::RFC9106_LOW.iterations
    }

    /// Checks caps and Argon2's own minimums; the message is localized.
    pub fn check(&self) -> std::result::Result<(), String> {
        let m = Self::MAX;
        if self.memory_kib > m.memory_kib
            || self.iterations > m.iterations
            || self.parallelism > m.parallelism
        {
            return Err(t!("vault.kdf_over_cap").into_owned());
        }
        self.argon2()
            .map(|_| ())
            .map_err(|e| t!("vault.kdf_invalid", error = e).into_owned())
    }

    fn argon2(&self) -> std::result::Result<argon2::Argon2<'static>, argon2::Error> {
        let params =
            argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))?;
        Ok(argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params,
        ))
    }
}

// The defaults the issue promises (256 MiB, t=3, 4 lanes), checked at compile time.
const _: () = assert!(
    KdfParams::DEFAULT.memory_kib >= 256 * 1024
        && KdfParams::DEFAULT.iterations >= 3
        && KdfParams::DEFAULT.parallelism >= 4
);

/// The unlocked passphrase key: what a save needs to seal the next file key.
#[derive(Debug)]
pub struct SealingKey {
    salt: [u8; SALT_LEN],
    params: KdfParams,
    key: KdfKey,
}

impl SealingKey {
    /// Runs Argon2id over the passphrase with a fresh salt.
    pub fn derive_new(passphrase: &SecretString, params: KdfParams) -> Result<SealingKey> {
        params
            .check()
            .map_err(|reason| Error::invalid("kdf_memory", reason))?;
        let mut salt = [0u8; SALT_LEN];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let key = derive(passphrase, &salt, params)
            .map_err(|e| Error::invalid("kdf_memory", e.to_string()))?;
        Ok(SealingKey { salt, params, key })
    }

    /// The KDF parameters in use.
    pub fn params(&self) -> KdfParams {
        self.params
    }

    /// A second copy of the key (locked in memory and wiped when dropped like the first),
    /// for a check that reads the previous generation after the session is gone.
    pub(in crate::engine) fn duplicate(&self) -> SealingKey {
        // Straight into the heap: no copy of the key on the stack.
        let mut bytes = Box::new([0u8; 32]);
        bytes.copy_from_slice(self.key.expose());
        SealingKey {
            salt: self.salt,
            params: self.params,
            key: KdfKey::new(bytes),
        }
    }
}

fn derive(
    passphrase: &SecretString,
    salt: &[u8; SALT_LEN],
    params: KdfParams,
) -> std::result::Result<KdfKey, argon2::Error> {
    let mut full_salt = Vec::with_capacity(ARGON2_SALT_LABEL.len() + SALT_LEN);
    full_salt.extend_from_slice(ARGON2_SALT_LABEL);
    full_salt.extend_from_slice(salt);
    let mut out = Box::new([0u8; 32]);
    params.argon2()?.hash_password_into(
        passphrase.expose_secret().as_bytes(),
        &full_salt,
        &mut out[..],
    )?;
    Ok(KdfKey::new(out))
}

fn wrapping_key(nonce: &[u8], key: &KdfKey) -> [u8; 32] {
    hkdf(nonce, WRAP_LABEL, key.expose())
}

impl Recipient for SealingKey {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> std::result::Result<(Vec<Stanza>, HashSet<String>), EncryptError> {
        // A fresh random value per save gives a fresh wrapping key, so the zero nonce of
        // age-core's AEAD never seals two file keys under one key.
        let mut body = vec![0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut body);
        let mut wrap = wrapping_key(&body, &self.key);
        body.extend_from_slice(&aead_encrypt(&wrap, file_key.expose_secret()));
        wrap.zeroize();
        let p = self.params;
        let stanza = Stanza {
            tag: STANZA_TAG.to_owned(),
            args: vec![
                BASE64_STANDARD_NO_PAD.encode(self.salt),
                p.memory_kib.to_string(),
                p.iterations.to_string(),
                p.parallelism.to_string(),
            ],
            body,
        };
        // No labels: the stanza may sit beside X25519 recovery stanzas.
        Ok((vec![stanza], HashSet::new()))
    }
}

/// What the passphrase identity found, so errors can be told apart after age gives up.
#[derive(Debug)]
enum Finding {
    WrongPassphrase,
    Damaged(String),
}

/// Unwraps the `kluis-argon2id` stanza with a passphrase (or a key already derived for the
/// same salt and parameters, to skip the KDF).
struct PassphraseIdentity<'a> {
    passphrase: Option<&'a SecretString>,
    cached: Option<&'a SealingKey>,
    finding: RefCell<Option<Finding>>,
    unlocked: RefCell<Option<SealingKey>>,
}

/// The stanza parser, for the fuzz target `stanza` (built only under `cargo fuzz`).
#[cfg(fuzzing)]
pub fn fuzz_stanza(args: Vec<String>, body: Vec<u8>) -> std::result::Result<KdfParams, String> {
    let stanza = Stanza {
        tag: STANZA_TAG.to_owned(),
        args,
        body,
    };
    parse_stanza(&stanza).map(|(_, p)| p)
}

fn parse_stanza(stanza: &Stanza) -> std::result::Result<([u8; SALT_LEN], KdfParams), String> {
    let bad = || t!("vault.bad_stanza").into_owned();
    let [salt, m, i, p] = stanza.args.as_slice() else {
        return Err(bad());
    };
    let salt: [u8; SALT_LEN] = BASE64_STANDARD_NO_PAD
        .decode(salt)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or_else(bad)?;
    let num = |s: &str| -> std::result::Result<u32, String> {
        // Canonical decimal only, so one header has one meaning.
        if s.is_empty()
            || s.len() > 10
            || (s.len() > 1 && s.starts_with('0'))
            || !s.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        s.parse().map_err(|_| bad())
    };
    let params = KdfParams {
        memory_kib: num(m)?,
        iterations: num(i)?,
        parallelism: num(p)?,
    };
    params.check()?;
    if stanza.body.len() != BODY_LEN {
        return Err(bad());
    }
    Ok((salt, params))
}

impl Identity for PassphraseIdentity<'_> {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<std::result::Result<FileKey, DecryptError>> {
        if stanza.tag != STANZA_TAG {
            return None;
        }
        let fail = |finding: Finding| {
            *self.finding.borrow_mut() = Some(finding);
            Some(Err(DecryptError::DecryptionFailed))
        };
        let (salt, params) = match parse_stanza(stanza) {
            Ok(v) => v,
            Err(reason) => return fail(Finding::Damaged(reason)),
        };
        let reuse = self.cached.filter(|c| c.salt == salt && c.params == params);
        let derived;
        let key = match (reuse, self.passphrase) {
            (Some(c), _) => &c.key,
            (None, Some(pass)) => match derive(pass, &salt, params) {
                Ok(k) => {
                    derived = k;
                    &derived
                }
                Err(e) => return fail(Finding::Damaged(e.to_string())),
            },
            (None, None) => return fail(Finding::WrongPassphrase),
        };
        let (nonce, sealed) = stanza.body.split_at(NONCE_LEN);
        let mut wrap = wrapping_key(nonce, key);
        let opened = aead_decrypt(&wrap, FILE_KEY_BYTES, sealed);
        wrap.zeroize();
        let Ok(mut bytes) = opened else {
            return fail(Finding::WrongPassphrase);
        };
        let file_key = FileKey::init_with_mut(|fk| fk.copy_from_slice(&bytes));
        bytes.zeroize();
        let key = match reuse {
            Some(c) => KdfKey::new(Box::new(*c.key.expose())),
            None => KdfKey::new(Box::new(*key.expose())),
        };
        *self.unlocked.borrow_mut() = Some(SealingKey { salt, params, key });
        Some(Ok(file_key))
    }

    fn unwrap_stanzas(
        &self,
        stanzas: &[Stanza],
    ) -> Option<std::result::Result<FileKey, DecryptError>> {
        let ours: Vec<&Stanza> = stanzas.iter().filter(|s| s.tag == STANZA_TAG).collect();
        if ours.len() > 1 {
            *self.finding.borrow_mut() =
                Some(Finding::Damaged(t!("vault.two_stanzas").into_owned()));
            return Some(Err(DecryptError::DecryptionFailed));
        }
        ours.first().and_then(|s| self.unwrap_stanza(s))
    }
}

/// Largest vault file kluis opens: far above any real caseload (200 MB of attachments is the
/// benchmark's), and the image must fit in memory. Checked before anything is allocated.
pub const MAX_VAULT_BYTES: u64 = 4 << 30;

/// How much of the file's start [`DiskStamp`] hashes: the age header, whose passphrase stanza
/// has a fresh random value at every save.
const STAMP_HEAD: usize = 4096;

/// Identifies the file a vault was read from, to notice when someone else replaced it or
/// wrote into it. The change time (`ctime`) cannot be set back by a program the way the
/// modification time can, so an overwrite in place that keeps size and mtime is seen too; the
/// hash of the header tells one kluis save from another even on a file system whose times
/// are coarse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
    ctime: i64,
    ctime_nsec: i64,
    head: [u8; 32],
}

impl DiskStamp {
    /// The stamp of an open file, from its descriptor (reads its first bytes with `pread`,
    /// so the file position does not move).
    fn of(file: &File, meta: &fs::Metadata) -> io::Result<DiskStamp> {
        use sha2::Digest;
        use std::os::unix::fs::FileExt;
        let mut head = vec![0u8; STAMP_HEAD.min(meta.len() as usize)];
        let mut got = 0;
        while got < head.len() {
            match file.read_at(&mut head[got..], got as u64)? {
                0 => break,
                n => got += n,
            }
        }
        head.truncate(got);
        Ok(DiskStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            ctime: meta.ctime(),
            ctime_nsec: meta.ctime_nsec(),
            head: sha2::Sha256::digest(&head).into(),
        })
    }

    /// The stamp of the file at `path` now (never through a link: the vault path was resolved
    /// when it was opened).
    pub fn at(path: &Path) -> io::Result<DiskStamp> {
        let (file, meta) =
            fsx::open(path, Follow::No, Owner::Us, MAX_VAULT_BYTES).map_err(|r| match r {
                fsx::Refusal::Io(e) => e,
                fsx::Refusal::Missing => io::ErrorKind::NotFound.into(),
                other => io::Error::other(other.reason()),
            })?;
        DiskStamp::of(&file, &meta)
    }

    /// The same file with the same contents; only its change time moved (a hard link to it
    /// was made or renamed: what keeping the previous generation does).
    fn same_but_ctime(&self, other: &DiskStamp) -> bool {
        DiskStamp {
            ctime: other.ctime,
            ctime_nsec: other.ctime_nsec,
            ..*self
        } == *other
    }
}

/// What a vault path means: a symbolic link is followed once, when the vault is opened, and
/// kluis then works on the real file: it saves, locks and journals beside it, so the link's
/// target is updated in place and the link stays a link (docs/vault-format.md). A path that
/// does not exist (or a dangling link) is `NoVault`.
pub fn resolve(path: &Path) -> Result<PathBuf> {
    let no_vault = || Error::NoVault {
        path: path.to_owned(),
    };
    let meta = path.symlink_metadata().map_err(|_| no_vault())?;
    if !meta.file_type().is_symlink() {
        return Ok(path.to_owned());
    }
    fs::canonicalize(path).map_err(|_| no_vault())
}

/// A freshly read vault.
pub struct Opened {
    /// The database.
    pub store: Store,
    /// The passphrase key, for saving.
    pub key: SealingKey,
    /// The file it came from.
    pub stamp: DiskStamp,
}

/// Counts bytes read, so we know where age's header ended.
struct Counting<R> {
    inner: R,
    count: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Keeps the first IO error that passes through, since SQLite reports it only as "cannot
/// open" and we need to tell the user the file is damaged.
struct ErrorTap<R> {
    inner: R,
    error: Option<io::Error>,
}

impl<R: Read> Read for ErrorTap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            if self.error.is_none() {
                self.error = Some(io::Error::new(e.kind(), e.to_string()));
            }
        })
    }
}

/// Plaintext size of an age STREAM payload of `payload` bytes (after the nonce), or None when
/// no valid payload has that length.
pub fn plaintext_size(payload: u64) -> Option<u64> {
    let full = CHUNK + TAG;
    let chunks = payload.div_ceil(full).max(1);
    let last = payload - (chunks - 1) * full;
    if last < TAG || (chunks > 1 && last == TAG) {
        return None;
    }
    Some(payload - chunks * TAG)
}

fn damaged(path: &Path, reason: impl Into<String>) -> Error {
    Error::Damaged {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Reads and decrypts the vault at `path`, straight into SQLite's memory.
pub(in crate::engine) fn read(
    path: &Path,
    passphrase: Option<&SecretString>,
    cached: Option<&SealingKey>,
) -> Result<Opened> {
    let identity = PassphraseIdentity {
        passphrase,
        cached,
        finding: RefCell::new(None),
        unlocked: RefCell::new(None),
    };
    let (store, stamp) = read_with(path, &identity, |_| identity.finding.borrow_mut().take())?;
    let key = identity
        .unlocked
        .into_inner()
        .ok_or(Error::WrongPassphrase)?;
    Ok(Opened { store, key, stamp })
}

/// Reads the vault with a recovery identity (IT's X25519 key) instead of the passphrase.
/// A key that is not among the vault's recipients is reported as a wrong passphrase (3).
pub(in crate::engine) fn read_with_recovery(
    path: &Path,
    identity: &age::x25519::Identity,
) -> Result<(Store, DiskStamp)> {
    read_with(path, identity, |e| {
        matches!(e, DecryptError::NoMatchingKeys).then_some(Finding::WrongPassphrase)
    })
}

/// Decrypts the file at `path` with a recovery identity and returns its payload, through the
/// same header parsing, stream decryption, final-chunk check and error classification as
/// [`read_with_recovery`], stopping where that hands the bytes to SQLite. For the age test
/// vectors (tests/it/cctv.rs) and for IT tooling; the payload is allocated once at full size.
#[cfg_attr(not(feature = "internals"), allow(dead_code))]
pub(in crate::engine) fn decrypt_with_recovery(
    path: &Path,
    identity: &age::x25519::Identity,
) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let (mut tap, size, _) = open_payload(path, identity, |e| {
        matches!(e, DecryptError::NoMatchingKeys).then_some(Finding::WrongPassphrase)
    })?;
    let mut out = zeroize::Zeroizing::new(vec![0u8; size]);
    if tap.read_exact(&mut out).is_err() {
        return Err(damaged(path, t!("vault.payload_damaged")));
    }
    finish_payload(&mut tap, path)?;
    Ok(out)
}

type PayloadReader = ErrorTap<age::stream::StreamReader<Counting<File>>>;

/// Opens an age file and its payload stream: (reader, plaintext size, stamp).
fn open_payload(
    path: &Path,
    identity: &dyn Identity,
    // What the identity found, given age's error: it decides wrong key (3) or damage (4).
    finding: impl Fn(&DecryptError) -> Option<Finding>,
) -> Result<(PayloadReader, usize, DiskStamp)> {
    let (mut file, meta) =
        fsx::open(path, Follow::No, Owner::Us, MAX_VAULT_BYTES).map_err(|r| match r {
            fsx::Refusal::Missing => Error::NoVault {
                path: path.to_owned(),
            },
            fsx::Refusal::Io(e) => Error::io(t!("io.open", path = path.display()), e),
            other => damaged(path, other.reason()),
        })?;
    let stamp = DiskStamp::of(&file, &meta)
        .map_err(|e| Error::io(t!("io.open", path = path.display()), e))?;
    if !stanza_bodies_are_complete(&mut file) {
        return Err(damaged(path, t!("vault.bad_header")));
    }
    file.rewind()
        .map_err(|e| Error::io(t!("io.open", path = path.display()), e))?;
    let count = std::rc::Rc::new(std::cell::Cell::new(0));
    let counting = Counting {
        inner: file,
        count: count.clone(),
    };
    let decryptor = age::Decryptor::new(counting).map_err(|e| classify(path, e, None))?;
    // The header and the 16-byte STREAM nonce are behind us; the rest is the payload.
    let payload = meta
        .len()
        .checked_sub(count.get())
        .ok_or_else(|| damaged(path, t!("vault.truncated")))?;
    let size = plaintext_size(payload)
        .and_then(|s| usize::try_from(s).ok())
        .ok_or_else(|| damaged(path, t!("vault.truncated")))?;
    let reader = decryptor.decrypt(std::iter::once(identity)).map_err(|e| {
        let found = finding(&e);
        classify(path, e, found)
    })?;
    let tap = ErrorTap {
        inner: reader,
        error: None,
    };
    Ok((tap, size, stamp))
}

/// The age spec ends every stanza body with a line shorter than 64 columns (empty if need be);
/// the age crate (0.12.1) also accepts a body with no final short line, or none at all
/// (C2SP/CCTV `stanza_missing_body`, `stanza_missing_final_line`). kluis holds to the spec:
/// one file, one reading. Looks only at the text header, at most 64 KiB.
fn stanza_bodies_are_complete(file: &mut File) -> bool {
    let mut head = Vec::with_capacity(4096);
    if (&mut *file).take(64 * 1024).read_to_end(&mut head).is_err() {
        return false;
    }
    let Some(end) = head.windows(5).position(|w| w == b"\n--- ") else {
        // No MAC line in reach: age itself reports what is wrong.
        return true;
    };
    let mut in_stanza = false;
    let mut last_full = false;
    for line in head[..end].split(|b| *b == b'\n').skip(1) {
        if line.starts_with(b"-> ") || line == b"->" {
            if in_stanza && last_full {
                return false;
            }
            in_stanza = true;
            // The line after the stanza's first line must be a body line.
            last_full = true;
        } else if in_stanza {
            if line.len() > 64 {
                return false;
            }
            last_full = line.len() == 64;
        }
    }
    !(in_stanza && last_full)
}

/// Reading past the end makes age check the final chunk's "last" flag: a file cut off exactly
/// at a chunk boundary is caught here.
fn finish_payload(tap: &mut PayloadReader, path: &Path) -> Result<()> {
    let mut probe = [0u8; 1];
    match tap.read(&mut probe) {
        Ok(0) => Ok(()),
        Ok(_) | Err(_) => Err(damaged(path, t!("vault.payload_damaged"))),
    }
}

fn read_with(
    path: &Path,
    identity: &dyn Identity,
    finding: impl Fn(&DecryptError) -> Option<Finding>,
) -> Result<(Store, DiskStamp)> {
    let (mut tap, size, stamp) = open_payload(path, identity, finding)?;
    let store = match Store::from_image(&mut tap, size) {
        Ok(store) => store,
        Err(_) if tap.error.is_some() => return Err(damaged(path, t!("vault.payload_damaged"))),
        Err(ImageError::TooNew(v)) => return Err(damaged(path, t!("vault.too_new", version = v))),
        Err(ImageError::NotKluis) => return Err(damaged(path, t!("vault.not_kluis"))),
        Err(ImageError::Foreign(differences)) => {
            return Err(damaged(
                path,
                t!("vault.foreign_schema", what = differences.join("; ")),
            ));
        }
        Err(ImageError::Unreadable(e)) => {
            return Err(damaged(path, t!("vault.not_sqlite", error = e)));
        }
    };
    finish_payload(&mut tap, path)?;
    Ok((store, stamp))
}

/// Seals a small secret (an organisation key, an enrollment file) as an age file with a
/// `kluis-argon2id` stanza: the same format as a vault, with other contents.
pub fn seal(passphrase: &SecretString, params: KdfParams, plaintext: &[u8]) -> Result<Vec<u8>> {
    let key = SealingKey::derive_new(passphrase, params)?;
    let encryptor = age::Encryptor::with_recipients(std::iter::once(&key as &dyn Recipient))
        .map_err(|e| Error::Encrypt(e.to_string()))?;
    let mut out = Vec::new();
    let mut w = encryptor
        .wrap_output(&mut out)
        .map_err(|e| Error::Encrypt(e.to_string()))?;
    w.write_all(plaintext)
        .map_err(|e| Error::Encrypt(e.to_string()))?;
    w.finish().map_err(|e| Error::Encrypt(e.to_string()))?;
    Ok(out)
}

/// Opens what [`seal`] made. `path` names the file in messages. A wrong passphrase is 3;
/// anything else wrong is 4.
pub fn unseal(
    passphrase: &SecretString,
    bytes: &[u8],
    path: &Path,
) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let identity = PassphraseIdentity {
        passphrase: Some(passphrase),
        cached: None,
        finding: RefCell::new(None),
        unlocked: RefCell::new(None),
    };
    let decryptor = age::Decryptor::new(bytes).map_err(|e| classify(path, e, None))?;
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn Identity))
        .map_err(|e| classify(path, e, identity.finding.borrow_mut().take()))?;
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(bytes.len()));
    reader
        .read_to_end(&mut out)
        .map_err(|_| damaged(path, t!("vault.payload_damaged")))?;
    Ok(out)
}

fn classify(path: &Path, e: DecryptError, finding: Option<Finding>) -> Error {
    match (finding, e) {
        (Some(Finding::WrongPassphrase), _) => Error::WrongPassphrase,
        (Some(Finding::Damaged(reason)), _) => damaged(path, reason),
        (None, DecryptError::NoMatchingKeys) => damaged(path, t!("vault.no_stanza")),
        (None, DecryptError::InvalidMac) => damaged(path, t!("vault.header_mac")),
        (None, DecryptError::Io(_)) => damaged(path, t!("vault.truncated")),
        (None, DecryptError::UnknownFormat | DecryptError::InvalidHeader) => {
            damaged(path, t!("vault.not_age"))
        }
        (None, other) => damaged(path, other.to_string()),
    }
}

/// The file beside the vault that holds the previous generation.
pub fn previous_path(path: &Path) -> PathBuf {
    sibling(path, ".prev")
}

/// The lock file beside the vault.
pub fn lock_path(path: &Path) -> PathBuf {
    sibling(path, ".lock")
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn temp_prefix(path: &Path) -> String {
    format!(
        ".{}.tmp-",
        path.file_name().unwrap_or_default().to_string_lossy()
    )
}

pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let mut r = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut r);
    let hex = crate::model::hex(&r);
    path.with_file_name(format!("{}{hex}", temp_prefix(path)))
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Creates the vault's directory (and missing parents) with mode 0700.
pub fn ensure_dir(path: &Path) -> Result<()> {
    let dir = parent(path);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(t!("io.mkdir", path = dir.display()), e))
}

/// A temp file younger than this is left alone by [`remove_stale_temps`] even when no
/// process holds a lock on it: the hard link that keeps the previous generation (see
/// [`keep_previous`]) is renamed microseconds after it is made, but holds no lock of its own.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// Removes temp files that a crashed save left behind. Only call with the write lock held.
///
/// A temp file a live writer is still writing is locked by it (see [`new_temp`]) and kept,
/// as is one made less than a minute ago: if the lock file was deleted while one kluis was
/// saving and a second one started, the second never pulls a file from under the first.
/// Links and special files with a temp name are not kluis's doing and are left alone.
pub fn remove_stale_temps(path: &Path) {
    let prefix = temp_prefix(path);
    let Ok(entries) = fs::read_dir(parent(path)) else {
        return;
    };
    let now = std::time::SystemTime::now();
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(&prefix) {
            continue;
        }
        let candidate = entry.path();
        let Ok((file, meta)) = fsx::open(&candidate, Follow::No, Owner::Us, u64::MAX) else {
            continue;
        };
        let changed = std::time::UNIX_EPOCH
            + std::time::Duration::new(meta.ctime().max(0) as u64, meta.ctime_nsec() as u32);
        let old = now
            .duration_since(changed)
            .is_ok_and(|age| age >= STALE_AFTER);
        if old && file.try_lock().is_ok() {
            let _ = fs::remove_file(&candidate);
        }
    }
}

/// Creates a temp file beside `path` (never through a link, never replacing anything, mode
/// 0600) and locks it for as long as the returned file stays open, so that no other writer's
/// [`remove_stale_temps`] removes it. Keep the file open until it was renamed into place.
pub(crate) fn new_temp(path: &Path) -> io::Result<(PathBuf, File)> {
    let tmp = temp_path(path);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    if let Err(e) = file.try_lock() {
        let _ = fs::remove_file(&tmp);
        return Err(match e {
            fs::TryLockError::Error(e) => e,
            fs::TryLockError::WouldBlock => io::ErrorKind::WouldBlock.into(),
        });
    }
    Ok((tmp, file))
}

pub(crate) fn sync_dir(path: &Path) -> Result<()> {
    let dir = parent(path);
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(t!("io.sync", path = dir.display()), e))
}

/// Deletes the temp file unless the save got far enough to rename it.
struct TempGuard<'a>(Option<&'a Path>);

impl Drop for TempGuard<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            let _ = fs::remove_file(p);
        }
    }
}

/// How a save places the new file.
#[derive(Clone, Copy, Debug)]
pub enum Place {
    /// A new vault: fails if any file exists at the path.
    Create,
    /// Replace the vault that has this stamp, keeping it as the previous generation.
    Replace(DiskStamp),
}

/// Encrypts the store's image to the passphrase key and the recovery recipients, writes it
/// to a temp file, fsyncs, and puts it in place. Returns the new file's stamp.
pub(in crate::engine) fn write(
    path: &Path,
    store: &mut Store,
    key: &SealingKey,
    recovery: &[age::x25519::Recipient],
    place: Place,
) -> Result<DiskStamp> {
    let io_err = |e: io::Error| Error::io(t!("io.write", path = path.display()), e);
    let (tmp, file) = new_temp(path).map_err(io_err)?;
    let mut guard = TempGuard(Some(&tmp));
    let recipients =
        std::iter::once(key as &dyn Recipient).chain(recovery.iter().map(|r| r as &dyn Recipient));
    let encryptor =
        age::Encryptor::with_recipients(recipients).map_err(|e| Error::Encrypt(e.to_string()))?;
    let mut out = encryptor
        .wrap_output(BufWriter::with_capacity(1 << 20, file))
        .map_err(io_err)?;
    {
        // Borrowed straight from SQLite's buffer: no full-size copy on the way to disk.
        let image = store.image()?;
        out.write_all(&image).map_err(io_err)?;
    }
    // Kept open (and so locked) until it is in place: see `new_temp`.
    let file = out
        .finish()
        .map_err(io_err)?
        .into_inner()
        .map_err(|e| io_err(e.into_error()))?;
    file.sync_all().map_err(io_err)?;
    match place {
        Place::Create => {
            // A hard link never replaces an existing file, unlike rename.
            fs::hard_link(&tmp, path).map_err(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => Error::VaultExists {
                    path: path.to_owned(),
                },
                _ => io_err(e),
            })?;
            let _ = fs::remove_file(&tmp);
            guard.0 = None;
        }
        Place::Replace(expected) => {
            if DiskStamp::at(path).ok() != Some(expected) {
                return Err(Error::ChangedOnDisk {
                    path: path.to_owned(),
                });
            }
            keep_previous(path)?;
            fs::rename(&tmp, path).map_err(io_err)?;
            guard.0 = None;
        }
    }
    drop(file);
    sync_dir(path)?;
    DiskStamp::at(path).map_err(io_err)
}

/// Makes the file now at `path` the previous generation, without ever moving the vault
/// away: a hard link (or a copy where links are not supported) renamed over the old one.
pub fn keep_previous(path: &Path) -> Result<()> {
    let io_err = |e: io::Error| Error::io(t!("io.write", path = previous_path(path).display()), e);
    let tmp = temp_path(path);
    if fs::hard_link(path, &tmp).is_ok() {
        let _guard = TempGuard(Some(&tmp));
        return fs::rename(&tmp, previous_path(path)).map_err(io_err);
    }
    let (src, meta) = fsx::open(path, Follow::No, Owner::Us, MAX_VAULT_BYTES)
        .map_err(|r| r.into_damaged(path))?;
    let (copy, mut dst) = new_temp(path).map_err(io_err)?;
    let _guard = TempGuard(Some(&copy));
    io::copy(&mut src.take(meta.len()), &mut dst).map_err(io_err)?;
    dst.sync_all().map_err(io_err)?;
    // `dst` is still open, so the copy stays locked until it is in place.
    fs::rename(&copy, previous_path(path)).map_err(io_err)
}

/// [`keep_previous`] for the vault a session holds (stamp `expected`): refuses if the vault
/// was replaced meanwhile, and returns its stamp afterwards (linking it moved its change
/// time, nothing else).
pub fn keep_previous_stamped(path: &Path, expected: DiskStamp) -> Result<DiskStamp> {
    let changed = || Error::ChangedOnDisk {
        path: path.to_owned(),
    };
    if DiskStamp::at(path).ok() != Some(expected) {
        return Err(changed());
    }
    keep_previous(path)?;
    let now =
        DiskStamp::at(path).map_err(|e| Error::io(t!("io.open", path = path.display()), e))?;
    if !expected.same_but_ctime(&now) {
        return Err(changed());
    }
    Ok(now)
}

/// How long taking the vault lock may wait for another process.
pub const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);

/// The lock file holds at most this much (the journal witness, see `journal::Witness`).
const LOCK_FILE_MAX: u64 = 4096;

/// A held lock on a vault, released on drop.
#[derive(Debug)]
pub struct VaultLock {
    _file: File,
    /// The lock file's path, to notice when it is deleted or replaced while held.
    path: PathBuf,
}

impl VaultLock {
    /// Gives up ownership of the lock's descriptor and marks it to survive `exec`: the
    /// terminal app re-executes itself on lock and must not let go of the vault meanwhile.
    pub fn into_inheritable_fd(self) -> std::os::fd::RawFd {
        use std::os::fd::IntoRawFd;
        let fd = self._file.into_raw_fd();
        // SAFETY: fcntl on a descriptor we own.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
        }
        fd
    }

    /// Takes back a lock descriptor inherited across `exec` (see `into_inheritable_fd`).
    /// Returns None when `fd` is not an open descriptor holding the lock file.
    pub fn from_inherited_fd(path: &Path, fd: std::os::fd::RawFd) -> Option<VaultLock> {
        use std::os::fd::FromRawFd;
        // SAFETY: fcntl only queries; the descriptor is adopted only if it is open.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return None;
        }
        // SAFETY: the descriptor is open and ours from here on.
        let file = unsafe { File::from_raw_fd(fd) };
        // SAFETY: marking our own descriptor close-on-exec again.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        let path = lock_path(&resolve(path).ok()?);
        let lock = VaultLock { _file: file, path };
        lock.is_in_place().then_some(lock)
    }

    /// Whether the lock file at the path is still the one this lock holds. When someone
    /// deletes or replaces it, a second kluis can take a lock on the new file: from then on
    /// neither may write.
    pub fn is_in_place(&self) -> bool {
        match self._file.metadata() {
            Ok(m) => fsx::identity_at(&self.path) == Some((m.dev(), m.ino())),
            Err(_) => false,
        }
    }

    /// Refuses (exit 5) when the lock is no longer in place; see [`VaultLock::is_in_place`].
    pub fn check_in_place(&self) -> Result<()> {
        if self.is_in_place() {
            Ok(())
        } else {
            Err(Error::LockLost {
                path: self.path.clone(),
            })
        }
    }

    /// The first `n` bytes of the lock file (fewer when it is shorter).
    pub fn read_head(&self, n: usize) -> Vec<u8> {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0u8; n];
        let got = self._file.read_at(&mut buf, 0).unwrap_or(0);
        buf.truncate(got);
        buf
    }

    /// Overwrites the start of the lock file with `bytes`, in place (one `pwrite`, no
    /// fsync: see docs/journal-format.md, "The witness"). Only the holder of the
    /// exclusive lock calls this.
    pub fn write_head(&self, bytes: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        self._file.write_all_at(bytes, 0)
    }

    /// Takes the lock beside `path`: exclusive for writers, shared for readers. Waits up to
    /// `LOCK_PATIENCE` for a short command (another `kluis list`, say) to finish; a vault held
    /// open longer is reported as in use. The lock file is never a link or a special file, and
    /// is the user's own (exit 4 otherwise); nothing is ever created through a link.
    pub fn acquire(path: &Path, exclusive: bool) -> Result<VaultLock> {
        // Beside the real file when the vault path is a link (see `resolve`), so every
        // caller, whichever path it was given, takes the same lock.
        let lock = lock_path(&resolve(path).unwrap_or_else(|_| path.to_owned()));
        let deadline = std::time::Instant::now() + LOCK_PATIENCE;
        loop {
            let file = fsx::open_rw_create(&lock, LOCK_FILE_MAX).map_err(|r| match r {
                fsx::Refusal::Io(e) => Error::io(t!("io.lock", path = lock.display()), e),
                other => Error::Damaged {
                    path: lock.clone(),
                    reason: other.reason(),
                },
            })?;
            let taken = if exclusive {
                file.try_lock()
            } else {
                file.try_lock_shared()
            };
            match taken {
                Ok(()) => {
                    let held = VaultLock {
                        _file: file,
                        path: lock.clone(),
                    };
                    // Deleted or replaced between our open and our lock: lock the new one.
                    if held.is_in_place() {
                        return Ok(held);
                    }
                }
                Err(fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(Error::InUse {
                        path: path.to_owned(),
                    });
                }
                Err(fs::TryLockError::Error(e)) => {
                    return Err(Error::io(t!("io.lock", path = lock.display()), e));
                }
            }
            if std::time::Instant::now() >= deadline {
                return Err(Error::InUse {
                    path: path.to_owned(),
                });
            }
        }
    }
}

/// Encrypts `plain` in memory to age recipients (a bundle to colleagues, a disclosure or a
/// file to another organisation): a standard age file that stock `age -d` opens.
pub fn seal_to(recipients: &[age::x25519::Recipient], plain: &[u8]) -> Result<Vec<u8>> {
    let encryptor = age::Encryptor::with_recipients(recipients.iter().map(|k| k as &dyn Recipient))
        .map_err(|e| Error::Encrypt(e.to_string()))?;
    // The payload plus 16 bytes per 64 KiB chunk and room for the header.
    let mut out = Vec::with_capacity(plain.len() + plain.len() / 4096 * 16 + 1024);
    let mut w = encryptor
        .wrap_output(&mut out)
        .map_err(|e| Error::Encrypt(e.to_string()))?;
    w.write_all(plain)
        .and_then(|_| w.finish().map(|_| ()))
        .map_err(|e| Error::Encrypt(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEAK: KdfParams = KdfParams {
        memory_kib: 8 * 1024,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn plaintext_sizes_follow_stream_framing() {
        assert_eq!(plaintext_size(16), Some(0));
        assert_eq!(plaintext_size(15), None);
        assert_eq!(plaintext_size(0), None);
        assert_eq!(plaintext_size(CHUNK + TAG), Some(CHUNK));
        assert_eq!(plaintext_size(CHUNK + TAG + 1), None);
        assert_eq!(plaintext_size(CHUNK + TAG + 16), None);
        assert_eq!(plaintext_size(CHUNK + TAG + 17), Some(CHUNK + 1));
    }

    #[test]
    fn stanza_args_are_checked_before_any_kdf() {
        let stanza = |args: &[&str]| Stanza {
            tag: STANZA_TAG.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            body: vec![0; BODY_LEN],
        };
        let salt = BASE64_STANDARD_NO_PAD.encode([1u8; 16]);
        assert!(parse_stanza(&stanza(&[&salt, "8192", "1", "1"])).is_ok());
        assert!(
            parse_stanza(&stanza(&[&salt, "8388608", "1", "1"])).is_err(),
            "memory over 4 GiB"
        );
        assert!(
            parse_stanza(&stanza(&[&salt, "8192", "33", "1"])).is_err(),
            "iterations over cap"
        );
        assert!(
            parse_stanza(&stanza(&[&salt, "8192", "1", "17"])).is_err(),
            "lanes over cap"
        );
        assert!(
            parse_stanza(&stanza(&[&salt, "08192", "1", "1"])).is_err(),
            "not canonical"
        );
        assert!(
            parse_stanza(&stanza(&[&salt, "8192", "1"])).is_err(),
            "missing arg"
        );
        assert!(
            parse_stanza(&stanza(&["AAAA", "8192", "1", "1"])).is_err(),
            "short salt"
        );
    }

    #[test]
    fn sealing_uses_a_fresh_wrapping_key_each_time() {
        let pass = SecretString::from("Zonnebloem-Kraanwater-47".to_owned());
        let key = SealingKey::derive_new(&pass, WEAK).unwrap();
        let fk = FileKey::new(Box::new([9u8; 16]));
        let (a, _) = key.wrap_file_key(&fk).unwrap();
        let (b, _) = key.wrap_file_key(&fk).unwrap();
        assert_ne!(a[0].body, b[0].body);
        assert_eq!(a[0].args, b[0].args);
        let id = PassphraseIdentity {
            passphrase: Some(&pass),
            cached: None,
            finding: RefCell::new(None),
            unlocked: RefCell::new(None),
        };
        let got = id.unwrap_stanza(&a[0]).unwrap().unwrap();
        assert_eq!(got.expose_secret(), &[9u8; 16]);
        let wrong = SecretString::from("iets anders helemaal".to_owned());
        let id = PassphraseIdentity {
            passphrase: Some(&wrong),
            cached: None,
            finding: RefCell::new(None),
            unlocked: RefCell::new(None),
        };
        assert!(id.unwrap_stanza(&a[0]).unwrap().is_err());
        assert!(matches!(
            *id.finding.borrow(),
            Some(Finding::WrongPassphrase)
        ));
    }

    #[test]
    fn default_parameters_stay_strong() {
        assert!(!KdfParams::DEFAULT.is_test_strength());
        assert!(WEAK.is_test_strength());
    }
}
