//! Records and their validation. No IO here.

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::Serialize;

use crate::error::{Error, Field, Result};
use crate::i18n::t;

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $code:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }

        // Only the stored spelling: data in a bundle is as kluis wrote it, never an alias.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.code() == s)
                    .ok_or_else(|| serde::de::Error::custom("unknown value"))
            }
        }

        impl $name {
            /// Every value, in display order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored (and JSON) spelling.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> std::result::Result<Self, ()> {
                let s = s.trim().to_lowercase();
                match s.as_str() {
                    $($code $(| $alias)* => Ok($name::$variant),)+
                    _ => Err(()),
                }
            }
        }

        impl $crate::model::record::Column for $name {
            const CODES: &'static [&'static str] = &[$($code),+];
            fn to_cell(&self) -> $crate::model::record::Cell {
                $crate::model::record::Cell::T(self.code().to_owned())
            }
            fn from_cell(c: &$crate::model::record::Cell) -> Option<Self> {
                let t = c.text()?;
                $name::ALL.iter().copied().find(|v| v.code() == t)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

text_enum!(
    /// The part of the sociaal domein a client is helped in.
    Domain {
        Jeugd => "jeugd" | "youth",
        Wmo => "wmo",
        Participatie => "participatie" | "participation" | "werk" | "inkomen",
        Schuldhulp => "schuldhulp" | "debt",
        Overig => "overig" | "other",
    }
);

text_enum!(
    /// Whether a dossier is open.
    Status {
        Open => "open",
        Closed => "closed" | "gesloten",
    }
);

text_enum!(
    /// What kind of contact a note records.
    NoteKind {
        Huisbezoek => "huisbezoek" | "visit",
        Telefoon => "telefoon" | "phone",
        Observatie => "observatie" | "observation",
        Overig => "overig" | "other",
    }
);

mod depth;
pub mod nudge;
mod practice;
mod privacy;
pub mod record;
pub mod roster;
pub use depth::*;
pub use practice::*;
pub use privacy::*;

/// Lowercase hex of `bytes`, written straight into one string (no piece of a key or hash
/// is left behind in a temporary).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(data))
}

/// A field's value as lists show it: "-" when empty, a BSN as its last three digits.
pub fn shown_value(field: &str, value: Option<&str>) -> String {
    match value {
        None => "-".to_owned(),
        Some(v) if field == "bsn" => {
            Bsn::parse(v).map_or_else(|_| "*********".to_owned(), |b| b.masked())
        }
        Some(v) => v.to_owned(),
    }
}

/// Parses a text enum for `field`, listing the allowed values when it does not fit.
pub fn parse_choice<T: FromStr + fmt::Display + Copy>(
    field: impl Into<Field>,
    value: &str,
    all: &[T],
) -> Result<T> {
    let field: Field = field.into();
    value.parse().map_err(|_| {
        let allowed: Vec<String> = all.iter().map(|v| v.to_string()).collect();
        Error::invalid(
            field,
            t!("val.choice", value = value, allowed = allowed.join(", ")),
        )
    })
}

/// A Dutch citizen service number (burgerservicenummer), checked with the elfproef.
#[derive(Clone, PartialEq, Eq)]
pub struct Bsn(String);

impl Bsn {
    /// Validates 8 or 9 digits (spaces and dots allowed) with the elfproef.
    pub fn parse(input: &str) -> Result<Bsn> {
        let digits: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-'))
            .collect();
        if !(digits.len() == 8 || digits.len() == 9) || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(Error::invalid("bsn", t!("val.bsn_digits")));
        }
        // An 8-digit BSN is a 9-digit one with a leading zero that got lost.
        let digits = format!("{digits:0>9}");
        if !elfproef(&digits) {
            return Err(Error::invalid("bsn", t!("val.bsn_elfproef")));
        }
        Ok(Bsn(digits))
    }

    /// All nine digits.
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// Shown as `******789`: enough to match a letter, too little to misuse.
    pub fn masked(&self) -> String {
        format!("******{}", &self.0[6..])
    }
}

