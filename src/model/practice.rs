//! Privacy in daily practice, as types and rules: group sessions, the meldcode huiselijk
//! geweld en kindermishandeling (steps 2 to 5; step 1 is [`Signal`]), the access review and
//! the team's content-free overview. No IO here (see docs/privacy.md for the sources).

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::Serialize;

use super::record::{Input, Kind};
use super::{Domain, Signal};
use crate::error::{Error, Field, Result};
use crate::i18n::t;

text_enum!(
    /// Why a record is kept out of the client's own report (AVG art. 23 lid 1 sub i, UAVG
    /// art. 41 lid 1 sub i: to protect the client or the rights and freedoms of others).
    Withhold {
        Safety => "safety" | "veiligheid",
        ThirdParty => "third_party" | "derde" | "derden",
    }
);

text_enum!(
    /// A step of the meldcode after the first (signals).
    MeldStep {
        Consult => "consult" | "overleg" | "2",
        Talk => "talk" | "gesprek" | "3",
        Weigh => "weigh" | "wegen" | "4",
        Decide => "decide" | "beslissen" | "5",
    }
);

impl MeldStep {
    /// Its number in the meldcode (1 is the signal).
    pub fn number(self) -> u8 {
        match self {
            MeldStep::Consult => 2,
            MeldStep::Talk => 3,
            MeldStep::Weigh => 4,
            MeldStep::Decide => 5,
        }
    }
}

text_enum!(
    /// Whom step 2 consulted.
    Consulted {
        Colleague => "colleague" | "collega",
        VeiligThuis => "veilig_thuis" | "veilig-thuis" | "veiligthuis",
        Both => "both" | "beide",
    }
);

text_enum!(
    /// What step 5 decided.
    Decision {
        Report => "report" | "melden",
        Help => "help" | "hulp",
        ReportAndHelp => "report_and_help" | "melden_en_hulp" | "both" | "beide",
        Close => "close" | "afsluiten",
    }
);

impl Decision {
    /// Whether Veilig Thuis is told.
    pub fn reports(self) -> bool {
        matches!(self, Decision::Report | Decision::ReportAndHelp)
    }
}

crate::record! {
    /// A step of the meldcode after the signal: 2 consult a colleague and/or Veilig Thuis,
    /// 3 talk with the client, 4 weigh with the afwegingskader (is a report necessary, is
    /// help possible), 5 decide (report and/or help, or close). Dated and attributed;
    /// special-category data unless marked otherwise.
    #[serde(deny_unknown_fields)]
    pub struct MeldcodeStep: Kind::MeldcodeStep;
    {
        /// The signal that started this meldcode (step 1).
        signal_id: String = Input::Ref(Kind::Signal),
        /// Which step.
        step: MeldStep = Input::Choice,
        /// The day it was taken.
        taken_on: NaiveDate = Input::Date,
        /// What was done, said, weighed or decided, and why.
        text: String = Input::Text,
        /// Step 2: whom.
        consulted: Option<Consulted> = Input::Choice,
        /// Step 4: is a report to Veilig Thuis necessary (acute or structural unsafety).
        report_needed: Option<bool> = Input::Flag,
        /// Step 4: can help be offered or organised that makes the situation safe.
        help_possible: Option<bool> = Input::Flag,
        /// Step 5: the decision.
        decision: Option<Decision> = Input::Choice,
        /// By when the next step should be taken (the agenda reminds).
        next_by: Option<NaiveDate> = Input::Date,
        /// Special-category data: masked until revealed.
        special: bool = Input::Flag,
        /// Kept out of the client's own report, and why.
        withheld: Option<Withhold> = Input::Choice,
        /// Who took it.
        author: String = Input::Author,
        /// When it was recorded (UTC, RFC 3339).
        created_at: String = Input::Created,
    }
    // Each step has its own answers and no other's; a decision ends the meldcode, so it
    // has no next step.
    rules(s) {
        s.consulted.is_some() == (s.step == MeldStep::Consult)
            && s.report_needed.is_some() == (s.step == MeldStep::Weigh)
            && s.help_possible.is_some() == (s.step == MeldStep::Weigh)
            && s.decision.is_some() == (s.step == MeldStep::Decide)
            && (s.step != MeldStep::Decide || s.next_by.is_none())
    }
}

crate::record! {
    /// A participant's copy of a group session: the day, the theme and the summary shared by
    /// the group. Each participant's dossier holds its own copy; the copies are tied together
    /// only by `session_id`, so a copy names no other participant (their names are taken out
    /// of the summary when the copies are made), travels only to the workers of its own
    /// dossier, and is erased only with it.
    #[serde(deny_unknown_fields)]
    pub struct GroupSession: Kind::GroupSession;
    {
        /// The same in every participant's copy.
        session_id: String = Input::Link,
        /// The day it was held.
        held_on: NaiveDate = Input::Date,
        /// What it was about.
        theme: String = Input::Line,
        /// What is common to the group (per-participant observations are notes).
        summary: String = Input::Text,
        /// Special-category data: masked until revealed.
        special: bool = Input::Flag,
        /// Who recorded it.
        author: String = Input::Author,
        /// When (UTC, RFC 3339).
        created_at: String = Input::Created,
    }
    rules(g) { super::record::is_id(&g.session_id) }
}

