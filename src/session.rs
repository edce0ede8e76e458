//! An unlocked vault. Locking is dropping the session: the store and the keys wipe
//! themselves, and pending journal records are folded into a new vault generation first.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::i18n::t;
use crate::journal::{self, Found, Journal, JournalKey};
use crate::secret::SecretString;
use crate::store::Store;
use crate::store::changes::RowChange;
use crate::vault::{self, DiskStamp, KdfParams, Place, SealingKey, VaultLock};

mod door;
mod files;
mod practice;
mod printed;
pub use door::{CaseloadRow, ClientView, DisclosureRequest, Dossier, GenericRecord, Plan, Reveal};
pub use practice::{GroupNote, GroupView, Participant};
pub use printed::ConsentFormRequest;

/// What every session applies from the user's settings. The command line and the terminal
/// app open sessions the same way ([`Session::unlock`], [`Session::apply`]), so both show
/// the same retention dates and log the unlock alike.
#[derive(Clone, Debug, Default)]
pub struct Setup {
    /// Retention years per domain from the user's config (a vault's own policy wins).
    pub retention: Vec<(crate::model::Domain, u32)>,
    /// Which front end, for the access log's unlock entry (`cli`, `tui`).
    pub via: &'static str,
    /// A fixed "now" for what the session writes (tests, screenshots); None is the clock.
    pub clock: Option<chrono::NaiveDateTime>,
    /// Leave the journal as it is when the session ends, unless it has grown past its
    /// threshold or its oldest record is a day old (a command-line run: a read or an edit then
    /// costs one journal append, not a rewrite of the vault). The terminal app folds the
    /// journal at every lock and exit.
    pub keep_journal: bool,
}

/// How old the oldest journal record may be before a session that keeps the journal folds
/// it anyway: stock `age` and a copied vault file hold what was compacted, so edits do not
/// stay out of the vault file for long.
pub const JOURNAL_MAX_AGE: chrono::Duration = chrono::Duration::days(1);

/// Whether a session may change the vault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Shared lock; other readers may open the vault at the same time.
    Read,
    /// Exclusive lock; every change is durable before `change` returns.
    Write,
}

/// Meta key: the previous generation may still hold an erased dossier (see `save_erasure`).
const PREV_HOLDS_ERASED: &str = "prev_holds_erased";

/// Journal size past which a change also compacts.
pub const COMPACT_THRESHOLD: u64 = 8 << 20;

/// Warnings about work a session put off (a compaction that failed while every edit was
/// durable in the journal), for the command line to print when it is done.
static WARNINGS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Takes the warnings sessions left (see `WARNINGS`), oldest first.
pub fn take_warnings() -> Vec<String> {
    WARNINGS
        .lock()
        .map(|mut w| std::mem::take(&mut *w))
        .unwrap_or_default()
}

/// A save that failed for want of disk (or another IO failure) leaves the change in memory
/// only; anything else (the vault or its lock replaced) keeps its own error and exit code.
fn not_written(e: Error) -> Error {
    match e {
        Error::Io { .. } => Error::NotWritten {
            error: e.to_string(),
        },
        other => other,
    }
}

fn warn(text: String) {
    if let Ok(mut w) = WARNINGS.lock() {
        w.push(text);
    }
}

/// How a session is unlocked.
enum Unlock<'a> {
    Passphrase(&'a SecretString),
    Key(&'a SealingKey),
    /// IT's recovery identity, and the key the vault will be re-sealed under.
    Recovery(&'a age::x25519::Identity, SealingKey),
}

/// An unlocked vault.
pub struct Session {
    path: PathBuf,
    access: Access,
    store: Store,
    key: SealingKey,
    stamp: DiskStamp,
    journal_key: JournalKey,
    /// Open for appends in write sessions.
    journal: Option<Journal>,
    /// Records replayed at unlock and not yet folded into the vault.
    replayed: u64,
    /// A change is in memory that neither the journal nor the vault file holds (an append
    /// failed, for example on a full disk): the next change, and closing, save the whole vault.
    unsaved: bool,
    /// None only after `close_keep_lock` took it.
    lock: Option<VaultLock>,
    /// Clients a search showed and the log already has, since `forget_searches`: typing a
    /// query does not log the same names at every pause.
    searched: std::collections::BTreeSet<String>,
    /// See [`Setup::keep_journal`].
    keep_journal: bool,
}

/// The owner's name when none is given: the login name, else the code `me` (a code, not a
/// word: what is stored never depends on the writer's language).
pub fn default_owner() -> String {
    std::env::var("USER")
        .ok()
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "me".to_owned())
}

/// Parses recovery recipients given at `init`.
pub fn parse_recipients(values: &[String]) -> Result<Vec<age::x25519::Recipient>> {
    values
        .iter()
        .map(|v| {
            age::x25519::Recipient::from_str(v.trim())
                .map_err(|_| Error::invalid("recovery_recipient", t!("val.recipient", value = v)))
        })
        .collect()
}

/// Who this vault belongs to in the organisation (nothing about clients).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Identity {
    /// The owner's name.
    pub owner: String,
    /// The worker id, when enrolled.
    pub worker_id: Option<String>,
    /// The worker's name on the roster.
    pub name: String,
    /// Teams.
    pub teams: Vec<String>,
    /// Role.
    pub role: String,
    /// The organisation.
    pub org_name: String,
    /// The organisation's public key.
    pub org_public_key: String,
    /// The newest roster's version.
    pub roster_version: Option<u64>,
}