impl fmt::Debug for Bsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bsn({})", self.masked())
    }
}

/// The elfproef for BSNs: 9·d1 + 8·d2 + … + 2·d8 − 1·d9 is a non-zero multiple of 11.
pub(crate) fn elfproef(nine_digits: &str) -> bool {
    let d: Vec<i64> = nine_digits.bytes().map(|b| i64::from(b - b'0')).collect();
    let sum: i64 = (0..8).map(|i| d[i] * (9 - i as i64)).sum::<i64>() - d[8];
    sum != 0 && sum % 11 == 0
}

/// A day as people write it, for `field`, with today's date from the clock (the command
/// line); see [`parse_day`].
pub fn parse_date(field: impl Into<Field>, value: &str) -> Result<NaiveDate> {
    parse_day(field, value, chrono::Local::now().date_naive())
}

/// A day as people write it: `14-03-2026` or `14-3-2026` (also with `/` or `.` between),
/// ISO `2026-03-14`, or `vandaag`, `morgen`, `gisteren` (`today`, `tomorrow`, `yesterday`).
/// A two-digit year is refused: `14-03-26` could be 1926.
pub fn parse_day(field: impl Into<Field>, value: &str, today: NaiveDate) -> Result<NaiveDate> {
    let field: Field = field.into();
    day(value.trim(), today).ok_or_else(|| Error::invalid(field, t!("val.date", value = value)))
}

fn day(v: &str, today: NaiveDate) -> Option<NaiveDate> {
    match v.to_lowercase().as_str() {
        "vandaag" | "today" => return Some(today),
        "morgen" | "tomorrow" => return today.succ_opt(),
        "gisteren" | "yesterday" => return today.pred_opt(),
        _ => {}
    }
    let parts: Vec<&str> = v.split(['-', '/', '.']).collect();
    let [a, b, c] = parts[..] else {
        return None;
    };
    let digits = |p: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&p.len()) && p.bytes().all(|x| x.is_ascii_digit())
    };
    let (y, m, d) = if digits(a, 4..=4) && digits(b, 1..=2) && digits(c, 1..=2) {
        (a, b, c)
    } else if digits(c, 4..=4) && digits(b, 1..=2) && digits(a, 1..=2) {
        (c, b, a)
    } else {
        return None;
    };
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// A moment as people write it: a day as [`parse_day`] takes it, then a time (`9:30`,
/// `09:30`, `09:30:15`) after a space or a `T`; a day alone is its start, a time alone is
/// today. Local time.
pub fn parse_moment(
    field: impl Into<Field>,
    value: &str,
    today: NaiveDate,
) -> Result<NaiveDateTime> {
    let field: Field = field.into();
    let v = value.trim();
    let time = |t: &str| {
        ["%H:%M:%S", "%H:%M"]
            .iter()
            .find_map(|f| NaiveTime::parse_from_str(t, f).ok())
    };
    let found = day(v, today)
        .map(|d| d.and_time(NaiveTime::MIN))
        .or_else(|| time(v).map(|t| today.and_time(t)))
        .or_else(|| {
            let (d, t) = v.rsplit_once([' ', 'T'])?;
            Some(day(d.trim(), today)?.and_time(time(t.trim())?))
        });
    found.ok_or_else(|| Error::invalid(field, t!("val.datetime", value = value)))
}

/// A birth date: a real date, not in the future, not before 1900.
pub fn parse_birth_date(value: &str, today: NaiveDate) -> Result<NaiveDate> {
    let date = parse_day("birth_date", value, today)?;
    if date > today {
        return Err(Error::invalid(
            "birth_date",
            t!("val.date_future", value = value),
        ));
    }
    if date < NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date") {
        return Err(Error::invalid(
            "birth_date",
            t!("val.date_too_old", value = value),
        ));
    }
    Ok(date)
}

/// Parses when a contact happened: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM` or `YYYY-MM-DDTHH:MM[:SS]`,
/// local time. A bare date means the start of that day.
pub fn parse_datetime(field: impl Into<Field>, value: &str) -> Result<NaiveDateTime> {
    let field: Field = field.into();
    let v = value.trim();
    for fmt in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(v, fmt) {
            return Ok(dt);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Ok(d.and_time(NaiveTime::MIN));
    }
    Err(Error::invalid(field, t!("val.datetime", value = value)))
}

