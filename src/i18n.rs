//! Language selection for the nl/en message catalog (`src/locales/app.yml`).

pub use rust_i18n::t;

/// A language kluis speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// Nederlands
    Nl,
    /// English
    En,
}

impl Lang {
    /// The catalog's locale code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::En => "en",
        }
    }

    /// Picks the language from the usual POSIX variables: Dutch when the first one set
    /// starts with `nl`, English otherwise.
    pub fn from_env() -> Lang {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    fn from_vars(get: impl Fn(&str) -> Option<String>) -> Lang {
        // Same precedence as gettext: LC_ALL beats LC_MESSAGES beats LANG.
        for name in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Some(value) = get(name).filter(|v| !v.is_empty()) {
                return if value.starts_with("nl") {
                    Lang::Nl
                } else {
                    Lang::En
                };
            }
        }
        Lang::En
    }
}

/// The language messages are in now.
pub fn current() -> Lang {
    if rust_i18n::locale().starts_with("nl") {
        Lang::Nl
    } else {
        Lang::En
    }
}

/// Makes `lang` the language of every message from now on.
pub fn set_lang(lang: Lang) {
    rust_i18n::set_locale(lang.code());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn dutch_when_first_set_variable_starts_with_nl() {
        assert_eq!(Lang::from_vars(vars(&[("LANG", "nl_NL.UTF-8")])), Lang::Nl);
        assert_eq!(
            Lang::from_vars(vars(&[("LC_ALL", "en_US"), ("LANG", "nl_NL")])),
            Lang::En
        );
        assert_eq!(Lang::from_vars(vars(&[("LC_MESSAGES", "nl_BE")])), Lang::Nl);
        assert_eq!(Lang::from_vars(vars(&[])), Lang::En);
        assert_eq!(
            Lang::from_vars(vars(&[("LC_ALL", ""), ("LANG", "nl")])),
            Lang::Nl
        );
    }

    /// Every key in the catalog has a Dutch and an English text, and they differ unless the
    /// text has no words to translate.
    #[test]
    fn catalog_is_complete_in_both_languages() {
        let catalog = include_str!("locales/app.yml");
        let keys: Vec<&str> = catalog
            .lines()
            .filter(|l| !l.starts_with([' ', '#', '_']) && l.ends_with(':'))
            .map(|l| l.trim_end_matches(':'))
            .collect();
        assert!(keys.len() > 100, "catalog looks empty: {}", keys.len());
        for key in keys {
            let nl = t!(key, locale = "nl");
            let en = t!(key, locale = "en");
            assert_ne!(nl, key, "{key} has no Dutch text");
            assert_ne!(en, key, "{key} has no English text");
        }
    }

    /// (key, English, Dutch) of every entry of a catalog.
    fn entries(catalog: &str) -> Vec<(String, Option<String>, Option<String>)> {
        let mut out: Vec<(String, Option<String>, Option<String>)> = Vec::new();
        for line in catalog.lines() {
            if !line.starts_with([' ', '#', '_']) && line.ends_with(':') {
                out.push((line.trim_end_matches(':').to_owned(), None, None));
            } else if let (Some(last), Some(v)) = (out.last_mut(), line.strip_prefix("  en: ")) {
                last.1 = Some(v.to_owned());
            } else if let (Some(last), Some(v)) = (out.last_mut(), line.strip_prefix("  nl: ")) {
                last.2 = Some(v.to_owned());
            }
        }
        out
    }

    /// Texts that are the same in both languages on purpose: no words, or words Dutch
    /// shares with English.
    const SAME_ON_PURPOSE: &[&str] = &[
        "err.invalid",
        "err.io",
        "clap.invalid",
        "field.teams",
        "field.id",
        "field.bsn",
        "field.status",
        "field.score",
        "word.conflict",
        "depth.open",
        "report.score",
        "relation.partner",
        "tab.plan",
        "tab.scores",
        "kind.assessment",
        "kinds.meldcode_step",
        "choice.consulted.veilig_thuis",
        "nudge.found_special",
        "doc.leaflet.contact",
        "access.col_dossiers",
    ];

    /// A Dutch text identical to its English one is a translation that was never made.
    #[test]
    fn dutch_differs_from_english_unless_on_purpose() {
        let same: Vec<String> = entries(include_str!("locales/app.yml"))
            .into_iter()
            .filter(|(k, en, nl)| en == nl && !SAME_ON_PURPOSE.contains(&k.as_str()))
            .map(|(k, en, _)| format!("{k}: {}", en.unwrap_or_default()))
            .collect();
        assert!(same.is_empty(), "not translated:\n{}", same.join("\n"));
        for k in SAME_ON_PURPOSE {
            assert_eq!(
                t!(*k, locale = "nl"),
                t!(*k, locale = "en"),
                "{k} is no longer the same"
            );
        }
    }

    /// One register (je, never u) and one word per concept in both Dutch catalogs. Documents
    /// for residents (`doc.*`, the consent form and the leaflet) are letters in "u", at
    /// language level B1, as the catalog's header says.
    #[test]
    fn dutch_is_one_register_with_one_word_per_concept() {
        let words = |t: &str| -> Vec<String> {
            t.split(|c: char| !c.is_alphanumeric())
                .map(str::to_lowercase)
                .collect()
        };
        for catalog in [
            include_str!("locales/app.yml"),
            include_str!("locales/cli.yml"),
        ] {
            for (key, _, nl) in entries(catalog) {
                if key.starts_with("doc.") {
                    continue;
                }
                let nl = nl.unwrap_or_default();
                for w in words(&nl) {
                    assert!(
                        !["u", "uw", "uzelf"].contains(&w.as_str()),
                        "{key} says u: {nl}"
                    );
                    // zxcvbn's warnings are about common passwords, not about kluis's own.
                    if !key.starts_with("zxcvbn.") {
                        assert!(
                            !w.starts_with("wachtwoord") || w.starts_with("wachtwoordzin"),
                            "{key} says {w}, not wachtwoordzin: {nl}"
                        );
                    }
                    assert!(!w.starts_with("rooster"), "{key} says {w}, not ledenlijst");
                    assert!(
                        !w.starts_with("inschrijf"),
                        "{key} says {w}, not aanmeldbestand"
                    );
                }
            }
        }
    }

    /// Every key the code uses exists in the catalog.
    #[test]
    fn every_key_used_in_the_code_exists() {
        let catalog = include_str!("locales/app.yml");
        // Every source file, so a new module cannot slip past this check.
        let mut files = vec![];
        let mut dirs = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        let sources: Vec<&str> = files.iter().map(String::as_str).collect();
        let mut checked = 0;
        for src in sources {
            for (at, _) in src.match_indices("t!(\"") {
                // Skip format!( and friends: the macro name must be exactly `t`.
                if src[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = &src[at + 4..];
                let key = &rest[..rest.find('"').unwrap()];
                assert!(
                    catalog.contains(&format!("\n{key}:\n")),
                    "key {key} missing from app.yml"
                );
                checked += 1;
            }
        }
        assert!(checked > 80, "only {checked} keys found");
    }
}
