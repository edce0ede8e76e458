//! Settings: built-in defaults, under a TOML config file, under `KLUIS_*` environment
//! variables, under flags. The file is optional; an unknown key in it is an error that names
//! the key, never silently ignored. Paths follow the platform (the `directories` crate).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::i18n::{Lang, t};
use crate::model::Domain;
use crate::model::nudge::{Category, Lexicon};

/// The config file kluis reads when none is named: `$XDG_CONFIG_HOME/kluis/config.toml` on
/// Linux, `~/Library/Application Support/nl.kluis.kluis/config.toml` on macOS.
pub fn default_config_path() -> PathBuf {
    dirs().map_or_else(
        || PathBuf::from("kluis-config.toml"),
        |d| d.config_dir().join("config.toml"),
    )
}

/// The vault when none is named: `$XDG_DATA_HOME/kluis/vault.kluis` on Linux (normally
/// `~/.local/share/kluis/vault.kluis`), `~/Library/Application Support/nl.kluis.kluis/
/// vault.kluis` on macOS.
pub fn default_vault_path() -> PathBuf {
    dirs().map_or_else(
        || PathBuf::from("vault.kluis"),
        |d| d.data_dir().join("vault.kluis"),
    )
}

fn dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("nl", "kluis", "kluis")
}

/// The config file as written. Every key is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The vault to open.
    pub vault: Option<PathBuf>,
    /// `nl` or `en`.
    pub lang: Option<String>,
    /// Idle time before the terminal app locks: `30s`, `5m`, `1h`.
    pub lock_after: Option<String>,
    /// Start the terminal app in privacy mode.
    pub privacy: Option<bool>,
    /// The shared folder `export` and `sync` use when none is given.
    pub export_dir: Option<PathBuf>,
    /// Years a closed dossier is kept, per domain.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// The life domains of plans and assessments.
    pub life_domains: Option<Vec<String>>,
    /// Whom residents contact about privacy (the leaflet and consent forms say it).
    pub privacy_officer: Option<String>,
    /// Months without activity after which a dossier is in the access review.
    pub access_review_months: Option<u32>,
    /// The organisation's own words per special category, added to kluis's list.
    #[serde(default)]
    pub special_words: std::collections::BTreeMap<String, Vec<String>>,
}

/// `[retention]`: years per domain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Jeugd.
    pub jeugd: Option<u32>,
    /// Wmo.
    pub wmo: Option<u32>,
    /// Participatie.
    pub participatie: Option<u32>,
    /// Schuldhulp.
    pub schuldhulp: Option<u32>,
    /// Overig.
    pub overig: Option<u32>,
}

impl RetentionConfig {
    fn get(&self, d: Domain) -> Option<u32> {
        match d {
            Domain::Jeugd => self.jeugd,
            Domain::Wmo => self.wmo,
            Domain::Participatie => self.participatie,
            Domain::Schuldhulp => self.schuldhulp,
            Domain::Overig => self.overig,
        }
    }
}

/// Where a setting's value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// A `KLUIS_*` environment variable.
    Env,
    /// The config file.
    File,
    /// The language of the system (`LC_ALL`, `LC_MESSAGES`, `LANG`).
    System,
    /// kluis's built-in default.
    Default,
}

/// One effective setting and where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Setting<T> {
    /// The value.
    pub value: T,
    /// Its source.
    pub source: Source,
}

fn pick<T>(flag: Option<T>, env: Option<T>, file: Option<T>, default: T) -> Setting<T> {
    match (flag, env, file) {
        (Some(v), _, _) => Setting {
            value: v,
            source: Source::Flag,
        },
        (None, Some(v), _) => Setting {
            value: v,
            source: Source::Env,
        },
        (None, None, Some(v)) => Setting {
            value: v,
            source: Source::File,
        },
        (None, None, None) => Setting {
            value: default,
            source: Source::Default,
        },
    }
}

/// What the flags said (None: not given).
#[derive(Clone, Debug, Default)]
pub struct Flags {
    /// `--vault`.
    pub vault: Option<PathBuf>,
    /// `--lang`.
    pub lang: Option<Lang>,
    /// `--lock-after`.
    pub lock_after: Option<Duration>,
    /// `--privacy` (Some(true)) or `--no-privacy` (Some(false)).
    pub privacy: Option<bool>,
}

