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

/// The stanza parser, for the fuzz target `stanza` (built under `cargo fuzz` and with `internals`).
#[cfg(any(fuzzing, feature = "internals"))]
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
        // On the stack: a check before every durable edit, no allocation to make and wipe.
        let mut buf = [0u8; STAMP_HEAD];
        let want = STAMP_HEAD.min(meta.len() as usize);
        let mut got = 0;
        while got < want {
            match file.read_at(&mut buf[got..want], got as u64)? {
                0 => break,
                n => got += n,
            }
        }
        let head = &buf[..got];
        Ok(DiskStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            ctime: meta.ctime(),
            ctime_nsec: meta.ctime_nsec(),
            head: sha2::Sha256::digest(head).into(),
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
/// same header parsing, chunk decryption, final-chunk checks and error classification as
/// [`read_with_recovery`], stopping where that hands the bytes to SQLite. For the age test
/// vectors (tests/it/cctv.rs) and for IT tooling; the payload is allocated once at full size.
#[cfg_attr(not(feature = "internals"), allow(dead_code))]
pub(in crate::engine) fn decrypt_with_recovery(
    path: &Path,
    identity: &age::x25519::Identity,
) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let (payload, _) = open_payload(path, identity, |e| {
        matches!(e, DecryptError::NoMatchingKeys).then_some(Finding::WrongPassphrase)
    })?;
    let mut out = zeroize::Zeroizing::new(vec![0u8; payload.size]);
    payload
        .decrypt_into(&mut out)
        .map_err(|_| damaged(path, t!("vault.payload_damaged")))?;
    Ok(out)
}

/// Captures the file key an identity unwraps, so that the payload key can be derived once
/// age has checked the header's MAC with it.
struct KeepFileKey<'a> {
    inner: &'a dyn Identity,
    key: RefCell<Option<zeroize::Zeroizing<[u8; FILE_KEY_BYTES]>>>,
}

impl KeepFileKey<'_> {
    fn keep(
        &self,
        found: Option<std::result::Result<FileKey, DecryptError>>,
    ) -> Option<std::result::Result<FileKey, DecryptError>> {
        if let Some(Ok(k)) = &found {
            let mut copy = zeroize::Zeroizing::new([0u8; FILE_KEY_BYTES]);
            copy.copy_from_slice(k.expose_secret());
            *self.key.borrow_mut() = Some(copy);
        }
        found
    }
}

impl Identity for KeepFileKey<'_> {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<std::result::Result<FileKey, DecryptError>> {
        self.keep(self.inner.unwrap_stanza(stanza))
    }

    fn unwrap_stanzas(
        &self,
        stanzas: &[Stanza],
    ) -> Option<std::result::Result<FileKey, DecryptError>> {
        self.keep(self.inner.unwrap_stanzas(stanzas))
    }
}

/// An age payload whose header age has checked: decrypted by kluis itself, chunk by chunk.
struct Payload {
    file: File,
    /// Offset of the first chunk (after the header and the 16-byte STREAM nonce).
    start: u64,
    /// Bytes from `start` to the end of the file as it was when opened.
    len: u64,
    /// Plaintext size.
    size: usize,
    key: zeroize::Zeroizing<[u8; 32]>,
}

/// age's STREAM nonce for chunk `i`: an 11-byte big-endian counter and the last-chunk flag.
fn chunk_nonce(i: u64, last: bool) -> ring::aead::Nonce {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&i.to_be_bytes());
    n[11] = u8::from(last);
    ring::aead::Nonce::assume_unique_for_key(n)
}

