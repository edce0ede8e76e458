//! The encrypted, append-only journal beside a vault (`vault.kluis.journal`): one record per
//! committed transaction, so an edit is durable after one small write and one fsync. See
//! docs/journal-format.md.
//!
//! The journal key and id live inside the vault, so the journal is only readable together
//! with the vault generation it belongs to. Compaction folds it into a new generation.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use rand::RngCore;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::fsx::{self, Follow, Owner};
use crate::i18n::t;
use crate::model::hex;
use crate::secret::{ExposeSecret, SecretBox};

/// First bytes of every journal.
pub const MAGIC: &[u8; 8] = b"KLUISJ01";
const ID_LEN: usize = 16;
/// Length of the journal header (magic and id).
pub const HEADER_LEN: u64 = (MAGIC.len() + ID_LEN) as u64;
const AAD_LABEL: &[u8] = b"kluis.nl/v1/journal";
const TAG_LEN: u32 = 16;
/// Largest record accepted; a transaction is far smaller.
pub const MAX_RECORD: u32 = 64 << 20;
/// The journal grows in steps of this many bytes of zeros, written (not just reserved) and
/// synced with the append that needs them, so that the appends in between overwrite blocks
/// the file already has: their `fdatasync` then commits no file size or block allocation,
/// only the record's bytes (docs/journal-format.md, "Grown space").
pub const GROWTH: u64 = 64 << 10;

/// Identifies a journal generation and holds its key. Both are stored in the vault's meta
/// table; a new pair is made at every compaction.
pub struct JournalKey {
    id: [u8; ID_LEN],
    key: SecretBox<[u8; 32]>,
}

impl std::fmt::Debug for JournalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JournalKey({}, [redacted])", self.id_hex())
    }
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl JournalKey {
    /// A fresh random id and key.
    pub fn generate() -> JournalKey {
        let mut id = [0u8; ID_LEN];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let key = SecretBox::init_with_mut(|k: &mut [u8; 32]| rand::rngs::OsRng.fill_bytes(k));
        JournalKey { id, key }
    }

    /// The id as stored in meta.
    pub fn id_hex(&self) -> String {
        hex(&self.id)
    }

    /// The key as stored in meta (wiped when dropped).
    pub fn key_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex(self.key.expose_secret()))
    }

    /// Reads the pair back from meta values.
    pub fn from_hex(id: &str, key: &str) -> Option<JournalKey> {
        let id = unhex::<ID_LEN>(id)?;
        let mut k = unhex::<32>(key)?;
        let key = SecretBox::init_with_mut(|b: &mut [u8; 32]| b.copy_from_slice(&k));
        k.zeroize();
        Some(JournalKey { id, key })
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(self.key.expose_secret().into())
    }
}

// Binds a record to this journal, its position and its length: records cannot be moved,
// dropped from the middle, or replayed into another journal.
fn aad(id: &[u8; ID_LEN], seq: u64, len: u32) -> Vec<u8> {
    let mut a = Vec::with_capacity(AAD_LABEL.len() + ID_LEN + 12);
    a.extend_from_slice(AAD_LABEL);
    a.extend_from_slice(id);
    a.extend_from_slice(&seq.to_le_bytes());
    a.extend_from_slice(&len.to_le_bytes());
    a
}

// The key is new for every journal, so the record number is a unique nonce.
fn nonce(seq: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&seq.to_le_bytes());
    n.into()
}

/// Length of the witness (see [`witness`]).
pub const WITNESS_LEN: usize = 40;
const WITNESS_MAGIC: &[u8; 8] = b"KLUISW01";