/// What `check` found.
#[derive(Debug, serde::Serialize)]
pub struct CheckReport {
    /// Schema version of the vault.
    pub schema_version: i32,
    /// Save counter of the vault.
    pub generation: u64,
    /// Integrity problems in the vault (empty when healthy).
    pub problems: Vec<String>,
    /// Number of clients.
    pub clients: u64,
    /// Number of notes.
    pub notes: u64,
    /// Journal records not yet folded into the vault file.
    pub journal_records: u64,
    /// Recovery recipients written into every save.
    pub recovery_recipients: Vec<String>,
    /// Entries in the access log (its chain verified; a break is in `problems`).
    pub access_log_entries: u64,
    /// The previous generation: None when there is none yet.
    pub previous: Option<PreviousReport>,
}

/// What `check` found in the previous generation.
#[derive(Debug, serde::Serialize)]
pub struct PreviousReport {
    /// Its save counter, when it could be read.
    pub generation: Option<u64>,
    /// Why it could not be read, or its integrity problems.
    pub problems: Vec<String>,
}

impl CheckReport {
    /// True when vault and backup are both healthy.
    pub fn is_healthy(&self) -> bool {
        self.problems.is_empty() && self.previous.as_ref().is_none_or(|p| p.problems.is_empty())
    }
}

fn generation(store: &Store) -> Result<u64> {
    Ok(store
        .meta("generation")?
        .and_then(|g| g.parse().ok())
        .unwrap_or(0))
}

/// Sets the meta values that tie the next vault generation to a fresh journal.
fn stamp_journal(store: &Store, next: &JournalKey, previous_id: Option<&str>) -> Result<()> {
    store.set_meta("journal_id", &next.id_hex())?;
    store.set_meta("journal_key", &next.key_hex())?;
    store.set_meta("journal_previous_id", previous_id.unwrap_or(""))?;
    Ok(())
}