/// Stored spelling of a UTC moment: RFC 3339 to the second (`2026-11-22T17:14:18Z`).
pub fn format_utc(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Now, as stored.
pub fn now_utc() -> String {
    format_utc(chrono::Utc::now())
}

/// Stored spelling of a local date-time.
pub fn format_datetime(dt: NaiveDateTime) -> String {
    dt.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// A name: trimmed, not empty, at most 200 characters, no control characters.
pub fn parse_name(field: impl Into<Field>, value: &str) -> Result<String> {
    let field: Field = field.into();
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid(field, t!("val.empty")));
    }
    if v.chars().count() > 200 {
        return Err(Error::invalid(field, t!("val.too_long", max = 200)));
    }
    if v.chars().any(char::is_control) {
        return Err(Error::invalid(field, t!("val.control_chars")));
    }
    Ok(v.to_owned())
}

/// An optional one-line text field (address, phone); empty means none.
pub fn parse_optional_line(field: impl Into<Field>, value: &str) -> Result<Option<String>> {
    let field: Field = field.into();
    if value.trim().is_empty() {
        return Ok(None);
    }
    parse_name(field, value).map(Some)
}

/// Whether `c` is a control character that text in kluis may hold: a line break or a tab.
/// Every other C0 or C1 control (ESC, BEL, CSI, a lone carriage return...) could steer the
/// terminal that shows the text, so no text field accepts one; a carriage return counts as
/// part of a line break only right before a newline (text pasted from Windows).
pub fn is_clean_text(value: &str) -> bool {
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => {}
            '\r' if chars.peek() == Some(&'\n') => {}
            c if c.is_control() => return false,
            _ => {}
        }
    }
    true
}

/// A note body: not empty after trimming, at most 1 MB, no control characters other than
/// line breaks and tabs (see [`is_clean_text`]).
pub fn parse_note_body(value: &str) -> Result<String> {
    parse_text("text", value)
}

/// A multi-line text field (a note, a goal, an action, an assessment's reason): the rules
/// of [`parse_note_body`], with `field` named in the error.
pub fn parse_text(field: impl Into<Field>, value: &str) -> Result<String> {
    let field: Field = field.into();
    let v = value.trim_end_matches(['\n', '\r']);
    if v.trim().is_empty() {
        return Err(Error::invalid(field, t!("val.empty")));
    }
    if v.len() > 1_000_000 {
        return Err(Error::invalid(field, t!("val.too_long", max = 1_000_000)));
    }
    if !is_clean_text(v) {
        return Err(Error::invalid(field, t!("val.control_chars_text")));
    }
    Ok(v.to_owned())
}

/// Client columns that travel as fields, in table order.
pub const CLIENT_FIELDS: &[&str] = &[
    "name",
    "bsn",
    "birth_date",
    "address",
    "phone",
    "domain",
    "status",
    "opened_on",
    "closed_on",
    "created_at",
    "retention_until",
];

/// Fields a dossier cannot exist without.
pub const REQUIRED_FIELDS: &[&str] = &["name", "domain", "status", "opened_on", "created_at"];

/// Whether a value fits a client field as kluis itself writes it (the check of a
/// colleague's op before it is merged). None clears a field; the required ones cannot be.
pub fn check_client_field(col: &str, value: Option<&str>) -> bool {
    let date = |v: &str| NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok();
    let line = |v: &str| parse_name("field", v).is_ok_and(|p| p == v);
    match (col, value) {
        (c, None) => CLIENT_FIELDS.contains(&c) && !REQUIRED_FIELDS.contains(&c),
        ("name" | "address" | "phone", Some(v)) => line(v),
        ("bsn", Some(v)) => Bsn::parse(v).is_ok_and(|b| b.digits() == v),
        ("birth_date" | "opened_on" | "closed_on" | "retention_until", Some(v)) => date(v),
        ("domain", Some(v)) => v.parse::<Domain>().is_ok_and(|d| d.code() == v),
        ("status", Some(v)) => v.parse::<Status>().is_ok_and(|s| s.code() == v),
        ("created_at", Some(v)) => chrono::DateTime::parse_from_rfc3339(v).is_ok(),
        _ => false,
    }
}

