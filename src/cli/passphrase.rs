//! Getting passphrases from the person (no echo) or from automation (file, environment).

use std::path::Path;

use crate::error::{Error, Result};
use crate::i18n::t;
use crate::secret::{ExposeSecret, SecretString, passphrase_from_bytes};

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

/// Refuses passphrases that zxcvbn scores below 3.
pub fn check_strength(pass: &SecretString, user_inputs: &[&str]) -> Result<()> {
    let mut inputs = vec!["kluis", "vault", "kluizen"];
    inputs.extend_from_slice(user_inputs);
    let entropy = zxcvbn::zxcvbn(pass.expose_secret(), &inputs);
    if (entropy.score() as u8) >= 3 {
        return Ok(());
    }
    Err(Error::WeakPassphrase {
        advice: advice(entropy.feedback()),
    })
}

/// zxcvbn's feedback, translated through the catalog by variant name.
fn advice(feedback: Option<&zxcvbn::feedback::Feedback>) -> String {
    let mut lines = Vec::new();
    if let Some(f) = feedback {
        if let Some(w) = f.warning() {
            lines.push(translate(
                "zxcvbn.warning",
                &format!("{w:?}"),
                &w.to_string(),
            ));
        }
        for s in f.suggestions() {
            lines.push(translate(
                "zxcvbn.suggestion",
                &format!("{s:?}"),
                &s.to_string(),
            ));
        }
    }
    if lines.is_empty() {
        lines.push(t!("zxcvbn.generic").into_owned());
    }
    lines
        .iter()
        .map(|l| format!("  - {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn translate(prefix: &str, variant: &str, english: &str) -> String {
    let key = format!("{prefix}.{variant}");
    let text = t!(&key).into_owned();
    // A variant added by a newer zxcvbn has no entry yet: its own English beats a raw key.
    if text == key {
        english.to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passphrases_are_refused_with_advice() {
        let err = check_strength(&SecretString::from("password1".to_owned()), &[]).unwrap_err();
        let Error::WeakPassphrase { advice } = err else {
            panic!("wrong error")
        };
        assert!(
            advice.lines().count() >= 1 && advice.starts_with("  - "),
            "{advice}"
        );
        assert!(
            check_strength(
                &SecretString::from("Zonnebloem-Kraanwater-47-Lantaarn".to_owned()),
                &[]
            )
            .is_ok()
        );
    }

    #[test]
    fn every_zxcvbn_variant_has_a_dutch_text() {
        use zxcvbn::feedback::{Suggestion as S, Warning as W};
        let warnings = [
            W::StraightRowsOfKeysAreEasyToGuess,
            W::ShortKeyboardPatternsAreEasyToGuess,
            W::RepeatsLikeAaaAreEasyToGuess,
            W::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess,
            W::ThisIsATop10Password,
            W::ThisIsATop100Password,
            W::ThisIsACommonPassword,
            W::ThisIsSimilarToACommonlyUsedPassword,
            W::SequencesLikeAbcAreEasyToGuess,
            W::RecentYearsAreEasyToGuess,
            W::AWordByItselfIsEasyToGuess,
            W::DatesAreOftenEasyToGuess,
            W::NamesAndSurnamesByThemselvesAreEasyToGuess,
            W::CommonNamesAndSurnamesAreEasyToGuess,
        ];
        for w in warnings {
            let key = format!("zxcvbn.warning.{w:?}");
            assert_ne!(
                t!(&key, locale = "nl"),
                t!(&key, locale = "en"),
                "{w:?} untranslated"
            );
            assert_eq!(t!(&key, locale = "en"), w.to_string());
        }
        let suggestions = [
            S::UseAFewWordsAvoidCommonPhrases,
            S::NoNeedForSymbolsDigitsOrUppercaseLetters,
            S::AddAnotherWordOrTwo,
            S::CapitalizationDoesntHelpVeryMuch,
            S::AllUppercaseIsAlmostAsEasyToGuessAsAllLowercase,
            S::ReversedWordsArentMuchHarderToGuess,
            S::PredictableSubstitutionsDontHelpVeryMuch,
            S::UseALongerKeyboardPatternWithMoreTurns,
            S::AvoidRepeatedWordsAndCharacters,
            S::AvoidSequences,
            S::AvoidRecentYears,
            S::AvoidYearsThatAreAssociatedWithYou,
            S::AvoidDatesAndYearsThatAreAssociatedWithYou,
        ];
        for s in suggestions {
            let key = format!("zxcvbn.suggestion.{s:?}");
            assert_ne!(
                t!(&key, locale = "nl"),
                t!(&key, locale = "en"),
                "{s:?} untranslated"
            );
            assert_eq!(t!(&key, locale = "en"), s.to_string());
        }
    }
}