/// Every effective setting.
#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    /// The config file read, if any.
    pub config_file: Option<PathBuf>,
    /// The vault.
    pub vault: Setting<PathBuf>,
    /// Language of messages.
    #[serde(serialize_with = "lang_code")]
    pub lang: Setting<Lang>,
    /// Idle time before the terminal app locks.
    #[serde(serialize_with = "duration_text")]
    pub lock_after: Setting<Duration>,
    /// The terminal app starts in privacy mode.
    pub privacy: Setting<bool>,
    /// Default folder for `export` and `sync`.
    pub export_dir: Setting<Option<PathBuf>>,
    /// Years a closed dossier is kept, per domain, unless the vault's own policy says
    /// otherwise (`kluis retention policy`).
    #[serde(serialize_with = "retention_map")]
    pub retention: Vec<(Domain, Setting<u32>)>,
    /// The life domains of plans and assessments.
    pub life_domains: Setting<Vec<String>>,
    /// Whom residents contact about privacy.
    pub privacy_officer: Setting<Option<String>>,
    /// Months without activity after which a dossier is in the access review.
    pub access_review_months: Setting<u32>,
    /// The organisation's own special-category words (kluis's list is always used too).
    #[serde(serialize_with = "words_map")]
    pub special_words: Setting<Vec<(Category, String)>>,
}

impl Settings {
    /// The words the nudges look for: kluis's list and the organisation's.
    pub fn lexicon(&self) -> Lexicon {
        let mut lex = Lexicon::builtin();
        for (c, w) in &self.special_words.value {
            // Checked when the file was read.
            let _ = lex.add(*c, w);
        }
        lex
    }
}

fn words_map<S: serde::Serializer>(
    s: &Setting<Vec<(Category, String)>>,
    ser: S,
) -> std::result::Result<S::Ok, S::Error> {
    let mut map: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (c, w) in &s.value {
        map.entry(c.code()).or_default().push(w);
    }
    Setting {
        value: map,
        source: s.source,
    }
    .serialize(ser)
}

fn lang_code<S: serde::Serializer>(
    s: &Setting<Lang>,
    ser: S,
) -> std::result::Result<S::Ok, S::Error> {
    Setting {
        value: s.value.code(),
        source: s.source,
    }
    .serialize(ser)
}

fn duration_text<S: serde::Serializer>(
    s: &Setting<Duration>,
    ser: S,
) -> std::result::Result<S::Ok, S::Error> {
    Setting {
        value: format_duration(s.value),
        source: s.source,
    }
    .serialize(ser)
}

fn retention_map<S: serde::Serializer>(
    r: &[(Domain, Setting<u32>)],
    ser: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = ser.serialize_map(Some(r.len()))?;
    for (d, s) in r {
        m.serialize_entry(d.code(), s)?;
    }
    m.end()
}

