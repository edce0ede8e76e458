//! Raw access behind the session's door, for tests, benchmarks and fuzz targets only
//! (feature `internals`): building a vault of 200,000 notes in bulk, or tampering with an
//! image as an attacker holding the IT recovery key would. The command line and the terminal
//! app never use this: CI checks them without the feature (`cargo clippy
//! --no-default-features`), so a call from there does not compile.

use std::path::Path;

use rusqlite::Connection;

use crate::error::Result;
use crate::session::Session;
use crate::store::Store;
use crate::vault::{self, DiskStamp, Opened, Place, SealingKey};

/// The session's store.
pub fn store(session: &Session) -> &Store {
    session.store()
}

/// The store's SQLite connection.
pub fn connection(store: &Store) -> &Connection {
    store.connection()
}

/// The whole plaintext image.
pub fn image(store: &mut Store) -> Result<Vec<u8>> {
    Ok(store.image()?.to_vec())
}

/// A value from the vault's meta table.
pub fn meta(store: &Store, key: &str) -> Result<Option<String>> {
    store.meta(key)
}

/// Runs `f` in one transaction of a store that no session holds (fuzz targets).
pub fn transaction<T>(store: &mut Store, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
    store.transaction(f).map(|(v, _)| v)
}

/// The database checks `check` runs (SQLite's integrity and foreign keys).
pub fn integrity_problems(store: &Store) -> Result<Vec<String>> {
    store.integrity_problems()
}

/// Sets a value in the vault's meta table (inside a change).
pub fn set_meta(store: &Store, key: &str, value: &str) -> Result<()> {
    store.set_meta(key, value)
}

/// Merges ops from a colleague as a bundle would (inside a change).
pub fn merge_ops(
    store: &Store,
    ops: &[crate::merge::Op],
    notes: &[crate::store::NoteRow],
    via: &str,
) -> Result<crate::store::MergeStats> {
    store.merge_ops_from(ops, notes, via, None)
}

/// Appends an access-log entry (inside a change).
pub fn log(
    store: &Store,
    action: crate::model::Action,
    client: Option<&str>,
    detail: &str,
) -> Result<String> {
    store.log(action, client, detail)
}

/// Every dossier with the workers it goes to.
pub fn assignments(store: &Store) -> Result<std::collections::BTreeMap<String, Vec<String>>> {
    store.assignments()
}

/// Adds a recovery recipient to a store that is not saved yet.
pub fn add_recovery_recipient(store: &Store, recipient: &str) -> Result<()> {
    store.add_recovery_recipient(recipient)
}

/// Full-text search, as the session's door runs it but without logging (the search
/// benchmark times the query alone).
pub fn search(
    store: &Store,
    fts_query: &str,
    limit: usize,
) -> Result<Vec<crate::model::SearchHit>> {
    store.search(fts_query, limit)
}

/// The size of the session's image in bytes.
pub fn image_size(session: &Session) -> u64 {
    session
        .store()
        .connection()
        .query_row(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
            |r| r.get(0),
        )
        .unwrap_or(0)
}

/// The schema version the session's image had before it was migrated in memory, if it was.
pub fn migrated_from(session: &Session) -> Option<i32> {
    session.store().migrated_from()
}

/// Lowers the largest image a change may leave, so a test reaches it cheaply.
pub fn set_max_image(session: &Session, bytes: u64) {
    session.store().set_max_image(bytes);
}

/// Opens a vault file (no session, no journal, no access log).
pub fn read(
    path: &Path,
    passphrase: Option<&crate::secret::SecretString>,
    key: Option<&SealingKey>,
) -> Result<Opened> {
    vault::read(path, passphrase, key)
}

/// Opens a vault file with IT's recovery identity.
pub fn read_with_recovery(
    path: &Path,
    identity: &age::x25519::Identity,
) -> Result<(Store, DiskStamp)> {
    vault::read_with_recovery(path, identity)
}

/// Writes a store as a vault file.
pub fn write(
    path: &Path,
    store: &mut Store,
    key: &SealingKey,
    recovery: &[age::x25519::Recipient],
    place: Place,
) -> Result<DiskStamp> {
    vault::write(path, store, key, recovery, place)
}

/// Decrypts any age file with a recovery identity, through the vault's own reader (the
/// age test vectors).
pub fn decrypt_with_recovery(
    path: &Path,
    identity: &age::x25519::Identity,
) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    vault::decrypt_with_recovery(path, identity)
}

/// Creates a worker's vault from an opened enrollment with device keys made elsewhere (the
/// bundle test vectors' fixed test keys; a real enrollment makes them itself).
pub fn create_enrolled_with_keys(
    path: &Path,
    pass: &crate::secret::SecretString,
    params: crate::vault::KdfParams,
    enrollment: &crate::org::Enrollment,
    x25519: &age::x25519::Identity,
    signing: &ed25519_dalek::SigningKey,
) -> Result<Session> {
    crate::sync::create_with_keys(path, pass, params, enrollment, path, x25519, signing)
}

/// Device keys from a test key file (`tests/data/sync/w002.keys.json`: an `x25519` age
/// identity and an `ed25519` secret in base64), for [`create_enrolled_with_keys`].
pub fn device_keys(json: &str) -> Option<(age::x25519::Identity, ed25519_dalek::SigningKey)> {
    use base64::Engine;
    let keys: serde_json::Value = serde_json::from_str(json).ok()?;
    let x = keys["x25519"].as_str()?.parse().ok()?;
    let secret: [u8; 32] = base64::prelude::BASE64_STANDARD
        .decode(keys["ed25519"].as_str()?)
        .ok()?
        .try_into()
        .ok()?;
    Some((x, ed25519_dalek::SigningKey::from_bytes(&secret)))
}

/// The bundle format without the checks: seal, write and open bundles as anyone (test
/// vectors that forge, forward and replay).
pub use crate::sync::raw as bundles;
