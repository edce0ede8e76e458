//! Privacy by design: consent, disclosure, the access log and retention, as types and rules.
//! No IO here (see docs/privacy.md for how each AVG duty maps to these).

use std::fmt;
use std::str::FromStr;

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::record::{Input, Kind};
use super::{Domain, hex};
use crate::error::{Error, Field, Result};
use crate::i18n::t;

text_enum!(
    /// What part of a dossier a consent (or legal ground) covers.
    Scope {
        Notes => "notes" | "notities",
        Details => "details" | "gegevens",
        All => "all" | "alles",
    }
);

impl Scope {
    /// Whether the client's details (BSN, birth date, address, phone) are in scope.
    pub fn details(self) -> bool {
        matches!(self, Scope::Details | Scope::All)
    }

    /// Whether the notes are in scope.
    pub fn notes(self) -> bool {
        matches!(self, Scope::Notes | Scope::All)
    }
}

text_enum!(
    /// What an access log entry records.
    Action {
        Unlock => "unlock",
        View => "view",
        Search => "search",
        Create => "create",
        Change => "change",
        RevealBsn => "reveal_bsn",
        RevealSpecial => "reveal_special",
        Export => "export",
        Import => "import",
        Disclose => "disclose",
        Report => "report",
        Recovery => "recovery",
        Erase => "erase",
    }
);

impl Action {
    /// Entries about a dossier that travel with it to colleagues. Export and import stay in
    /// the vault that did them: syncing them would make every sync a new change to sync.
    pub fn travels(self) -> bool {
        !matches!(
            self,
            Action::Unlock | Action::Export | Action::Import | Action::Recovery
        )
    }

    /// The localized label.
    pub fn label(self) -> String {
        self.label_in(crate::i18n::current())
    }

    /// The label in `lang`.
    pub fn label_in(self, lang: crate::i18n::Lang) -> String {
        t!(format!("action.{}", self.code()), locale = lang.code()).into_owned()
    }
}

crate::record! {
    /// A consent as stored and shown.
    pub struct Consent: Kind::Consent;
    {
        /// The receiving organisation.
        org: String = Input::Line,
        /// What it may be used for.
        purpose: String = Input::Line,
        /// What it covers.
        scope: Scope = Input::Choice,
        /// It explicitly covers special-category data (health, for example) too.
        #[serde(default)]
        special: bool = Input::Flag,
        /// When it was given.
        given_on: NaiveDate = Input::Date,
        /// Last day it is valid, if limited.
        until: Option<NaiveDate> = Input::Date,
        /// Where the proof is (a signed form, a note).
        evidence: Option<String> = Input::Line,
        /// When it was withdrawn.
        withdrawn_on: Option<NaiveDate> = Input::Date,
        /// Who recorded it.
        recorded_by: String = Input::Author,
        /// When it was recorded (UTC, RFC 3339).
        created_at: String = Input::Created,
    }
}

impl Consent {
    /// Active on `today`: given, not withdrawn, not expired.
    pub fn is_active(&self, today: NaiveDate) -> bool {
        self.withdrawn_on.is_none_or(|w| w > today)
            && self.given_on <= today
            && self.until.is_none_or(|u| u >= today)
    }

    /// Active now but ending within `days` days.
    pub fn expires_within(&self, today: NaiveDate, days: u64) -> bool {
        self.is_active(today)
            && self
                .until
                .is_some_and(|u| u <= today + chrono::Days::new(days))
    }

    /// `active`, `expired`, `withdrawn` or `future`.
    pub fn state(&self, today: NaiveDate) -> &'static str {
        if self.withdrawn_on.is_some_and(|w| w <= today) {
            "withdrawn"
        } else if self.until.is_some_and(|u| u < today) {
            "expired"
        } else if self.given_on > today {
            "future"
        } else {
            "active"
        }
    }

    /// Whether it covers sharing with `org` for `purpose`.
    pub fn covers(&self, org: &str, purpose: &str) -> bool {
        same_text(&self.org, org) && same_text(&self.purpose, purpose)
    }
}

/// What `consent add` asks for.
#[derive(Clone, Debug)]
pub struct NewConsent {
    /// Client id (full).
    pub client_id: String,
    /// Receiving organisation.
    pub org: String,
    /// Purpose.
    pub purpose: String,
    /// Scope.
    pub scope: Scope,
    /// Covers special-category data explicitly.
    pub special: bool,
    /// Given on.
    pub given_on: NaiveDate,
    /// Valid until.
    pub until: Option<NaiveDate>,
    /// Evidence.
    pub evidence: Option<String>,
}