/// `5m`, `90s`, `1h`: the shortest exact spelling.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s > 0 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s > 0 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Reads a config file. A missing file is `None` when `required` is false.
pub fn read_file(path: &Path, required: bool) -> Result<Option<FileConfig>> {
    use crate::fsx::{self, Follow, Owner, Refusal};
    // Followed when it is a link (dotfiles often are); never a FIFO, never over 1 MiB.
    let bytes = match fsx::read(path, Follow::Yes, Owner::Anyone, 1 << 20) {
        Ok(b) => b,
        Err(Refusal::Missing) if !required => return Ok(None),
        Err(Refusal::Missing) => {
            return Err(Error::io(
                t!("config.read", path = path.display()).into_owned(),
                std::io::ErrorKind::NotFound.into(),
            ));
        }
        Err(Refusal::Io(e)) => {
            return Err(Error::io(
                t!("config.read", path = path.display()).into_owned(),
                e,
            ));
        }
        Err(other) => {
            return Err(Error::Config {
                path: path.to_owned(),
                reason: other.reason(),
            });
        }
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::io(
            t!("config.read", path = path.display()).into_owned(),
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })?;
    let bad = |key: &str, why: String| Error::Config {
        path: path.to_owned(),
        reason: format!("{key}: {why}"),
    };
    let line_of = |span: Option<std::ops::Range<usize>>| {
        span.map_or(0, |s| {
            text[..s.start.min(text.len())].lines().count().max(1)
        })
    };
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| Error::Config {
        path: path.to_owned(),
        reason: t!(
            "config.syntax",
            line = line_of(e.span()),
            error = e.message()
        )
        .into_owned(),
    })?;
    // Unknown keys by name and line, in the user's language.
    for (key, value) in &table {
        let nested = match (key.as_str(), value) {
            ("retention" | "special_words", toml::Value::Table(t)) => Some(t),
            _ => None,
        };
        if !TOP_KEYS.contains(&key.as_str()) {
            return Err(unknown(path, &text, key, TOP_KEYS));
        }
        let known: Vec<&str> = if key == "retention" {
            Domain::ALL.iter().map(|d| d.code()).collect()
        } else {
            Category::ALL.iter().map(|c| c.code()).collect()
        };
        for k in nested.into_iter().flat_map(|t| t.keys()) {
            if !known.contains(&k.as_str()) {
                return Err(unknown(path, &text, k, &known));
            }
        }
    }
    let mut file: FileConfig = toml::from_str(&text).map_err(|e| Error::Config {
        path: path.to_owned(),
        reason: t!(
            "config.syntax",
            line = line_of(e.span()),
            error = e.message()
        )
        .into_owned(),
    })?;
    // `~/` is the home folder, and a relative path is relative to the config file.
    let base = path.parent().unwrap_or(Path::new("."));
    for p in [&mut file.vault, &mut file.export_dir]
        .into_iter()
        .flatten()
    {
        *p = expand(p, base);
    }
    if let Some(l) = &file.lang
        && !matches!(l.as_str(), "nl" | "en")
    {
        return Err(bad("lang", t!("config.bad_lang").into_owned()));
    }
    if let Some(d) = &file.lock_after
        && parse_duration(d).is_none()
    {
        return Err(bad(
            "lock_after",
            t!("val.duration", value = d).into_owned(),
        ));
    }
    if let Some(list) = &file.life_domains
        && (list.is_empty()
            || list
                .iter()
                .any(|d| crate::model::parse_name("life_domains", d).map_or(true, |p| p != *d)))
    {
        return Err(bad("life_domains", t!("config.bad_domains").into_owned()));
    }
    if let Some(p) = &file.privacy_officer
        && crate::model::parse_name("privacy_officer", p).map_or(true, |v| v != *p)
    {
        return Err(bad("privacy_officer", t!("config.bad_line").into_owned()));
    }
    if let Some(m) = file.access_review_months
        && crate::model::parse_months("access_review_months", &m.to_string()).is_err()
    {
        return Err(bad(
            "access_review_months",
            t!("val.months", max = crate::model::MAX_REVIEW_MONTHS).into_owned(),
        ));
    }
    let mut lex = Lexicon::builtin();
    for (code, words) in &file.special_words {
        let category: Category = code.parse().map_err(|_| {
            bad(
                &format!("special_words.{code}"),
                t!("config.bad_line").into_owned(),
            )
        })?;
        for w in words {
            lex.add(category, w).map_err(|e| {
                let reason = match e {
                    Error::Invalid { reason, .. } => reason,
                    other => other.to_string(),
                };
                bad(&format!("special_words.{code}"), reason)
            })?;
        }
    }
    for d in Domain::ALL {
        if let Some(y) = file.retention.get(*d)
            && let Some(min) = crate::model::legal_minimum_years(*d)
            && y < min
        {
            return Err(bad(
                &format!("retention.{}", d.code()),
                t!("val.years_legal", domain = d, min = min).into_owned(),
            ));
        }
        if let Some(y) = file.retention.get(*d)
            && crate::model::parse_years("retention", &y.to_string()).is_err()
        {
            return Err(bad(
                &format!("retention.{}", d.code()),
                t!("val.years", max = crate::model::MAX_RETENTION_YEARS).into_owned(),
            ));
        }
    }
    Ok(Some(file))
}

const TOP_KEYS: &[&str] = &[
    "vault",
    "lang",
    "lock_after",
    "privacy",
    "export_dir",
    "retention",
    "life_domains",
    "privacy_officer",
    "access_review_months",
    "special_words",
];