/// The witness of a journal, kept at the start of the vault's lock file: `"KLUISW01"`, the
/// journal id, the number of records appended and acknowledged (u64 LE), and the first 8
/// bytes of the SHA-256 of those 32 bytes (a torn write reads as no witness). It is written
/// after every append's `fdatasync` and after every compaction, so it never counts a record
/// the journal does not durably hold: a journal with fewer records than its witness lost
/// acknowledged edits (docs/journal-format.md).
pub fn witness(key: &JournalKey, records: u64) -> [u8; WITNESS_LEN] {
    use sha2::Digest;
    let mut w = [0u8; WITNESS_LEN];
    w[..8].copy_from_slice(WITNESS_MAGIC);
    w[8..24].copy_from_slice(&key.id);
    w[24..32].copy_from_slice(&records.to_le_bytes());
    let check = sha2::Sha256::digest(&w[..32]);
    w[32..].copy_from_slice(&check[..8]);
    w
}

/// The record count a witness vouches for, when it is intact and about the journal of `key`.
pub fn witnessed(bytes: &[u8], key: &JournalKey) -> Option<u64> {
    use sha2::Digest;
    let w: &[u8; WITNESS_LEN] = bytes.get(..WITNESS_LEN)?.try_into().ok()?;
    let check = sha2::Sha256::digest(&w[..32]);
    if &w[..8] != WITNESS_MAGIC || w[32..] != check[..8] || w[8..24] != key.id {
        return None;
    }
    Some(u64::from_le_bytes(w[24..32].try_into().ok()?))
}

/// Largest journal file read: compaction runs past 8 MiB, and one record is at most
/// [`MAX_RECORD`].
pub const MAX_FILE: u64 = (8 << 20) + MAX_RECORD as u64 + 4096;

/// The journal file beside a vault.
pub fn path_for(vault: &Path) -> PathBuf {
    let mut name = vault.file_name().unwrap_or_default().to_os_string();
    name.push(".journal");
    vault.with_file_name(name)
}

/// What was found at the journal's path.
pub enum Found {
    /// No journal file.
    Missing,
    /// A journal of the previous generation, already folded into the vault.
    Stale,
    /// This generation's journal.
    Current(Replay),
}

/// The readable records of the current journal.
pub struct Replay {
    /// Decrypted records, oldest first.
    pub records: Vec<Zeroizing<Vec<u8>>>,
    /// Length of the file up to the end of the last good record.
    pub good_len: u64,
    /// Whether a torn final record (a crash during an append) was dropped. Otherwise
    /// everything after `good_len` is zeros: space the journal grew by for later records.
    pub torn: bool,
}