crate::record! {
    /// A disclosure to another organisation, as recorded.
    pub struct Disclosure: Kind::Disclosure;
    {
        /// The receiving organisation.
        org: String = Input::Line,
        /// The purpose.
        purpose: String = Input::Line,
        /// What was shared.
        scope: Scope = Input::Choice,
        /// The consent it relied on.
        consent_id: Option<String> = Input::Ref(Kind::Consent),
        /// Or the legal ground named.
        legal_ground: Option<String> = Input::Line,
        /// The age recipient it was encrypted to.
        recipient: String = Input::Recipient,
        /// SHA-256 of the file written, hex.
        file_sha256: String = Input::Sha256,
        /// When (UTC, RFC 3339).
        at: String = Input::Created,
        /// Who.
        by: String = Input::Author,
    }
    // A disclosure rests on a consent or on a legal ground, never both or neither.
    rules(d) { d.consent_id.is_some() != d.legal_ground.is_some() }
}

/// One access log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Position in this vault's chain.
    pub seq: i64,
    /// UUID v7 (the same in every vault the entry travelled to).
    pub id: String,
    /// When (UTC, RFC 3339).
    pub at: String,
    /// What happened.
    pub action: Action,
    /// The dossier, if any.
    pub client_id: Option<String>,
    /// Who did it.
    pub user: String,
    /// On whose behalf, when that differs.
    pub on_behalf: Option<String>,
    /// Detail (ids, an organisation); emptied when the dossier is erased.
    pub detail: Option<String>,
    /// The worker whose vault it came from, for entries that arrived by sync.
    pub origin: Option<String>,
    /// This entry's chain hash.
    pub hash: String,
}

/// The part of an entry that travels with a synced dossier (an op's value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TravellingEntry {
    /// When (UTC, RFC 3339).
    pub at: String,
    /// Action code.
    pub action: String,
    /// Who.
    pub user: String,
    /// On whose behalf.
    pub on_behalf: Option<String>,
    /// Detail.
    pub detail: String,
}

impl TravellingEntry {
    /// Whether an entry's JSON, as it travels with a dossier, is one kluis would have
    /// written for `author`: by them, of an action that travels.
    pub fn check(value: &str, author: &str) -> bool {
        serde_json::from_str::<TravellingEntry>(value).is_ok_and(|e| {
            e.user == author
                && e.action
                    .parse::<Action>()
                    .is_ok_and(|a| a.code() == e.action && a.travels())
                && chrono::DateTime::parse_from_rfc3339(&e.at).is_ok()
                && e.on_behalf
                    .as_deref()
                    .is_none_or(|b| super::parse_name("field", b).is_ok_and(|p| p == b))
                && super::parse_detail("detail", &e.detail, 1_000).is_ok()
        })
    }
}

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Hex SHA-256 of a detail text.
pub fn detail_hash(detail: &str) -> String {
    hex(&Sha256::digest(detail.as_bytes()))
}

/// The chain hash of an entry: every field, length-prefixed so no two entries can share an
/// encoding, and the previous entry's hash.
#[allow(clippy::too_many_arguments)]
pub fn entry_hash(
    prev: &str,
    seq: i64,
    id: &str,
    at: &str,
    action: &str,
    client: Option<&str>,
    user: &str,
    on_behalf: Option<&str>,
    detail_hash: &str,
    origin: Option<&str>,
) -> String {
    let mut h = Sha256::new();
    h.update(b"kluis.nl/v1/access-log\n");
    let seq = seq.to_string();
    for part in [
        Some(prev),
        Some(seq.as_str()),
        Some(id),
        Some(at),
        Some(action),
        client,
        Some(user),
        on_behalf,
        Some(detail_hash),
        origin,
    ] {
        match part {
            None => h.update(b"-"),
            Some(p) => {
                h.update((p.len() as u64).to_be_bytes());
                h.update(p.as_bytes());
            }
        }
    }
    hex(&h.finalize())
}

/// Whether two free texts (organisation names, purposes) are the same, ignoring case and
/// spacing.
pub fn same_text(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    norm(a) == norm(b)
}

/// Years a closed dossier is kept by default, per domain. See docs/privacy.md for the
/// sources; an organisation sets its own with `kluis retention policy`.
pub fn default_retention_years(domain: Domain) -> u32 {
    match domain {
        // Jeugdwet art. 7.3.8: 20 years after the last entry.
        Domain::Jeugd => 20,
        Domain::Wmo => 15,
        Domain::Participatie | Domain::Schuldhulp | Domain::Overig => 7,
    }
}

/// The shortest period the law allows, where it sets one: the Jeugdwet's twenty years.
pub fn legal_minimum_years(domain: Domain) -> Option<u32> {
    match domain {
        Domain::Jeugd => Some(20),
        _ => None,
    }
}

/// Most years a policy may name: a typo of 1000 would keep a dossier forever.
pub const MAX_RETENTION_YEARS: u32 = 100;

