//! Passphrase strength (zxcvbn), with its advice in the user's language. Used by the command
//! line and by the terminal app's live meter.

use crate::error::{Error, Result};
use crate::i18n::t;
use crate::secret::{ExposeSecret, SecretString};

/// Words that make a passphrase guessable for kluis in particular.
const KLUIS_WORDS: &[&str] = &["kluis", "vault", "kluizen"];

/// zxcvbn's score (0–4) and its advice, translated.
pub fn meter(pass: &str, user_inputs: &[&str]) -> (u8, Vec<String>) {
    if pass.is_empty() {
        return (0, Vec::new());
    }
    let mut inputs = KLUIS_WORDS.to_vec();
    inputs.extend_from_slice(user_inputs);
    let entropy = zxcvbn::zxcvbn(pass, &inputs);
    let score = entropy.score() as u8;
    // A strong passphrase needs no advice, not even the generic "add a word".
    (
        score,
        if score >= 3 {
            Vec::new()
        } else {
            advice_lines(entropy.feedback())
        },
    )
}

/// Refuses passphrases that zxcvbn scores below 3.
pub fn check_strength(pass: &SecretString, user_inputs: &[&str]) -> Result<()> {
    let (score, lines) = meter(pass.expose_secret(), user_inputs);
    if score >= 3 {
        return Ok(());
    }
    let advice = lines
        .iter()
        .map(|l| format!("  - {l}"))
        .collect::<Vec<_>>()
        .join("\n");
    Err(Error::WeakPassphrase { advice })
}

/// zxcvbn's feedback, translated through the catalog by variant name.
fn advice_lines(feedback: Option<&zxcvbn::feedback::Feedback>) -> Vec<String> {
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
    use crate::error::Error;

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