fn damaged(path: &Path, reason: impl Into<String>) -> Error {
    Error::Damaged {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Reads and decrypts the journal at `path`. `previous_id` is the id of the journal the
/// vault's last compaction replaced (a crash can leave it behind).
pub fn read(path: &Path, key: &JournalKey, previous_id: Option<&str>) -> Result<Found> {
    let bytes = match fsx::read(path, Follow::No, Owner::Us, MAX_FILE) {
        Ok(b) => b,
        Err(fsx::Refusal::Missing) => return Ok(Found::Missing),
        Err(r) => return Err(r.into_damaged(path)),
    };
    if bytes.len() < HEADER_LEN as usize || &bytes[..MAGIC.len()] != MAGIC {
        return Err(damaged(path, t!("journal.not_journal")));
    }
    let id: [u8; ID_LEN] = bytes[MAGIC.len()..HEADER_LEN as usize]
        .try_into()
        .expect("id length");
    if id != key.id {
        // The journal the last compaction replaced, or an empty one left beside a vault that
        // another program swapped: nothing in it is lost by starting afresh.
        if previous_id == Some(hex(&id).as_str()) || bytes.len() == HEADER_LEN as usize {
            return Ok(Found::Stale);
        }
        return Err(damaged(path, t!("journal.other_generation")));
    }
    let cipher = key.cipher();
    let mut records = Vec::new();
    let mut pos = HEADER_LEN as usize;
    let mut seq = 0u64;
    let torn = loop {
        let rest = &bytes[pos..];
        // The end of the records: the file's end, or the zeros it grew by (`GROWTH`), which
        // is also what a crash can leave where an append was going.
        if rest.iter().all(|b| *b == 0) {
            break false;
        }
        if rest.len() < 4 {
            break true;
        }
        let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"));
        // No length, yet other bytes after it: a write into grown space that never completed,
        // whose later sectors reached the disk and whose first did not. It was never
        // acknowledged (its `fdatasync` had not returned).
        if len == 0 {
            break true;
        }
        if !(TAG_LEN..=MAX_RECORD).contains(&len) {
            return Err(damaged(path, t!("journal.bad_record", number = seq)));
        }
        let end = 4 + len as usize;
        if rest.len() < end {
            break true;
        }
        let payload = Payload {
            msg: &rest[4..end],
            aad: &aad(&id, seq, len),
        };
        match cipher.decrypt(&nonce(seq), payload) {
            Ok(plain) => records.push(Zeroizing::new(plain)),
            // The final record failing is what a crash mid-append looks like: nothing but
            // the zeros of grown space may follow it.
            Err(_) if rest[end..].iter().all(|b| *b == 0) => break true,
            Err(_) => return Err(damaged(path, t!("journal.bad_record", number = seq))),
        }
        pos += end;
        seq += 1;
    };
    Ok(Found::Current(Replay {
        records,
        good_len: pos as u64,
        torn,
    }))
}

/// An open journal, appended to by the one writer.
pub struct Journal {
    file: File,
    next_seq: u64,
    /// The end of the last record; the file may be longer by zeros it grew by.
    len: u64,
    /// The file's length: where the next growth starts.
    allocated: u64,
    /// Where it is, and the (device, inode) it had when opened: an append refuses when
    /// another file took its place, since the next unlock would never read this one.
    path: PathBuf,
    identity: (u64, u64),
}

impl Journal {
    /// Creates an empty journal for `key`, atomically replacing whatever is at `path`.
    pub fn create(vault: &Path, key: &JournalKey) -> Result<Journal> {
        let path = path_for(vault);
        let io_err = |e: io::Error| Error::io(t!("io.write", path = path.display()), e);
        let mut header = Vec::with_capacity(HEADER_LEN as usize);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&key.id);
        let (tmp, mut f) = crate::vault::new_temp(vault).map_err(io_err)?;
        // `f` stays open (and its temp name locked) until the rename: see `vault::new_temp`.
        let result = f
            .write_all(&header)
            .and_then(|_| f.sync_all())
            .and_then(|_| fs::rename(&tmp, &path));
        drop(f);
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(io_err(e));
        }
        crate::vault::sync_dir(vault)?;
        Self::open_for_append(vault, HEADER_LEN, 0, false)
    }

    /// Opens the journal to write records after `good_len` bytes. A torn tail is cut off;
    /// zeros after the records (grown space, `torn` false) are kept for the next records.
    pub fn open_for_append(
        vault: &Path,
        good_len: u64,
        next_seq: u64,
        torn: bool,
    ) -> Result<Journal> {
        let path = path_for(vault);
        let io_err = |e: io::Error| Error::io(t!("io.write", path = path.display()), e);
        let (file, meta) = fsx::open_write(&path, MAX_FILE).map_err(|r| match r {
            fsx::Refusal::Io(e) => io_err(e),
            other => other.into_damaged(&path),
        })?;
        let mut allocated = meta.len();
        if torn || allocated < good_len {
            file.set_len(good_len).map_err(io_err)?;
            file.sync_all().map_err(io_err)?;
            allocated = good_len;
        }
        Ok(Journal {
            file,
            next_seq,
            len: good_len,
            allocated,
            path,
            identity: (meta.dev(), meta.ino()),
        })
    }

    /// Writes `record` at the end of the records and syncs it. Into space the file already
    /// has when it fits; otherwise followed by zeros up to the next multiple of [`GROWTH`]
    /// in the same write, and if that much does not fit on the disk, alone (as a plain
    /// append would).
    fn write_record(&mut self, record: &[u8]) -> io::Result<()> {
        let end = self.len + record.len() as u64;
        if end <= self.allocated {
            return self.write_synced(record);
        }
        let grown = end.div_ceil(GROWTH) * GROWTH;
        if grown <= MAX_FILE {
            let mut padded = Vec::with_capacity((grown - self.len) as usize);
            padded.extend_from_slice(record);
            padded.resize((grown - self.len) as usize, 0);
            match self.write_synced(&padded) {
                Ok(()) => {
                    self.allocated = grown;
                    return Ok(());
                }
                // A full disk may still hold the record itself.
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
                    self.file.set_len(self.len)?;
                }
                Err(e) => return Err(e),
            }
        }
        self.write_synced(record)?;
        self.allocated = end;
        Ok(())
    }

    /// Writes `bytes` where the records end, in one `pwrite`, and `fdatasync`s them.
    fn write_synced(&self, bytes: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.file.write_all_at(bytes, self.len)?;
        self.file.sync_data()
    }

    /// Whether the file at the journal's path is still the one this journal writes to.
    fn in_place(&self) -> bool {
        fsx::identity_at(&self.path) == Some(self.identity)
    }

    /// Encrypts `plain` as the next record, writes it after the last one in one write, and
    /// fsyncs. When this returns Ok the record survives a crash.
    pub fn append(&mut self, key: &JournalKey, plain: &[u8], vault: &Path) -> Result<()> {
        let len = plain.len() as u32 + TAG_LEN;
        if len > MAX_RECORD {
            return Err(Error::invalid("text", t!("val.too_long", max = MAX_RECORD)));
        }
        let sealed = key
            .cipher()
            .encrypt(
                &nonce(self.next_seq),
                Payload {
                    msg: plain,
                    aad: &aad(&key.id, self.next_seq, len),
                },
            )
            .map_err(|_| Error::Encrypt("journal record".into()))?;
        let mut record = Vec::with_capacity(4 + sealed.len());
        record.extend_from_slice(&len.to_le_bytes());
        record.extend_from_slice(&sealed);
        let io_err = |e: io::Error| Error::io(t!("io.write", path = path_for(vault).display()), e);
        if !self.in_place() {
            return Err(Error::ChangedOnDisk {
                path: self.path.clone(),
            });
        }
        if let Err(e) = self.write_record(&record) {
            // Cut off what may have landed, so the next append starts on a record boundary,
            // and give the file back the length it had: the same bytes as before (the space
            // it had grown by reads as zeros again, without needing the disk).
            let _ = self.file.set_len(self.len);
            let _ = self.file.set_len(self.allocated);
            return Err(io_err(e));
        }
        // Replaced while we wrote: the record is in a file nobody will read.
        if !self.in_place() {
            let _ = self.file.set_len(self.len);
            self.allocated = self.len;
            return Err(Error::ChangedOnDisk {
                path: self.path.clone(),
            });
        }
        self.len += record.len() as u64;
        self.next_seq += 1;
        Ok(())
    }

    /// Number of records appended since the journal was created.
    pub fn records(&self) -> u64 {
        self.next_seq
    }

    /// Bytes up to the end of the last record (the file may be longer by grown space).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it holds no records.
    pub fn is_empty(&self) -> bool {
        self.next_seq == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, PathBuf, JournalKey) {
        let dir = tempfile::tempdir().unwrap();
        let vault = dir.path().join("v.kluis");
        (dir, vault, JournalKey::generate())
    }

    fn records(vault: &Path, key: &JournalKey) -> (Vec<Vec<u8>>, bool) {
        match read(&path_for(vault), key, None).unwrap() {
            Found::Current(r) => (r.records.iter().map(|r| r.to_vec()).collect(), r.torn),
            _ => panic!("not current"),
        }
    }

    #[test]
    fn records_round_trip_in_order() {
        let (_d, vault, key) = setup();
        let mut j = Journal::create(&vault, &key).unwrap();
        for i in 0..5u8 {
            j.append(&key, &[i; 10], &vault).unwrap();
        }
        let (r, torn) = records(&vault, &key);
        assert_eq!(r, (0..5u8).map(|i| vec![i; 10]).collect::<Vec<_>>());
        assert!(!torn);
        let bytes = fs::read(path_for(&vault)).unwrap();
        assert!(
            !bytes.windows(10).any(|w| w == [3u8; 10]),
            "plaintext in the journal"
        );
    }

    #[test]
    fn a_torn_tail_is_dropped_and_earlier_records_survive() {
        let (_d, vault, key) = setup();
        let mut j = Journal::create(&vault, &key).unwrap();
        j.append(&key, b"een", &vault).unwrap();
        j.append(&key, b"twee", &vault).unwrap();
        let full = fs::read(path_for(&vault)).unwrap();
        assert_eq!(full.len() as u64, GROWTH, "the journal grows in steps");
        let one = HEADER_LEN as usize + 4 + 3 + 16;
        let two = one + 4 + 4 + 16;
        for cut in one + 1..two {
            // Cut short (a plain append cut by a crash), or zeros from the cut on (a crash
            // while writing into grown space): either way the second record is torn.
            fs::write(path_for(&vault), &full[..cut]).unwrap();
            let (r, torn) = records(&vault, &key);
            assert_eq!(r, vec![b"een".to_vec()], "cut at {cut}");
            assert!(torn);
            let mut zeroed = full.clone();
            zeroed[cut..two].fill(0);
            fs::write(path_for(&vault), &zeroed).unwrap();
            let (r, torn) = records(&vault, &key);
            assert_eq!(r, vec![b"een".to_vec()], "zeros from {cut}");
            assert!(torn, "zeros from {cut}");
        }
        // Only zeros where the second record should be: the end of the records, not damage.
        let mut zeros = full[..one].to_vec();
        zeros.extend(std::iter::repeat_n(0u8, 40));
        fs::write(path_for(&vault), &zeros).unwrap();
        assert_eq!(records(&vault, &key), (vec![b"een".to_vec()], false));
        // The second record's sectors on the disk but not its first (the length): torn.
        let mut unordered = full.clone();
        unordered[one..one + 4].fill(0);
        fs::write(path_for(&vault), &unordered).unwrap();
        assert_eq!(records(&vault, &key), (vec![b"een".to_vec()], true));
        // A record that fails with anything but zeros after it is damage, not a crash.
        let mut damaged = full.clone();
        damaged[one + 6] ^= 1;
        damaged[two + 100] = 1;
        fs::write(path_for(&vault), &damaged).unwrap();
        assert!(matches!(
            read(&path_for(&vault), &key, None),
            Err(Error::Damaged { .. })
        ));
        // Appending after a torn tail starts on a record boundary.
        fs::write(path_for(&vault), &full[..one + 5]).unwrap();
        let mut j = Journal::open_for_append(&vault, one as u64, 1, true).unwrap();
        j.append(&key, b"drie", &vault).unwrap();
        assert_eq!(
            records(&vault, &key).0,
            vec![b"een".to_vec(), b"drie".to_vec()]
        );
    }

    /// Appends write into the space the journal grew by, which a reopened journal keeps, and
    /// the file grows by [`GROWTH`] only when a record does not fit.
    #[test]
    fn appends_fill_grown_space_before_the_file_grows_again() {
        let (_d, vault, key) = setup();
        let jpath = path_for(&vault);
        let mut j = Journal::create(&vault, &key).unwrap();
        assert_eq!(fs::metadata(&jpath).unwrap().len(), HEADER_LEN);
        let record = [7u8; 1000];
        let per_step = (GROWTH - HEADER_LEN) / (4 + 1000 + 16);
        for _ in 0..per_step {
            j.append(&key, &record, &vault).unwrap();
            assert_eq!(fs::metadata(&jpath).unwrap().len(), GROWTH);
        }
        let good_len = j.len();
        drop(j);
        let Found::Current(replay) = read(&jpath, &key, None).unwrap() else {
            panic!("not current");
        };
        assert_eq!(
            (replay.records.len() as u64, replay.good_len, replay.torn),
            (per_step, good_len, false)
        );
        let mut j = Journal::open_for_append(&vault, good_len, per_step, false).unwrap();
        assert_eq!(
            fs::metadata(&jpath).unwrap().len(),
            GROWTH,
            "grown space kept"
        );
        j.append(&key, &record, &vault).unwrap();
        assert_eq!(fs::metadata(&jpath).unwrap().len(), 2 * GROWTH);
        let (back, torn) = records(&vault, &key);
        assert_eq!(back.len() as u64, per_step + 1);
        assert!(back.iter().all(|r| r[..] == record[..]) && !torn);
    }

    #[test]
    fn reordered_dropped_or_foreign_records_are_refused() {
        let (_d, vault, key) = setup();
        let mut j = Journal::create(&vault, &key).unwrap();
        for word in [&b"aaaa"[..], b"bbbb", b"cccc"] {
            j.append(&key, word, &vault).unwrap();
        }
        let full = fs::read(path_for(&vault)).unwrap();
        let h = HEADER_LEN as usize;
        let rec = 4 + 4 + 16;
        let (r0, r1, r2) = (
            &full[h..h + rec],
            &full[h + rec..h + 2 * rec],
            &full[h + 2 * rec..h + 3 * rec],
        );
        let header = &full[..h];
        let refused = |body: Vec<u8>| {
            fs::write(path_for(&vault), body).unwrap();
            matches!(
                read(&path_for(&vault), &key, None),
                Err(Error::Damaged { .. })
            )
        };
        assert!(refused([header, r1, r0, r2].concat()), "swapped records");
        assert!(
            refused([header, r0, r2, r2].concat()),
            "dropped from the middle"
        );
        assert!(refused([header, r0, r0, r2].concat()), "replayed record");
        let mut flipped = full.clone();
        flipped[h + 10] ^= 1;
        assert!(refused(flipped), "flipped bit in a middle record");
        fs::write(path_for(&vault), &full).unwrap();
        let other = JournalKey::generate();
        assert!(matches!(
            read(&path_for(&vault), &other, None),
            Err(Error::Damaged { .. })
        ));
        assert!(matches!(
            read(&path_for(&vault), &other, Some(&key.id_hex())),
            Ok(Found::Stale)
        ));
        Journal::create(&vault, &key).unwrap();
        assert!(
            matches!(read(&path_for(&vault), &other, None), Ok(Found::Stale)),
            "an empty orphan is harmless"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Any records come back as written; any cut keeps exactly the records before it.
        #[test]
        fn records_round_trip_and_cuts_keep_a_prefix(
            payloads in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), 0..12),
            cut in 0.0f64..1.0,
        ) {
            let (_d, vault, key) = setup();
            let mut j = Journal::create(&vault, &key).unwrap();
            for p in &payloads {
                j.append(&key, p, &vault).unwrap();
            }
            let (back, torn) = records(&vault, &key);
            proptest::prop_assert_eq!(&back, &payloads);
            proptest::prop_assert!(!torn);
            let full = fs::read(path_for(&vault)).unwrap();
            let at = HEADER_LEN as usize + ((full.len() - HEADER_LEN as usize) as f64 * cut) as usize;
            fs::write(path_for(&vault), &full[..at]).unwrap();
            let (prefix, _) = records(&vault, &key);
            proptest::prop_assert!(prefix.len() <= payloads.len());
            proptest::prop_assert_eq!(&prefix[..], &payloads[..prefix.len()]);
            // Everything that fit entirely before the cut survived.
            let mut end = HEADER_LEN as usize;
            let whole = payloads.iter().take_while(|p| { end += 4 + p.len() + 16; end <= at }).count();
            proptest::prop_assert_eq!(prefix.len(), whole);
        }
    }

    #[test]
    fn keys_survive_their_meta_encoding() {
        let key = JournalKey::generate();
        let back = JournalKey::from_hex(&key.id_hex(), &key.key_hex()).unwrap();
        assert_eq!(back.id, key.id);
        assert_eq!(back.key.expose_secret(), key.key.expose_secret());
        assert!(JournalKey::from_hex("zz", &key.key_hex()).is_none());
        assert!(format!("{key:?}").contains("[redacted]"));
    }
}