/// A free-text detail of at most `max` bytes on one line (an access log entry's detail): may
/// be empty; no control characters at all.
pub fn parse_detail(field: impl Into<Field>, value: &str, max: usize) -> Result<String> {
    let field: Field = field.into();
    if value.len() > max {
        return Err(Error::invalid(field, t!("val.too_long", max = max)));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, t!("val.control_chars")));
    }
    Ok(value.to_owned())
}

/// A client as stored.
#[derive(Clone, Debug, Serialize)]
pub struct Client {
    /// UUID v7.
    pub id: String,
    /// Full name.
    pub name: String,
    /// Citizen service number, if recorded.
    #[serde(skip)]
    pub bsn: Option<Bsn>,
    /// Birth date.
    pub birth_date: Option<NaiveDate>,
    /// Address.
    pub address: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Domain.
    pub domain: Domain,
    /// Open or closed.
    pub status: Status,
    /// When the dossier was opened.
    pub opened_on: NaiveDate,
    /// When it was closed.
    pub closed_on: Option<NaiveDate>,
    /// Created (UTC, RFC 3339).
    pub created_at: String,
    /// Last changed (UTC, RFC 3339).
    pub updated_at: String,
    /// Last day it is kept once closed (set at closing).
    pub retention_until: Option<NaiveDate>,
}

/// What `client add` asks for.
#[derive(Clone, Debug)]
pub struct NewClient {
    /// Full name.
    pub name: String,
    /// BSN.
    pub bsn: Option<Bsn>,
    /// Birth date.
    pub birth_date: Option<NaiveDate>,
    /// Address.
    pub address: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Domain.
    pub domain: Domain,
    /// Opening date.
    pub opened_on: NaiveDate,
}

/// A change to a client: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct ClientPatch {
    /// New name.
    pub name: Option<String>,
    /// New or cleared BSN.
    pub bsn: Option<Option<Bsn>>,
    /// New or cleared birth date.
    pub birth_date: Option<Option<NaiveDate>>,
    /// New or cleared address.
    pub address: Option<Option<String>>,
    /// New or cleared phone.
    pub phone: Option<Option<String>>,
    /// New domain.
    pub domain: Option<Domain>,
}

impl ClientPatch {
    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.bsn.is_none()
            && self.birth_date.is_none()
            && self.address.is_none()
            && self.phone.is_none()
            && self.domain.is_none()
    }
}

/// A visit note. Notes are append-only; a correction supersedes an older note.
#[derive(Clone, Debug, Serialize)]
pub struct Note {
    /// UUID v7.
    pub id: String,
    /// The client it is about.
    pub client_id: String,
    /// Kind of contact.
    pub kind: NoteKind,
    /// When the contact happened (local time).
    pub occurred_at: String,
    /// The text.
    pub body: String,
    /// Who wrote it.
    pub author: String,
    /// When it was written (UTC, RFC 3339).
    pub created_at: String,
    /// The note this one corrects.
    pub supersedes: Option<String>,
    /// The note that corrects this one.
    pub superseded_by: Option<String>,
    /// Special-category data (health, for example): masked until revealed.
    pub special: bool,
}

/// What `note add` asks for.
#[derive(Clone, Debug)]
pub struct NewNote {
    /// Client id (full).
    pub client_id: String,
    /// Kind.
    pub kind: NoteKind,
    /// When it happened.
    pub occurred_at: NaiveDateTime,
    /// Text.
    pub body: String,
    /// Note id (full) that this one corrects.
    pub supersedes: Option<String>,
    /// Special-category data.
    pub special: bool,
}

