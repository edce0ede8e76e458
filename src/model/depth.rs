//! The dossier beyond notes: the household, the network around it, the support plan (goals
//! per life domain with actions) and the life-domain assessment. Types and validation only.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::Serialize;

use crate::error::{Error, Field, Result};
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

/// The 13 domains of the Zelfredzaamheid-Matrix (ZRM 2017), the default list of life
/// domains for plans and scores. An organisation sets its own with `life_domains` in the
/// config; values stored under an earlier list stay as they were written.
pub const LIFE_DOMAINS: &[&str] = &[
    "financiën",
    "werk en opleiding",
    "tijdsbesteding",
    "huisvesting",
    "huiselijke relaties",
    "geestelijke gezondheid",
    "lichamelijke gezondheid",
    "middelengebruik",
    "basale adl",
    "instrumentele adl",
    "sociaal netwerk",
    "maatschappelijke participatie",
    "justitie",
];

/// Checks a life domain against the list in use; case and spacing do not matter.
pub fn parse_life_domain(
    field: impl Into<Field>,
    value: &str,
    domains: &[String],
) -> Result<String> {
    let field: Field = field.into();
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

use super::record::{Input, Kind};

crate::record! {
    /// A household member.
    #[serde(deny_unknown_fields)]
    pub struct HouseholdMember: Kind::Household;
    {
        /// Name.
        name: String = Input::Line,
        /// Relation to the client.
        relation: Relation = Input::Choice,
        /// Birth date.
        birth_date: Option<NaiveDate> = Input::Date,
        /// Who recorded it.
        author: String = Input::Author,
        /// When (UTC, RFC 3339).
        created_at: String = Input::Created,
    }
}

crate::record! {
    /// Someone in the client's network: a GP, a school, a creditor, another professional.
    #[serde(deny_unknown_fields)]
    pub struct Contact: Kind::Contact;
    {
        /// Name.
        name: String = Input::Line,
        /// Organisation.
        org: Option<String> = Input::Line,
        /// Role (huisarts, mentor, schuldeiser...).
        role: Option<String> = Input::Line,
        /// Phone.
        phone: Option<String> = Input::Line,
        /// Email.
        email: Option<String> = Input::Line,
        /// Who recorded it.
        author: String = Input::Author,
        /// When (UTC, RFC 3339).
        created_at: String = Input::Created,
    }
}

crate::record! {
    /// A goal of the support plan, in one life domain.
    #[serde(deny_unknown_fields)]
    pub struct Goal: Kind::Goal;
    {
        /// Life domain.
        domain: String = Input::LifeDomain,
        /// The goal, as agreed.
        text: String = Input::Text,
        /// Who recorded it.
        author: String = Input::Author,
        /// When (UTC, RFC 3339).
        created_at: String = Input::Created,
    }
}

crate::record! {
    /// An agreed action towards a goal.
    #[serde(deny_unknown_fields)]
    pub struct PlanAction: Kind::Action;
    {
        /// The goal.
        goal_id: String = Input::Ref(Kind::Goal),
        /// What is to be done.
        text: String = Input::Text,
        /// Who does it: `client`, `me` (the worker who wrote it), a worker id or an
        /// organisation.
        owner: String = Input::Line,
        /// By when.
        due: Option<NaiveDate> = Input::Date,
        /// Open or done.
        status: ActionStatus = Input::Choice,
        /// When it was done.
        done_on: Option<NaiveDate> = Input::Date,
        /// Who recorded it.
        author: String = Input::Author,
        /// When (UTC, RFC 3339).
        created_at: String = Input::Created,
    }
    rules(a) { (a.status == ActionStatus::Done) == a.done_on.is_some() }
}

crate::record! {
    /// A score of how the client is doing in one life domain, with the reason it matters.
    #[serde(deny_unknown_fields)]
    pub struct Assessment: Kind::Assessment;
    {
        /// Life domain.
        domain: String = Input::LifeDomain,
        /// 1 (acute problems) to 5 (fully self-sufficient).
        score: u8 = Input::Score,
        /// Why this domain matters for the help asked (minimisation: no score without it).
        reason: String = Input::Text,
        /// The day it applies to.
        at: NaiveDate = Input::Date,
        /// Who recorded it.
        author: String = Input::Author,
        /// When (UTC, RFC 3339).
        created_at: String = Input::Created,
    }
}

crate::record! {
    /// A planned visit.
    #[serde(deny_unknown_fields)]
    pub struct Visit: Kind::Visit;
    {
        /// When (local time, `YYYY-MM-DDTHH:MM:SS`).
        at: String = Input::When,
        /// What it is for.
        purpose: Option<String> = Input::Line,
        /// Who planned it.
        author: String = Input::Author,
        /// When it was planned (UTC, RFC 3339).
        created_at: String = Input::Created,
    }
}

text_enum!(
    /// Where a handover stands.
    HandoverStatus {
        Pending => "pending",
        Received => "received",
    }
);

crate::record! {
    /// A warm handover of a dossier to a colleague.
    #[serde(deny_unknown_fields)]
    pub struct Handover: Kind::Handover;
    {
        /// The worker handing over.
        from_worker: String = Input::Worker,
        /// The colleague taking over.
        to_worker: String = Input::Worker,
        /// The handover note.
        note_id: String = Input::Ref(Kind::Note),
        /// Pending until the colleague's vault has the dossier.
        status: HandoverStatus = Input::Choice,
        /// When the colleague's vault received it (UTC, RFC 3339).
        received_at: Option<String> = Input::Stamp,
        /// When (UTC, RFC 3339).
        created_at: String = Input::Created,
    }
    rules(h) { (h.status == HandoverStatus::Received) == h.received_at.is_some() }
}

/// Largest file `attach add` keeps (the vault is re-encrypted whole at every save, and a
/// bundle carries the file to each colleague).
pub const MAX_ATTACHMENT_BYTES: u64 = 20 * 1024 * 1024;

crate::record! {
    /// A file kept in the dossier: what it is (its bytes are stored and sent apart).
    #[serde(deny_unknown_fields)]
    pub struct Attachment: Kind::Attachment;
    {
        /// What it is.
        title: String = Input::Line,
        /// The original file name.
        filename: String = Input::Line,
        /// Bytes.
        size: u64 = Input::Size,
        /// SHA-256 of the bytes, hex.
        sha256: String = Input::Sha256,
        /// Who added it.
        author: String = Input::Author,
        /// When (UTC, RFC 3339).
        created_at: String = Input::Created,
    }
    rules(a) { a.size <= MAX_ATTACHMENT_BYTES }
}

crate::record! {
    /// A note that evaluates a goal of the plan (the note holds the text).
    #[serde(deny_unknown_fields)]
    pub struct Evaluation: Kind::Evaluation;
    {
        /// The goal.
        goal_id: String = Input::Ref(Kind::Goal),
        /// The note.
        note_id: String = Input::Ref(Kind::Note),
        /// Who wrote it.
        author: String = Input::Author,
        /// When (UTC, RFC 3339).
        created_at: String = Input::Created,
    }
}

crate::record! {
    /// A signal observed: the first step of the meldcode huiselijk geweld en
    /// kindermishandeling (what was seen or heard, and when), special-category data when
    /// marked.
    #[serde(deny_unknown_fields)]
    pub struct Signal: Kind::Signal;
    {
        /// The day it was observed.
        observed_on: NaiveDate = Input::Date,
        /// What was seen or heard.
        text: String = Input::Text,
        /// Special-category data: masked until revealed.
        special: bool = Input::Flag,
        /// Kept out of the client's own report, and why (added in schema v9: a signal
        /// written before has none).
        #[serde(default)]
        withheld: Option<super::practice::Withhold> = Input::Choice,
        /// Who recorded it.
        author: String = Input::Author,
        /// When (UTC, RFC 3339).
        created_at: String = Input::Created,
    }
}

/// Something on the agenda.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AgendaItem {
    /// The day.
    pub date: NaiveDate,
    /// The time, for a visit (`HH:MM`).
    pub time: Option<String>,
    /// `visit`, `action`, `consent` (ends), `retention` (ends), `meldcode`, `review` or
    /// `orphaned` (no active assignee left).
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

impl AgendaItem {
    /// What it is, in the current language: the words the agenda shows in its "what" column
    /// for every kind (the command line and the terminal app alike).
    pub fn describe(&self) -> String {
        match self.kind {
            "visit" => t!("agenda.visit", what = self.what),
            "action" => t!("agenda.action", what = self.what),
            "consent" => t!("agenda.consent", what = self.what),
            "retention" => t!("agenda.retention"),
            "orphaned" => t!("agenda.orphaned", who = self.what),
            "meldcode" => match self.what.parse::<super::MeldStep>() {
                Ok(step) => t!(
                    "agenda.meldcode",
                    n = step.number(),
                    step = t!(format!("meldcode.step.{}", step.code()))
                ),
                Err(()) => self.what.clone().into(),
            },
            "review" => t!(format!("agenda.review_{}", self.what)),
            _ => self.what.clone().into(),
        }
        .into_owned()
    }
}

/// Checks a score: a whole number from 1 to 5.
pub fn parse_score(field: impl Into<Field>, value: &str) -> Result<u8> {
    let field: Field = field.into();
    match value.trim().parse::<u8>() {
        Ok(s @ 1..=5) => Ok(s),
        _ => Err(Error::invalid(field, t!("val.score"))),
    }
}

/// Checks an action owner: `client`, `me`, a worker id or an organisation (one line).
pub fn parse_owner(field: impl Into<Field>, value: &str) -> Result<String> {
    let field: Field = field.into();
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
