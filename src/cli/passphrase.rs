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

fn from_file(path: &Path, field: &'static str) -> Result<SecretString> {
    use std::io::Read;
    // A pipe is welcome here (`--passphrase-file <(pass show kluis)`), so this is the one
    // input read without `fsx`; a device or an endless pipe is read no further than 64 KiB.
    let read_err = |e| Error::io(t!("io.read", path = path.display()), e);
    // Room for all of it up front: a reallocation would leave a copy that is never wiped.
    let mut bytes = Vec::with_capacity(64 * 1024 + 1);
    std::fs::File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut bytes))
        .map_err(read_err)?;
    passphrase_from_bytes(bytes).ok_or_else(|| Error::invalid(field, t!("val.passphrase_utf8")))
}

fn prompt(text: &str) -> Result<SecretString> {
    rpassword::prompt_password(text)
        .map(SecretString::from)
        .map_err(|_| Error::NoPassphrase)
}

/// The secret in environment variable `env`, if it is set.
pub fn from_env(env: &'static str) -> Option<Result<SecretString>> {
    let value = std::env::var_os(env)?;
    crate::harden::scrub_env(env);
    Some(
        value
            .into_string()
            .map(SecretString::from)
            .map_err(|_| Error::invalid(env, t!("val.passphrase_utf8"))),
    )
}

/// `$env` when set (for automation), else a no-echo prompt on the terminal.
pub fn from_env_or_prompt(env: &'static str, prompt_text: &str) -> Result<SecretString> {
    from_env(env).unwrap_or_else(|| prompt(prompt_text))
}

/// Asks for a new secret twice; `check` runs on the first answer before the second is asked.
pub fn asked_twice(
    first_text: &str,
    check: impl Fn(&SecretString) -> Result<()>,
) -> Result<SecretString> {
    let first = prompt(first_text)?;
    check(&first)?;
    let second = prompt(&t!("prompt.repeat_passphrase"))?;
    if first.expose_secret() != second.expose_secret() {
        return Err(Error::PassphraseMismatch);
    }
    Ok(first)
}

/// The passphrase of an existing vault: `--passphrase-file`, then `$KLUIS_PASSPHRASE`, then
/// a prompt on the terminal.
pub fn existing(file: Option<&Path>) -> Result<SecretString> {
    match file {
        Some(path) => from_file(path, "--passphrase-file"),
        None => from_env_or_prompt(ENV_PASSPHRASE, &t!("prompt.passphrase")),
    }
}

/// A new passphrase: `--new-passphrase-file`, then `$KLUIS_NEW_PASSPHRASE`, then asked twice.
/// Refused when zxcvbn scores it below 3, with its advice in the user's language.
pub fn new(file: Option<&Path>, user_inputs: &[&str]) -> Result<SecretString> {
    let check = |p: &SecretString| check_strength(p, user_inputs);
    let pass = match (file, from_env(ENV_NEW_PASSPHRASE)) {
        (Some(path), _) => from_file(path, "--new-passphrase-file")?,
        (None, Some(env)) => env?,
        (None, None) => {
            eprintln!("{}", t!("prompt.new_passphrase_hint"));
            return asked_twice(&t!("prompt.new_passphrase"), check);
        }
    };
    check(&pass)?;
    Ok(pass)
}