/// Days after a step (or the signal) when the agenda reminds of the next one, unless the
/// step named a day itself (`next_by`). kluis's default, not the meldcode's: the meldcode sets
/// no deadlines between its steps, but a signal must not be forgotten.
pub const MELDCODE_REMINDER_DAYS: u64 = 7;

/// One meldcode in a dossier: the signal that started it and the steps after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trajectory {
    /// Step 1.
    pub signal: Signal,
    /// Steps 2 to 5, in the order they were taken.
    pub steps: Vec<MeldcodeStep>,
}

impl Trajectory {
    /// Groups a dossier's signals and steps into meldcodes, newest signal first.
    pub fn group(mut signals: Vec<Signal>, steps: Vec<MeldcodeStep>) -> Vec<Trajectory> {
        signals.sort_by(|a, b| (b.observed_on, &b.id).cmp(&(a.observed_on, &a.id)));
        signals
            .into_iter()
            .map(|signal| {
                let mut own: Vec<MeldcodeStep> = steps
                    .iter()
                    .filter(|s| s.signal_id == signal.id)
                    .cloned()
                    .collect();
                own.sort_by(|a, b| {
                    (a.taken_on, &a.created_at, &a.id).cmp(&(b.taken_on, &b.created_at, &b.id))
                });
                Trajectory { signal, steps: own }
            })
            .collect()
    }

    /// The decision, once step 5 is taken.
    pub fn decision(&self) -> Option<&MeldcodeStep> {
        self.steps.iter().find(|s| s.step == MeldStep::Decide)
    }

    /// The weighing (step 4), the latest if weighed twice.
    pub fn weighing(&self) -> Option<&MeldcodeStep> {
        self.steps.iter().rev().find(|s| s.step == MeldStep::Weigh)
    }

    /// The first step of 2 to 5 not yet taken; None once decided.
    pub fn next_step(&self) -> Option<MeldStep> {
        if self.decision().is_some() {
            return None;
        }
        MeldStep::ALL
            .iter()
            .copied()
            .find(|m| !self.steps.iter().any(|s| s.step == *m))
            .or(Some(MeldStep::Decide))
    }

    /// The day the next step is due: what the latest step said, else a week after it (or
    /// after the signal). None once decided.
    pub fn due(&self) -> Option<NaiveDate> {
        self.next_step()?;
        let last = self.steps.last();
        Some(match last.and_then(|s| s.next_by) {
            Some(d) => d,
            None => {
                let from = last.map_or(self.signal.observed_on, |s| s.taken_on);
                from + chrono::Days::new(MELDCODE_REMINDER_DAYS)
            }
        })
    }

    /// Whether `step` may be taken now: nothing after a decision, no decision before the
    /// weighing (step 5 decides "with the afwegingskader" of step 4), and never before the
    /// signal.
    pub fn check_next(&self, step: MeldStep, on: NaiveDate) -> Result<()> {
        if self.decision().is_some() {
            return Err(Error::invalid(
                Field::Input("meldcode_step"),
                t!("meldcode.already_decided"),
            ));
        }
        if step == MeldStep::Decide && self.weighing().is_none() {
            return Err(Error::invalid(
                Field::Input("meldcode_step"),
                t!("meldcode.weigh_first"),
            ));
        }
        if on < self.signal.observed_on {
            return Err(Error::invalid(
                Field::Input("taken_on"),
                t!("meldcode.before_signal", date = self.signal.observed_on),
            ));
        }
        Ok(())
    }

    /// Whether a decision goes against the weighing: the afwegingskader says a report is
    /// necessary (acute or structural unsafety), or that help is not possible, and the
    /// decision does not report. The worker decides; kluis says so.
    pub fn contradicts(&self, decision: Decision) -> bool {
        self.weighing().is_some_and(|w| {
            (w.report_needed == Some(true) || w.help_possible == Some(false)) && !decision.reports()
        })
    }
}

/// Why a dossier is in the access review.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewReason {
    /// No activity since `last_activity` for longer than the period.
    Inactive,
    /// Closed, and you are still assigned.
    Closed,
}

