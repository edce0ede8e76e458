//! The SQLite database, in memory only. No crypto and no files here: the image comes in
//! through a reader and goes out as a borrowed buffer.

use std::io::Read;

use chrono::{Datelike, NaiveDate};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::error::{Error, Result};
use crate::i18n::t;
use crate::model::{
    Action, Bsn, Client, ClientPatch, Domain, NewClient, NewNote, Note, NoteKind, SearchHit,
    Status, format_datetime, now_utc,
};

/// `PRAGMA application_id` of a kluis database: "klus" in ASCII.
pub const APPLICATION_ID: i32 = 0x6b6c_7573;

/// Numbered migrations, by file name; entry N-1 brings the schema from version N-1 to N. A
/// landed migration never changes again (a test pins each file's SHA-256): a change to the
/// schema is the next number.
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init.sql", include_str!("migrations/0001_init.sql")),
    ("0002_org.sql", include_str!("migrations/0002_org.sql")),
    ("0003_draft.sql", include_str!("migrations/0003_draft.sql")),
    ("0004_sync.sql", include_str!("migrations/0004_sync.sql")),
    (
        "0005_privacy.sql",
        include_str!("migrations/0005_privacy.sql"),
    ),
    ("0006_depth.sql", include_str!("migrations/0006_depth.sql")),
    (
        "0007_repair.sql",
        include_str!("migrations/0007_repair.sql"),
    ),
    (
        "0008_signal.sql",
        include_str!("migrations/0008_signal.sql"),
    ),
    (
        "0009_practice.sql",
        include_str!("migrations/0009_practice.sql"),
    ),
    (
        "0010_attachment_files.sql",
        include_str!("migrations/0010_attachment_files.sql"),
    ),
    (
        "0011_search.sql",
        include_str!("migrations/0011_search.sql"),
    ),
    ("0012_trust.sql", include_str!("migrations/0012_trust.sql")),
    (
        "0013_share_forget.sql",
        include_str!("migrations/0013_share_forget.sql"),
    ),
    (
        "0014_lazy_note_index.sql",
        include_str!("migrations/0014_lazy_note_index.sql"),
    ),
    (
        "0015_note_tally.sql",
        include_str!("migrations/0015_note_tally.sql"),
    ),
];

/// Schema version this build reads and writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// Columns that migrations 0005 gained after it landed, which a vault made before then lacks:
/// migration 7 adds each one that is missing (table, column, definition).
const REPAIRED_COLUMNS: &[(i32, &str, &str, &str)] = &[
    (
        7,
        "consent",
        "special",
        "INTEGER NOT NULL DEFAULT 0 CHECK (special IN (0, 1))",
    ),
    (
        7,
        "draft",
        "special",
        "INTEGER NOT NULL DEFAULT 0 CHECK (special IN (0, 1))",
    ),
];

pub mod changes;
pub mod depth;
mod forget;
mod ops;
mod practice;
mod privacy;
pub mod records;
mod schema;
mod search;
mod trust;

pub(crate) use forget::covers;
pub use forget::{Left, ShareFile};
pub use ops::{BundleMark, MergeStats, NoteRow, OpenConflict};
pub use practice::{NewGroupSession, NewStep};
pub use privacy::RetentionItem;
pub use trust::{HeldErasure, HeldReason, Orphan, SealRow};

use changes::{Cell, RowChange};

/// An open, in-memory kluis database.
pub struct Store {
    conn: Connection,
    /// Rows changed by the transaction in progress; None outside `transaction`.
    changes: std::cell::RefCell<Option<Vec<RowChange>>>,
    /// Encoded bytes of the rows noted in the transaction in progress; None once they passed
    /// `journal_limit`: then the transaction is saved as a new generation instead (see
    /// `take_saved_whole`) and its rows are no longer noted.
    noted: std::cell::Cell<Option<usize>>,
    /// The journal size past which the session compacts anyway (its `COMPACT_THRESHOLD`);
    /// unlimited for a store no session holds.
    journal_limit: std::cell::Cell<usize>,
    /// The hybrid logical clock of team sync.
    clock: ops::Clock,
    /// On whose behalf this session acts, for the access log (IT after a recovery).
    on_behalf: std::cell::RefCell<Option<String>>,
    /// Rows were deleted for an erasure: the journal cannot carry that, so the session
    /// saves a new generation (`finish_erasure`) and replaces the previous one too.
    erased: std::cell::Cell<bool>,
    /// An unlock not yet in the access log (time, detail): it goes in with the session's
    /// first change or entry, so a command that shows and changes nothing leaves the vault
    /// as it was.
    pending_unlock: std::cell::RefCell<Option<(String, String)>>,
    /// Retention years from the user's config, under the vault's own policy.
    retention_defaults: std::cell::RefCell<std::collections::HashMap<Domain, u32>>,
    /// Handovers that arrived in a merge and may need this vault to act (acknowledge, or
    /// unassign its worker), done once the merge is in place.
    handovers_in: std::cell::RefCell<Vec<crate::model::Handover>>,
    /// The session's clock for what it writes (fixed in tests and screenshots).
    fixed_now: std::cell::Cell<Option<chrono::NaiveDateTime>>,
    /// Whether this vault's worker was revoked, by roster version (`Store::revoked_here`).
    revoked: std::cell::Cell<Option<(u64, bool)>>,
    /// The largest image a change may leave ([`MAX_IMAGE_BYTES`]; lower in tests).
    max_image: std::cell::Cell<u64>,
    /// The length of every indexed note, for ranking (search.rs); kept up to date there.
    doc_lengths: std::cell::RefCell<Option<search::DocLengths>>,
    /// The schema version the image had when it was loaded, when a migration ran since.
    migrated_from: Option<i32>,
    /// Where files kept in dossiers live, outside the image (the session sets it; a store
    /// without one keeps them in `attachment_blob`, as before schema v10).
    files: std::cell::RefCell<Option<Box<dyn Files>>>,
    /// Per journaled table: the statement that reads a row back for the journal, and its
    /// column names (`record`).
    readback: std::cell::RefCell<Vec<ReadBack>>,
    /// The database's page size (`check_size`).
    page_size: std::cell::Cell<Option<u64>>,
    /// Meta values read in the transaction in progress (`meta`); emptied when it ends.
    meta_seen: std::cell::RefCell<Vec<(String, Option<String>)>>,
}

/// A table's name, the text of the statement reading one of its rows by key, and the
/// statement's column names.
type ReadBack = (String, std::rc::Rc<str>, std::sync::Arc<[String]>);

/// Tables whose rows a trigger indexes for full-text search as they are written (notes are
/// indexed when read, migration 0014): replay writes them in statements of up to 500 rows.
const INDEXED_BY_TRIGGER: &[&str] = &["client"];

/// Rows per replay statement for the other tables. Every statement that may abort after
/// writing more than one B-tree entry (a row and its index entries) runs in a statement
/// transaction: each page it changes is first copied to the statement journal, in memory the
/// wiping allocator clears when the statement ends. One statement per row did that for every
/// row: about 40 % of applying 1,000 records (`perf record`, docs/benchmarks.md). 64 rows
/// share it, and the text of a 64-row statement is parsed once per run of rows of a table
/// (500-row statements cost more to parse than they save).
const ROWS_PER_STATEMENT: usize = 64;

/// A row's key in a replay, as it is compared: the same row has the same key.
#[derive(Hash, PartialEq, Eq)]
enum Key<'a> {
    T(&'a str),
    I(i64),
    B(&'a [u8]),
    R(u64),
    N,
}

impl<'a> Key<'a> {
    fn of(cell: &'a Cell) -> Key<'a> {
        match cell {
            Cell::T(t) => Key::T(t.as_str()),
            Cell::I(i) => Key::I(*i),
            Cell::B(b) => Key::B(b.as_slice()),
            Cell::R(r) => Key::R(r.to_bits()),
            Cell::N => Key::N,
        }
    }
}

/// The key column of each table a replay meets, looked up once per table.
#[derive(Default)]
struct KeyColumns<'a>(Vec<(&'a str, Option<&'static str>)>);

impl<'a> KeyColumns<'a> {
    /// The key of a record's row; None when its table has no key column, the record lacks
    /// it, or it is NULL or REAL (then the record is never skipped).
    fn key_of(&mut self, rc: &'a RowChange) -> Option<Key<'a>> {
        let column = match self.0.iter().find(|(t, _)| *t == rc.table) {
            Some((_, c)) => *c,
            None => {
                let c = changes::key_column(&rc.table);
                self.0.push((rc.table.as_str(), c));
                c
            }
        }?;
        let at = rc.columns.iter().position(|c| c == column)?;
        match Key::of(rc.values.get(at)?) {
            Key::N | Key::R(_) => None,
            k => Some(k),
        }
    }
}

/// FxHash's word-at-a-time hash (rustc's): for replay's keys, which come from our own
/// authenticated records, so nobody can choose them to collide.
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.add(u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        let mut tail = [0u8; 8];
        tail[..words.remainder().len()].copy_from_slice(words.remainder());
        self.add(u64::from_le_bytes(tail) ^ bytes.len() as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FastHash = std::hash::BuildHasherDefault<Fx>;

/// A cell bound as a parameter without copying its text or bytes first.
struct Bind<'a>(&'a Cell);

impl rusqlite::ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Cell::N => ValueRef::Null,
            Cell::I(i) => ValueRef::Integer(*i),
            Cell::R(r) => ValueRef::Real(*r),
            Cell::T(t) => ValueRef::Text(t.as_bytes()),
            Cell::B(b) => ValueRef::Blob(b),
        }))
    }
}

/// Why an image could not be loaded.
#[derive(Debug)]
pub enum ImageError {
    /// SQLite could not read it (not a database, corrupt, or the reader failed).
    Unreadable(rusqlite::Error),
    /// A SQLite database, but not a kluis one.
    NotKluis,
    /// Written by a newer kluis with this schema version.
    TooNew(i32),
    /// Its schema is not the one its version must have; each difference names the object.
    Foreign(Vec<String>),
}

/// The largest image kluis saves. Loading one allocates the image plus an eighth of headroom
/// in one block (`from_image`), and SQLite allocates at most 2,147,483,391 bytes at once: an
/// image past this could be saved but never opened again. A change that would cross it is
/// refused and nothing changes.
pub const MAX_IMAGE_BYTES: u64 = 2_147_483_391 / 9 * 8 - (1 << 20);