/// A note being written, kept in the vault when it locks.
#[derive(Clone, Debug)]
pub struct Draft {
    /// The client.
    pub client_id: String,
    /// The note it will correct.
    pub supersedes: Option<String>,
    /// Kind.
    pub kind: NoteKind,
    /// When the contact happened, as typed.
    pub occurred_at: String,
    /// The text so far.
    pub body: String,
    /// Marked as special-category data.
    pub special: bool,
}

/// A form being filled in (a client's details, a household member, a goal...), kept in
/// the vault when it locks, like a note's draft: which form, for which dossier and record,
/// and every field as typed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FormDraft {
    /// Which form (the terminal app's code for it).
    pub form: String,
    /// The dossier (None: a new client).
    pub client_id: Option<String>,
    /// The record being changed.
    pub editing: Option<String>,
    /// Each field's name and what was typed.
    pub values: Vec<(String, String)>,
}

/// One search result.
#[derive(Clone, Debug, Serialize)]
pub struct SearchHit {
    /// `client` or `note`.
    pub kind: &'static str,
    /// Id of the client or note.
    pub id: String,
    /// The client it belongs to.
    pub client_id: String,
    /// That client's name.
    pub client_name: String,
    /// Matching text with the match between `[` and `]`.
    pub snippet: String,
    /// bm25 rank: lower is better.
    pub rank: f64,
    /// A special-category note: the snippet is masked.
    pub special: bool,
}

/// Minimum length of an id prefix.
pub const MIN_ID_PREFIX: usize = 8;

/// Checks an id or id prefix given on the command line.
pub fn parse_id_prefix(field: impl Into<Field>, value: &str) -> Result<String> {
    let field: Field = field.into();
    let v = value.trim().to_lowercase();
    if v.len() < MIN_ID_PREFIX {
        return Err(Error::invalid(
            field,
            t!("val.id_short", min = MIN_ID_PREFIX),
        ));
    }
    if !v.chars().all(|c| c.is_ascii_hexdigit() || c == '-') || v.len() > 36 {
        return Err(Error::invalid(field, t!("val.id_chars")));
    }
    Ok(v)
}