impl Payload {
    /// Decrypts the payload straight into `out` (exactly the plaintext size): each chunk's
    /// ciphertext is read into its place in `out` (its tag beside it) and decrypted there,
    /// the chunks split in two halves for the two cores: STREAM chunks are independent. The
    /// checks are age's: every tag, the last-chunk flag on the last chunk only (a file cut at
    /// a chunk boundary fails it), and nothing after it, read again after decrypting in case
    /// the file changed meanwhile.
    fn decrypt_into(&self, out: &mut [u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "age payload damaged");
        if out.len() != self.size {
            return Err(bad());
        }
        let full = CHUNK + TAG;
        let chunks = self.len.div_ceil(full).max(1);
        // ring's ChaCha20-Poly1305 (BoringSSL's assembly) opens a chunk in about 0.6 of the
        // time of the RustCrypto crate age itself uses, which is most of an unlock's CPU.
        let cipher = ring::aead::LessSafeKey::new(
            ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, &self.key[..])
                .map_err(|_| bad())?,
        );
        let plain_len = |j: u64| (self.size as u64).saturating_sub(j * CHUNK).min(CHUNK) as usize;
        // Chunks [first, end) into `dst`, which holds exactly their plaintext.
        let run = |first: u64, end: u64, dst: &mut [u8]| -> io::Result<()> {
            // Eight chunks (512 KiB) per read: few system calls, still in cache to decrypt.
            const BATCH: u64 = 8;
            let mut tags = [[0u8; TAG as usize]; BATCH as usize];
            let mut rest = dst;
            let mut j = first;
            while j < end {
                let batch = (end - j).min(BATCH);
                let mut parts: Vec<&mut [u8]> = Vec::with_capacity(batch as usize);
                for k in 0..batch {
                    let (head, tail) = std::mem::take(&mut rest).split_at_mut(plain_len(j + k));
                    parts.push(head);
                    rest = tail;
                }
                let mut iov: Vec<libc::iovec> = Vec::with_capacity(parts.len() * 2);
                for (part, tag) in parts.iter_mut().zip(tags.iter_mut()) {
                    iov.push(libc::iovec {
                        iov_base: part.as_mut_ptr().cast(),
                        iov_len: part.len(),
                    });
                    iov.push(libc::iovec {
                        iov_base: tag.as_mut_ptr().cast(),
                        iov_len: tag.len(),
                    });
                }
                let want: usize = iov.iter().map(|v| v.iov_len).sum();
                read_vectored_at(&self.file, &mut iov, self.start + j * full, want)?;
                for (k, (part, tag)) in parts.iter_mut().zip(tags.iter()).enumerate() {
                    let n = j + k as u64;
                    cipher
                        .open_in_place_separate_tag(
                            chunk_nonce(n, n == chunks - 1),
                            ring::aead::Aad::empty(),
                            ring::aead::Tag::from(*tag),
                            part,
                            0..,
                        )
                        .map_err(|_| bad())?;
                }
                j += batch;
            }
            if rest.is_empty() { Ok(()) } else { Err(bad()) }
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
        if cores < 2 || chunks < 16 {
            run(0, chunks, out)?;
        } else {
            let half = chunks / 2;
            let (a, b) = out.split_at_mut((half * CHUNK) as usize);
            std::thread::scope(|scope| {
                let second = scope.spawn(|| run(half, chunks, b));
                let first = run(0, half, a);
                let second = second.join().unwrap_or_else(|_| Err(bad()));
                first.and(second)
            })?;
        }
        let mut probe = [0u8; 1];
        if self.file.read_at(&mut probe, self.start + self.len)? != 0 {
            return Err(bad());
        }
        Ok(())
    }
}

