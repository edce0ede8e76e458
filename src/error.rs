//! The errors a user can meet, each with a message in their language and an exit code.

use std::io;
use std::path::PathBuf;

use crate::i18n::t;

/// What an invalid value was entered in. The library names a record's field or an input by
/// its code (`occurred_at`, `text`, `kdf_memory`), never a command-line flag: the command line
/// turns the code into its flag, the terminal app into its form label (`field.CODE`). Only the
/// command line names its own arguments (`--yes`, `QUERY`) with [`Field::Arg`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// A record field or an input, by code.
    Input(&'static str),
    /// A command-line argument or flag, as typed (only the command line makes these).
    Arg(&'static str),
}

impl Field {
    /// The code or argument name.
    pub fn name(self) -> &'static str {
        match self {
            Field::Input(c) | Field::Arg(c) => c,
        }
    }

    /// The label people see: a field's name from the catalog (`field.CODE`), else its code.
    pub fn label(self) -> String {
        match self {
            Field::Input(code) => {
                let key = format!("field.{code}");
                let label = t!(&key);
                if label == key {
                    code.to_owned()
                } else {
                    label.into_owned()
                }
            }
            Field::Arg(name) => name.to_owned(),
        }
    }
}

/// A flag (`--at`) or a positional argument (`ID`) is an argument; anything else a field code.
impl From<&'static str> for Field {
    fn from(s: &'static str) -> Field {
        if s.starts_with('-') || s.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
            Field::Arg(s)
        } else {
            Field::Input(s)
        }
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

/// Result with kluis's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in kluis, one variant per thing a user can meet.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No vault file at the path.
    #[error("{}", t!("err.no_vault", path = .path.display()))]
    NoVault { path: PathBuf },
    /// `init` would overwrite an existing file.
    #[error("{}", t!("err.vault_exists", path = .path.display()))]
    VaultExists { path: PathBuf },
    /// A file kluis would create already exists.
    #[error("{}", t!("err.file_exists", path = .path.display()))]
    FileExists { path: PathBuf },
    /// No organisation in the directory.
    #[error("{}", t!("err.no_org", path = .path.display()))]
    NoOrg { path: PathBuf },
    /// A signed file (roster, enrollment) that is not authentic, not ours, or older.
    #[error("{}", t!("err.not_authentic", path = .path.display(), reason = .reason))]
    NotAuthentic { path: PathBuf, reason: String },
    /// Sync and assignments need a vault enrolled in an organisation.
    #[error("{}", t!("err.not_enrolled", path = .path.display()))]
    NotEnrolled { path: PathBuf },
    /// A sync bundle that is not authentic, not for this worker, or damaged.
    #[error("{}", t!("err.bundle_refused", path = .path.display(), reason = .reason))]
    BundleRefused { path: PathBuf, reason: String },
    /// Some bundles in a sync folder were refused; the rest was merged.
    #[error("{}", t!("err.bundles_refused", n = .n, path = .path.display()))]
    BundlesRefused { path: PathBuf, n: usize },
    /// A recovery set a temporary passphrase; only `passwd` may use it.
    #[error("{}", t!("err.must_change_passphrase"))]
    MustChangePassphrase,
    /// The passphrase does not open the vault (or the passphrase stanza was damaged).
    #[error("{}", t!("err.wrong_passphrase"))]
    WrongPassphrase,
    /// The enrollment code does not open the enrollment file.
    #[error("{}", t!("err.wrong_code", path = .path.display()))]
    WrongCode { path: PathBuf },
    /// Not a kluis vault, damaged, or tampered with. `reason` is already localized; the
    /// advice depends on which file it is (see [`damaged_advice`]).
    #[error("{}", t!("err.damaged", path = .path.display(), reason = .reason, advice = damaged_advice(.path)))]
    Damaged { path: PathBuf, reason: String },
    /// The vault's image holds text that is not valid UTF-8: it was not written by kluis.
    #[error("{}", t!("err.bad_text", error = .error))]
    BadText { error: String },
    /// Another kluis process holds the vault.
    #[error("{}", t!("err.in_use", path = .path.display()))]
    InUse { path: PathBuf },
    /// The lock file was deleted or replaced while this process held it: another kluis may
    /// have the vault now, so this one stops writing.
    #[error("{}", t!("err.lock_lost", path = .path.display()))]
    LockLost { path: PathBuf },
    /// The file changed on disk since kluis opened it; saving would lose those changes.
    #[error("{}", t!("err.changed_on_disk", path = .path.display()))]
    ChangedOnDisk { path: PathBuf },
    /// Invalid input; `field` names the field (the command line shows its flag, the terminal
    /// app its label), `reason` is localized.
    #[error("{}", t!("err.invalid", field = .field, reason = .reason))]
    Invalid { field: Field, reason: String },
    /// No record with this id.
    #[error("{}", t!("err.not_found", what = .what, id = .id))]
    NotFound { what: String, id: String },
    /// An id prefix that matches more than one record.
    #[error("{}", t!("err.ambiguous", id = .id, candidates = .candidates.join(", ")))]
    Ambiguous { id: String, candidates: Vec<String> },
    /// A new passphrase that zxcvbn scores below 3; `advice` is localized.
    #[error("{}", t!("err.weak_passphrase", advice = .advice))]
    WeakPassphrase { advice: String },
    /// The two entries of a new passphrase differ.
    #[error("{}", t!("err.passphrase_mismatch"))]
    PassphraseMismatch,
    /// No way to ask for a passphrase.
    #[error("{}", t!("err.no_passphrase"))]
    NoPassphrase,
    /// A file operation failed; `context` is localized.
    #[error("{}", t!("err.io", context = .context, error = .source))]
    Io { context: String, source: io::Error },
    /// A change is made in memory, but neither the journal nor the vault file holds it:
    /// writing failed. An interactive session keeps it and retries when it closes; the
    /// command line reports it as not saved (see `cli`).
    #[error("{}", t!("err.not_written", error = .error))]
    NotWritten { error: String },
    /// SQLite failed on a healthy vault (a bug, or out of memory).
    #[error("{}", t!("err.database", error = .0))]
    Database(rusqlite::Error),
    /// The config file does not parse, or names a key or value kluis does not know.
    #[error("{}", t!("err.config", path = .path.display(), reason = .reason))]
    Config { path: PathBuf, reason: String },
    /// A rule of the privacy policy refuses this (no consent, retention not ended);
    /// `reason` is localized and says what would allow it.
    #[error("{}", t!("err.refused", reason = .reason))]
    Refused { reason: String },
    /// A change would make the vault larger than kluis can open again; nothing changed.
    #[error("{}", t!("err.vault_too_large", size = .size / 1_000_000, max = .max / 1_000_000))]
    VaultTooLarge { size: u64, max: u64 },
    /// The age library refused to encrypt.
    #[error("{}", t!("err.encrypt", error = .0))]
    Encrypt(String),
}