/// The last day a dossier closed on `closed_on` is kept.
pub fn retention_end(closed_on: NaiveDate, years: u32) -> NaiveDate {
    closed_on
        .checked_add_months(Months::new(years * 12))
        .unwrap_or(NaiveDate::MAX)
}

/// Checks a retention period given on the command line.
pub fn parse_years(field: impl Into<Field>, value: &str) -> Result<u32> {
    let field: Field = field.into();
    match value.trim().parse::<u32>() {
        Ok(y) if (1..=MAX_RETENTION_YEARS).contains(&y) => Ok(y),
        _ => Err(Error::invalid(
            field,
            t!("val.years", max = MAX_RETENTION_YEARS),
        )),
    }
}

/// Checks an age recipient for a disclosure.
pub fn parse_recipient(field: impl Into<Field>, value: &str) -> Result<age::x25519::Recipient> {
    let field: Field = field.into();
    age::x25519::Recipient::from_str(value.trim())
        .map_err(|_| Error::invalid(field, t!("val.recipient", value = value)))
}

impl fmt::Display for AuditEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.at, self.action, self.user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consent(until: Option<&str>, withdrawn: Option<&str>) -> Consent {
        Consent {
            id: "c".into(),
            client_id: "x".into(),
            org: "GGD  Hollands Noorden".into(),
            purpose: "Hulp bij  schulden".into(),
            scope: Scope::All,
            special: false,
            given_on: "2026-01-01".parse().unwrap(),
            until: until.map(|u| u.parse().unwrap()),
            evidence: None,
            withdrawn_on: withdrawn.map(|w| w.parse().unwrap()),
            recorded_by: "me".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn consent_is_active_only_between_given_and_until_and_before_withdrawal() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let c = consent(Some("2026-06-30"), None);
        assert!(!c.is_active(d("2025-12-31")));
        assert!(c.is_active(d("2026-06-30")));
        assert!(!c.is_active(d("2026-07-01")));
        assert!(c.expires_within(d("2026-06-01"), 30));
        assert!(!c.expires_within(d("2026-05-01"), 30));
        let w = consent(None, Some("2026-03-01"));
        assert!(w.is_active(d("2026-02-28")));
        assert!(!w.is_active(d("2026-03-01")));
        assert_eq!(w.state(d("2026-03-01")), "withdrawn");
        assert!(c.covers("ggd hollands noorden", "hulp bij schulden"));
        assert!(!c.covers("GGD", "hulp bij schulden"));
    }

    #[test]
    fn every_field_is_in_the_chain_hash() {
        let base = entry_hash(
            GENESIS,
            1,
            "i",
            "t",
            "view",
            Some("c"),
            "u",
            None,
            "d",
            None,
        );
        let variants = [
            entry_hash("1", 1, "i", "t", "view", Some("c"), "u", None, "d", None),
            entry_hash(
                GENESIS,
                2,
                "i",
                "t",
                "view",
                Some("c"),
                "u",
                None,
                "d",
                None,
            ),
            entry_hash(
                GENESIS,
                1,
                "j",
                "t",
                "view",
                Some("c"),
                "u",
                None,
                "d",
                None,
            ),
            entry_hash(
                GENESIS,
                1,
                "i",
                "s",
                "view",
                Some("c"),
                "u",
                None,
                "d",
                None,
            ),
            entry_hash(
                GENESIS,
                1,
                "i",
                "t",
                "create",
                Some("c"),
                "u",
                None,
                "d",
                None,
            ),
            entry_hash(GENESIS, 1, "i", "t", "view", None, "u", None, "d", None),
            entry_hash(
                GENESIS,
                1,
                "i",
                "t",
                "view",
                Some("c"),
                "v",
                None,
                "d",
                None,
            ),
            entry_hash(
                GENESIS,
                1,
                "i",
                "t",
                "view",
                Some("c"),
                "u",
                Some("u"),
                "d",
                None,
            ),
            entry_hash(
                GENESIS,
                1,
                "i",
                "t",
                "view",
                Some("c"),
                "u",
                None,
                "e",
                None,
            ),
            entry_hash(
                GENESIS,
                1,
                "i",
                "t",
                "view",
                Some("c"),
                "u",
                None,
                "d",
                Some("w"),
            ),
        ];
        for v in variants {
            assert_ne!(v, base);
        }
    }

    #[test]
    fn retention_ends_years_after_closing() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(retention_end(d("2024-02-29"), 20), d("2044-02-29"));
        assert_eq!(retention_end(d("2024-02-29"), 1), d("2025-02-28"));
        assert_eq!(default_retention_years(Domain::Jeugd), 20);
        assert_eq!(default_retention_years(Domain::Wmo), 15);
        assert!(parse_years("--years", "0").is_err());
        assert!(parse_years("--years", "1000").is_err());
        assert_eq!(parse_years("--years", " 7 ").unwrap(), 7);
    }
}
