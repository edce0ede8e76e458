//! An unlocked vault. Locking is dropping the session: the store and the key wipe themselves.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::i18n::t;
use crate::secret::SecretString;
use crate::store::Store;
use crate::vault::{self, DiskStamp, KdfParams, Place, SealingKey, VaultLock};

/// Whether a session may change the vault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Shared lock; other readers may open the vault at the same time.
    Read,
    /// Exclusive lock; saves after every change.
    Write,
}

/// An unlocked vault.
pub struct Session {
    path: PathBuf,
    access: Access,
    store: Store,
    key: SealingKey,
    stamp: DiskStamp,
    _lock: VaultLock,
}

/// Parses recovery recipients given at `init`.
pub fn parse_recipients(values: &[String]) -> Result<Vec<age::x25519::Recipient>> {
    values
        .iter()
        .map(|v| {
            age::x25519::Recipient::from_str(v.trim())
                .map_err(|_| Error::invalid("--recovery-recipient", t!("val.recipient", value = v)))
        })
        .collect()
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
    /// Number of clients and notes.
    pub clients: u64,
    /// Number of notes.
    pub notes: u64,
    /// Recovery recipients written into every save.
    pub recovery_recipients: Vec<String>,
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

impl Session {
    /// Creates a new vault at `path`; refuses if any file is there.
    pub fn create(
        path: &Path,
        passphrase: &SecretString,
        params: KdfParams,
        recovery: &[String],
        owner: &str,
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
        for r in &recipients {
            store.add_recovery_recipient(&r.to_string())?;
        }
        store.next_generation()?;
        let stamp = vault::write(path, &mut store, &key, &recipients, Place::Create)?;
        Ok(Session {
            path: path.to_owned(),
            access: Access::Write,
            store,
            key,
            stamp,
            _lock: lock,
        })
    }

    /// Unlocks the vault at `path`.
    pub fn open(path: &Path, passphrase: &SecretString, access: Access) -> Result<Session> {
        if path.symlink_metadata().is_err() {
            return Err(Error::NoVault {
                path: path.to_owned(),
            });
        }
        let lock = VaultLock::acquire(path, access == Access::Write)?;
        if access == Access::Write {
            vault::remove_stale_temps(path);
        }
        let opened = vault::read(path, Some(passphrase), None)?;
        Ok(Session {
            path: path.to_owned(),
            access,
            store: opened.store,
            key: opened.key,
            stamp: opened.stamp,
            _lock: lock,
        })
    }

    /// The vault's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Read access to the data.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The KDF parameters of the vault.
    pub fn kdf_params(&self) -> KdfParams {
        self.key.params()
    }

    /// Runs `f` in one transaction and saves before returning: a change that returns Ok is
    /// on disk. This is the one seam every write goes through.
    pub fn change<T>(&mut self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        assert_eq!(
            self.access,
            Access::Write,
            "change() on a read-only session"
        );
        let value = self.store.transaction(f)?;
        self.save()?;
        Ok(value)
    }

    fn save(&mut self) -> Result<()> {
        self.store.next_generation()?;
        let recipients = parse_recipients(&self.store.recovery_recipients()?)?;
        self.stamp = vault::write(
            &self.path,
            &mut self.store,
            &self.key,
            &recipients,
            Place::Replace(self.stamp),
        )?;
        Ok(())
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
        self.save()?;
        vault::keep_previous(&self.path)?;
        Ok(())
    }

    /// Integrity of the vault and its previous generation.
    pub fn check(&self, passphrase: &SecretString) -> Result<CheckReport> {
        let (clients, notes) = self.store.counts()?;
        let prev_path = vault::previous_path(&self.path);
        let previous = if prev_path.exists() {
            Some(
                match vault::read(&prev_path, Some(passphrase), Some(&self.key)) {
                    Ok(opened) => PreviousReport {
                        generation: Some(generation(&opened.store)?),
                        problems: opened.store.integrity_problems()?,
                    },
                    Err(e) => PreviousReport {
                        generation: None,
                        problems: vec![e.to_string()],
                    },
                },
            )
        } else {
            None
        };
        Ok(CheckReport {
            schema_version: self.store.schema_version()?,
            generation: generation(&self.store)?,
            problems: self.store.integrity_problems()?,
            clients,
            notes,
            recovery_recipients: self.store.recovery_recipients()?,
            previous,
        })
    }
}