/// Decodes the journal's records in their order, the two halves on two cores: decoding 1,000
/// records (allocating every name and value) costs about a third of applying them.
/// None when any record is not a change record.
fn decode_records(records: &[Zeroizing<Vec<u8>>]) -> Option<Vec<RowChange>> {
    let decode = |part: &[Zeroizing<Vec<u8>>]| -> Option<Vec<RowChange>> {
        let mut changes = Vec::with_capacity(part.len() * 4);
        for record in part {
            changes.extend(crate::store::changes::decode(record)?);
        }
        Some(changes)
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 || records.len() < 64 {
        return decode(records);
    }
    let (a, b) = records.split_at(records.len() / 2);
    let (first, second) = std::thread::scope(|scope| {
        let second = scope.spawn(|| decode(b));
        (decode(a), second.join().ok().flatten())
    });
    let mut changes = first?;
    changes.extend(second?);
    Some(changes)
}

fn journal_key(store: &Store) -> Result<Option<JournalKey>> {
    let id = store.meta("journal_id")?;
    let key = store.meta("journal_key")?.map(Zeroizing::new);
    Ok(match (id, key) {
        (Some(id), Some(key)) => JournalKey::from_hex(&id, &key),
        _ => None,
    })
}

/// The newest roster in a vault, checked against the organisation key pinned at enrollment
/// (sync reads it for every bundle; the session for who may still hold a dossier).
pub(crate) fn verified_roster(store: &Store, path: &Path) -> Result<crate::model::roster::Roster> {
    let not_enrolled = || Error::NotEnrolled {
        path: path.to_owned(),
    };
    let pinned = store.meta("org_public_key")?.ok_or_else(not_enrolled)?;
    let (_, text) = store.latest_roster()?.ok_or_else(not_enrolled)?;
    let signed: crate::org::Signed =
        serde_json::from_str(&text).map_err(|_| Error::BundleRefused {
            path: path.to_owned(),
            reason: t!("org.not_roster").into_owned(),
        })?;
    crate::org::verify_roster(&pinned, &signed, path)
}

impl Session {
    /// Creates a new vault at `path`; refuses if any file is there.
    pub fn create(
        path: &Path,
        passphrase: &SecretString,
        params: KdfParams,
        recovery: &[String],
        owner: &str,
    ) -> Result<Session> {
        Self::create_with(path, passphrase, params, recovery, owner, |_| Ok(()))
    }

    /// Like [`Session::create`], with `setup` run on the new database before its first save
    /// (enrollment puts the worker's keys and the pinned organisation key there).
    pub fn create_with(
        path: &Path,
        passphrase: &SecretString,
        params: KdfParams,
        recovery: &[String],
        owner: &str,
        setup: impl FnOnce(&Store) -> Result<()>,
    ) -> Result<Session> {
        let recipients = parse_recipients(recovery)?;
        if path.symlink_metadata().is_ok() {
            return Err(Error::VaultExists {
                path: path.to_owned(),
            });
        }
        vault::ensure_dir(path)?;
        let lock = VaultLock::acquire(path, true)?;
        let key = SealingKey::derive_new(passphrase, params)?;
        let mut store = Store::create(owner)?;
        store.set_files(Box::new(vault::FileDir::of(path)));
        for r in &recipients {
            store.add_recovery_recipient(&r.to_string())?;
        }
        setup(&store)?;
        let journal_key = JournalKey::generate();
        stamp_journal(&store, &journal_key, None)?;
        store.next_generation()?;
        let stamp = vault::write(path, &mut store, &key, &recipients, Place::Create)?;
        let journal = Some(Journal::create(path, &journal_key)?);
        let _ = lock.write_head(&journal::witness(&journal_key, 0));
        Ok(Session {
            path: path.to_owned(),
            access: Access::Write,
            store,
            key,
            stamp,
            journal_key,
            journal,
            replayed: 0,
            unsaved: false,
            lock: Some(lock),
            searched: Default::default(),
            keep_journal: false,
        })
    }

    /// Unlocks the vault at `path` and replays its journal.
    pub fn open(path: &Path, passphrase: &SecretString, access: Access) -> Result<Session> {
        Self::open_inner(path, Unlock::Passphrase(passphrase), access)
    }

    /// IT's passphrase recovery: opens the vault with the organisation's recovery identity,
    /// re-seals it under `temporary` (which must be replaced at the next unlock), records who
    /// did it, and leaves no file that opens with the old passphrase.
    pub fn recover(
        path: &Path,
        identity: &age::x25519::Identity,
        temporary: &SecretString,
        params: KdfParams,
        by: &str,
    ) -> Result<()> {
        let key = SealingKey::derive_new(temporary, params)?;
        let mut session = Self::open_inner(path, Unlock::Recovery(identity, key), Access::Write)?;
        session.change(|s| {
            s.set_meta("must_change_passphrase", "1")?;
            s.add_event("recovery", by, "")?;
            // IT acts on the owner's behalf: the log says both.
            let owner = s.user()?;
            s.set_on_behalf(Some(owner));
            let entry = s.log_by(by, crate::model::Action::Recovery, None, "");
            s.set_on_behalf(None);
            entry?;
            Ok(())
        })?;
        session.compact()?;
        vault::keep_previous(&session.path)?;
        session.close()
    }

    /// Whether a recovery set a temporary passphrase that must be replaced (`passwd`)
    /// before anything else.
    pub fn must_change_passphrase(&self) -> Result<bool> {
        Ok(self.store.meta("must_change_passphrase")?.as_deref() == Some("1"))
    }

    /// Unlocks with a key derived earlier (see [`Session::sealing_key`]), skipping the KDF.
    /// Benchmarks use it to measure unlock without the KDF.
    pub fn open_with_key(path: &Path, key: &SealingKey, access: Access) -> Result<Session> {
        Self::open_inner(path, Unlock::Key(key), access)
    }

    /// The derived passphrase key of this session.
    pub fn sealing_key(&self) -> &SealingKey {
        &self.key
    }

    /// Unlocks with the vault's lock already held (the terminal app keeps it while locked,
    /// even across its re-exec). The lock moves into the session only on success.
    pub fn open_holding(
        path: &Path,
        passphrase: &SecretString,
        held: &mut Option<VaultLock>,
    ) -> Result<Session> {
        Self::open_full(path, Unlock::Passphrase(passphrase), Access::Write, held)
    }

    /// Ends the session like [`Session::close`], but hands back the vault's lock so nobody
    /// else can take the vault while the terminal app shows its lock screen.
    pub fn close_keep_lock(mut self) -> Result<VaultLock> {
        let result = self.finish();
        let lock = self.lock.take().expect("session holds its lock");
        result.map(|()| lock)
    }

    /// Folds pending journal records into the vault, once: afterwards the session is
    /// read-only, so Drop has nothing left to do.
    ///
    /// When every edit is durable in the journal and only the compaction fails (a full disk),
    /// that is not a failure of the session: the next unlock replays the journal and
    /// compacts. A warning says so (see [`take_warnings`]).
    fn finish(&mut self) -> Result<()> {
        let result = if self.access == Access::Write
            && (self.unsaved || (self.pending_records() > 0 && !self.journal_may_stay()?))
        {
            match self.compact() {
                Err(e @ Error::Io { .. }) if !self.unsaved => {
                    warn(
                        t!(
                            "warn.compaction_deferred",
                            journal = journal::path_for(&self.path).display(),
                            error = e
                        )
                        .into_owned(),
                    );
                    Ok(())
                }
                other => other,
            }
        } else {
            Ok(())
        };
        self.access = Access::Read;
        result
    }

    /// Whether pending journal records may stay in the journal when this session ends: only
    /// when the session keeps the journal, it is under its threshold, and its oldest record
    /// (the journal is begun at each compaction, `saved_at`) is younger than
    /// [`JOURNAL_MAX_AGE`].
    fn journal_may_stay(&self) -> Result<bool> {
        if !self.keep_journal {
            return Ok(false);
        }
        let small = self
            .journal
            .as_ref()
            .is_none_or(|j| j.len() <= COMPACT_THRESHOLD);
        let begun = self
            .store
            .meta("saved_at")?
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok());
        // By the session's clock (a test moves it), like everything the session writes.
        let now = chrono::DateTime::parse_from_rfc3339(&self.store.now())
            .map_or_else(|_| chrono::Utc::now(), |t| t.to_utc());
        let young = begun.is_some_and(|t| now - t.to_utc() < JOURNAL_MAX_AGE);
        Ok(small && young)
    }

    fn open_inner(path: &Path, unlock: Unlock<'_>, access: Access) -> Result<Session> {
        Self::open_full(path, unlock, access, &mut None)
    }

    fn open_full(
        path: &Path,
        unlock: Unlock<'_>,
        access: Access,
        held: &mut Option<VaultLock>,
    ) -> Result<Session> {
        // A symlinked vault is followed once, here: everything below works beside the real
        // file (vault::resolve).
        let real = vault::resolve(path)?;
        let path = real.as_path();
        let acquired = match held {
            Some(_) => None,
            None => Some(VaultLock::acquire(path, access == Access::Write)?),
        };
        let mut opened = match unlock {
            Unlock::Passphrase(p) => vault::read(path, Some(p), None)?,
            Unlock::Key(k) => vault::read(path, None, Some(k))?,
            Unlock::Recovery(identity, key) => {
                let (store, stamp) = vault::read_with_recovery(path, identity)?;
                vault::Opened { store, key, stamp }
            }
        };
        opened.store.set_files(Box::new(vault::FileDir::of(path)));
        let journal_path = journal::path_for(path);
        let damaged = |reason: String| Error::Damaged {
            path: journal_path.clone(),
            reason,
        };
        // A vault made before it had a journal key gets one at its first compaction.
        let (journal_key, found, keyed) = match journal_key(&opened.store)? {
            Some(k) => {
                let previous = opened.store.meta("journal_previous_id")?;
                let found = journal::read(&journal_path, &k, previous.as_deref())?;
                (k, found, true)
            }
            None if journal_path.exists() => {
                return Err(damaged(t!("journal.no_key").into_owned()));
            }
            None => (JournalKey::generate(), Found::Missing, false),
        };
        // The lock file's witness counts the records acknowledged since the last compaction:
        // a journal that holds fewer was cut, deleted or replaced (docs/journal-format.md).
        let lock = acquired.as_ref().or(held.as_ref());
        if let (true, Some(lock)) = (keyed, lock) {
            let have = match &found {
                Found::Current(replay) => replay.records.len() as u64,
                Found::Missing | Found::Stale => 0,
            };
            let head = lock.read_head(journal::WITNESS_LEN);
            if let Some(expected) = journal::witnessed(&head, &journal_key)
                && have < expected
            {
                return Err(damaged(
                    t!("journal.lost_records", have = have, expected = expected).into_owned(),
                ));
            }
        }
        // Only now, with the vault opened: a wrong passphrase or a refused file changes
        // nothing on disk.
        if access == Access::Write {
            vault::remove_stale_temps(path);
        }
        let mut replayed = 0;
        let mut journal = None;
        match found {
            Found::Current(replay) => {
                let changes = decode_records(&replay.records)
                    .ok_or_else(|| damaged(t!("journal.bad_contents").into_owned()))?;
                opened
                    .store
                    .apply_changes(&changes)
                    .map_err(|_| damaged(t!("journal.bad_contents").into_owned()))?;
                replayed = replay.records.len() as u64;
                if access == Access::Write {
                    journal = Some(Journal::open_for_append(
                        path,
                        replay.good_len,
                        replayed,
                        replay.torn,
                    )?);
                }
            }
            // A missing or already-folded journal is replaced by an empty one of this
            // generation, so a stale one never outlives the next compaction.
            Found::Missing | Found::Stale if keyed && access == Access::Write => {
                journal = Some(Journal::create(path, &journal_key)?);
            }
            Found::Missing | Found::Stale => {}
        }
        // An image of an older schema was migrated in memory (a rebuild of the search indexes,
        // seconds at 200,000 notes): saved with this session, not redone at every unlock.
        let migrated = access == Access::Write && opened.store.migrated_from().is_some();
        let mut session = Session {
            path: path.to_owned(),
            access,
            store: opened.store,
            key: opened.key,
            stamp: opened.stamp,
            journal_key,
            journal,
            replayed,
            unsaved: migrated,
            lock: acquired.or_else(|| held.take()),
            searched: Default::default(),
            keep_journal: false,
        };
        if access == Access::Write && session.journal.is_none() {
            // A vault without a journal key gets one (and its journal) from a compaction.
            session.compact()?;
        }
        // An erasure whose save did not get as far as replacing `.prev` (a crash, a full
        // disk) is finished now; and no erased dossier's data may be in the vault itself.
        if access == Access::Write {
            if session.store.scrub_erased()? {
                session.store.take_erased();
                session.save_erasure()?;
            } else if session.store.meta(PREV_HOLDS_ERASED)?.as_deref() == Some("1") {
                session.stamp = vault::keep_previous_stamped(&session.path, session.stamp)?;
                session.store.set_meta(PREV_HOLDS_ERASED, "0")?;
            }
            // A vault from before schema v10 keeps its files in the image: out they go, in a
            // new generation without them (vacuumed: they were most of it).
            if session.store.move_blobs_out()? > 0 {
                session.store.take_erased();
                session.save_erasure()?;
            }
            // Files no kept key opens: an erased dossier's whose removal a crash cut short,
            // or one written just before a crash saved its key.
            session.store.drop_unkept_files()?;
        }
        Ok(session)
    }

    /// Unlocks the vault at `path` with a passphrase and applies `setup`.
    pub fn unlock(
        path: &Path,
        passphrase: &SecretString,
        access: Access,
        setup: &Setup,
    ) -> Result<Session> {
        let mut session = Self::open(path, passphrase, access)?;
        session.apply(setup);
        Ok(session)
    }

    /// Applies the user's settings. A write session notes its unlock for the access log;
    /// it is written with the first thing the session shows or changes, so a command that
    /// does neither (a refused import) leaves the vault byte for byte as it was. Read
    /// sessions (check, whoami, audit) show no client data.
    pub fn apply(&mut self, setup: &Setup) {
        self.keep_journal = setup.keep_journal;
        for (domain, years) in &setup.retention {
            self.store.set_retention_default(*domain, *years);
        }
        self.store.set_clock(setup.clock);
        if self.access == Access::Write {
            self.store.note_unlock(setup.via);
        }
    }

    /// The vault's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store behind the door: for the engine's own modules (sync, org) only.
    pub(in crate::engine) fn store(&self) -> &Store {
        &self.store
    }

    /// Resolves a full id or a unique prefix of at least 8 characters (ids are not
    /// dossier content: nothing is logged).
    pub fn resolve(&self, table: crate::store::IdTable, prefix: &str) -> Result<String> {
        self.store.resolve_id(table, prefix)
    }

    /// Who is at the keyboard, as the access log and new records name them: the worker id
    /// in an organisation, else the owner.
    pub fn user(&self) -> Result<String> {
        self.store.user()
    }

    /// The vault owner's name, as given at `init` or enrollment.
    pub fn owner(&self) -> Result<Option<String>> {
        self.store.meta("owner")
    }

    /// The worker id, when the vault is enrolled in an organisation.
    pub fn worker_id(&self) -> Result<Option<String>> {
        self.store.meta("worker_id")
    }

    /// Years a closed dossier of `domain` is kept and where that comes from.
    pub fn retention_policy(&self, domain: crate::model::Domain) -> Result<(u32, &'static str)> {
        self.store.retention_policy(domain)
    }

    /// The access log (ids, times and workers; no client data), one dossier's with
    /// `client`.
    pub fn audit(&self, client: Option<&str>) -> Result<Vec<crate::model::AuditEntry>> {
        self.store.audit(client)
    }

    /// Checks the access log's hash chain: the number of entries, or the first broken one.
    pub fn verify_log(&self) -> Result<std::result::Result<u64, (i64, String)>> {
        self.store.verify_log()
    }

    /// How many dossiers, notes and sync operations the vault holds (numbers only).
    pub fn counts(&self) -> Result<(u64, u64, u64)> {
        let (clients, notes) = self.store.counts()?;
        Ok((clients, notes, self.store.op_count()?))
    }

    /// Who this vault belongs to.
    pub fn identity(&self) -> Result<Identity> {
        let s = &self.store;
        let text = |k: &str| -> Result<String> { Ok(s.meta(k)?.unwrap_or_default()) };
        Ok(Identity {
            owner: text("owner")?,
            worker_id: s.meta("worker_id")?,
            name: text("worker_name")?,
            teams: serde_json::from_str(&s.meta("worker_teams")?.unwrap_or_else(|| "[]".into()))
                .unwrap_or_default(),
            role: text("worker_role")?,
            org_name: text("org_name")?,
            org_public_key: text("org_public_key")?,
            roster_version: s.latest_roster()?.map(|(v, _)| v),
        })
    }

    /// Imports a roster signed by the organisation; only a newer one than this vault has is
    /// accepted. Returns its version.
    pub fn import_roster(&mut self, file: &Path) -> Result<u64> {
        let pinned = self
            .store
            .meta("org_public_key")?
            .ok_or_else(|| Error::NotAuthentic {
                path: file.to_owned(),
                reason: t!("org.not_enrolled").into_owned(),
            })?;
        let signed = crate::org::read_signed(file)?;
        let roster = crate::org::verify_roster(&pinned, &signed, file)?;
        if let Some((current, _)) = self.store.latest_roster()?
            && roster.version <= current
        {
            return Err(Error::NotAuthentic {
                path: file.to_owned(),
                reason: t!(
                    "org.roster_not_newer",
                    version = roster.version,
                    current = current
                )
                .into_owned(),
            });
        }
        // IT's reassignments apply and what it revokes is taken out (docs/sync-format.md).
        self.adopt_roster(&signed, &roster)?;
        Ok(roster.version)
    }

    /// Makes a newer roster this vault's: stored, IT's reassignments applied, and what it
    /// revokes taken out again. A worker's ops from their revocation on, and ops signed with a
    /// device key after IT retired it, that this vault merged before the roster arrived go
    /// (`Store::withdraw`); the vault's own work stays in its own vault. Returns how many ops
    /// went.
    pub fn adopt_roster(
        &mut self,
        signed: &crate::org::Signed,
        roster: &crate::model::roster::Roster,
    ) -> Result<u64> {
        let text = crate::org::to_json(signed)?;
        let me = self.store.meta("worker_id")?;
        self.change(|s| {
            s.add_roster(roster.version, &text)?;
            s.apply_reassignments(&roster.reassignments)?;
            let mut n = 0;
            for m in &roster.members {
                if me.as_deref() == Some(m.id.as_str()) {
                    continue;
                }
                if let Some(from) = roster.revoked_from(&m.id) {
                    n += s.withdraw(&m.id, from, &[])?;
                }
                let Some(first) = m
                    .retired
                    .iter()
                    .map(|k| {
                        chrono::DateTime::parse_from_rfc3339(&k.until)
                            .map(|d| d.with_timezone(&chrono::Utc))
                            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
                    })
                    .min()
                else {
                    continue;
                };
                // What each key signed while it was the worker's counts; the rest goes.
                let keep: Vec<(String, Option<chrono::DateTime<chrono::Utc>>)> = roster
                    .keys_of(&m.id)
                    .into_iter()
                    .map(|k| {
                        let until = match roster.key_standing(&m.id, k) {
                            Some(crate::model::roster::KeyStanding::RetiredFrom(t)) => Some(t),
                            _ => None,
                        };
                        (k.to_owned(), until)
                    })
                    .collect();
                n += s.withdraw(&m.id, first, &keep)?;
            }
            s.recheck_erasures(None)?;
            Ok(n)
        })
    }

    /// The newest roster: (version, signed text).
    pub fn latest_roster(&self) -> Result<Option<(u64, String)>> {
        self.store.latest_roster()
    }

    /// The KDF parameters of the vault.
    pub fn kdf_params(&self) -> KdfParams {
        self.key.params()
    }

    /// Bytes of journal records not yet folded into the vault file (the journal file may be
    /// longer by the zeros it grew by).
    pub fn pending_bytes(&self) -> u64 {
        self.journal
            .as_ref()
            .map_or(0, |j| j.len() - crate::journal::HEADER_LEN)
    }

    /// Journal records not yet folded into the vault file.
    pub fn pending_records(&self) -> u64 {
        self.journal
            .as_ref()
            .map_or(self.replayed, Journal::records)
    }

    /// Runs `f` in one transaction and makes its changes durable before returning: one
    /// encrypted journal record, appended and fsynced. This is the one seam every write goes
    /// through.
    pub fn change<T>(&mut self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        assert_eq!(
            self.access,
            Access::Write,
            "change() on a read-only session"
        );
        // A journal record for a vault that another program replaced could never be applied;
        // and with the lock file gone, another kluis may be writing too.
        if DiskStamp::at(&self.path).ok() != Some(self.stamp) {
            return Err(Error::ChangedOnDisk {
                path: self.path.clone(),
            });
        }
        if let Some(lock) = &self.lock {
            lock.check_in_place()?;
        }
        self.store.set_journal_limit(COMPACT_THRESHOLD);
        let (value, changes) = self.store.transaction(f)?;
        // A record past the threshold would be compacted right after its append (a big
        // import): the store stopped noting rows, and the change is saved whole at once.
        let whole = self.store.take_saved_whole();
        if self.store.take_erased() {
            // Deleted rows cannot travel in the journal: a new generation without them, and
            // the previous generation replaced by it too.
            drop(changes);
            if let Err(e) = self.save_erasure() {
                self.unsaved = true;
                return Err(not_written(e));
            }
            return Ok(value);
        }
        if whole {
            drop(changes);
            if let Err(e) = self.compact() {
                self.unsaved = true;
                return Err(not_written(e));
            }
            return Ok(value);
        }
        if changes.is_empty() {
            return Ok(value);
        }
        let record = crate::store::changes::encode(&changes);
        drop(changes);
        match self.journal.as_mut() {
            // A change too large for one journal record (a big import) goes straight into a
            // new vault generation instead; so does every change after a failed append.
            Some(j)
                if !self.unsaved && record.len() + 4096 < crate::journal::MAX_RECORD as usize =>
            {
                let appended = j.append(&self.journal_key, &record, &self.path);
                let (records, len) = (j.records(), j.len());
                match appended {
                    Ok(()) => {
                        if let Some(lock) = &self.lock {
                            // Best effort: a witness that lags only weakens detection.
                            let _ = lock.write_head(&journal::witness(&self.journal_key, records));
                        }
                        // The edit is durable; a compaction that fails now is tried again
                        // when the session closes.
                        if len > COMPACT_THRESHOLD {
                            match self.compact() {
                                Ok(()) | Err(Error::Io { .. }) => {}
                                Err(e) => return Err(e),
                            }
                        }
                    }
                    Err(e) => {
                        // The change is in memory only. Appending after a lost record would
                        // make a journal that replays without it, so from here on whole
                        // saves only; the first one now, so that what the caller is told
                        // (saved or not) stays true.
                        self.unsaved = true;
                        if !matches!(e, Error::Io { .. }) {
                            return Err(e);
                        }
                        if self.compact().is_err() {
                            return Err(Error::NotWritten {
                                error: e.to_string(),
                            });
                        }
                    }
                }
            }
            _ => {
                if let Err(e) = self.compact() {
                    self.unsaved = true;
                    return Err(not_written(e));
                }
            }
        }
        Ok(value)
    }

    /// Folds the journal into a new vault generation: the whole vault is re-encrypted and
    /// replaced atomically, then a fresh journal replaces the old one. A crash between the
    /// two leaves the old journal, which the vault then knows as already folded.
    pub fn compact(&mut self) -> Result<()> {
        assert_eq!(
            self.access,
            Access::Write,
            "compact() on a read-only session"
        );
        if let Some(lock) = &self.lock {
            lock.check_in_place()?;
        }
        let next = JournalKey::generate();
        stamp_journal(&self.store, &next, Some(&self.journal_key.id_hex()))?;
        self.store.next_generation()?;
        let recipients = parse_recipients(&self.store.recovery_recipients()?)?;
        self.stamp = vault::write(
            &self.path,
            &mut self.store,
            &self.key,
            &recipients,
            Place::Replace(self.stamp),
        )?;
        self.journal_key = next;
        self.journal = None;
        self.replayed = 0;
        self.unsaved = false;
        self.journal = Some(Journal::create(&self.path, &self.journal_key)?);
        if let Some(lock) = &self.lock {
            let _ = lock.write_head(&journal::witness(&self.journal_key, 0));
        }
        if self.store.meta(PREV_HOLDS_ERASED)?.as_deref() == Some("1") {
            self.stamp = vault::keep_previous_stamped(&self.path, self.stamp)?;
            // In memory only: the file on disk keeps "1" until the next save, and replacing
            // `.prev` by the vault again is harmless.
            self.store.set_meta(PREV_HOLDS_ERASED, "0")?;
        }
        Ok(())
    }

    /// After an erasure: the erasure finished (`Store::finish_erasure`: nothing of the
    /// deleted rows left in the image, vacuumed when much of it is free), saved as a new
    /// generation, and that generation also made the previous one, so no file kluis keeps
    /// holds the erased dossier. The old journal's key
    /// was only in those files.
    fn save_erasure(&mut self) -> Result<()> {
        self.store.finish_erasure()?;
        // Written into the erasing generation itself, so that however the save below ends
        // (a failed write retried later, a crash before the previous generation is
        // replaced) the next save or unlock still replaces `.prev`.
        self.store.set_meta(PREV_HOLDS_ERASED, "1")?;
        self.compact()?;
        // Only now, with no generation left that keeps their keys: the erased files go.
        self.store.drop_unkept_files()?;
        Ok(())
    }

    /// Writes a complete copy of the vault (the journal folded in first) to `dest`: a new
    /// file, or a dated file in `dest` when it is a folder. The copy is the vault file as
    /// saved, encrypted the same way (it opens with the same passphrase, and with IT's
    /// recovery key); it is written beside its place and linked in, so it is never half
    /// there and never replaces a file. Returns where it went.
    pub fn backup(&mut self, dest: &Path) -> Result<PathBuf> {
        let target = if dest.is_dir() {
            let stem = self
                .path
                .file_stem()
                .map_or_else(|| "vault".into(), |s| s.to_string_lossy().into_owned());
            let when = chrono::Local::now().format("%Y%m%d-%H%M%S");
            dest.join(format!("{stem}-{when}.kluis"))
        } else {
            dest.to_owned()
        };
        let target_files = vault::files_path(&target);
        for t in [&target, &target_files] {
            if t.symlink_metadata().is_ok() {
                return Err(Error::FileExists { path: t.clone() });
            }
        }
        self.compact()?;
        // The files kept in dossiers first (already sealed: copied as they are), under a
        // temporary name, then the vault file: a backup without its vault file is not one.
        let files = vault::files_path(&self.path);
        let copied_files = if files.is_dir() {
            let tmp = vault::temp_path(&target_files);
            let copy = || -> std::io::Result<()> {
                std::fs::DirBuilder::new().mode(0o700).create(&tmp)?;
                for entry in std::fs::read_dir(&files)? {
                    let entry = entry?;
                    let name = entry.file_name();
                    if crate::model::record::is_id(&name.to_string_lossy())
                        && entry.file_type()?.is_file()
                    {
                        std::fs::copy(entry.path(), tmp.join(&name))?;
                        std::fs::File::open(tmp.join(&name))?.sync_all()?;
                    }
                }
                std::fs::File::open(&tmp)?.sync_all()?;
                std::fs::rename(&tmp, &target_files)
            };
            if let Err(e) = copy() {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(Error::io(
                    t!("io.write", path = target_files.display()).into_owned(),
                    e,
                ));
            }
            true
        } else {
            false
        };
        // The vault as just saved (encrypted: it is copied as it is, never decrypted), and
        // checked to be that generation after the copy.
        let (mut from, _) = crate::fsx::open(
            &self.path,
            crate::fsx::Follow::No,
            crate::fsx::Owner::Us,
            vault::MAX_VAULT_BYTES,
        )
        .map_err(|r| r.into_damaged(&self.path))?;
        let tmp = vault::temp_path(&target);
        let io_err = |e| Error::io(t!("io.write", path = target.display()).into_owned(), e);
        let copied = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut to| {
                std::io::copy(&mut from, &mut to)?;
                to.sync_all()
            });
        let undo_files = || {
            if copied_files {
                let _ = std::fs::remove_dir_all(&target_files);
            }
        };
        if let Err(e) = copied {
            let _ = std::fs::remove_file(&tmp);
            undo_files();
            return Err(io_err(e));
        }
        if DiskStamp::at(&self.path).ok() != Some(self.stamp) {
            let _ = std::fs::remove_file(&tmp);
            undo_files();
            return Err(Error::ChangedOnDisk {
                path: self.path.clone(),
            });
        }
        let linked = std::fs::hard_link(&tmp, &target);
        let _ = std::fs::remove_file(&tmp);
        if linked.is_err() {
            undo_files();
        }
        linked.map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::FileExists {
                    path: target.clone(),
                }
            } else {
                Error::io(t!("io.write", path = target.display()).into_owned(), e)
            }
        })?;
        vault::sync_dir(&target)?;
        Ok(target)
    }

    /// Folds pending journal records into the vault and ends the session. Dropping a
    /// session does the same, but cannot report a failure.
    pub fn close(mut self) -> Result<()> {
        self.finish()
    }

    /// Re-seals the vault under a new passphrase (new salt; optionally new KDF parameters).
    /// The previous generation is replaced too, so no file opens with the old passphrase.
    pub fn change_passphrase(
        &mut self,
        new: &SecretString,
        params: Option<KdfParams>,
    ) -> Result<()> {
        assert_eq!(
            self.access,
            Access::Write,
            "change_passphrase() on a read-only session"
        );
        self.key = SealingKey::derive_new(new, params.unwrap_or(self.key.params()))?;
        self.store.set_meta("must_change_passphrase", "0")?;
        self.compact()?;
        self.stamp = vault::keep_previous_stamped(&self.path, self.stamp)?;
        Ok(())
    }

    /// Integrity of the vault and its previous generation.
    pub fn check(self, passphrase: &SecretString) -> Result<CheckReport> {
        let (clients, notes) = self.store.counts()?;
        let mut problems = self.store.integrity_problems()?;
        problems.extend(self.store.schema_problems()?);
        problems.extend(self.store.file_problems()?);
        problems.extend(self.store.text_problems()?);
        let access_log_entries = match self.store.verify_log()? {
            Ok(n) => n,
            Err((seq, why)) => {
                problems.push(t!("audit.broken", seq = seq, reason = why).into_owned());
                0
            }
        };
        let mut report = CheckReport {
            schema_version: self.store.schema_version()?,
            generation: generation(&self.store)?,
            problems,
            access_log_entries,
            clients,
            notes,
            journal_records: self.pending_records(),
            recovery_recipients: self.store.recovery_recipients()?,
            previous: None,
        };
        // The previous generation is read only after this one is gone from memory: a check
        // never holds two images at once.
        let prev_path = vault::previous_path(&self.path);
        let key = self.key.duplicate();
        drop(self);
        if prev_path.exists() {
            report.previous = Some(
                match vault::read(&prev_path, Some(passphrase), Some(&key)) {
                    Ok(opened) => PreviousReport {
                        generation: Some(generation(&opened.store)?),
                        problems: [
                            opened.store.integrity_problems()?,
                            opened.store.text_problems()?,
                        ]
                        .concat(),
                    },
                    Err(e) => PreviousReport {
                        generation: None,
                        problems: vec![e.to_string()],
                    },
                },
            );
        }
        Ok(report)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // A change that neither the journal nor the vault file holds was reported as not
        // saved: only an explicit `close` tries to save it (the terminal app keeps it and
        // retries), so a command that failed never saves behind the user's back. The
        // durable journal records stay and replay at the next unlock.
        if self.unsaved {
            self.access = Access::Read;
            return;
        }
        // Locking folds the journal, so the vault file alone (and stock age) has every edit.
        let _ = self.finish();
    }
}