impl Error {
    /// The documented exit code (see README.md).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Invalid { .. }
            | Error::NotFound { .. }
            | Error::Ambiguous { .. }
            | Error::WeakPassphrase { .. }
            | Error::PassphraseMismatch
            | Error::NoPassphrase
            | Error::NotEnrolled { .. }
            | Error::Config { .. } => 2,
            Error::WrongPassphrase | Error::WrongCode { .. } | Error::MustChangePassphrase => 3,
            Error::Damaged { .. }
            | Error::BadText { .. }
            | Error::NotAuthentic { .. }
            | Error::BundleRefused { .. }
            | Error::BundlesRefused { .. } => 4,
            Error::InUse { .. } | Error::LockLost { .. } | Error::ChangedOnDisk { .. } => 5,
            Error::NoVault { .. }
            | Error::VaultExists { .. }
            | Error::FileExists { .. }
            | Error::NoOrg { .. }
            | Error::Io { .. }
            | Error::NotWritten { .. }
            | Error::Database(_)
            | Error::Refused { .. }
            | Error::VaultTooLarge { .. }
            | Error::Encrypt(_) => 1,
        }
    }

    /// An invalid-input error for `field` with a catalog key and its arguments already
    /// rendered into `reason`.
    pub fn invalid(field: impl Into<Field>, reason: impl Into<String>) -> Error {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Wraps an IO error with a localized description of what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<rusqlite::Error> for Error {
    /// Text that is not UTF-8 can only come from an image kluis did not write (it binds
    /// Rust strings, which are always UTF-8): that is tampering (exit 4), not a failure of a
    /// healthy vault (exit 1).
    fn from(e: rusqlite::Error) -> Error {
        let bad_utf8 = match &e {
            rusqlite::Error::Utf8Error(..) => true,
            rusqlite::Error::FromSqlConversionFailure(_, _, cause) => {
                cause.is::<std::str::Utf8Error>()
                    || cause.is::<std::string::FromUtf8Error>()
                    || matches!(
                        cause.downcast_ref::<rusqlite::types::FromSqlError>(),
                        Some(rusqlite::types::FromSqlError::Utf8Error(_))
                    )
            }
            _ => false,
        };
        if bad_utf8 {
            Error::BadText {
                error: e.to_string(),
            }
        } else {
            Error::Database(e)
        }
    }
}

/// What to do about a refused file, by which file it is: every file it names either exists
/// (the one refused, its lock file) or is named "if there is one".
pub fn damaged_advice(path: &std::path::Path) -> String {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let beside = |suffix: &str| {
        let base = path.with_file_name(&name[..name.len() - suffix.len()]);
        base.display().to_string()
    };
    if name.ends_with(".journal") {
        t!("advice.journal", vault = beside(".journal")).into_owned()
    } else if name.ends_with(".prev") {
        t!("advice.prev", vault = beside(".prev")).into_owned()
    } else if name.ends_with(".lock") {
        t!("advice.lock").into_owned()
    } else {
        t!("advice.vault", path = path.display()).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Errors from the library name fields; only the command line knows its flags (and maps
    /// field codes to them, `cli::flag`). A flag or positional name written into the library
    /// (outside src/cli and src/tui) would reach the terminal app's forms.
    #[test]
    fn library_errors_name_fields_not_flags() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![src.clone()];
        let mut offenders = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let rel = path
                    .strip_prefix(&src)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if path.is_dir() {
                    if rel != "cli" && rel != "tui" {
                        stack.push(path);
                    }
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                // Unit tests may call the parsers with any name.
                let code = text.split("#[cfg(test)]").next().unwrap_or("");
                let flat: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
                for call in ["invalid(\"", "parse_"] {
                    for (i, _) in flat.match_indices(call) {
                        let rest = &flat[i + call.len()..];
                        let arg = if call == "parse_" {
                            rest.split_once("(\"")
                        } else {
                            Some(("", rest))
                        };
                        if let Some((name, a)) = arg
                            && !name.contains(' ')
                            && (a.starts_with('-')
                                || a.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                                    && !a.starts_with("KLUIS_"))
                        {
                            offenders
                                .push(format!("{rel}: {}", &flat[i..(i + 60).min(flat.len())]));
                        }
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "{offenders:#?}");
        assert_eq!(Field::from("--at"), Field::Arg("--at"));
        assert_eq!(Field::from("occurred_at"), Field::Input("occurred_at"));
    }
}