/// `preadv` until `want` bytes are in `iov` (short reads continue where they stopped).
fn read_vectored_at(
    file: &File,
    iov: &mut [libc::iovec],
    offset: u64,
    want: usize,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut done = 0usize;
    let mut iov = iov;
    while done < want {
        let count = iov.len().min(1024) as libc::c_int;
        // SAFETY: every iovec points into a live, writable buffer of its length.
        let n = unsafe {
            libc::preadv(
                file.as_raw_fd(),
                iov.as_ptr(),
                count,
                (offset + done as u64) as libc::off_t,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        done += n as usize;
        // Skip what was filled; trim a partly filled buffer.
        let mut n = n as usize;
        while let Some(first) = iov.first_mut() {
            if n >= first.iov_len {
                n -= first.iov_len;
                iov = &mut iov[1..];
            } else {
                // SAFETY: advancing within the same buffer.
                first.iov_base = unsafe { first.iov_base.cast::<u8>().add(n).cast() };
                first.iov_len -= n;
                break;
            }
        }
    }
    Ok(())
}

/// Opens an age file, lets age parse its header and check its MAC with the file key the
/// identity unwraps, and derives the payload key: (payload, stamp).
fn open_payload(
    path: &Path,
    identity: &dyn Identity,
    // What the identity found, given age's error: it decides wrong key (3) or damage (4).
    finding: impl Fn(&DecryptError) -> Option<Finding>,
) -> Result<(Payload, DiskStamp)> {
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
        inner: &file,
        count: count.clone(),
    };
    let decryptor = age::Decryptor::new(counting).map_err(|e| classify(path, e, None))?;
    // The header and the 16-byte STREAM nonce are behind us; the rest is the payload.
    let start = count.get();
    let len = meta
        .len()
        .checked_sub(start)
        .ok_or_else(|| damaged(path, t!("vault.truncated")))?;
    let size = plaintext_size(len)
        .and_then(|s| usize::try_from(s).ok())
        .ok_or_else(|| damaged(path, t!("vault.truncated")))?;
    let keep = KeepFileKey {
        inner: identity,
        key: RefCell::new(None),
    };
    // age checks the header's MAC with the file key; its own stream reader is not used.
    let reader = decryptor
        .decrypt(std::iter::once(&keep as &dyn Identity))
        .map_err(|e| {
            let found = finding(&e);
            classify(path, e, found)
        })?;
    drop(reader);
    let file_key = keep
        .key
        .into_inner()
        .ok_or_else(|| damaged(path, t!("vault.payload_damaged")))?;
    let mut nonce = [0u8; 16];
    {
        use std::os::unix::fs::FileExt;
        file.read_exact_at(&mut nonce, start - 16)
            .map_err(|_| damaged(path, t!("vault.truncated")))?;
    }
    let key = zeroize::Zeroizing::new(hkdf(&nonce, b"payload", &file_key[..]));
    Ok((
        Payload {
            file,
            start,
            len,
            size,
            key,
        },
        stamp,
    ))
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

fn read_with(
    path: &Path,
    identity: &dyn Identity,
    finding: impl Fn(&DecryptError) -> Option<Finding>,
) -> Result<(Store, DiskStamp)> {
    let (payload, stamp) = open_payload(path, identity, finding)?;
    let mut failed = false;
    let image = Store::from_image_with(payload.size, |buf| {
        payload.decrypt_into(buf).inspect_err(|_| failed = true)
    });
    let store = match image {
        Ok(store) => store,
        Err(_) if failed => return Err(damaged(path, t!("vault.payload_damaged"))),
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

/// The folder beside a vault where files kept in its dossiers live: `VAULT.files/`.
pub fn files_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".files");
    path.with_file_name(name)
}

/// Files kept in dossiers, beside the vault (`VAULT.files/ID`): each a standard age file to
/// an X25519 recipient of its own, whose identity only the vault holds (`attachment_key`). A
/// file is written under a temporary name, fsynced, and renamed into place, the folder fsynced
/// too. Without the vault the files are unreadable; with IT's recovery key the vault opens,
/// and with the identity in it stock `age -d` opens the file.
pub struct FileDir {
    dir: PathBuf,
}

impl FileDir {
    /// The file place of the vault at `path`.
    pub fn of(path: &Path) -> FileDir {
        FileDir {
            dir: files_path(path),
        }
    }

    fn file(&self, id: &str) -> Result<PathBuf> {
        // Ids are UUIDs (the registry checks every one that arrives): nothing else names a
        // file here.
        if !crate::model::record::is_id(id) {
            return Err(Error::invalid("id", t!("val.id_chars")));
        }
        Ok(self.dir.join(id))
    }

    fn io(&self, e: io::Error) -> Error {
        Error::io(t!("io.write", path = self.dir.display()).into_owned(), e)
    }

    /// Opens the file of attachment `id` with `key`: a reader of its contents, decrypting one
    /// age chunk at a time (the sealed file is never whole in memory, and age wipes each
    /// chunk), and the sealed file's length; None when the file is not there.
    fn open_file(
        &self,
        id: &str,
        key: &str,
    ) -> Result<Option<(age::stream::StreamReader<io::BufReader<File>>, u64)>> {
        use std::str::FromStr;
        let file = self.file(id)?;
        let (sealed, meta) = match fsx::open(&file, Follow::No, Owner::Us, MAX_VAULT_BYTES) {
            Ok(f) => f,
            Err(fsx::Refusal::Missing) => return Ok(None),
            Err(r) => return Err(r.into_damaged(&file)),
        };
        let identity = age::x25519::Identity::from_str(key)
            .map_err(|_| self.damaged(id, t!("vault.bad_file_key").into_owned()))?;
        let decryptor = age::Decryptor::new_buffered(io::BufReader::with_capacity(
            (CHUNK + TAG) as usize,
            sealed,
        ))
        .map_err(|e| self.damaged(id, e.to_string()))?;
        let reader = decryptor
            .decrypt(std::iter::once(&identity as &dyn Identity))
            .map_err(|e| self.damaged(id, e.to_string()))?;
        Ok(Some((reader, meta.len())))
    }

    fn damaged(&self, id: &str, reason: String) -> Error {
        Error::Damaged {
            path: self.dir.join(id),
            reason,
        }
    }
}

impl crate::store::Files for FileDir {
    fn put(&self, id: &str, data: &[u8]) -> Result<zeroize::Zeroizing<String>> {
        use age::secrecy::ExposeSecret;
        let file = self.file(id)?;
        if !self.dir.exists() {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&self.dir)
                .map_err(|e| self.io(e))?;
        }
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public();
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn Recipient))
                .map_err(|e| Error::Encrypt(e.to_string()))?;
        let tmp = temp_path(&file);
        let out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .map_err(|e| self.io(e))?;
        let mut guard = TempGuard(Some(&tmp));
        // Sealed as it is written, a chunk at a time: no sealed copy of the file in memory.
        let mut w = encryptor
            .wrap_output(BufWriter::with_capacity(1 << 20, out))
            .map_err(|e| Error::Encrypt(e.to_string()))?;
        let out = w
            .write_all(data)
            .and_then(|_| w.finish())
            .and_then(|b| b.into_inner().map_err(|e| e.into_error()))
            .map_err(|e| self.io(e))?;
        // Renamed before the file is synced, so that syncing the file also commits its new
        // name on journaling file systems and the folder's sync after it has little left to
        // do. A crash before both syncs leaves at most a file no kept key opens, which the
        // next unlock removes (`retain`); its key reaches the journal only after both.
        fs::rename(&tmp, &file).map_err(|e| self.io(e))?;
        guard.0 = None;
        out.sync_all().map_err(|e| self.io(e))?;
        sync_dir(&file)?;
        Ok(zeroize::Zeroizing::new(
            identity.to_string().expose_secret().to_owned(),
        ))
    }

    fn get(&self, id: &str, key: &str) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
        let Some((mut reader, sealed_len)) = self.open_file(id, key)? else {
            return Ok(None);
        };
        // Room for all of it at once: a Vec that grows leaves copies of the contents behind.
        let mut out = zeroize::Zeroizing::new(Vec::with_capacity(sealed_len as usize));
        reader
            .read_to_end(&mut out)
            .map_err(|e| self.damaged(id, e.to_string()))?;
        Ok(Some(out))
    }

    fn sha256(&self, id: &str, key: &str) -> Result<Option<String>> {
        use sha2::Digest;
        let Some((mut reader, _)) = self.open_file(id, key)? else {
            return Ok(None);
        };
        let mut hash = sha2::Sha256::new();
        let mut buf = zeroize::Zeroizing::new(vec![0u8; CHUNK as usize]);
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => hash.update(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.damaged(id, e.to_string())),
            }
        }
        Ok(Some(crate::model::hex(&hash.finalize())))
    }

    fn retain(&self, keep: &HashSet<String>) -> Result<usize> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(self.io(e)),
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Only what kluis names here (ids, its own temporary files); anything else is
            // someone's and stays.
            let temp_of = name
                .strip_prefix('.')
                .and_then(|n| n.split_once(".tmp-"))
                .map(|(id, _)| id);
            let ours = crate::model::record::is_id(&name)
                || temp_of.is_some_and(crate::model::record::is_id);
            if ours && !keep.contains(&name) {
                fs::remove_file(entry.path()).map_err(|e| self.io(e))?;
                removed += 1;
            }
        }
        if removed > 0 {
            sync_dir(&self.dir.join("x"))?;
        }
        Ok(removed)
    }
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

    /// A vault of `mb` megabytes, readable with the returned recovery identity.
    fn big_vault(dir: &Path, mb: usize) -> (PathBuf, age::x25519::Identity) {
        let mut store = Store::create("test").unwrap();
        let conn = store.connection();
        // A file kept in the image, as before schema v10: bytes that do not compress.
        conn.execute(
            "INSERT INTO attachment_blob (id, client_id, data)
             VALUES ('0190a0b0-0000-7000-8000-000000000001', 'x', randomblob(?1))",
            [mb as i64 * 1_000_000],
        )
        .unwrap();
        let identity = age::x25519::Identity::generate();
        let key = SealingKey::derive_new(
            &SecretString::from("Zonnebloem-Kraanwater-47".to_owned()),
            WEAK,
        )
        .unwrap();
        let path = dir.join("big.kluis");
        write(
            &path,
            &mut store,
            &key,
            &[identity.to_public()],
            Place::Create,
        )
        .unwrap();
        (path, identity)
    }

    /// What stock age (the library) makes of the file.
    fn age_decrypt(path: &Path, identity: &age::x25519::Identity) -> Option<Vec<u8>> {
        let d = age::Decryptor::new(File::open(path).ok()?).ok()?;
        let mut r = d.decrypt(std::iter::once(identity as &dyn Identity)).ok()?;
        let mut out = Vec::new();
        r.read_to_end(&mut out).ok()?;
        Some(out)
    }

    #[test]
    fn both_cores_decrypt_what_age_decrypts_and_refuse_what_it_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let (path, id) = big_vault(dir.path(), 3);
        let plain = decrypt_with_recovery(&path, &id).unwrap();
        assert!(plain.len() > 3_000_000);
        assert_eq!(Some(&plain[..]), age_decrypt(&path, &id).as_deref());
        let good = std::fs::read(&path).unwrap();
        let payload_start =
            good.len() as u64 - (plain.len() as u64).div_ceil(CHUNK) * TAG - plain.len() as u64;
        let chunks = (plain.len() as u64).div_ceil(CHUNK);
        let chunk_at = |i: u64| (payload_start + i * (CHUNK + TAG)) as usize;
        let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
        for (what, i) in [
            ("first half", 3),
            ("second half", chunks - 3),
            ("last", chunks - 1),
        ] {
            let mut bad = good.clone();
            bad[chunk_at(i) + 100] ^= 1;
            cases.push((what, bad));
        }
        let mut tag = good.clone();
        tag[chunk_at(5) + CHUNK as usize + 3] ^= 0x80;
        cases.push(("a tag", tag));
        // Cut at a chunk boundary: the new last chunk lacks the last-chunk flag.
        cases.push(("cut at a chunk", good[..chunk_at(chunks - 1)].to_vec()));
        cases.push((
            "cut inside a chunk",
            good[..chunk_at(chunks - 1) - 7].to_vec(),
        ));
        let mut longer = good.clone();
        longer.push(0);
        cases.push(("a byte after the end", longer));
        // Two chunks swapped: each is a valid chunk, at the wrong place.
        let mut swapped = good.clone();
        let (a, b) = (chunk_at(2), chunk_at(9));
        let chunk_a = good[a..a + (CHUNK + TAG) as usize].to_vec();
        swapped.copy_within(b..b + (CHUNK + TAG) as usize, a);
        swapped[b..b + (CHUNK + TAG) as usize].copy_from_slice(&chunk_a);
        cases.push(("two chunks swapped", swapped));
        for (what, bytes) in cases {
            std::fs::write(&path, &bytes).unwrap();
            assert!(age_decrypt(&path, &id).is_none(), "{what}: age accepts it");
            assert!(
                matches!(
                    decrypt_with_recovery(&path, &id),
                    Err(Error::Damaged { .. })
                ),
                "{what}"
            );
            assert!(
                matches!(read_with_recovery(&path, &id), Err(Error::Damaged { .. })),
                "{what}"
            );
        }
        std::fs::write(&path, &good).unwrap();
        let (store, _) = read_with_recovery(&path, &id).unwrap();
        assert!(store.integrity_problems().unwrap().is_empty());
    }

    #[test]
    fn default_parameters_stay_strong() {
        assert!(!KdfParams::DEFAULT.is_test_strength());
        assert!(WEAK.is_test_strength());
    }

    #[test]
    fn a_file_kept_beside_the_vault_is_sealed_as_written_and_hashed_a_chunk_at_a_time() {
        use crate::store::Files;
        let dir = tempfile::tempdir().unwrap();
        let files = FileDir::of(&dir.path().join("v.kluis"));
        let id = crate::store::new_id();
        // Several age chunks and a partial one, with a canary in the last.
        let mut data: Vec<u8> = (0..(3 * CHUNK as usize + 1000)).map(|i| i as u8).collect();
        let n = data.len();
        data[n - 20..n - 4].copy_from_slice(b"KANARIE-5f0c2a91");
        let key = files.put(&id, &data).unwrap();
        let sealed = fs::read(dir.path().join("v.kluis.files").join(&id)).unwrap();
        assert!(!sealed.windows(16).any(|w| w == b"KANARIE-5f0c2a91"));
        assert_eq!(files.get(&id, &key).unwrap().unwrap().as_slice(), &data[..]);
        assert_eq!(
            files.sha256(&id, &key).unwrap(),
            Some(crate::model::sha256_hex(&data))
        );
        // No temporary file is left beside it.
        assert_eq!(
            fs::read_dir(dir.path().join("v.kluis.files"))
                .unwrap()
                .count(),
            1
        );
        // A changed byte fails the chunk's tag: damaged, not a wrong hash.
        let mut bad = sealed.clone();
        let last = bad.len() - 30;
        bad[last] ^= 1;
        fs::write(dir.path().join("v.kluis.files").join(&id), &bad).unwrap();
        assert!(matches!(
            files.sha256(&id, &key),
            Err(Error::Damaged { .. })
        ));
        assert_eq!(files.sha256(&crate::store::new_id(), &key).unwrap(), None);
    }
}
