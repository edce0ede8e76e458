//! Privacy in daily practice in the database: group sessions (one copy per participant's
//! dossier), the meldcode's steps, a signed form as a consent's evidence, and the numbers of
//! the access review. The reads here are the engine's; the session's door logs them.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use super::{Store, new_id};
use crate::error::{Error, Field, Result};
use crate::i18n::t;
use crate::model::record::Record;
use crate::model::{
    self, Action, AgendaItem, Consent, GroupSession, MeldStep, MeldcodeStep, ReviewItem,
    ReviewReason, Signal, TeamOverview, TeamRow, Trajectory, Withhold, nudge,
};

/// A group session as the worker enters it, before it is copied into each dossier.
#[derive(Clone, Debug)]
pub struct NewGroupSession {
    /// The participants' dossiers (full ids), each once.
    pub participants: Vec<String>,
    /// The day.
    pub held_on: NaiveDate,
    /// The theme.
    pub theme: String,
    /// The shared summary.
    pub summary: String,
    /// Special-category data.
    pub special: bool,
}

/// A meldcode step as the worker enters it.
#[derive(Clone, Debug)]
pub struct NewStep {
    /// The signal (full id).
    pub signal_id: String,
    /// Which step.
    pub step: MeldStep,
    /// The day.
    pub taken_on: NaiveDate,
    /// What was done and why.
    pub text: String,
    /// Step 2: whom.
    pub consulted: Option<model::Consulted>,
    /// Step 4: report necessary.
    pub report_needed: Option<bool>,
    /// Step 4: help possible.
    pub help_possible: Option<bool>,
    /// Step 5.
    pub decision: Option<model::Decision>,
    /// When the next step is due.
    pub next_by: Option<NaiveDate>,
    /// Special-category data.
    pub special: bool,
    /// Kept out of the client's report.
    pub withheld: Option<Withhold>,
}