/// A dossier the access review asks about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReviewItem {
    /// The dossier.
    pub client_id: String,
    /// Its name.
    pub client_name: String,
    /// Why.
    pub reason: ReviewReason,
    /// The newest thing that happened in it (a contact, a visit, a score, a step...).
    pub last_activity: NaiveDate,
    /// Since when it is in the review: the period after the last activity, or the close.
    pub since: NaiveDate,
    /// Other workers assigned (who keep it when you unassign yourself). An empty list means
    /// you are the last one: unassigning is refused.
    pub others: Vec<String>,
}

/// The day that lies `months` months before `today` (the review's cut-off).
pub fn months_before(today: NaiveDate, months: u32) -> NaiveDate {
    today
        .checked_sub_months(chrono::Months::new(months))
        .unwrap_or(NaiveDate::MIN)
}

/// The day a dossier last active on `last` enters the review.
pub fn review_since(last: NaiveDate, months: u32) -> NaiveDate {
    last.checked_add_months(chrono::Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// Most months a review period may be: ten years.
pub const MAX_REVIEW_MONTHS: u32 = 120;

/// The default review period, in months.
pub const DEFAULT_REVIEW_MONTHS: u32 = 6;

/// Checks a review period in months (1 to 120).
pub fn parse_months(field: impl Into<Field>, value: &str) -> Result<u32> {
    let field: Field = field.into();
    match value.trim().parse::<u32>() {
        Ok(m) if (1..=MAX_REVIEW_MONTHS).contains(&m) => Ok(m),
        _ => Err(Error::invalid(
            field,
            t!("val.months", max = MAX_REVIEW_MONTHS),
        )),
    }
}

/// Days ahead the team overview counts consents that end.
pub const OVERVIEW_CONSENT_DAYS: u64 = 30;

/// One worker's line of the team overview: numbers only, no names of clients, no ids of
/// dossiers, no content.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamRow {
    /// The worker id (or the owner of a personal vault).
    pub worker: String,
    /// This vault's own worker: the numbers cover all their dossiers. For a colleague, only
    /// the dossiers this vault shares with them.
    pub complete: bool,
    /// Open dossiers assigned.
    pub dossiers: u64,
    /// Of those, without activity for the period.
    pub untouched: u64,
    /// Closed dossiers still assigned.
    pub closed_assigned: u64,
    /// Consents that end within [`OVERVIEW_CONSENT_DAYS`] days.
    pub consents_expiring: u64,
}

/// The content-free overview a team lead or IT collects: one file per worker, combined.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamOverview {
    /// The day it was made.
    pub made_on: NaiveDate,
    /// Months without activity that count as untouched.
    pub months: u32,
    /// Days ahead for consents that end.
    pub consent_days: u64,
    /// Per worker.
    pub workers: Vec<TeamRow>,
}

impl TeamOverview {
    /// Combines overviews from several workers' vaults: for each worker, the row their own
    /// vault made (complete), else the largest partial one. Refuses overviews made with
    /// different periods, which would not add up.
    pub fn combine(parts: Vec<TeamOverview>) -> Result<TeamOverview> {
        let Some(first) = parts.first() else {
            return Ok(TeamOverview::default());
        };
        let (months, consent_days) = (first.months, first.consent_days);
        if parts
            .iter()
            .any(|p| p.months != months || p.consent_days != consent_days)
        {
            return Err(Error::invalid(
                Field::Input("months"),
                t!("access.combine_periods"),
            ));
        }
        let made_on = parts.iter().map(|p| p.made_on).max().unwrap_or_default();
        let mut rows: Vec<TeamRow> = Vec::new();
        for row in parts.into_iter().flat_map(|p| p.workers) {
            match rows.iter_mut().find(|r| r.worker == row.worker) {
                Some(r) if !r.complete && (row.complete || row.dossiers > r.dossiers) => *r = row,
                Some(_) => {}
                None => rows.push(row),
            }
        }
        rows.sort_by(|a, b| a.worker.cmp(&b.worker));
        Ok(TeamOverview {
            made_on,
            months,
            consent_days,
            workers: rows,
        })
    }
}

/// What the leaflet for residents says, from this vault's and organisation's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafletFacts {
    /// The organisation, when the vault is enrolled in one.
    pub org_name: Option<String>,
    /// Enrolled in an organisation: colleagues can be assigned to a dossier.
    pub team: bool,
    /// IT holds a recovery key: it can open the vault when a passphrase is lost (logged).
    pub recovery: bool,
    /// How long a closed dossier is kept, per domain.
    pub retention: Vec<(Domain, u32)>,
    /// Whom to contact about privacy (the config's `privacy_officer`).
    pub privacy_officer: Option<String>,
}