fn unknown(path: &Path, text: &str, key: &str, known: &[&str]) -> Error {
    let line = text
        .lines()
        .position(|l| {
            let l = l.trim_start();
            // `key = …`, `key.sub = …`, `"key" = …`, `[key]` or `[key.sub]`.
            let l = l.strip_prefix('[').unwrap_or(l).trim_start();
            let l = l.strip_prefix('"').unwrap_or(l);
            l.strip_prefix(key).is_some_and(|r| {
                let r = r.strip_prefix('"').unwrap_or(r).trim_start();
                r.starts_with(['=', '.', ']'])
            }) || l.contains(&format!(".{key} "))
                || l.contains(&format!(".{key}="))
        })
        .map_or(0, |i| i + 1);
    Error::Config {
        path: path.to_owned(),
        reason: t!(
            "config.unknown_key",
            key = key,
            line = line,
            known = known.join(", ")
        )
        .into_owned(),
    }
}

fn expand(p: &Path, base: &Path) -> PathBuf {
    if let Ok(rest) = p.strip_prefix("~")
        && let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty())
    {
        return PathBuf::from(home).join(rest);
    }
    if p.is_relative() {
        return base.join(p);
    }
    p.to_owned()
}

/// The config file to read: `--config`, else `$KLUIS_CONFIG`, else the platform's default.
/// The first two must exist; the default may be absent.
pub fn config_path(flag: Option<&Path>) -> (PathBuf, bool) {
    if let Some(p) = flag {
        return (p.to_owned(), true);
    }
    match std::env::var_os("KLUIS_CONFIG").filter(|v| !v.is_empty()) {
        Some(p) => (PathBuf::from(p), true),
        None => (default_config_path(), false),
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Layers flags over `KLUIS_*` variables over the file over the defaults.
pub fn resolve(flags: &Flags, config_flag: Option<&Path>) -> Result<Settings> {
    let (path, required) = config_path(config_flag);
    let file = read_file(&path, required)?;
    let config_file = file.as_ref().map(|_| path.clone());
    let file = file.unwrap_or_default();
    let env_error = |name: &'static str, reason: String| Error::invalid(name, reason);

    let vault = pick(
        flags.vault.clone(),
        std::env::var_os("KLUIS_VAULT")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
        file.vault.clone(),
        default_vault_path(),
    );
    let env_lang = match env("KLUIS_LANG").as_deref() {
        None => None,
        Some("nl") => Some(Lang::Nl),
        Some("en") => Some(Lang::En),
        Some(_) => return Err(env_error("KLUIS_LANG", t!("config.bad_lang").into_owned())),
    };
    let file_lang = file
        .lang
        .as_deref()
        .map(|l| if l == "nl" { Lang::Nl } else { Lang::En });
    let mut lang = pick(flags.lang, env_lang, file_lang, Lang::from_env());
    if lang.source == Source::Default && system_lang_set() {
        lang.source = Source::System;
    }
    let env_lock = match env("KLUIS_LOCK_AFTER") {
        None => None,
        Some(v) => Some(parse_duration(&v).ok_or_else(|| {
            env_error(
                "KLUIS_LOCK_AFTER",
                t!("val.duration", value = v).into_owned(),
            )
        })?),
    };
    let file_lock = file.lock_after.as_deref().and_then(parse_duration);
    let lock_after = pick(
        flags.lock_after,
        env_lock,
        file_lock,
        Duration::from_secs(300),
    );
    let env_privacy = match env("KLUIS_PRIVACY").as_deref() {
        None => None,
        Some("1" | "true" | "yes") => Some(true),
        Some("0" | "false" | "no") => Some(false),
        Some(_) => {
            return Err(env_error(
                "KLUIS_PRIVACY",
                t!("config.bad_bool").into_owned(),
            ));
        }
    };
    let privacy = pick(flags.privacy, env_privacy, file.privacy, false);
    let export_dir = pick(
        None,
        env("KLUIS_EXPORT_DIR").map(|v| Some(PathBuf::from(v))),
        file.export_dir.clone().map(Some),
        None,
    );
    let retention = Domain::ALL
        .iter()
        .map(|d| {
            (
                *d,
                pick(
                    None,
                    None,
                    file.retention.get(*d),
                    crate::model::default_retention_years(*d),
                ),
            )
        })
        .collect();
    let life_domains = pick(
        None,
        None,
        file.life_domains.clone(),
        crate::model::LIFE_DOMAINS
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    );
    let privacy_officer = pick(None, None, file.privacy_officer.clone().map(Some), None);
    let access_review_months = pick(
        None,
        None,
        file.access_review_months,
        crate::model::DEFAULT_REVIEW_MONTHS,
    );
    let words: Vec<(Category, String)> = file
        .special_words
        .iter()
        .filter_map(|(code, words)| code.parse::<Category>().ok().map(|c| (c, words)))
        .flat_map(|(c, words)| words.iter().map(move |w| (c, w.clone())))
        .collect();
    let special_words = pick(
        None,
        None,
        (!file.special_words.is_empty()).then_some(words),
        Vec::new(),
    );
    Ok(Settings {
        config_file,
        vault,
        lang,
        lock_after,
        privacy,
        export_dir,
        retention,
        life_domains,
        privacy_officer,
        access_review_months,
        special_words,
    })
}

fn system_lang_set() -> bool {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}

/// The built-in config, every setting commented out at its default: a file to start from
/// (`kluis config default > ~/.config/kluis/config.toml`).
pub fn default_file() -> String {
    let r = |d| crate::model::default_retention_years(d);
    format!(
        "{head}
# {vault_help}
# vault = \"{vault}\"

# {lang_help}
# lang = \"nl\"

# {lock_help}
# lock_after = \"5m\"

# {privacy_help}
# privacy = false

# {export_help}
# export_dir = \"/mnt/teamshare/kluis\"

# {domains_help}
# life_domains = [{domains}]

# {officer_help}
# privacy_officer = \"{officer_example}\"

# {review_help}
# access_review_months = {review}

# {retention_help}
[retention]
# jeugd = {jeugd}
# wmo = {wmo}
# participatie = {participatie}
# schuldhulp = {schuldhulp}
# overig = {overig}

# {words_help}
[special_words]
# health = [\"mantelzorg*\", \"!ziektekostenverzekering\"]
",
        head = t!("config.file_head"),
        vault_help = t!("config.help_vault"),
        vault = default_vault_path().display(),
        lang_help = t!("config.help_lang"),
        lock_help = t!("config.help_lock"),
        privacy_help = t!("config.help_privacy"),
        export_help = t!("config.help_export"),
        retention_help = t!("config.help_retention"),
        domains_help = t!("config.help_domains"),
        officer_help = t!("config.help_officer"),
        officer_example = t!("config.officer_example"),
        review_help = t!("config.help_review"),
        review = crate::model::DEFAULT_REVIEW_MONTHS,
        words_help = t!("config.help_words"),
        domains = crate::model::LIFE_DOMAINS
            .iter()
            .map(|d| format!("\"{d}\""))
            .collect::<Vec<_>>()
            .join(", "),
        jeugd = r(Domain::Jeugd),
        wmo = r(Domain::Wmo),
        participatie = r(Domain::Participatie),
        schuldhulp = r(Domain::Schuldhulp),
        overig = r(Domain::Overig),
    )
}

/// Parses `30s`, `5m`, `1h` or plain seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().ok()?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    (secs > 0).then(|| Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_file_parses_and_uncommented_gives_the_defaults() {
        let text = default_file();
        let empty: FileConfig = toml::from_str(&text).unwrap();
        assert_eq!(empty, FileConfig::default());
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") => rest,
                _ if l.starts_with('#') => "",
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let full: FileConfig = toml::from_str(&uncommented).unwrap();
        assert_eq!(full.lock_after.as_deref(), Some("5m"));
        assert_eq!(full.privacy, Some(false));
        assert_eq!(full.retention.jeugd, Some(20));
        assert_eq!(full.retention.wmo, Some(15));
        assert_eq!(full.access_review_months, Some(6));
        assert!(full.privacy_officer.is_some());
        assert_eq!(full.special_words["health"].len(), 2);
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let err = toml::from_str::<FileConfig>("vault = \"x\"\nlock_afer = \"5m\"\n").unwrap_err();
        assert!(err.to_string().contains("lock_afer"), "{err}");
        let err = toml::from_str::<FileConfig>("[retention]\njeugt = 3\n").unwrap_err();
        assert!(err.to_string().contains("jeugt"), "{err}");
    }

    #[test]
    fn durations_print_their_shortest_exact_form() {
        assert_eq!(format_duration(Duration::from_secs(300)), "5m");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
    }
}