fn prefixed<R: Record>(alias: &str) -> String {
    R::columns()
        .iter()
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Records a group session: one copy in each participant's dossier, each copy's summary
    /// without the names of the other participants (a copy travels to the workers of its own
    /// dossier only). Returns the session's id (the same in every copy).
    pub fn add_group_session(&self, g: &NewGroupSession) -> Result<String> {
        if g.participants.is_empty() {
            return Err(Error::invalid(
                Field::Input("participants"),
                t!("group.no_participants"),
            ));
        }
        let mut names = Vec::new();
        for (i, p) in g.participants.iter().enumerate() {
            if g.participants[..i].contains(p) {
                return Err(Error::invalid(
                    Field::Input("participants"),
                    t!("group.twice", id = p),
                ));
            }
            names.push(self.client(p)?.name);
            self.require_assigned(p)?;
        }
        let session_id = new_id();
        let author = self.user()?;
        for (i, p) in g.participants.iter().enumerate() {
            let others: Vec<String> = names
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, n)| n.clone())
                .collect();
            let summary = nudge::remove(&g.summary, &nudge::scan_names(&g.summary, &others));
            let copy = GroupSession {
                id: new_id(),
                client_id: p.clone(),
                session_id: session_id.clone(),
                held_on: g.held_on,
                theme: g.theme.clone(),
                summary,
                special: g.special,
                author: author.clone(),
                created_at: self.now(),
            };
            self.put(&copy, Action::Create)?;
        }
        Ok(session_id)
    }

    /// The copies of one group session in this vault, with each participant's name.
    pub(in crate::engine) fn group_copies(
        &self,
        session_id: &str,
    ) -> Result<Vec<(GroupSession, String)>> {
        self.rows_with(
            &format!(
                "SELECT {}, c.name FROM group_session g JOIN client c ON c.id = g.client_id
                 WHERE g.session_id = ?1 ORDER BY c.name COLLATE NOCASE, g.id",
                prefixed::<GroupSession>("g")
            ),
            [session_id],
        )
    }

    /// Every copy of every group session in this vault, newest session first.
    pub(in crate::engine) fn all_group_copies(&self) -> Result<Vec<(GroupSession, String)>> {
        self.rows_with(
            &format!(
                "SELECT {}, c.name FROM group_session g JOIN client c ON c.id = g.client_id
                 ORDER BY g.held_on DESC, g.session_id, c.name COLLATE NOCASE, g.id",
                prefixed::<GroupSession>("g")
            ),
            [],
        )
    }

    /// The session id of a group session, from a unique prefix of it (or of a copy's id).
    pub(in crate::engine) fn resolve_group(&self, prefix: &str) -> Result<String> {
        let ids: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT session_id FROM group_session
                 WHERE (session_id >= ?1 AND session_id < ?1 || '~') OR (id >= ?1 AND id < ?1 || '~')
                 ORDER BY session_id LIMIT 6",
            )?
            .query_map([prefix], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        match ids.len() {
            0 => Err(Error::NotFound {
                what: model::record::Kind::GroupSession.label(),
                id: prefix.to_owned(),
            }),
            1 => Ok(ids.into_iter().next().expect("one id")),
            _ => Err(Error::Ambiguous {
                id: prefix.to_owned(),
                candidates: ids,
            }),
        }
    }

    /// A dossier's meldcodes (signals with their steps), newest signal first.
    pub(in crate::engine) fn meldcodes(&self, client: &str) -> Result<Vec<Trajectory>> {
        let signals: Vec<Signal> = self.rows(client, "observed_on DESC, id DESC")?;
        let steps: Vec<MeldcodeStep> = self.rows(client, "taken_on, created_at, id")?;
        Ok(Trajectory::group(signals, steps))
    }

    /// Takes a step of the meldcode that `s.signal_id` started; returns its id.
    pub fn add_meldcode_step(&self, s: &NewStep) -> Result<String> {
        let signal: Signal = self.row(&s.signal_id)?.ok_or_else(|| Error::NotFound {
            what: model::record::Kind::Signal.label(),
            id: s.signal_id.clone(),
        })?;
        let author = self.new_row_checks(&signal.client_id)?;
        let trajectory = self
            .meldcodes(&signal.client_id)?
            .into_iter()
            .find(|t| t.signal.id == signal.id)
            .expect("the signal's own meldcode");
        trajectory.check_next(s.step, s.taken_on)?;
        if s.next_by.is_some_and(|d| d < s.taken_on) {
            return Err(Error::invalid(
                Field::Input("next_by"),
                t!("meldcode.next_before"),
            ));
        }
        let step = MeldcodeStep {
            id: new_id(),
            client_id: signal.client_id.clone(),
            signal_id: signal.id.clone(),
            step: s.step,
            taken_on: s.taken_on,
            text: s.text.clone(),
            consulted: s.consulted,
            report_needed: s.report_needed,
            help_possible: s.help_possible,
            decision: s.decision,
            next_by: s.next_by,
            special: s.special,
            withheld: s.withheld,
            author,
            created_at: self.now(),
        };
        if !model::record::check(&step) {
            return Err(Error::invalid(
                Field::Input("meldcode_step"),
                t!("meldcode.answers", step = s.step.number()),
            ));
        }
        self.put(&step, Action::Create)?;
        Ok(step.id)
    }

    /// Records a signal (step 1 of the meldcode); returns its id.
    pub fn add_signal(
        &self,
        client: &str,
        observed_on: NaiveDate,
        text: &str,
        special: bool,
        withheld: Option<Withhold>,
    ) -> Result<String> {
        let author = self.new_row_checks(client)?;
        let s = Signal {
            id: new_id(),
            client_id: client.to_owned(),
            observed_on,
            text: text.to_owned(),
            special,
            withheld,
            author,
            created_at: self.now(),
        };
        self.put(&s, Action::Create)?;
        Ok(s.id)
    }

    /// Keeps a meldcode record (a signal or a step) out of the client's own report, on a
    /// ground, or puts it back in (None). A new version of the record, so it travels; false
    /// when it already was so.
    pub fn set_withheld(&self, id: &str, ground: Option<Withhold>) -> Result<bool> {
        fn update<R: Record>(
            s: &Store,
            r: &mut R,
            current: Option<Withhold>,
            set: impl FnOnce(&mut R),
            ground: Option<Withhold>,
        ) -> Result<bool> {
            s.require_assigned(r.client())?;
            if current == ground {
                return Ok(false);
            }
            set(r);
            s.write(r)?;
            let code = ground.map_or("none", Withhold::code);
            s.log(
                Action::Change,
                Some(r.client()),
                &format!("{} {} withheld {code}", R::KIND.spec().code, r.id()),
            )?;
            Ok(true)
        }
        if let Some(mut sig) = self.row::<Signal>(id)? {
            let current = sig.withheld;
            return update(self, &mut sig, current, |r| r.withheld = ground, ground);
        }
        if let Some(mut step) = self.row::<MeldcodeStep>(id)? {
            let current = step.withheld;
            return update(self, &mut step, current, |r| r.withheld = ground, ground);
        }
        Err(Error::NotFound {
            what: model::record::Kind::MeldcodeStep.label(),
            id: id.to_owned(),
        })
    }

    /// Points a consent at its signed form: an attachment of the same dossier. A new version
    /// of the consent, so it travels; false when it already pointed there.
    pub fn set_consent_evidence(&self, consent: &str, attachment: &str) -> Result<bool> {
        let mut c = self.consent(consent)?;
        self.require_assigned(&c.client_id)?;
        let a = self.attachment(attachment)?;
        if a.client_id != c.client_id {
            return Err(Error::invalid(
                Field::Input("evidence"),
                t!("val.other_dossier"),
            ));
        }
        if c.evidence.as_deref() == Some(a.id.as_str()) {
            return Ok(false);
        }
        c.evidence = Some(a.id.clone());
        self.write(&c)?;
        self.log(
            Action::Change,
            Some(&c.client_id),
            &format!("consent {} evidence attachment {}", c.id, a.id),
        )?;
        Ok(true)
    }

    /// The attachment a consent's evidence names, when it is one of the dossier's files:
    /// the signed form.
    pub(in crate::engine) fn signed_forms(
        &self,
        consents: &[Consent],
    ) -> Result<HashMap<String, String>> {
        let mut out = HashMap::new();
        for c in consents {
            if let Some(e) = c.evidence.as_deref().filter(|e| model::record::is_id(e)) {
                let here: bool = self
                    .conn
                    .prepare_cached(
                        "SELECT EXISTS (SELECT 1 FROM attachment WHERE id = ?1 AND client_id = ?2)",
                    )?
                    .query_row([e, &c.client_id], |r| r.get(0))?;
                if here {
                    out.insert(c.id.clone(), e.to_owned());
                }
            }
        }
        Ok(out)
    }

    /// The newest day something happened in each dossier: it was opened, a contact (note),
    /// a visit that took place, a score, an action done, a goal or file added, a consent
    /// given, a meldcode step, a group session. Viewing is not activity (the review itself
    /// views), and neither is being assigned.
    pub(in crate::engine) fn last_activity(
        &self,
        today: NaiveDate,
    ) -> Result<HashMap<String, NaiveDate>> {
        let rows: Vec<(String, String, Option<String>)> = self
            .conn
            .prepare_cached(
                "SELECT c.id, c.opened_on, max(x.d) FROM client c LEFT JOIN (
                     SELECT client_id, substr(occurred_at, 1, 10) AS d FROM note
                     UNION ALL SELECT client_id, substr(at, 1, 10) FROM visit
                         WHERE substr(at, 1, 10) <= ?1
                     UNION ALL SELECT client_id, at FROM assessment
                     UNION ALL SELECT client_id, done_on FROM plan_action WHERE done_on IS NOT NULL
                     UNION ALL SELECT client_id, substr(created_at, 1, 10) FROM goal
                     UNION ALL SELECT client_id, substr(created_at, 1, 10) FROM attachment
                     UNION ALL SELECT client_id, given_on FROM consent
                     UNION ALL SELECT client_id, observed_on FROM signal
                     UNION ALL SELECT client_id, taken_on FROM meldcode_step
                     UNION ALL SELECT client_id, held_on FROM group_session
                 ) x ON x.client_id = c.id
                 GROUP BY c.id",
            )?
            .query_map([today.to_string()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows
            .into_iter()
            .map(|(id, opened, last)| {
                let opened: NaiveDate = opened.parse().unwrap_or(today);
                let last = last
                    .and_then(|l| l.parse::<NaiveDate>().ok())
                    .map_or(opened, |l| l.max(opened));
                (id, last)
            })
            .collect())
    }

    /// Dossiers that are `worker`'s (assigned to them; in a personal vault, all of them),
    /// with their name, whether closed, and when closed.
    fn dossiers_of(
        &self,
        worker: Option<&str>,
    ) -> Result<Vec<(String, String, Option<NaiveDate>)>> {
        let rows: Vec<(String, String, String, Option<String>)> = self
            .conn
            .prepare_cached(
                "SELECT c.id, c.name, c.status, c.closed_on FROM client c
                 WHERE ?1 IS NULL OR EXISTS (SELECT 1 FROM assignment a WHERE a.client_id = c.id
                                              AND a.worker = ?1 AND a.assigned = 1)
                 ORDER BY c.name COLLATE NOCASE, c.id",
            )?
            .query_map([worker], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows
            .into_iter()
            .map(|(id, name, status, closed)| {
                let closed = (status == "closed")
                    .then(|| closed.and_then(|c| c.parse().ok()))
                    .flatten();
                (id, name, closed)
            })
            .collect())
    }

    /// The access review: dossiers assigned to this vault's worker (in a personal vault,
    /// every dossier) without activity for `months` months, and closed dossiers still
    /// assigned; longest in the review first.
    pub(in crate::engine) fn access_review(
        &self,
        today: NaiveDate,
        months: u32,
    ) -> Result<Vec<ReviewItem>> {
        let me = self.meta("worker_id")?;
        // Who "you" is among the assignees: the worker, or in a personal vault the owner
        // (the creator of every dossier there).
        let user = self.user()?;
        let last = self.last_activity(today)?;
        let cutoff = model::months_before(today, months);
        let assignees = self.assignees_by_client()?;
        let mut out = Vec::new();
        for (id, name, closed) in self.dossiers_of(me.as_deref())? {
            let last_activity = last.get(&id).copied().unwrap_or(today);
            let (reason, since) = match closed {
                Some(on) => (ReviewReason::Closed, on),
                None if last_activity < cutoff => (
                    ReviewReason::Inactive,
                    model::review_since(last_activity, months),
                ),
                None => continue,
            };
            let others = assignees
                .get(&id)
                .map(|ws| ws.iter().filter(|w| **w != user).cloned().collect())
                .unwrap_or_default();
            out.push(ReviewItem {
                client_id: id,
                client_name: name,
                reason,
                last_activity,
                since,
                others,
            });
        }
        out.sort_by(|a, b| (a.since, &a.client_id).cmp(&(b.since, &b.client_id)));
        Ok(out)
    }

    /// The content-free overview: per worker assigned to a dossier in this vault (and this
    /// vault's own worker), how many open dossiers, how many without activity for `months`
    /// months, how many closed ones still assigned, how many consents end within
    /// [`model::OVERVIEW_CONSENT_DAYS`] days. Numbers only.
    pub(in crate::engine) fn team_overview(
        &self,
        today: NaiveDate,
        months: u32,
    ) -> Result<TeamOverview> {
        let me = match self.meta("worker_id")? {
            Some(w) => w,
            None => self.user()?,
        };
        let enrolled = self.meta("worker_id")?.is_some();
        let last = self.last_activity(today)?;
        let cutoff = model::months_before(today, months);
        let expiring: HashMap<String, u64> = self
            .consents_expiring(today, model::OVERVIEW_CONSENT_DAYS)?
            .into_iter()
            .fold(HashMap::new(), |mut m, (c, _)| {
                *m.entry(c.client_id).or_insert(0) += 1;
                m
            });
        let mut workers: BTreeMap<String, TeamRow> = BTreeMap::new();
        workers.insert(
            me.clone(),
            TeamRow {
                worker: me.clone(),
                complete: true,
                ..Default::default()
            },
        );
        let assignees = self.assignees_by_client()?;
        for (id, _, closed) in self.dossiers_of(None)? {
            let who: Vec<String> = if enrolled {
                assignees.get(&id).cloned().unwrap_or_default()
            } else {
                vec![me.clone()]
            };
            for w in who {
                let row = workers.entry(w.clone()).or_insert_with(|| TeamRow {
                    worker: w.clone(),
                    complete: w == me,
                    ..Default::default()
                });
                match closed {
                    Some(_) => row.closed_assigned += 1,
                    None => {
                        row.dossiers += 1;
                        if last.get(&id).is_some_and(|l| *l < cutoff) {
                            row.untouched += 1;
                        }
                        row.consents_expiring += expiring.get(&id).copied().unwrap_or(0);
                    }
                }
            }
        }
        Ok(TeamOverview {
            made_on: today,
            months,
            consent_days: model::OVERVIEW_CONSENT_DAYS,
            workers: workers.into_values().collect(),
        })
    }

    /// What the agenda adds for daily practice: the next step of each meldcode that is not
    /// decided (by the day it is due), and the dossiers of the access review.
    pub(in crate::engine) fn practice_agenda(
        &self,
        today: NaiveDate,
        days: u64,
        months: u32,
    ) -> Result<Vec<AgendaItem>> {
        let until = today + chrono::Days::new(days);
        let mut out = Vec::new();
        let ids: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT s.client_id FROM signal s JOIN client c ON c.id = s.client_id
                 WHERE c.status = 'open'",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for id in ids {
            let client = self.client(&id)?;
            for t in self.meldcodes(&id)? {
                if let (Some(due), Some(next)) = (t.due(), t.next_step())
                    && due <= until
                {
                    out.push(AgendaItem {
                        date: due,
                        time: None,
                        kind: "meldcode",
                        client_id: id.clone(),
                        client_name: client.name.clone(),
                        address: client.address.clone(),
                        what: next.code().to_owned(),
                        id: t.signal.id.clone(),
                    });
                }
            }
        }
        for r in self.access_review(today, months)? {
            let address = self.client(&r.client_id)?.address;
            out.push(AgendaItem {
                date: r.since,
                time: None,
                kind: "review",
                client_name: r.client_name,
                address,
                what: match r.reason {
                    ReviewReason::Inactive => "inactive",
                    ReviewReason::Closed => "closed",
                }
                .to_owned(),
                id: r.client_id.clone(),
                client_id: r.client_id,
            });
        }
        out.sort_by(|a, b| (a.date, a.kind, &a.id).cmp(&(b.date, b.kind, &b.id)));
        Ok(out)
    }
}