/// What a consent form asks the resident to sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentFormFacts {
    /// The resident.
    pub client_name: String,
    /// The organisation that asks (the vault's), if any.
    pub asking_org: Option<String>,
    /// The worker who asks.
    pub worker: String,
    /// With whom the information is shared.
    pub org: String,
    /// What for.
    pub purpose: String,
    /// Which information.
    pub scope: super::Scope,
    /// Special-category data too.
    pub special: bool,
    /// Until when.
    pub until: Option<NaiveDate>,
    /// Whom to contact about privacy.
    pub privacy_officer: Option<String>,
    /// The day the form is made.
    pub made_on: NaiveDate,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn signal(id: &str, on: &str) -> Signal {
        Signal {
            id: id.into(),
            client_id: "c".into(),
            observed_on: d(on),
            text: "x".into(),
            special: true,
            withheld: None,
            author: "me".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    fn step(signal: &str, step: MeldStep, on: &str) -> MeldcodeStep {
        MeldcodeStep {
            id: format!("{signal}-{step}"),
            client_id: "c".into(),
            signal_id: signal.into(),
            step,
            taken_on: d(on),
            text: "x".into(),
            consulted: (step == MeldStep::Consult).then_some(Consulted::Colleague),
            report_needed: (step == MeldStep::Weigh).then_some(true),
            help_possible: (step == MeldStep::Weigh).then_some(true),
            decision: (step == MeldStep::Decide).then_some(Decision::Report),
            next_by: None,
            special: true,
            withheld: None,
            author: "me".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_meldcode_reminds_of_its_next_step_until_it_is_decided() {
        let t = &Trajectory::group(vec![signal("a", "2026-03-01")], vec![])[0];
        assert_eq!(t.next_step(), Some(MeldStep::Consult));
        assert_eq!(t.due(), Some(d("2026-03-08")));
        assert!(t.check_next(MeldStep::Decide, d("2026-03-02")).is_err());
        assert!(t.check_next(MeldStep::Consult, d("2026-02-28")).is_err());
        let mut consult = step("a", MeldStep::Consult, "2026-03-03");
        consult.next_by = Some(d("2026-03-20"));
        let t = &Trajectory::group(
            vec![signal("a", "2026-03-01"), signal("b", "2026-04-01")],
            vec![consult, step("b", MeldStep::Talk, "2026-04-02")],
        )[1];
        assert_eq!(t.signal.id, "a", "newest signal first");
        assert_eq!(t.next_step(), Some(MeldStep::Talk));
        assert_eq!(t.due(), Some(d("2026-03-20")));
        let t = Trajectory::group(
            vec![signal("a", "2026-03-01")],
            vec![
                step("a", MeldStep::Weigh, "2026-03-04"),
                step("a", MeldStep::Decide, "2026-03-05"),
            ],
        )
        .remove(0);
        assert_eq!(t.next_step(), None);
        assert_eq!(t.due(), None);
        assert!(t.check_next(MeldStep::Talk, d("2026-03-06")).is_err());
        assert!(t.contradicts(Decision::Help));
        assert!(!t.contradicts(Decision::ReportAndHelp));
    }

    #[test]
    fn each_step_has_only_its_own_answers() {
        use super::super::record::check;
        let mut s = step(
            "0190c5a0-0000-7000-8000-000000000001",
            MeldStep::Weigh,
            "2026-03-04",
        );
        s.id = "0190c5a0-0000-7000-8000-000000000002".into();
        s.client_id = "0190c5a0-0000-7000-8000-000000000003".into();
        assert!(check(&s));
        s.decision = Some(Decision::Help);
        assert!(!check(&s));
        s.decision = None;
        s.help_possible = None;
        assert!(!check(&s));
    }

    #[test]
    fn overviews_combine_per_worker_preferring_their_own_vault() {
        let row = |w: &str, complete, n| TeamRow {
            worker: w.into(),
            complete,
            dossiers: n,
            ..Default::default()
        };
        let a = TeamOverview {
            made_on: d("2026-05-01"),
            months: 6,
            consent_days: 30,
            workers: vec![row("w1", true, 12), row("w2", false, 3)],
        };
        let b = TeamOverview {
            made_on: d("2026-05-02"),
            workers: vec![row("w2", true, 9), row("w1", false, 5)],
            ..a.clone()
        };
        let all = TeamOverview::combine(vec![a.clone(), b]).unwrap();
        assert_eq!(all.workers, [row("w1", true, 12), row("w2", true, 9)]);
        assert_eq!(all.made_on, d("2026-05-02"));
        let other = TeamOverview {
            months: 3,
            ..a.clone()
        };
        assert!(TeamOverview::combine(vec![a, other]).is_err());
    }

    #[test]
    fn review_periods_are_months() {
        assert_eq!(months_before(d("2026-08-31"), 6), d("2026-02-28"));
        assert_eq!(review_since(d("2026-02-28"), 6), d("2026-08-28"));
        assert!(parse_months("months", "0").is_err());
        assert!(parse_months("months", "121").is_err());
        assert_eq!(parse_months("months", " 6 ").unwrap(), 6);
    }
}