/// Where a store keeps the bytes of files kept in dossiers: outside the image, each sealed
/// under a key the store holds (`vault::FileDir`). The store decides what is kept and by which
/// key; this side writes, reads and removes bytes, and never sees a key it was not given.
pub trait Files {
    /// Seals `data` for attachment `id` under a new key and writes it durably; returns the
    /// key (an age identity) to keep.
    fn put(&self, id: &str, data: &[u8]) -> Result<zeroize::Zeroizing<String>>;
    /// Reads and opens the file of attachment `id` with its key; None when it is not there.
    fn get(&self, id: &str, key: &str) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>>;
    /// The lowercase hex SHA-256 of attachment `id`'s contents, read and opened a piece at a
    /// time (`check` holds no whole file in memory); None when it is not there.
    fn sha256(&self, id: &str, key: &str) -> Result<Option<String>>;
    /// Removes every file whose id is not in `keep` (after an erasure, or left by a crash
    /// before its key was saved); returns how many went.
    fn retain(&self, keep: &std::collections::HashSet<String>) -> Result<usize>;
}

/// A new UUID v7: time-ordered, so lists sort by creation for free.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl Store {
    fn configure(conn: &Connection) -> rusqlite::Result<()> {
        // Belt and braces next to SQLITE_TEMP_STORE=3 at compile time.
        conn.execute_batch(
            "PRAGMA temp_store = MEMORY;
             PRAGMA secure_delete = ON;
             PRAGMA trusted_schema = OFF;
             PRAGMA foreign_keys = ON;",
        )?;
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
        // One durable edit runs some twenty statements (the row, its op, its access-log
        // entry, the clock, the checks around them); parsing them again each time cost a
        // third of its CPU time. rusqlite keeps 16 by default, fewer than one edit uses.
        conn.set_prepared_statement_cache_capacity(128);
        Ok(())
    }

    fn open_memory() -> rusqlite::Result<Connection> {
        crate::harden::install_wiping_sqlite_allocator();
        let conn = Connection::open_in_memory()?;
        // Before any full-text table is touched: the schema names kluis's tokenizers.
        search::register(&conn)?;
        Ok(conn)
    }

    /// A new, empty database at the current schema, owned by `owner` (the author of notes).
    pub fn create(owner: &str) -> Result<Store> {
        let conn = Self::open_memory()?;
        Self::configure(&conn)?;
        conn.pragma_update(None, "application_id", APPLICATION_ID)?;
        let mut store = Store {
            conn,
            changes: Default::default(),
            noted: std::cell::Cell::new(Some(0)),
            journal_limit: std::cell::Cell::new(usize::MAX),
            clock: Default::default(),
            on_behalf: Default::default(),
            erased: Default::default(),
            pending_unlock: Default::default(),
            retention_defaults: Default::default(),
            handovers_in: Default::default(),
            fixed_now: Default::default(),
            revoked: Default::default(),
            max_image: std::cell::Cell::new(MAX_IMAGE_BYTES),
            doc_lengths: Default::default(),
            migrated_from: None,
            files: Default::default(),
            readback: Default::default(),
            meta_seen: Default::default(),
            page_size: Default::default(),
        };
        store.migrate()?;
        store.migrated_from = None;
        search::follow_deletes(&store.conn)?;
        store.set_meta("owner", owner)?;
        store.set_meta("created_at", &store.now())?;
        store.set_meta("generation", "0")?;
        Ok(store)
    }

    /// Loads an image of exactly `size` bytes from `reader` straight into SQLite's memory
    /// (one allocation, wiped when freed), then migrates it to the current schema.
    pub fn from_image<R: Read>(
        mut reader: R,
        size: usize,
    ) -> std::result::Result<Store, ImageError> {
        Self::from_image_with(size, |buf| reader.read_exact(buf))
    }

    /// Like [`Store::from_image`], with `fill` writing the `size` bytes of the image into
    /// SQLite's own buffer (the vault decrypts straight into it).
    pub fn from_image_with(
        size: usize,
        fill: impl FnOnce(&mut [u8]) -> std::io::Result<()>,
    ) -> std::result::Result<Store, ImageError> {
        let conn = Self::open_memory().map_err(ImageError::Unreadable)?;
        // Headroom lets the first changes grow the database in place. Without it SQLite's
        // in-memory file doubles its buffer on the first insert (the allocator moves the
        // pages of a block that large rather than copying them, but the doubled size stays).
        if size as u64 > MAX_IMAGE_BYTES {
            return Err(ImageError::Unreadable(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_TOOBIG),
                Some(format!(
                    "an image of {size} bytes is larger than kluis opens ({MAX_IMAGE_BYTES})"
                )),
            )));
        }
        let capacity = size + (size / 8).max(1 << 20);
        let unreadable = |msg: &str| {
            ImageError::Unreadable(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(msg.to_owned()),
            ))
        };
        // SAFETY: the buffer comes from sqlite3_malloc64 as sqlite3_deserialize requires; we
        // write only its first `size` bytes and hand it over with FREEONCLOSE, after which
        // SQLite owns it (and frees it itself if deserialize fails).
        unsafe {
            let ptr = rusqlite::ffi::sqlite3_malloc64(capacity as u64).cast::<u8>();
            if ptr.is_null() {
                return Err(unreadable("out of memory"));
            }
            if let Err(e) = fill(std::slice::from_raw_parts_mut(ptr, size)) {
                std::slice::from_raw_parts_mut(ptr, size).fill(0);
                rusqlite::ffi::sqlite3_free(ptr.cast());
                return Err(unreadable(&e.to_string()));
            }
            let rc = rusqlite::ffi::sqlite3_deserialize(
                conn.handle(),
                c"main".as_ptr(),
                ptr,
                size as i64,
                capacity as i64,
                rusqlite::ffi::SQLITE_DESERIALIZE_FREEONCLOSE
                    | rusqlite::ffi::SQLITE_DESERIALIZE_RESIZEABLE,
            );
            if rc != rusqlite::ffi::SQLITE_OK {
                return Err(unreadable("sqlite3_deserialize failed"));
            }
        }
        Self::configure(&conn).map_err(ImageError::Unreadable)?;
        let app_id: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(ImageError::Unreadable)?;
        if app_id != APPLICATION_ID {
            return Err(ImageError::NotKluis);
        }
        let mut store = Store {
            conn,
            changes: Default::default(),
            noted: std::cell::Cell::new(Some(0)),
            journal_limit: std::cell::Cell::new(usize::MAX),
            clock: Default::default(),
            on_behalf: Default::default(),
            erased: Default::default(),
            pending_unlock: Default::default(),
            retention_defaults: Default::default(),
            handovers_in: Default::default(),
            fixed_now: Default::default(),
            revoked: Default::default(),
            max_image: std::cell::Cell::new(MAX_IMAGE_BYTES),
            doc_lengths: Default::default(),
            migrated_from: None,
            files: Default::default(),
            readback: Default::default(),
            meta_seen: Default::default(),
            page_size: Default::default(),
        };
        let version = store.schema_version().map_err(|e| match e {
            Error::Database(e) => ImageError::Unreadable(e),
            _ => ImageError::NotKluis,
        })?;
        if version > SCHEMA_VERSION {
            return Err(ImageError::TooNew(version));
        }
        // Before anything runs on it (a migration would fire a foreign trigger).
        let found = schema::read(&store.conn).map_err(ImageError::Unreadable)?;
        let now = schema::expected(SCHEMA_VERSION).map_err(ImageError::Unreadable)?;
        if version < SCHEMA_VERSION {
            let then = schema::expected(version).map_err(ImageError::Unreadable)?;
            let foreign = schema::foreign_objects(&found, &then, &now);
            if !foreign.is_empty() {
                return Err(ImageError::Foreign(foreign));
            }
            store.migrate().map_err(|e| match e {
                Error::Database(e) => ImageError::Unreadable(e),
                _ => ImageError::NotKluis,
            })?;
            let migrated = schema::read(&store.conn).map_err(ImageError::Unreadable)?;
            let differences = schema::differences(&migrated, &now);
            if !differences.is_empty() {
                return Err(ImageError::Foreign(differences));
            }
        } else {
            let differences = schema::differences(&found, &now);
            if !differences.is_empty() {
                return Err(ImageError::Foreign(differences));
            }
        }
        search::follow_deletes(&store.conn).map_err(ImageError::Unreadable)?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<()> {
        let from = self.schema_version()?;
        if (from as usize) < MIGRATIONS.len() {
            self.migrated_from = Some(from);
        }
        for (i, (_, sql)) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            let version = (i + 1) as i32;
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            for (_, table, column, definition) in REPAIRED_COLUMNS.iter().filter(|r| r.0 == version)
            {
                let has: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
                    [table, column],
                    |r| r.get(0),
                )?;
                if !has {
                    // Names from the constant above, never from data.
                    tx.execute_batch(&format!(
                        "ALTER TABLE {table} ADD COLUMN {column} {definition}"
                    ))?;
                }
            }
            tx.pragma_update(None, "user_version", version)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The schema version of the loaded image, when it was older and migrated in memory: the
    /// session then saves the new schema, so the migration is not run at every unlock.
    pub(in crate::engine) fn migrated_from(&self) -> Option<i32> {
        self.migrated_from
    }

    /// `PRAGMA user_version`.
    pub(in crate::engine) fn schema_version(&self) -> Result<i32> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// The database image, borrowed from SQLite without a copy when it can be. Notes not
    /// indexed yet are indexed first, so an image on disk holds whole full-text indexes: a
    /// vault file is searched without that work, and stock `sqlite3` sees indexes that
    /// match the notes.
    pub(in crate::engine) fn image(&mut self) -> Result<rusqlite::serialize::Data<'_>> {
        search::index_pending(&self.conn)?;
        Ok(self.conn.serialize(rusqlite::MAIN_DB)?)
    }

    /// Runs `f` in one transaction: all of it lands or none of it. Returns `f`'s value and
    /// the rows it changed, for the journal.
    pub(in crate::engine) fn transaction<T>(
        &mut self,
        f: impl FnOnce(&Store) -> Result<T>,
    ) -> Result<(T, Vec<RowChange>)> {
        self.conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        self.meta_seen.borrow_mut().clear();
        *self.changes.borrow_mut() = Some(Vec::new());
        self.noted.set(Some(0));
        let unlock = self.pending_unlock.borrow().clone();
        let result = f(self).and_then(|v| {
            if self.noted.get().is_none_or(|n| n > 0) {
                self.flush_unlock()?;
            }
            self.flush_clock()?;
            // FTS5 keeps new index entries in memory until the commit; a savepoint makes it
            // write them now, so the size checked is the size committed.
            self.conn
                .prepare_cached("SAVEPOINT fts_flush")?
                .execute([])?;
            self.conn.prepare_cached("RELEASE fts_flush")?.execute([])?;
            self.check_size()?;
            self.conn.prepare_cached("COMMIT")?.execute([])?;
            Ok(v)
        });
        let changes = self.changes.borrow_mut().take().unwrap_or_default();
        self.meta_seen.borrow_mut().clear();
        match result {
            Ok(v) => Ok((v, changes)),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.clock.reset();
                *self.pending_unlock.borrow_mut() = unlock;
                // What was deleted is back: nothing to erase from the next save.
                self.erased.set(false);
                self.noted.set(Some(0));
                Err(e)
            }
        }
    }

    /// Notes the current state of a row for the journal (inside `transaction` only). Once
    /// the rows noted pass the journal limit, the transaction will be saved as a new
    /// generation (the compaction its record would have caused anyway), so nothing more is
    /// noted: a big import does not read back every row it wrote.
    fn record(&self, table: &str, key: &str) -> Result<()> {
        let Some(noted) = self.noted.get() else {
            return Ok(());
        };
        if self.changes.borrow().is_none() {
            return Ok(());
        }
        // The statement's text and its column names, made once per table: every durable
        // edit reads back a few rows, and rebuilding both was a sixth of its CPU. The schema
        // only changes when the store is opened (`migrate`), before anything is recorded.
        let (sql, columns) = {
            let mut known = self.readback.borrow_mut();
            match known.iter().find(|(t, _, _)| *t == table) {
                Some((_, sql, columns)) => (sql.clone(), columns.clone()),
                None => {
                    let key_col =
                        changes::key_column(table).expect("record() on a journaled table");
                    let sql: std::rc::Rc<str> =
                        format!("SELECT * FROM {table} WHERE {key_col} = ?1").into();
                    let columns: std::sync::Arc<[String]> = self
                        .conn
                        .prepare_cached(&sql)?
                        .column_names()
                        .map(str::to_owned)
                        .collect();
                    known.push((table.to_owned(), sql.clone(), columns.clone()));
                    (sql, columns)
                }
            }
        };
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let n = columns.len();
        let values = stmt.query_row([key], |r| {
            (0..n)
                .map(|i| r.get::<_, rusqlite::types::Value>(i).map(Cell::from))
                .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let change = RowChange {
            table: table.to_owned(),
            columns,
            values,
        };
        let noted = noted + changes::encoded_len(&change);
        if noted > self.journal_limit() {
            self.save_whole();
            return Ok(());
        }
        self.noted.set(Some(noted));
        if let Some(list) = self.changes.borrow_mut().as_mut() {
            list.push(change);
        }
        Ok(())
    }

    /// Sets the journal size past which the session compacts: a transaction whose record
    /// would pass it is saved whole instead (`take_saved_whole`).
    pub(in crate::engine) fn set_journal_limit(&self, bytes: u64) {
        self.journal_limit
            .set(usize::try_from(bytes).unwrap_or(usize::MAX));
    }

    /// The journal size past which the session compacts anyway (unlimited for a store no
    /// session holds).
    pub(in crate::engine) fn journal_limit(&self) -> usize {
        self.journal_limit.get()
    }

    /// Stops noting rows for the journal in the transaction in progress: it is saved as a new
    /// generation instead. Only for a change whose record would pass [`Store::journal_limit`]
    /// (which the session would compact right after appending it), so it costs no more.
    pub(in crate::engine) fn save_whole(&self) {
        self.noted.set(None);
        if let Some(list) = self.changes.borrow_mut().as_mut() {
            list.clear();
        }
    }

    /// Whether the last transaction's record would have passed the journal limit: then it
    /// returned no rows, and must be saved as a new generation. Resets the mark.
    pub(in crate::engine) fn take_saved_whole(&self) -> bool {
        self.noted.replace(Some(0)).is_none()
    }

    /// Replays change records (from the journal) in one transaction. A record that names an
    /// unknown table or column is refused: the journal is then not ours.
    pub(in crate::engine) fn apply_changes(&mut self, records: &[RowChange]) -> Result<()> {
        let tx = self.conn.transaction()?;
        // Rows go into multi-row upserts: FTS5 flushes its pending index to a new segment
        // at every statement savepoint (`INDEXED_BY_TRIGGER`), and every statement copies
        // the pages it changes to its statement journal (`ROWS_PER_STATEMENT`). Each journal
        // record holds rows of several tables (a note, its op, its log entry),
        // so the rows are grouped by table first, each table's rows in their order. Every
        // record is a whole-row upsert and no trigger reads another table, so only foreign
        // keys see the order: they are checked at the commit instead, on the final state.
        tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
        // Each record is a whole-row upsert, so of the records for one row with the same
        // columns only the last one decides what the row holds; the others are skipped.
        // Every change writes the clock's row of `meta` ('hlc'), so without this a journal
        // of 1,000 edits replayed 1,000 one-row statements for it, each parsed anew (a row
        // twice in one statement has to wait for the next one).
        //
        // A record kept while a later one of the same row is kept too (with other columns),
        // and a row whose key is NULL or REAL, goes into a statement of its own, as a row
        // met twice did before: each version is then applied by itself, in order.
        let records: Vec<(&RowChange, bool)> = {
            let mut key_columns = KeyColumns::default();
            let keys: Vec<Option<Key<'_>>> =
                records.iter().map(|rc| key_columns.key_of(rc)).collect();
            // The keys are those of our own authenticated records: a fast hash is enough.
            let mut last: std::collections::HashMap<(&str, &Key<'_>), usize, FastHash> =
                std::collections::HashMap::with_capacity_and_hasher(
                    records.len(),
                    FastHash::default(),
                );
            for (i, (rc, k)) in records.iter().zip(&keys).enumerate() {
                if let Some(k) = k {
                    last.insert((rc.table.as_str(), k), i);
                }
            }
            records
                .iter()
                .zip(&keys)
                .enumerate()
                .filter_map(|(i, (rc, k))| {
                    let Some(k) = k else {
                        return Some((rc, true));
                    };
                    match last.get(&(rc.table.as_str(), k)) {
                        Some(&l) if l == i => Some((rc, false)),
                        // Kept unless a later record of the same row has the same columns.
                        Some(&l) if records[l].columns == rc.columns => None,
                        _ => Some((rc, true)),
                    }
                })
                .collect()
        };
        let records: Vec<(&RowChange, bool)> = {
            let mut tables: Vec<&str> = Vec::new();
            let mut by_table: std::collections::HashMap<&str, Vec<(&RowChange, bool)>> =
                std::collections::HashMap::new();
            for (rc, alone) in records.iter().copied() {
                let rows = by_table.entry(rc.table.as_str()).or_default();
                if rows.is_empty() {
                    tables.push(rc.table.as_str());
                }
                rows.push((rc, alone));
            }
            tables
                .iter()
                .flat_map(|t| by_table.remove(t).unwrap_or_default())
                .collect()
        };
        let mut start = 0;
        while start < records.len() {
            let first = records[start].0;
            // A run: the rows of one table with the same columns, checked against the
            // schema once.
            let key_at = Self::check_columns(&tx, first)?;
            let mut run_end = start;
            while run_end < records.len()
                && records[run_end].0.table == first.table
                && records[run_end].0.columns == first.columns
            {
                if records[run_end].0.values.len() != first.columns.len() {
                    return Err(Self::bad_record(records[run_end].0));
                }
                run_end += 1;
            }
            let most = if INDEXED_BY_TRIGGER.contains(&first.table.as_str()) {
                500
            } else {
                ROWS_PER_STATEMENT
            };
            let max_rows = (30_000 / first.columns.len().max(1)).clamp(1, most);
            let mut full = None;
            while start < run_end {
                let mut end = start + 1;
                if !records[start].1 {
                    while end < run_end && end - start < max_rows && !records[end].1 {
                        end += 1;
                    }
                }
                let batch = &records[start..end];
                let values = batch.iter().flat_map(|(rc, _)| rc.values.iter().map(Bind));
                if batch.len() == max_rows {
                    let sql = full.get_or_insert_with(|| Self::upsert_sql(first, max_rows, key_at));
                    tx.prepare_cached(sql)?
                        .execute(rusqlite::params_from_iter(values))?;
                } else {
                    let sql = Self::upsert_sql(first, batch.len(), key_at);
                    if batch.len() == 1 {
                        tx.prepare_cached(&sql)?
                            .execute(rusqlite::params_from_iter(values))?;
                    } else {
                        tx.prepare(&sql)?
                            .execute(rusqlite::params_from_iter(values))?;
                    }
                }
                start = end;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn bad_record(rc: &RowChange) -> Error {
        Error::invalid(
            "journal",
            format!("unexpected change record for {}", rc.table),
        )
    }

    /// Checks a record's table and columns against the schema; returns where its key is.
    fn check_columns(conn: &Connection, rc: &RowChange) -> Result<usize> {
        let key_col = changes::key_column(&rc.table).ok_or_else(|| Self::bad_record(rc))?;
        let known: Vec<String> = conn
            .prepare_cached("SELECT name FROM pragma_table_info(?1)")?
            .query_map([&rc.table], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if !rc.columns.iter().all(|c| known.contains(c)) {
            return Err(Self::bad_record(rc));
        }
        rc.columns
            .iter()
            .position(|c| c == key_col)
            .ok_or_else(|| Self::bad_record(rc))
    }

    /// An upsert of `rows` rows for a record's table and columns, checked before by
    /// [`Store::check_columns`].
    fn upsert_sql(rc: &RowChange, rows: usize, key_at: usize) -> String {
        let key_col = &rc.columns[key_at];
        let n = rc.columns.len();
        let cols = rc
            .columns
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let tuples = (0..rows)
            .map(|r| {
                format!(
                    "({})",
                    (1..=n)
                        .map(|i| format!("?{}", r * n + i))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let updates = rc
            .columns
            .iter()
            .filter(|c| *c != key_col)
            .map(|c| format!("\"{c}\" = excluded.\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let table = &rc.table;
        // Names were checked against the schema; values are bound.
        if updates.is_empty() {
            format!("INSERT INTO {table} ({cols}) VALUES {tuples} ON CONFLICT DO NOTHING")
        } else {
            format!(
                "INSERT INTO {table} ({cols}) VALUES {tuples} \
                 ON CONFLICT (\"{key_col}\") DO UPDATE SET {updates}"
            )
        }
    }

    /// How this database's schema differs from the one its version must have (see
    /// `store::schema`); empty when it is exactly kluis's.
    pub fn schema_problems(&self) -> Result<Vec<String>> {
        let found = schema::read(&self.conn)?;
        let expected = schema::expected(self.schema_version()?)?;
        Ok(schema::differences(&found, &expected))
    }

    /// Columns holding text that is not valid UTF-8 (never written by kluis); one line each.
    pub fn text_problems(&self) -> Result<Vec<String>> {
        Ok(schema::bad_text(&self.conn)?
            .into_iter()
            .map(|(table, column, n)| {
                t!("schema.bad_text", table = table, column = column, n = n).into_owned()
            })
            .collect())
    }

    /// SQLite's `integrity_check` plus FTS5's own check; empty when healthy.
    ///
    /// FTS5 is asked to compare each full-text index with its content (`rank` 1), not only to
    /// check its own structure: the note indexes' content is the view of non-special notes,
    /// so this also proves that no special-category note is in them and every other note is,
    /// and, for `note_impact`, that its markers are those of the text.
    pub(in crate::engine) fn integrity_problems(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let mut problems: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<_>>()?;
        problems.retain(|p| p != "ok");
        // Notes that wait to be indexed are indexed first: FTS5's check compares an index
        // with all of its content, which they are part of.
        if let Err(e) = search::index_pending(&self.conn) {
            problems.push(format!("note_fts: {e}"));
        }
        for table in ["client_fts", "note_fts", "note_impact"] {
            let sql = format!("INSERT INTO {table} ({table}, rank) VALUES ('integrity-check', 1)");
            if let Err(e) = self.conn.execute(&sql, []) {
                problems.push(format!("{table}: {e}"));
            }
        }
        // The tally is derived from the notes (migration 0015): it must say what they say.
        let differ: i64 = self.conn.query_row(
            "WITH counted AS (SELECT client_id, count(*) AS notes, max(occurred_at) AS last_contact
                              FROM note GROUP BY client_id),
                  kept AS (SELECT client_id, notes, last_contact FROM note_tally)
             SELECT (SELECT count(*) FROM (SELECT * FROM counted EXCEPT SELECT * FROM kept))
                  + (SELECT count(*) FROM (SELECT * FROM kept EXCEPT SELECT * FROM counted))",
            [],
            |r| r.get(0),
        )?;
        if differ > 0 {
            problems.push(format!(
                "note_tally: {differ} rows differ from the notes they count"
            ));
        }
        Ok(problems)
    }

    /// Each dossier's notes counted again, against the tally the caseload shows.
    #[cfg(test)]
    fn tally_matches_notes(&self) -> bool {
        self.integrity_problems()
            .unwrap()
            .iter()
            .all(|p| !p.starts_with("note_tally"))
    }

    /// A value from the meta table.
    pub(in crate::engine) fn meta(&self, key: &str) -> Result<Option<String>> {
        // Inside a transaction the values read are kept until it ends: a durable edit asks
        // who the user is three times. Only `set_meta` writes the table while one runs.
        let in_transaction = self.changes.borrow().is_some();
        if in_transaction
            && let Some((_, v)) = self.meta_seen.borrow().iter().find(|(k, _)| k == key)
        {
            return Ok(v.clone());
        }
        let value: Option<String> = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?;
        if in_transaction {
            self.meta_seen
                .borrow_mut()
                .push((key.to_owned(), value.clone()));
        }
        Ok(value)
    }

    /// Sets a value in the meta table.
    pub(in crate::engine) fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.meta_seen.borrow_mut().retain(|(k, _)| k != key);
        self.conn
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key, value])?;
        self.record("meta", key)
    }

    /// Records something that happened to the vault (a recovery, say); returns its id.
    pub(in crate::engine) fn add_event(
        &self,
        kind: &str,
        actor: &str,
        detail: &str,
    ) -> Result<String> {
        let id = new_id();
        self.conn.execute(
            "INSERT INTO event (id, at, kind, actor, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, self.now(), kind, actor, detail],
        )?;
        self.record("event", &id)?;
        Ok(id)
    }

    /// Stores a verified roster.
    pub(in crate::engine) fn add_roster(&self, version: u64, signed: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO roster (version, signed, imported_at) VALUES (?1, ?2, ?3)",
            params![version, signed, self.now()],
        )?;
        self.record("roster", &version.to_string())
    }

    /// Keeps the note being written (one draft per vault).
    pub fn save_draft(&self, d: &crate::model::Draft) -> Result<()> {
        self.conn.execute(
            "INSERT INTO draft (id, client_id, supersedes, kind, occurred_at, body, status, updated_at,
                                special)
             VALUES ('current', ?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7)
             ON CONFLICT (id) DO UPDATE SET client_id = excluded.client_id, supersedes = excluded.supersedes,
                 kind = excluded.kind, occurred_at = excluded.occurred_at, body = excluded.body,
                 status = 'open', updated_at = excluded.updated_at, special = excluded.special",
            params![d.client_id, d.supersedes, d.kind.code(), d.occurred_at, d.body, self.now(), d.special],
        )?;
        self.record("draft", "current")
    }

    /// The kept draft, if any.
    pub(in crate::engine) fn open_draft(&self) -> Result<Option<crate::model::Draft>> {
        Ok(self
            .conn
            .query_row(
                "SELECT client_id, supersedes, kind, occurred_at, body, special FROM draft
                 WHERE id = 'current' AND status = 'open'",
                [],
                |r| {
                    Ok(crate::model::Draft {
                        client_id: r.get(0)?,
                        supersedes: r.get(1)?,
                        kind: r.get::<_, String>(2)?.parse().unwrap_or(NoteKind::Overig),
                        occurred_at: r.get(3)?,
                        body: r.get(4)?,
                        special: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    /// Marks the draft as used or thrown away; its text is overwritten.
    pub fn discard_draft(&self) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE draft SET body = '', status = 'discarded', updated_at = ?1 WHERE id = 'current' AND status = 'open'",
            [self.now()],
        )?;
        if n > 0 {
            self.record("draft", "current")?;
        }
        Ok(())
    }

    /// Keeps the form being filled in (one per vault, beside the note's draft): its values
    /// as JSON in the draft table's text, encrypted with the vault like everything in it.
    pub fn save_form_draft(&self, d: &crate::model::FormDraft) -> Result<()> {
        let values =
            serde_json::to_string(d).map_err(|e| Error::invalid("draft", e.to_string()))?;
        self.conn.execute(
            "INSERT INTO draft (id, client_id, supersedes, kind, occurred_at, body, status, updated_at)
             VALUES ('form', ?1, ?2, 'form', '', ?3, 'open', ?4)
             ON CONFLICT (id) DO UPDATE SET client_id = excluded.client_id,
                 supersedes = excluded.supersedes, kind = 'form', occurred_at = '',
                 body = excluded.body, status = 'open', updated_at = excluded.updated_at",
            params![
                d.client_id.as_deref().unwrap_or(""),
                d.editing,
                values,
                self.now()
            ],
        )?;
        self.record("draft", "form")
    }

    /// The kept form, if any.
    pub(in crate::engine) fn open_form_draft(&self) -> Result<Option<crate::model::FormDraft>> {
        let body: Option<String> = self
            .conn
            .query_row(
                "SELECT body FROM draft WHERE id = 'form' AND status = 'open'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        // A draft that does not parse is one this version did not write: nothing to offer.
        Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
    }

    /// Marks the kept form as used or thrown away; its values are overwritten.
    pub fn discard_form_draft(&self) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE draft SET body = '', status = 'discarded', updated_at = ?1
             WHERE id = 'form' AND status = 'open'",
            [self.now()],
        )?;
        if n > 0 {
            self.record("draft", "form")?;
        }
        Ok(())
    }

    /// Notes per month over the last `months` months up to `today`: (YYYY-MM, count), oldest first.
    pub(in crate::engine) fn contacts_per_month(
        &self,
        client_id: &str,
        today: NaiveDate,
        months: u32,
    ) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT count(*) FROM note WHERE client_id = ?1 AND substr(occurred_at, 1, 7) = ?2",
        )?;
        for back in (0..months).rev() {
            let total = today.year() as i64 * 12 + today.month0() as i64 - back as i64;
            let month = format!(
                "{:04}-{:02}",
                total.div_euclid(12),
                total.rem_euclid(12) + 1
            );
            let n: u64 = stmt.query_row(params![client_id, month], |r| r.get(0))?;
            out.push((month, n));
        }
        Ok(out)
    }

    /// The newest roster: (version, signed text).
    pub(in crate::engine) fn latest_roster(&self) -> Result<Option<(u64, String)>> {
        Ok(self
            .conn
            .prepare_cached("SELECT version, signed FROM roster ORDER BY version DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// Bumps the save counter and records the time; called just before each save.
    pub(in crate::engine) fn next_generation(&self) -> Result<u64> {
        let current: u64 = self
            .meta("generation")?
            .and_then(|g| g.parse().ok())
            .unwrap_or(0);
        self.set_meta("generation", &(current + 1).to_string())?;
        self.set_meta("saved_at", &self.now())?;
        Ok(current + 1)
    }

    /// Recovery recipients (`age1…`) written into every save.
    pub(in crate::engine) fn recovery_recipients(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT recipient FROM recovery_recipient ORDER BY recipient")?;
        let rows = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Adds a recovery recipient (already validated by the caller).
    pub(in crate::engine) fn add_recovery_recipient(&self, recipient: &str) -> Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO recovery_recipient (recipient, added_at) VALUES (?1, ?2)",
            params![recipient, self.now()],
        )?;
        self.record("recovery_recipient", recipient)
    }

    /// Resolves a full id or a unique prefix in `table` (`client` or `note`).
    pub(in crate::engine) fn resolve_id(&self, table: IdTable, prefix: &str) -> Result<String> {
        let sql = format!(
            "SELECT id FROM {} WHERE id >= ?1 AND id < ?1 || '~' ORDER BY id LIMIT 6",
            table.spec().table
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let ids: Vec<String> = stmt
            .query_map([prefix], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        match ids.len() {
            0 => Err(Error::NotFound {
                what: table.label(),
                id: prefix.to_owned(),
            }),
            1 => Ok(ids.into_iter().next().expect("one id")),
            _ => Err(Error::Ambiguous {
                id: prefix.to_owned(),
                candidates: ids,
            }),
        }
    }

    /// Adds a client and returns its id.
    pub fn add_client(&self, c: &NewClient) -> Result<String> {
        // The dossier's id is bound to who created it (`model::record::dossier_id`), so a
        // colleague cannot claim its creation.
        let creation = new_id();
        let id = crate::model::record::dossier_id(&self.node()?, &creation);
        let now = self.now();
        self.conn.execute(
            "INSERT INTO client (id, name, bsn, birth_date, address, phone, domain, status,
                                 opened_on, closed_on, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8, NULL, ?9, ?9)",
            params![
                id,
                c.name,
                c.bsn.as_ref().map(Bsn::digits),
                c.birth_date.map(|d| d.to_string()),
                c.address,
                c.phone,
                c.domain.code(),
                c.opened_on.to_string(),
                now
            ],
        )?;
        self.record("client", &id)?;
        let fields = self.client_fields(&id)?.expect("just inserted");
        self.emit_client_fields(&id, None, &fields, Some(&creation))?;
        // The creator sees the dossier; in a vault outside an organisation there is no one
        // to assign.
        if let Some(worker) = self.meta("worker_id")? {
            self.assign(&id, &worker, true)?;
        }
        self.log(Action::Create, Some(&id), "client")?;
        Ok(id)
    }

    fn client_from_row(r: &Row<'_>) -> rusqlite::Result<Client> {
        let text = |i: usize| r.get::<_, String>(i);
        let date = |i: usize| -> rusqlite::Result<Option<NaiveDate>> {
            Ok(r.get::<_, Option<String>>(i)?.and_then(|s| s.parse().ok()))
        };
        Ok(Client {
            id: text(0)?,
            name: text(1)?,
            bsn: r
                .get::<_, Option<String>>(2)?
                .and_then(|b| Bsn::parse(&b).ok()),
            birth_date: date(3)?,
            address: r.get(4)?,
            phone: r.get(5)?,
            domain: text(6)?.parse().unwrap_or(Domain::Overig),
            status: text(7)?.parse().unwrap_or(Status::Open),
            opened_on: date(8)?.unwrap_or_default(),
            closed_on: date(9)?,
            created_at: text(10)?,
            updated_at: text(11)?,
            retention_until: date(12)?,
        })
    }

    const CLIENT_COLUMNS: &'static str =
        "id, name, bsn, birth_date, address, phone, domain, status,
        opened_on, closed_on, created_at, updated_at, retention_until";

    /// One client by full id.
    pub(in crate::engine) fn client(&self, id: &str) -> Result<Client> {
        let sql = format!("SELECT {} FROM client WHERE id = ?1", Self::CLIENT_COLUMNS);
        self.conn
            .prepare_cached(&sql)?
            .query_row([id], Self::client_from_row)
            .optional()?
            .ok_or_else(|| Error::NotFound {
                what: IdTable::Client.label(),
                id: id.to_owned(),
            })
    }

    /// Whether a client has this id.
    pub(super) fn has_client(&self, id: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM client WHERE id = ?1)")?
            .query_row([id], |r| r.get(0))?)
    }

    /// Refuses an id no client has, as [`Store::client`] does, without reading the client.
    fn require_client(&self, id: &str) -> Result<()> {
        if self.has_client(id)? {
            Ok(())
        } else {
            Err(Error::NotFound {
                what: IdTable::Client.label(),
                id: id.to_owned(),
            })
        }
    }

    /// Clients by name; closed ones only when `all`. Each with its note count and last contact.
    pub(in crate::engine) fn clients(
        &self,
        all: bool,
    ) -> Result<Vec<(Client, u64, Option<String>)>> {
        let sql = format!(
            // The tally (migration 0015), not a count over `note`: one seek per dossier.
            "SELECT {}, coalesce(t.notes, 0), t.last_contact
             FROM client LEFT JOIN note_tally t ON t.client_id = client.id
             WHERE ?1 OR status = 'open' ORDER BY name COLLATE NOCASE, id",
            Self::CLIENT_COLUMNS
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt
            .query_map([all], |r| {
                Ok((Self::client_from_row(r)?, r.get(13)?, r.get(14)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Applies a patch; returns false when nothing changed.
    pub fn edit_client(&self, id: &str, p: &ClientPatch) -> Result<bool> {
        let mut c = self.client(id)?;
        self.require_assigned(id)?;
        let before = self.client_fields(id)?;
        if let Some(name) = &p.name {
            c.name = name.clone();
        }
        if let Some(bsn) = &p.bsn {
            c.bsn = bsn.clone();
        }
        if let Some(d) = p.birth_date {
            c.birth_date = d;
        }
        if let Some(a) = &p.address {
            c.address = a.clone();
        }
        if let Some(ph) = &p.phone {
            c.phone = ph.clone();
        }
        if let Some(d) = p.domain {
            c.domain = d;
        }
        let changed = self.conn.execute(
            "UPDATE client SET name = ?2, bsn = ?3, birth_date = ?4, address = ?5, phone = ?6,
                               domain = ?7, updated_at = ?8
             WHERE id = ?1 AND (name, coalesce(bsn, ''), coalesce(birth_date, ''),
                                coalesce(address, ''), coalesce(phone, ''), domain)
                 IS NOT (?2, coalesce(?3, ''), coalesce(?4, ''), coalesce(?5, ''), coalesce(?6, ''), ?7)",
            params![
                id,
                c.name,
                c.bsn.as_ref().map(Bsn::digits),
                c.birth_date.map(|d| d.to_string()),
                c.address,
                c.phone,
                c.domain.code(),
                self.now()
            ],
        )?;
        if changed > 0 {
            self.record("client", id)?;
            let after = self.client_fields(id)?.expect("just updated");
            // Which fields, never their values: the log holds no personal data.
            let names: Vec<&str> = crate::merge::CLIENT_FIELDS
                .iter()
                .zip(before.iter().flatten().zip(&after))
                .filter(|(_, (b, a))| b != a)
                .map(|(n, _)| *n)
                .collect();
            self.emit_client_fields(id, before.as_deref(), &after, None)?;
            self.log(Action::Change, Some(id), &names.join(","))?;
        }
        Ok(changed > 0)
    }

    /// Closes a dossier on `on` (which may lie in the past: a dossier closed on paper
    /// earlier) and sets the day it is kept until from the domain's retention policy.
    /// Returns false when it was already closed.
    pub fn close_client(&self, id: &str, on: NaiveDate) -> Result<bool> {
        let c = self.client(id)?;
        self.require_assigned(id)?;
        if on < c.opened_on {
            return Err(Error::invalid(
                "closed_on",
                t!("val.close_before_open", opened = c.opened_on),
            ));
        }
        // Retention runs from the close, so a close back-dated past what the dossier holds
        // would erase it early.
        let last_note: Option<String> = self.conn.query_row(
            "SELECT max(substr(occurred_at, 1, 10)) FROM note WHERE client_id = ?1",
            [id],
            |r| r.get(0),
        )?;
        if let Some(last) = last_note.and_then(|d| d.parse::<NaiveDate>().ok())
            && on < last
        {
            return Err(Error::invalid(
                "closed_on",
                t!("val.close_before_last_note", last = last),
            ));
        }
        let (years, source) = self.retention_policy(c.domain)?;
        let until = crate::model::retention_end(on, years);
        let before = self.client_fields(id)?;
        let n = self.conn.execute(
            "UPDATE client SET status = 'closed', closed_on = ?2, updated_at = ?3,
                               retention_until = ?4
             WHERE id = ?1 AND status = 'open'",
            params![id, on.to_string(), self.now(), until.to_string()],
        )?;
        if n > 0 {
            self.record("client", id)?;
            let after = self.client_fields(id)?.expect("just updated");
            self.emit_client_fields(id, before.as_deref(), &after, None)?;
            // Which period and whose: a shorter one from a personal config is accountable.
            self.log(
                Action::Change,
                Some(id),
                &format!("closed; kept {years} years ({source} policy)"),
            )?;
        }
        Ok(n > 0)
    }

    /// Adds a note and returns its id. A correction must be about the same client and may
    /// correct each note only once.
    pub fn add_note(&self, n: &NewNote) -> Result<String> {
        self.require_client(&n.client_id)?;
        self.require_assigned(&n.client_id)?;
        // A note records what happened; a date far ahead is a typo (and would stretch the
        // retention period, which counts from the last note).
        if n.occurred_at > self.local_now() + chrono::Duration::days(1) {
            return Err(Error::invalid("occurred_at", t!("val.note_in_future")));
        }
        let mut special = n.special;
        if let Some(old) = &n.supersedes {
            let (client_id, taken, was_special): (String, bool, bool) = self.conn.query_row(
                "SELECT client_id, EXISTS (SELECT 1 FROM note WHERE supersedes = ?1), special
                 FROM note WHERE id = ?1",
                [old],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            // A correction of special-category data is special-category data.
            special |= was_special;
            if client_id != n.client_id {
                return Err(Error::invalid(
                    "supersedes",
                    t!("val.supersede_other_client"),
                ));
            }
            if taken {
                return Err(Error::invalid("supersedes", t!("val.supersede_twice")));
            }
        }
        let id = new_id();
        let author = self.user()?;
        self.conn
            .prepare_cached(
                "INSERT INTO note (id, client_id, kind, occurred_at, body, author, created_at,
                                   supersedes, special)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                id,
                n.client_id,
                n.kind.code(),
                format_datetime(n.occurred_at),
                n.body,
                author,
                self.now(),
                n.supersedes,
                special
            ])?;
        self.record("note", &id)?;
        self.emit_new(&n.client_id, &format!("note/{id}"), None)?;
        self.log(Action::Create, Some(&n.client_id), &format!("note {id}"))?;
        Ok(id)
    }

    /// A client's notes, newest contact first, each with the note that supersedes it.
    pub(in crate::engine) fn notes(&self, client_id: &str) -> Result<Vec<Note>> {
        self.client(client_id)?;
        let mut stmt = self.conn.prepare(
            "SELECT n.id, n.client_id, n.kind, n.occurred_at, n.body, n.author, n.created_at,
                    n.supersedes,
                    -- Two workers may each have corrected it offline: both are kept.
                    (SELECT max(s.id) FROM note s WHERE s.supersedes = n.id), n.special
             FROM note n
             WHERE n.client_id = ?1 ORDER BY n.occurred_at DESC, n.id DESC",
        )?;
        let rows = stmt
            .query_map([client_id], |r| {
                Ok(Note {
                    id: r.get(0)?,
                    client_id: r.get(1)?,
                    kind: r.get::<_, String>(2)?.parse().unwrap_or(NoteKind::Overig),
                    occurred_at: r.get(3)?,
                    body: r.get(4)?,
                    author: r.get(5)?,
                    created_at: r.get(6)?,
                    supersedes: r.get(7)?,
                    superseded_by: r.get(8)?,
                    special: r.get(9)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Full-text search over client names and note bodies, best first (bm25). Every matching
    /// note is ranked; special-category notes are not in the index at all (migration 0011),
    /// because even a hit without its text would tell which clients have such a note with
    /// that word. Notes written since the last search are indexed first (migration 0014),
    /// so a search finds every note there is. See search.rs for how a word in 150,000 notes
    /// stays fast.
    pub(in crate::engine) fn search(
        &self,
        fts_query: &str,
        limit: usize,
    ) -> Result<Vec<SearchHit>> {
        search::index_pending(&self.conn)?;
        let hit = |kind: &'static str| {
            move |r: &Row<'_>| {
                Ok(SearchHit {
                    kind,
                    id: r.get(0)?,
                    client_id: r.get(1)?,
                    client_name: r.get(2)?,
                    snippet: r.get(3)?,
                    rank: r.get(4)?,
                    special: r.get(5)?,
                })
            }
        };
        let mut hits: Vec<SearchHit> = self
            .conn
            .prepare_cached(
                "SELECT c.id, c.id, c.name, snippet(client_fts, 0, '[', ']', '…', 12), client_fts.rank, 0
                 FROM client_fts JOIN client c ON c.rowid = client_fts.rowid
                 WHERE client_fts MATCH ?1 ORDER BY client_fts.rank LIMIT ?2",
            )?
            .query_map(params![fts_query, limit as i64], hit("client"))?
            .collect::<rusqlite::Result<_>>()?;
        let ranked = {
            let mut lengths = self.doc_lengths.borrow_mut();
            search::refresh_lengths(&self.conn, &mut lengths)?;
            let lengths = lengths.as_ref().expect("refreshed above");
            search::rank_notes(&self.conn, lengths, fts_query, limit)?
        };
        if let Some(phrases) = &ranked.phrases {
            // Snippets from the notes' text: FTS5's algorithm, without a lookup per note.
            let tokenizer = search::Tokenizer::new(&self.conn)?;
            let mut note = self.conn.prepare_cached(
                "SELECT n.id, n.client_id, c.name, n.body, n.special
                 FROM note n JOIN client c ON c.id = n.client_id
                 WHERE n.rowid = ?1 AND NOT n.special",
            )?;
            for &(rowid, rank) in &ranked.hits {
                let row = note
                    .query_row([rowid], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, bool>(4)?,
                        ))
                    })
                    .optional()?;
                if let Some((id, client_id, client_name, mut body, special)) = row {
                    hits.push(SearchHit {
                        kind: "note",
                        id,
                        client_id,
                        client_name,
                        snippet: search::snippet(&tokenizer, &body, phrases),
                        rank,
                        special,
                    });
                    zeroize::Zeroize::zeroize(&mut body);
                }
            }
        } else {
            let mut note = self.conn.prepare_cached(
                "SELECT n.id, n.client_id, c.name, snippet(note_fts, 0, '[', ']', '…', 12), ?3,
                        n.special
                 FROM note_fts JOIN note n ON n.rowid = note_fts.rowid
                 JOIN client c ON c.id = n.client_id
                 WHERE note_fts MATCH ?1 AND note_fts.rowid = ?2 AND NOT n.special",
            )?;
            for &(rowid, rank) in &ranked.hits {
                if let Some(h) = note
                    .query_row(params![fts_query, rowid, rank], hit("note"))
                    .optional()?
                {
                    hits.push(h);
                }
            }
        }
        hits.sort_by(|a, b| a.rank.total_cmp(&b.rank));
        hits.truncate(limit);
        Ok(hits)
    }

    /// Counts of clients and notes.
    pub(in crate::engine) fn counts(&self) -> Result<(u64, u64)> {
        Ok(self.conn.query_row(
            "SELECT (SELECT count(*) FROM client), (SELECT count(*) FROM note)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// Refuses a change that would make the image larger than kluis can load again (see
    /// [`MAX_IMAGE_BYTES`]); run inside the transaction, so the change is rolled back.
    fn check_size(&self) -> Result<()> {
        // Two plain pragmas: the table-valued pragma functions open a virtual table each,
        // a cost every durable edit paid.
        let pages: u64 = self
            .conn
            .prepare_cached("PRAGMA page_count")?
            .query_row([], |r| r.get(0))?;
        // Fixed once the database exists: asked once.
        let page_size = match self.page_size.get() {
            Some(p) => p,
            None => {
                let p: u64 = self
                    .conn
                    .prepare_cached("PRAGMA page_size")?
                    .query_row([], |r| r.get(0))?;
                self.page_size.set(Some(p));
                p
            }
        };
        let size = pages * page_size;
        let max = self.max_image.get();
        if size > max {
            return Err(Error::VaultTooLarge { size, max });
        }
        Ok(())
    }

    /// Lowers the largest image a change may leave (tests, so the limit is cheap to reach).
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub(in crate::engine) fn set_max_image(&self, bytes: u64) {
        self.max_image.set(bytes);
    }

    /// The session's clock: what it writes is stamped with this local time (see
    /// `Session::set_clock`); None is the real clock.
    pub(in crate::engine) fn set_clock(&self, now: Option<chrono::NaiveDateTime>) {
        self.fixed_now.set(now);
    }

    /// Now, local time, by the session's clock.
    pub(in crate::engine) fn local_now(&self) -> chrono::NaiveDateTime {
        self.fixed_now
            .get()
            .unwrap_or_else(|| chrono::Local::now().naive_local())
    }

    /// Now in UTC as stored (RFC 3339), by the session's clock.
    pub(in crate::engine) fn now(&self) -> String {
        match self.fixed_now.get() {
            Some(local) => {
                use chrono::TimeZone;
                chrono::Local
                    .from_local_datetime(&local)
                    .earliest()
                    .map(|t| crate::model::format_utc(t.with_timezone(&chrono::Utc)))
                    .unwrap_or_else(now_utc)
            }
            None => now_utc(),
        }
    }

    /// The dossier a note belongs to.
    pub(in crate::engine) fn note_client(&self, note: &str) -> Result<String> {
        self.conn
            .query_row("SELECT client_id FROM note WHERE id = ?1", [note], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| Error::NotFound {
                what: IdTable::Note.label(),
                id: note.to_owned(),
            })
    }

    /// Direct access for bulk generators in benchmarks and tests.
    pub(in crate::engine) fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// What ids are looked up in: a record kind's table.
pub use crate::model::record::Kind as IdTable;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NewClient, NewNote};
    use chrono::NaiveDateTime;

    fn client(name: &str) -> NewClient {
        NewClient {
            name: name.into(),
            bsn: Some(Bsn::parse("111222333").unwrap()),
            birth_date: None,
            address: None,
            phone: None,
            domain: Domain::Wmo,
            opened_on: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        }
    }

    fn note(client_id: &str, body: &str, supersedes: Option<String>) -> NewNote {
        NewNote {
            client_id: client_id.into(),
            kind: NoteKind::Huisbezoek,
            occurred_at: NaiveDateTime::parse_from_str("2026-02-01 10:00", "%Y-%m-%d %H:%M")
                .unwrap(),
            body: body.into(),
            supersedes,
            special: false,
        }
    }

    #[test]
    fn image_round_trip_keeps_everything() {
        let mut s = Store::create("test").unwrap();
        let id = s.add_client(&client("Fatima el Amrani")).unwrap();
        s.add_note(&note(&id, "Keukentafelgesprek over schulden", None))
            .unwrap();
        let image = s.image().unwrap().to_vec();
        let back = Store::from_image(&image[..], image.len()).unwrap();
        assert_eq!(back.client(&id).unwrap().name, "Fatima el Amrani");
        assert_eq!(back.notes(&id).unwrap().len(), 1);
        assert!(back.integrity_problems().unwrap().is_empty());
        assert_eq!(back.schema_version().unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn foreign_sqlite_image_is_refused() {
        let mut conn = Store::open_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x)").unwrap();
        let image = conn.serialize(rusqlite::MAIN_DB).unwrap().to_vec();
        assert!(matches!(
            Store::from_image(&image[..], image.len()),
            Err(ImageError::NotKluis)
        ));
        let junk = vec![7u8; 4096];
        assert!(matches!(
            Store::from_image(&junk[..], junk.len()),
            Err(ImageError::Unreadable(_))
        ));
    }

    #[test]
    fn notes_are_append_only_and_corrections_supersede() {
        let s = Store::create("test").unwrap();
        let c = s.add_client(&client("Jan")).unwrap();
        let old = s.add_note(&note(&c, "eerste versie", None)).unwrap();
        let new = s
            .add_note(&note(&c, "gecorrigeerd", Some(old.clone())))
            .unwrap();
        assert!(
            s.add_note(&note(&c, "nog eens", Some(old.clone())))
                .is_err()
        );
        let notes = s.notes(&c).unwrap();
        let o = notes.iter().find(|n| n.id == old).unwrap();
        assert_eq!(o.superseded_by.as_deref(), Some(new.as_str()));
        assert!(
            s.connection()
                .execute("UPDATE note SET body = 'x'", [])
                .is_err()
        );
        assert!(s.connection().execute("DELETE FROM note", []).is_err());
    }

    #[test]
    fn search_ranks_and_snippets() {
        let s = Store::create("test").unwrap();
        let a = s.add_client(&client("Pieter de Vries")).unwrap();
        s.add_note(&note(&a, "Huur achterstand besproken met verhuurder", None))
            .unwrap();
        s.add_note(&note(&a, "Over de tuin gepraat", None)).unwrap();
        let hits = s
            .search(&crate::model::fts_query("achterst").unwrap(), 10)
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert!(
            hits[0].snippet.contains("[achterstand]"),
            "{}",
            hits[0].snippet
        );
        let hits = s
            .search(&crate::model::fts_query("vries").unwrap(), 10)
            .unwrap();
        assert_eq!(hits[0].kind, "client");
        // Diacritics fold: "cafe" finds "café".
        s.add_note(&note(&a, "Afspraak in het café", None)).unwrap();
        assert_eq!(
            s.search(&crate::model::fts_query("cafe").unwrap(), 10)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn id_prefixes_resolve_or_explain() {
        let s = Store::create("test").unwrap();
        let a = s.add_client(&client("A")).unwrap();
        let b = s.add_client(&client("B")).unwrap();
        assert_eq!(s.resolve_id(IdTable::Client, &a).unwrap(), a);
        assert!(matches!(
            s.resolve_id(IdTable::Client, &a[..8]),
            Err(Error::Ambiguous { .. })
        ));
        assert_eq!(s.resolve_id(IdTable::Client, &b[..b.len() - 1]).unwrap(), b);
        assert!(matches!(
            s.resolve_id(IdTable::Client, "ffffffff"),
            Err(Error::NotFound { .. })
        ));
    }

    /// Replay groups rows by table (so FTS5 flushes once per table, not once per note): a
    /// note whose client comes later in that grouping still lands, because foreign keys are
    /// checked at the commit, on the final state.
    #[test]
    fn replay_grouped_by_table_keeps_foreign_keys_to_rows_that_come_later() {
        let mut live = Store::create("test").unwrap();
        let (x, _) = live
            .transaction(|s| s.add_client(&client("Eerste")))
            .unwrap();
        let start = live.image().unwrap().to_vec();
        let mut records = Vec::new();
        let (_, r) = live
            .transaction(|s| s.add_note(&note(&x, "voor de eerste", None)))
            .unwrap();
        records.extend(r);
        let (b, r) = live
            .transaction(|s| s.add_client(&client("Tweede")))
            .unwrap();
        records.extend(r);
        let (_, r) = live
            .transaction(|s| s.add_note(&note(&b, "voor de tweede", None)))
            .unwrap();
        records.extend(r);
        // The first record's note comes before the second client's row.
        let first_note = records.iter().position(|r| r.table == "note").unwrap();
        let second_client = records.iter().rposition(|r| r.table == "client").unwrap();
        assert!(first_note < second_client);
        let mut copy = Store::from_image(&start[..], start.len())
            .map_err(|_| "image")
            .unwrap();
        copy.apply_changes(&records).unwrap();
        let bodies = |s: &Store, id: &str| -> Vec<String> {
            s.notes(id).unwrap().into_iter().map(|n| n.body).collect()
        };
        assert_eq!(bodies(&copy, &b), bodies(&live, &b));
        assert_eq!(bodies(&copy, &x), bodies(&live, &x));
        assert!(copy.integrity_problems().unwrap().is_empty());
        // A note whose client never arrives is still refused, at the commit.
        let orphan: Vec<_> = records
            .iter()
            .filter(|r| r.table == "note")
            .cloned()
            .collect();
        let mut bare = Store::from_image(&start[..], start.len())
            .map_err(|_| "image")
            .unwrap();
        assert!(bare.apply_changes(&orphan[1..]).is_err());
    }

    #[test]
    fn meta_read_in_a_transaction_follows_its_writes_and_its_rollback() {
        let mut s = Store::create("me").unwrap();
        s.set_meta("worker_id", "w-1").unwrap();
        let (seen, rows) = s
            .transaction(|s| {
                let before = s.meta("worker_id")?;
                s.set_meta("worker_id", "w-2")?;
                Ok((before, s.meta("worker_id")?, s.user()?))
            })
            .unwrap();
        assert_eq!(
            seen,
            (Some("w-1".into()), Some("w-2".into()), "w-2".to_owned())
        );
        assert!(
            rows.iter().any(|r| r.table == "meta"),
            "the write is journaled"
        );
        let failed: Result<((), _)> = s.transaction(|s| {
            assert_eq!(s.user()?, "w-2");
            s.set_meta("worker_id", "w-3")?;
            assert_eq!(s.user()?, "w-3");
            Err(Error::invalid("test", "stop"))
        });
        assert!(failed.is_err());
        assert_eq!(s.meta("worker_id").unwrap().as_deref(), Some("w-2"));
        let (after, _) = s.transaction(|s| s.user()).unwrap();
        assert_eq!(
            after, "w-2",
            "nothing of the rolled-back write is remembered"
        );
    }

    #[test]
    fn a_new_notes_ops_have_no_earlier_version() {
        let mut s = Store::create("me").unwrap();
        let (id, _) = s.transaction(|s| s.add_client(&client("Klein"))).unwrap();
        let (note_id, rows) = s
            .transaction(|s| s.add_note(&note(&id, "tekst", None)))
            .unwrap();
        let ops: Vec<_> = rows.iter().filter(|r| r.table == "op").collect();
        assert_eq!(ops.len(), 2, "the note's op and its access-log entry's op");
        let (fields, prevs): (Vec<String>, Vec<Option<String>>) = s
            .conn
            .prepare("SELECT field, prev FROM op WHERE field IN (?1) OR field LIKE 'log/%'")
            .unwrap()
            .query_map([format!("note/{note_id}")], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .unzip();
        assert!(fields.contains(&format!("note/{note_id}")));
        assert!(prevs.iter().all(Option::is_none), "{prevs:?}");
    }

    #[test]
    fn a_transaction_past_the_journal_limit_stops_noting_rows_and_asks_for_a_whole_save() {
        let mut s = Store::create("me").unwrap();
        s.set_journal_limit(20_000);
        let (id, small) = s.transaction(|s| s.add_client(&client("Klein"))).unwrap();
        assert!(!small.is_empty());
        assert!(!s.take_saved_whole(), "a small change goes to the journal");
        let (_, big) = s
            .transaction(|s| {
                for i in 0..20 {
                    s.add_note(&note(&id, &format!("{i} {}", "woord ".repeat(500)), None))?;
                }
                Ok(())
            })
            .unwrap();
        assert!(big.is_empty(), "nothing noted past the limit");
        assert!(s.take_saved_whole());
        assert!(!s.take_saved_whole(), "the mark is taken once");
        assert_eq!(
            s.notes(&id).unwrap().len(),
            20,
            "the change itself is whole"
        );
        // A failed transaction leaves no mark behind.
        let failed: Result<((), _)> = s.transaction(|s| {
            for _ in 0..20 {
                s.add_note(&note(&id, &"woord ".repeat(500), None))?;
            }
            Err(Error::invalid("test", "stop"))
        });
        assert!(failed.is_err());
        assert!(!s.take_saved_whole());
        assert_eq!(s.notes(&id).unwrap().len(), 20);
    }

    #[test]
    fn replay_applies_only_the_last_version_of_a_row_and_ends_in_the_same_state() {
        let mut live = Store::create("test").unwrap();
        let (x, _) = live
            .transaction(|s| s.add_client(&client("Eerste")))
            .unwrap();
        let start = live.image().unwrap().to_vec();
        let mut records = Vec::new();
        for (i, name) in ["Tweede", "Derde", "Vierde"].iter().enumerate() {
            let (_, r) = live
                .transaction(|s| {
                    s.add_note(&note(&x, &format!("notitie {i}"), None))?;
                    s.edit_client(
                        &x,
                        &ClientPatch {
                            name: Some(name.to_string()),
                            ..Default::default()
                        },
                    )
                })
                .unwrap();
            records.extend(r);
        }
        // The clock's row and the client's row are in every record.
        let versions = |t: &str| records.iter().filter(|r| r.table == t).count();
        assert!(versions("meta") >= 3 && versions("client") >= 3);
        let mut copy = Store::from_image(&start[..], start.len())
            .map_err(|_| "image")
            .unwrap();
        copy.apply_changes(&records).unwrap();
        let dump = |s: &Store, sql: &str| -> Vec<Vec<rusqlite::types::Value>> {
            let mut stmt = s.conn.prepare(sql).unwrap();
            let n = stmt.column_count();
            stmt.query_map([], |r| (0..n).map(|i| r.get(i)).collect())
                .unwrap()
                .map(|r| r.unwrap())
                .collect()
        };
        for sql in [
            "SELECT * FROM meta ORDER BY key",
            "SELECT * FROM client ORDER BY id",
            "SELECT * FROM note ORDER BY id",
            "SELECT * FROM op ORDER BY id",
            "SELECT * FROM access_log ORDER BY seq",
            "SELECT * FROM note_tally ORDER BY client_id",
        ] {
            assert_eq!(dump(&copy, sql), dump(&live, sql), "{sql}");
        }
        assert_eq!(copy.client(&x).unwrap().name, "Vierde");
        assert_eq!(copy.search("vierde", 10).unwrap().len(), 1);
        assert!(copy.integrity_problems().unwrap().is_empty());
    }

    /// The caseload's counts come from the tally (migration 0015): built for a vault from
    /// before it, then kept through new notes, a replayed journal and an erasure.
    #[test]
    fn the_note_tally_is_built_for_an_older_vault_and_follows_every_change_to_notes() {
        let mut conn = Store::open_memory().unwrap();
        Store::configure(&conn).unwrap();
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        let before = MIGRATIONS
            .iter()
            .position(|(name, _)| *name == "0015_note_tally.sql")
            .unwrap();
        for (i, (_, sql)) in MIGRATIONS.iter().take(before).enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", (i + 1) as i32)
                .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO client (id, name, domain, status, opened_on, created_at, updated_at)
             VALUES ('c1', 'Een', 'wmo', 'open', '2026-01-01', 'x', 'x'),
                    ('c2', 'Twee', 'wmo', 'open', '2026-01-01', 'x', 'x'),
                    ('c3', 'Drie', 'wmo', 'open', '2026-01-01', 'x', 'x');
             INSERT INTO note (id, client_id, kind, occurred_at, body, author, created_at)
             VALUES ('n1', 'c1', 'overig', '2026-01-05T10:00:00', 'a', 'test', 'x'),
                    ('n2', 'c1', 'overig', '2026-03-01T10:00:00', 'b', 'test', 'x'),
                    ('n3', 'c1', 'overig', '2026-02-01T10:00:00', 'c', 'test', 'x'),
                    ('n4', 'c2', 'overig', '2026-01-09T10:00:00', 'd', 'test', 'x');",
        )
        .unwrap();
        let image = conn.serialize(rusqlite::MAIN_DB).unwrap().to_vec();
        let mut s = Store::from_image(&image[..], image.len())
            .map_err(|_| "image")
            .unwrap();
        assert_eq!(s.migrated_from(), Some(before as i32));
        let listed = |s: &Store| -> Vec<(String, u64, Option<String>)> {
            s.clients(true)
                .unwrap()
                .into_iter()
                .map(|(c, n, last)| (c.id, n, last))
                .collect()
        };
        let day = |d: &str| Some(format!("{d}T10:00:00"));
        assert_eq!(
            listed(&s),
            vec![
                ("c3".into(), 0, None),
                ("c1".into(), 3, day("2026-03-01")),
                ("c2".into(), 1, day("2026-01-09")),
            ]
        );
        assert!(s.tally_matches_notes());

        // Journal records of new notes, replayed on the image before them.
        let start = s.image().unwrap().to_vec();
        let mut records = Vec::new();
        for (client, at) in [("c2", "2026-04-02 09:00"), ("c3", "2025-12-01 09:00")] {
            let mut n = note(client, "nieuw", None);
            n.occurred_at = NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M").unwrap();
            let ((), r) = s.transaction(|s| s.add_note(&n).map(drop)).unwrap();
            records.extend(r);
        }
        let after = listed(&s);
        assert_eq!(after[0].1, 1, "{after:?}");
        assert_eq!(
            after[2],
            ("c2".into(), 2, Some("2026-04-02T09:00:00".into()))
        );
        let mut copy = Store::from_image(&start[..], start.len())
            .map_err(|_| "image")
            .unwrap();
        copy.apply_changes(&records).unwrap();
        assert_eq!(listed(&copy), after);
        assert!(copy.tally_matches_notes());

        // An erasure takes the dossier's tally with its notes.
        s.transaction(|s| s.tombstone("c1", "2026-05-01", "test"))
            .unwrap();
        let left: i64 = s
            .conn
            .query_row(
                "SELECT count(*) FROM note_tally WHERE client_id = 'c1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(left, 0);
        assert!(listed(&s).iter().all(|(id, _, _)| id != "c1"));
        assert!(s.tally_matches_notes());

        // A tally that no longer says what the notes say is a problem `check` reports.
        s.conn
            .execute("UPDATE note_tally SET notes = 7 WHERE client_id = 'c2'", [])
            .unwrap();
        assert!(!s.tally_matches_notes());
    }

    /// Replay writes up to `ROWS_PER_STATEMENT` rows per statement, some rows twice (a later
    /// record of the row has other columns): the result is that of applying the records one
    /// at a time, in order, and a bad record still refuses them all.
    #[test]
    fn replay_in_statements_of_many_rows_ends_where_one_record_at_a_time_does() {
        let row = |key: &str, value: &str| RowChange {
            table: "meta".into(),
            columns: vec!["key".to_owned(), "value".to_owned()].into(),
            values: vec![Cell::T(key.into()), Cell::T(value.into())],
        };
        let mut records = Vec::new();
        for i in 0..(3 * ROWS_PER_STATEMENT) {
            records.push(row(&format!("bench_{i:04}"), &format!("v{i}")));
            if i == ROWS_PER_STATEMENT / 2 {
                records.push(row("twice", "first"));
            }
            // Within one statement's worth of rows of the first.
            if i == ROWS_PER_STATEMENT / 2 + 5 {
                records.push(row("twice", "second"));
                // Rewritten later in the same run: only this version of it is applied.
                records.push(row("bench_0001", "again"));
            }
        }
        // The last record of the row names its columns in another order: other columns.
        let mut last = row("twice", "third");
        last.columns = last.columns.iter().rev().cloned().collect();
        last.values.reverse();
        records.push(last);
        let start = Store::create("test").unwrap().image().unwrap().to_vec();
        let open = || {
            Store::from_image(&start[..], start.len())
                .map_err(|_| "image")
                .unwrap()
        };
        let mut batched = open();
        batched.apply_changes(&records).unwrap();
        let mut one_by_one = open();
        for r in &records {
            one_by_one.apply_changes(std::slice::from_ref(r)).unwrap();
        }
        let dump = |s: &Store| -> Vec<(String, String)> {
            let mut stmt = s
                .conn
                .prepare("SELECT key, value FROM meta ORDER BY key")
                .unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(|r| r.unwrap())
                .collect()
        };
        assert_eq!(dump(&batched), dump(&one_by_one));
        assert_eq!(batched.meta("twice").unwrap().as_deref(), Some("third"));
        assert_eq!(
            batched.meta("bench_0001").unwrap().as_deref(),
            Some("again")
        );
        assert_eq!(batched.meta("bench_0191").unwrap().as_deref(), Some("v191"));
        // A record naming an unknown column is still refused, and nothing of the run stays.
        let mut bad = records.clone();
        bad[100].columns = vec!["key".to_owned(), "waarde".to_owned()].into();
        let mut refused = open();
        assert!(refused.apply_changes(&bad).is_err());
        assert_eq!(refused.meta("bench_0000").unwrap(), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]

        /// Replaying the change records of any sequence of edits on a copy of the starting
        /// image gives the same data as the edits themselves.
        #[test]
        fn replaying_change_records_reproduces_the_edits(
            ops in proptest::collection::vec((0u8..4, "[a-zA-Zé ]{1,12}", 0usize..4), 1..25)
        ) {
            let mut live = Store::create("test").unwrap();
            let start = live.image().unwrap().to_vec();
            let mut records = Vec::new();
            let mut ids: Vec<String> = Vec::new();
            for (op, text, pick) in ops {
                let text = if text.trim().is_empty() { "x".to_owned() } else { text };
                let (_, changes) = live.transaction(|s| {
                    match (op, ids.get(pick % ids.len().max(1))) {
                        (0, _) | (_, None) => { ids.push(s.add_client(&client(&text))?); }
                        (1, Some(id)) => { s.edit_client(id, &ClientPatch { name: Some(text.clone()), ..Default::default() })?; }
                        (2, Some(id)) => { s.add_note(&note(id, &text, None))?; }
                        (_, Some(id)) => { s.close_client(id, NaiveDate::from_ymd_opt(2026, 6, 1).unwrap())?; }
                    }
                    Ok(())
                }).unwrap();
                records.extend(changes);
            }
            let mut copy = Store::from_image(&start[..], start.len()).map_err(|_| "image").unwrap();
            // Through the journal's encoding, as on disk.
            let json = serde_json::to_vec(&records).unwrap();
            let decoded: Vec<changes::RowChange> = serde_json::from_slice(&json).unwrap();
            copy.apply_changes(&decoded).unwrap();
            let summary = |s: &Store| {
                s.clients(true).unwrap().into_iter()
                    .map(|(c, n, last)| (c.id, c.name, c.status, n, last, c.updated_at))
                    .collect::<Vec<_>>()
            };
            proptest::prop_assert_eq!(summary(&live), summary(&copy));
            for id in &ids {
                let a: Vec<_> = live.notes(id).unwrap().into_iter().map(|n| (n.id, n.body)).collect();
                let b: Vec<_> = copy.notes(id).unwrap().into_iter().map(|n| (n.id, n.body)).collect();
                proptest::prop_assert_eq!(a, b);
            }
            proptest::prop_assert!(copy.integrity_problems().unwrap().is_empty());
            // The full-text index was rebuilt by the triggers.
            if let Some(id) = ids.first() {
                let name = live.client(id).unwrap().name;
                if let Some(q) = crate::model::fts_query(&name) {
                    proptest::prop_assert_eq!(live.search(&q, 50).unwrap().len(), copy.search(&q, 50).unwrap().len());
                }
            }
        }
    }

    /// Landed migrations are history: a vault made at any earlier commit of main upgrades
    /// through the same steps. A new schema change is the next file, and its hash is added
    /// here once; an edit to a listed file fails this test.
    #[test]
    fn landed_migrations_never_change() {
        const PINNED: &[(&str, &str)] = &[
            (
                "0001_init.sql",
                "927885c7b5678e92c3bf27960fc5a9ae2f9dad6ffdb6e73633dcfdea2269768b",
            ),
            (
                "0002_org.sql",
                "8f1cfe11bbdb98b669655bc08d3481e6a1d6ddd7eaf190af91369e0ab98fe901",
            ),
            (
                "0003_draft.sql",
                "3b8faaf8ecd663ac9f8ba4b012645b53b1c0db52c130afe34fb154ada92c8fda",
            ),
            (
                "0004_sync.sql",
                "ee55cea40a2e66da06bb8803a673d33eb27f92d09f72e352a7eddb77c0d7300e",
            ),
            (
                "0005_privacy.sql",
                "4f405e6530edac10e1d422dca519efb29d0e46c3fb1bc58b78098c795db9ae99",
            ),
            (
                "0006_depth.sql",
                "ac312aa34291ffcf32a61c30127857bcd827d487c2b1a791dda99e927f75412b",
            ),
            (
                "0007_repair.sql",
                "f7dce7c7cc72eb96f7c9435046f23127822f6a0ebdf1b3f732ca339fa770cf00",
            ),
            (
                "0008_signal.sql",
                "d10711b9ce0e90e0d87b15e7ab87367ea0d611936010facc5a6ed591cdde917c",
            ),
            (
                "0009_practice.sql",
                "0a4f05d8f1e8fa815abe303e4d346110f15519b5316833f88d535c99dfc7514a",
            ),
            (
                "0010_attachment_files.sql",
                "bfebe82071cb5d0cc7036a1ba833066133f269a29dc9726852812f1dc5a61bcd",
            ),
            (
                "0011_search.sql",
                "e77a075df77806a3de94701c0b7e88971ff32577fc53bae9206f366156bd3e09",
            ),
            (
                "0012_trust.sql",
                "473924a6ca0070b68218cdb211acbeec5e20d95ccefe311c7ca3d0c16e650c27",
            ),
            (
                "0013_share_forget.sql",
                "e6bd9607ac73e6ec62ec7043f0a75a37a813029d197bf79d2a97efe883cc3d11",
            ),
            (
                "0014_lazy_note_index.sql",
                "aec656e8cd5026d8e145e7e19cf17801d7f198ee95d7d2be6ad3e7affc818dd6",
            ),
            (
                "0015_note_tally.sql",
                "08de24145c3d45e3f7ef431d3a6016534c111f7aa68595c292ce05ecbd1f55bc",
            ),
        ];
        // Numbers only grow; a branch's migration may leave a gap for another branch's,
        // which the merge renumbers (a vault's schema version is its place in the list).
        let mut last = 0;
        for (i, (name, sql)) in MIGRATIONS.iter().enumerate() {
            let number: usize = name[..4].parse().unwrap();
            assert!(
                number > last && number > i && name.as_bytes()[4] == b'_',
                "{name} is migration {}",
                i + 1
            );
            last = number;
            match PINNED.get(i) {
                Some((pinned_name, hash)) => {
                    assert_eq!(name, pinned_name);
                    assert_eq!(
                        &crate::model::sha256_hex(sql.as_bytes()),
                        hash,
                        "{name} changed after it landed: add the next migration instead"
                    );
                }
                None => panic!("pin the hash of {name} here"),
            }
        }
        let on_disk =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/migrations"))
                .unwrap()
                .count();
        assert_eq!(
            on_disk,
            MIGRATIONS.len(),
            "every migration file is in MIGRATIONS"
        );
    }

    fn tables(s: &Store) -> Vec<String> {
        s.connection()
            .prepare(
                "SELECT name FROM sqlite_schema WHERE type = 'table'
                 AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'
                 ORDER BY name",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    fn fts_shadow(name: &str) -> bool {
        ["client_fts_", "note_fts_", "note_impact_"]
            .iter()
            .any(|p| name.starts_with(p))
    }

    /// Derived from the schema itself: a table a new migration adds is journaled (or its
    /// rows would be lost at the next unlock) unless it is a full-text index or kept by
    /// triggers from journaled rows (`records::DERIVED_TABLES`).
    #[test]
    fn every_table_but_derived_ones_is_journaled() {
        let s = Store::create("test").unwrap();
        let derived = |t: &str| records::DERIVED_TABLES.iter().any(|(d, _)| *d == t);
        for t in tables(&s).iter().filter(|t| !fts_shadow(t) && !derived(t)) {
            assert!(
                changes::key_column(t).is_some(),
                "table {t} is not journaled: give it a record kind (model::record) or add it to records::INFRA_TABLES"
            );
        }
    }

    /// Derived from the schema itself: every table with a `client_id` column is emptied by
    /// erasure, or kept on purpose with the reason in `records::KEPT_AFTER_ERASURE`.
    #[test]
    fn every_table_with_a_client_id_is_erased() {
        let s = Store::create("test").unwrap();
        let erased_by_kinds: Vec<&str> = crate::model::record::Kind::ALL
            .iter()
            .flat_map(|k| {
                let spec = k.spec();
                std::iter::once(spec.table).chain(spec.more_tables.iter().copied())
            })
            .collect();
        for t in tables(&s) {
            let has_client: bool = s
                .connection()
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = 'client_id')",
                    [&t],
                    |r| r.get(0),
                )
                .unwrap();
            if !has_client {
                continue;
            }
            let erased = erased_by_kinds.contains(&t.as_str())
                || records::ERASED_WITH_DOSSIER
                    .iter()
                    .any(|sql| sql.contains(&format!("FROM {t} ")))
                || records::KEPT_AFTER_ERASURE.iter().any(|(k, _)| *k == t);
            assert!(
                erased,
                "table {t} holds client data that erasure leaves behind: give it a record kind"
            );
        }
    }

    #[test]
    fn compiled_to_keep_temp_data_in_memory() {
        let s = Store::create("test").unwrap();
        let mut stmt = s.connection().prepare("PRAGMA compile_options").unwrap();
        let opts: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert!(opts.iter().any(|o| o == "TEMP_STORE=3"), "{opts:?}");
        assert!(crate::harden::install_wiping_sqlite_allocator());
    }
}
