//! Getting passphrases from the person (no echo) or from automation (file, environment).

use std::path::Path;

use crate::error::{Error, Result};
use crate::i18n::t;
use crate::secret::{ExposeSecret, SecretString, passphrase_from_bytes};
pub use crate::strength::check_strength;

/// Environment variable with the passphrase, for automation.
pub const ENV_PASSPHRASE: &str = "KLUIS_PASSPHRASE";
/// Environment variable with a new passphrase (init, passwd), for automation.
pub const ENV_NEW_PASSPHRASE: &str = "KLUIS_NEW_PASSPHRASE";

fn from_file(path: &Path, field: &str) -> Result<SecretString> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(t!("io.read", path = path.display()), e))?;
    passphrase_from_bytes(bytes).ok_or_else(|| Error::invalid(field, t!("val.passphrase_utf8")))
}

fn prompt(text: &str) -> Result<SecretString> {
    rpassword::prompt_password(text)
        .map(SecretString::from)
        .map_err(|_| Error::NoPassphrase)
}

/// The passphrase of an existing vault: `--passphrase-file`, then `$KLUIS_PASSPHRASE`, then
/// a prompt on the terminal.
pub fn existing(file: Option<&Path>) -> Result<SecretString> {
    if let Some(path) = file {
        return from_file(path, "--passphrase-file");
    }
    if let Some(p) = std::env::var_os(ENV_PASSPHRASE) {
        return p
            .into_string()
            .map(SecretString::from)
            .map_err(|_| Error::invalid(ENV_PASSPHRASE, t!("val.passphrase_utf8")));
    }
    prompt(&t!("prompt.passphrase"))
}

/// A new passphrase: `--new-passphrase-file`, then `$KLUIS_NEW_PASSPHRASE`, then asked twice.
/// Refused when zxcvbn scores it below 3, with its advice in the user's language.
pub fn new(file: Option<&Path>, user_inputs: &[&str]) -> Result<SecretString> {
    let pass = if let Some(path) = file {
        from_file(path, "--new-passphrase-file")?
    } else if let Some(p) = std::env::var_os(ENV_NEW_PASSPHRASE) {
        p.into_string()
            .map(SecretString::from)
            .map_err(|_| Error::invalid(ENV_NEW_PASSPHRASE, t!("val.passphrase_utf8")))?
    } else {
        eprintln!("{}", t!("prompt.new_passphrase_hint"));
        let first = prompt(&t!("prompt.new_passphrase"))?;
        check_strength(&first, user_inputs)?;
        let second = prompt(&t!("prompt.repeat_passphrase"))?;
        if first.expose_secret() != second.expose_secret() {
            return Err(Error::PassphraseMismatch);
        }
        return Ok(first);
    };
    check_strength(&pass, user_inputs)?;
    Ok(pass)
}
