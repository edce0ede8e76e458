//! The dossier beyond notes: the household, the network around it, the support plan (goals
//! per life domain with actions) and the life-domain assessment. Types and validation only.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::i18n::t;

text_enum!(
    /// How a household member relates to the client.
    Relation {
        Partner => "partner",
        Kind => "kind" | "child",
        Ouder => "ouder" | "parent",
        Overig => "overig" | "other",
    }
);

text_enum!(
    /// Whether an action is still to do.
    ActionStatus {
        Open => "open",
        Done => "done" | "klaar",
    }
);

/// The common Dutch self-sufficiency domains (after the Zelfredzaamheid-Matrix), the default
/// list of life domains. An organisation sets its own with `life_domains` in the config.
pub const LIFE_DOMAINS: &[&str] = &[
    "financiën",
    "dagbesteding",
    "huisvesting",
    "huiselijke relaties",
    "geestelijke gezondheid",
    "lichamelijke gezondheid",
    "verslaving",
    "adl",
    "sociaal netwerk",
    "maatschappelijke participatie",
    "justitie",
];

/// Checks a life domain against the list in use; case and spacing do not matter.
pub fn parse_life_domain(field: &str, value: &str, domains: &[String]) -> Result<String> {
    let v = value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    domains
        .iter()
        .find(|d| d.to_lowercase() == v)
        .cloned()
        .ok_or_else(|| {
            Error::invalid(
                field,
                t!("val.choice", value = value, allowed = domains.join(", ")),
            )
        })
}

/// A household member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HouseholdMember {
    /// UUID v7.
    pub id: String,
    /// The client.
    pub client_id: String,
    /// Name.
    pub name: String,
    /// Relation to the client.
    pub relation: Relation,
    /// Birth date.
    pub birth_date: Option<NaiveDate>,
    /// Who recorded it.
    pub author: String,
    /// When (UTC, RFC 3339).
    pub created_at: String,
}

/// Someone in the client's network: a GP, a school, a creditor, another professional.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// UUID v7.
    pub id: String,
    /// The client.
    pub client_id: String,
    /// Name.
    pub name: String,
    /// Organisation.
    pub org: Option<String>,
    /// Role (huisarts, mentor, schuldeiser...).
    pub role: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Who recorded it.
    pub author: String,
    /// When (UTC, RFC 3339).
    pub created_at: String,
}

/// A goal of the support plan, in one life domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Goal {
    /// UUID v7.
    pub id: String,
    /// The client.
    pub client_id: String,
    /// Life domain.
    pub domain: String,
    /// The goal, as agreed.
    pub text: String,
    /// Who recorded it.
    pub author: String,
    /// When (UTC, RFC 3339).
    pub created_at: String,
}

/// An agreed action towards a goal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanAction {
    /// UUID v7.
    pub id: String,
    /// The client.
    pub client_id: String,
    /// The goal.
    pub goal_id: String,
    /// What is to be done.
    pub text: String,
    /// Who does it: `client`, `me` (the worker who wrote it), a worker id or an organisation.
    pub owner: String,
    /// By when.
    pub due: Option<NaiveDate>,
    /// Open or done.
    pub status: ActionStatus,
    /// When it was done.
    pub done_on: Option<NaiveDate>,
    /// Who recorded it.
    pub author: String,
    /// When (UTC, RFC 3339).
    pub created_at: String,
}

/// A score of how the client is doing in one life domain, with the reason it matters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assessment {
    /// UUID v7.
    pub id: String,
    /// The client.
    pub client_id: String,
    /// Life domain.
    pub domain: String,
    /// 1 (acute problems) to 5 (fully self-sufficient).
    pub score: u8,
    /// Why this domain matters for the help asked (minimisation: no score without it).
    pub reason: String,
    /// The day it applies to.
    pub at: NaiveDate,
    /// Who recorded it.
    pub author: String,
    /// When (UTC, RFC 3339).
    pub created_at: String,
}

/// A planned visit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Visit {
    /// UUID v7.
    pub id: String,
    /// The client.
    pub client_id: String,
    /// When (local time, `YYYY-MM-DDTHH:MM:SS`).
    pub at: String,
    /// What it is for.
    pub purpose: Option<String>,
    /// Who planned it.
    pub author: String,
    /// When it was planned (UTC, RFC 3339).
    pub created_at: String,
}

text_enum!(
    /// Where a handover stands.
    HandoverStatus {
        Pending => "pending",
        Received => "received",
    }
);

/// A warm handover of a dossier to a colleague.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Handover {
    /// UUID v7.
    pub id: String,
    /// The dossier.
    pub client_id: String,
    /// The worker handing over.
    pub from_worker: String,
    /// The colleague taking over.
    pub to_worker: String,
    /// The handover note.
    pub note_id: String,
    /// Pending until the colleague's vault has the dossier.
    pub status: HandoverStatus,
    /// When the colleague's vault received it (UTC, RFC 3339).
    pub received_at: Option<String>,
    /// When (UTC, RFC 3339).
    pub created_at: String,
}

/// Largest file `attach add` keeps (the vault is re-encrypted whole at every save, and a
/// bundle carries the file to each colleague).
pub const MAX_ATTACHMENT_BYTES: u64 = 20 * 1024 * 1024;

/// A file kept in the dossier: what it is (its bytes are stored and sent apart).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// UUID v7.
    pub id: String,
    /// The client.
    pub client_id: String,
    /// What it is.
    pub title: String,
    /// The original file name.
    pub filename: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// Who added it.
    pub author: String,
    /// When (UTC, RFC 3339).
    pub created_at: String,
}

/// A note that evaluates a goal of the plan (the note holds the text).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evaluation {
    /// UUID v7.
    pub id: String,
    /// The client.
    pub client_id: String,
    /// The goal.
    pub goal_id: String,
    /// The note.
    pub note_id: String,
    /// Who wrote it.
    pub author: String,
    /// When (UTC, RFC 3339).
    pub created_at: String,
}

/// Something on the agenda.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AgendaItem {
    /// The day.
    pub date: NaiveDate,
    /// The time, for a visit (`HH:MM`).
    pub time: Option<String>,
    /// `visit`, `action`, `consent` (ends) or `retention` (ends).
    pub kind: &'static str,
    /// The dossier.
    pub client_id: String,
    /// Its name.
    pub client_name: String,
    /// Where: the client's address.
    pub address: Option<String>,
    /// What: the visit's purpose, the action, the consent's organisation.
    pub what: String,
    /// The record's id.
    pub id: String,
}

/// Checks a score: a whole number from 1 to 5.
pub fn parse_score(field: &str, value: &str) -> Result<u8> {
    match value.trim().parse::<u8>() {
        Ok(s @ 1..=5) => Ok(s),
        _ => Err(Error::invalid(field, t!("val.score"))),
    }
}

/// Checks an action owner: `client`, `me`, a worker id or an organisation (one line).
pub fn parse_owner(field: &str, value: &str) -> Result<String> {
    super::parse_name(field, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn life_domains_and_scores_are_checked() {
        let list: Vec<String> = LIFE_DOMAINS.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            parse_life_domain("--domain", "  Sociaal   Netwerk ", &list).unwrap(),
            "sociaal netwerk"
        );
        assert!(parse_life_domain("--domain", "werk", &list).is_err());
        assert_eq!(parse_score("--score", "3").unwrap(), 3);
        for bad in ["0", "6", "2.5", ""] {
            assert!(parse_score("--score", bad).is_err(), "{bad}");
        }
        assert_eq!("child".parse::<Relation>(), Ok(Relation::Kind));
    }
}