/// Turns what a person types into an FTS5 query: every word must match, the last one as a
/// prefix so results appear while typing. Quoting each word keeps FTS5 syntax out of reach.
/// A single letter is not a prefix: it would match a large part of every vault and there is
/// no index for it (the prefix indexes start at two letters).
pub fn fts_query(input: &str) -> Option<String> {
    let words: Vec<&str> = input
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let last = words.last()?;
    let mut q = words
        .iter()
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(" ");
    if last.chars().count() >= 2 {
        q.push('*');
    }
    Some(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn elfproef_accepts_known_valid_numbers() {
        // 111222333 and 123456782 are the usual test BSNs; 12345672 is 012345672 without its zero.
        for ok in ["111222333", "123456782", "12345672", "1112.22.333"] {
            assert!(Bsn::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "123456789",
            "000000000",
            "12345678a",
            "1234567",
            "1234567890",
            "",
        ] {
            assert!(Bsn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bsn_is_masked_but_for_last_three() {
        let b = Bsn::parse("111222333").unwrap();
        assert_eq!(b.masked(), "******333");
        assert!(!format!("{b:?}").contains("111222"));
    }

    #[test]
    fn choices_accept_dutch_and_english() {
        assert_eq!("visit".parse::<NoteKind>(), Ok(NoteKind::Huisbezoek));
        assert_eq!("Huisbezoek".parse::<NoteKind>(), Ok(NoteKind::Huisbezoek));
        assert_eq!("schuldhulp".parse::<Domain>(), Ok(Domain::Schuldhulp));
        assert!(parse_choice("--domain", "zorg", Domain::ALL).is_err());
    }

    #[test]
    fn dates_are_checked() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        assert!(parse_birth_date("1981-02-29", today).is_err());
        assert!(parse_birth_date("1984-02-29", today).is_ok());
        assert!(parse_birth_date("2030-01-01", today).is_err());
        assert!(parse_birth_date("1800-01-01", today).is_err());
        assert_eq!(
            format_datetime(parse_datetime("--at", "2026-03-04 09:30").unwrap()),
            "2026-03-04T09:30:00"
        );
        assert!(parse_datetime("--at", "gisteren").is_err());
    }

    #[test]
    fn days_are_taken_as_people_write_them() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        for (typed, want) in [
            ("14-03-1980", d(1980, 3, 14)),
            ("4-3-1980", d(1980, 3, 4)),
            ("14/3/1980", d(1980, 3, 14)),
            ("14.03.1980", d(1980, 3, 14)),
            ("1980-03-14", d(1980, 3, 14)),
            ("1980-3-4", d(1980, 3, 4)),
            (" vandaag ", today),
            ("Morgen", d(2026, 11, 23)),
            ("today", today),
            ("tomorrow", d(2026, 11, 23)),
            ("gisteren", d(2026, 11, 21)),
        ] {
            assert_eq!(parse_day("--at", typed, today).unwrap(), want, "{typed}");
        }
        for bad in [
            "30-02-2026",
            "14-03-26",
            "2026-14-03x",
            "14-03",
            "",
            "14--2026",
            "1980-03-14-1",
            "morgenochtend",
            "١٤-٠٣-١٩٨٠",
        ] {
            assert!(parse_day("--at", bad, today).is_err(), "{bad}");
        }
        assert_eq!(
            parse_birth_date("14-03-1980", today).unwrap(),
            d(1980, 3, 14)
        );
        let at = |h, m| d(2026, 11, 22).and_hms_opt(h, m, 0).unwrap();
        for (typed, want) in [
            ("22-11-2026 9:30", at(9, 30)),
            ("22-11-2026 09:30", at(9, 30)),
            ("2026-11-22T09:30:00", at(9, 30)),
            ("2026-11-22 09:30", at(9, 30)),
            ("vandaag 14:00", at(14, 0)),
            ("14:00", at(14, 0)),
            ("22-11-2026", at(0, 0)),
            (
                "morgen 8:15",
                d(2026, 11, 23).and_hms_opt(8, 15, 0).unwrap(),
            ),
        ] {
            assert_eq!(parse_moment("--at", typed, today).unwrap(), want, "{typed}");
        }
        for bad in ["22-11-2026 25:00", "vandaag om 2", "9 uur", ""] {
            assert!(parse_moment("--at", bad, today).is_err(), "{bad}");
        }
    }

    #[test]
    fn fts_query_quotes_words() {
        assert_eq!(fts_query("jan de"), Some("\"jan\" \"de\"*".into()));
        assert_eq!(
            fts_query("NEAR(\"x\" OR"),
            Some("\"NEAR\" \"x\" \"OR\"*".into())
        );
        assert_eq!(fts_query("  --  "), None);
        assert_eq!(
            fts_query("jan d"),
            Some("\"jan\" \"d\"".into()),
            "no one-letter prefix"
        );
    }

    #[test]
    fn id_prefix_rules() {
        assert!(parse_id_prefix("ID", "0193abcd").is_ok());
        assert!(parse_id_prefix("ID", "0193abc").is_err());
        assert!(parse_id_prefix("ID", "0193abcz").is_err());
    }

    proptest! {
        #[test]
        fn valid_bsns_round_trip_and_one_digit_change_breaks_them(n in 10_000_000u32..999_999_999) {
            let s = format!("{n:09}");
            if let Ok(b) = Bsn::parse(&s) {
                prop_assert_eq!(b.digits(), s.as_str());
                // The elfproef catches every single-digit error.
                for pos in 0..9 {
                    let mut bytes = s.clone().into_bytes();
                    bytes[pos] = b'0' + (bytes[pos] - b'0' + 1) % 10;
                    prop_assert!(Bsn::parse(std::str::from_utf8(&bytes).unwrap()).is_err());
                }
            }
        }

        #[test]
        fn fts_query_never_passes_syntax_through(input in ".{0,40}") {
            if let Some(q) = fts_query(&input) {
                for part in q.trim_end_matches('*').split(' ') {
                    prop_assert!(part.starts_with('"') && part.ends_with('"'));
                    prop_assert!(!part[1..part.len()-1].contains('"'));
                }
            }
        }
    }
}
