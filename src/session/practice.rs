//! The door for privacy in daily practice: group sessions, the meldcode, consent forms and
//! the leaflet, the access review and the team's overview. Like every read in `door.rs`, a
//! read that shows dossier content writes its access-log entry in the same transaction; what
//! shows none (numbers, settings) logs nothing and says so.

use std::collections::BTreeSet;

use chrono::{NaiveDate, NaiveDateTime};

use super::Session;
use crate::error::{Error, Field, Result};
use crate::i18n::t;
use crate::model::nudge::{self, Advice, Lexicon};
use crate::model::{
    Action, AgendaItem, Consent, ConsentFormFacts, Domain, GroupSession, LeafletFacts, NewNote,
    NoteKind, ReviewItem, Scope, TeamOverview, Trajectory,
};
use crate::store::{NewGroupSession, Store};

/// A group session as the worker sees it: every participant in this vault, and the shared
/// summary without any participant's name.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GroupView {
    /// The same in every participant's copy.
    pub session_id: String,
    /// The day.
    pub held_on: NaiveDate,
    /// The theme.
    pub theme: String,
    /// The shared summary; None when it is special and was not revealed.
    pub summary: Option<String>,
    /// Special-category data.
    pub special: bool,
    /// Who recorded it.
    pub author: String,
    /// The participants in this vault: dossier id and name.
    pub participants: Vec<Participant>,
}

/// A participant of a group session.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Participant {
    /// The dossier.
    pub client_id: String,
    /// The name.
    pub name: String,
    /// Their copy of the session.
    pub copy_id: String,
}

fn group_views(copies: Vec<(GroupSession, String)>, reveal: bool) -> Vec<GroupView> {
    let mut out: Vec<GroupView> = Vec::new();
    for (g, name) in copies {
        let p = Participant {
            client_id: g.client_id.clone(),
            name,
            copy_id: g.id.clone(),
        };
        match out.iter_mut().find(|v| v.session_id == g.session_id) {
            Some(v) => v.participants.push(p),
            None => out.push(GroupView {
                session_id: g.session_id,
                held_on: g.held_on,
                theme: g.theme,
                summary: Some(g.summary),
                special: g.special,
                author: g.author,
                participants: vec![p],
            }),
        }
    }
    for v in &mut out {
        // Each copy already lacks the other participants' names; what is left is the
        // copy's own participant. The worker's view names none of them.
        let names: Vec<String> = v.participants.iter().map(|p| p.name.clone()).collect();
        v.summary = v
            .summary
            .take()
            .filter(|_| reveal || !v.special)
            .map(|s| nudge::remove(&s, &nudge::scan_names(&s, &names)));
    }
    out
}

/// One participant's own observation of a group session, for their dossier only.
#[derive(Clone, Debug)]
pub struct GroupNote {
    /// The participant's dossier.
    pub client_id: String,
    /// What was observed.
    pub text: String,
    /// Special-category data: masked until revealed.
    pub special: bool,
}

/// Writes an observation as a note in the dossier of `client`, who must have a copy of the
/// group session (so a note can never land in someone who was not there).
fn observe(
    s: &Store,
    session_id: &str,
    client: &str,
    text: &str,
    special: bool,
    at: Option<NaiveDateTime>,
) -> Result<String> {
    let copy = s
        .group_copies(session_id)?
        .into_iter()
        .find(|(g, _)| g.client_id == client)
        .ok_or_else(|| Error::invalid(Field::Input("client_id"), t!("group.not_a_participant")))?
        .0;
    let occurred_at =
        at.unwrap_or_else(|| copy.held_on.and_hms_opt(12, 0, 0).expect("noon exists"));
    s.add_note(&NewNote {
        client_id: client.to_owned(),
        kind: NoteKind::Observatie,
        occurred_at,
        body: text.to_owned(),
        supersedes: None,
        special,
    })
}

/// A dossier's meldcodes; the text of special records is empty unless revealed.
fn mask_meldcodes(list: &mut [Trajectory]) {
    use zeroize::Zeroize;
    for t in list {
        if t.signal.special {
            t.signal.text.zeroize();
        }
        for s in t.steps.iter_mut().filter(|s| s.special) {
            s.text.zeroize();
        }
    }
}

impl Session {
    /// What the nudges say about a group session's summary before it is saved: details,
    /// special-category words, and the names of its participants. It reads the participants'
    /// names to look for them but hands out only places in the text the worker typed, so it
    /// logs nothing (the session itself, once added, is logged in every dossier).
    pub fn group_nudges(
        &self,
        participants: &[String],
        summary: &str,
        special: bool,
        lexicon: &Lexicon,
    ) -> Result<Advice> {
        let mut names = Vec::new();
        for p in participants {
            names.push(self.store.client(p)?.name);
        }
        let mut found = nudge::scan(summary, lexicon);
        found.extend(nudge::scan_names(summary, &names));
        found.sort_by_key(|f| f.range.start);
        Ok(nudge::advise(&found, special))
    }

    /// The session id of a group session, from a prefix of it or of a copy (ids only: nothing
    /// is logged).
    pub fn resolve_group(&self, prefix: &str) -> Result<String> {
        self.store.resolve_group(prefix)
    }

    /// Every group session in this vault with its participants, newest first; each
    /// participant's dossier is logged (names are shown).
    pub fn group_sessions(&mut self) -> Result<Vec<GroupView>> {
        self.change(|s| {
            let copies = s.all_group_copies()?;
            let clients: BTreeSet<String> =
                copies.iter().map(|(g, _)| g.client_id.clone()).collect();
            for c in &clients {
                s.log(Action::View, Some(c), "group sessions")?;
            }
            Ok(group_views(copies, false))
        })
    }

    /// One group session; with `reveal` a special summary too (logged per copy).
    pub fn group_session(&mut self, session_id: &str, reveal: bool) -> Result<GroupView> {
        self.change(|s| {
            let copies = s.group_copies(session_id)?;
            for (g, _) in &copies {
                s.log(
                    Action::View,
                    Some(&g.client_id),
                    &format!("group_session {}", g.id),
                )?;
                if reveal && g.special {
                    s.log(
                        Action::RevealSpecial,
                        Some(&g.client_id),
                        &format!("group_session {}", g.id),
                    )?;
                }
            }
            group_views(copies, reveal)
                .pop()
                .ok_or_else(|| Error::NotFound {
                    what: crate::model::record::Kind::GroupSession.label(),
                    id: session_id.to_owned(),
                })
        })
    }

    /// Writes one participant's own observation of a group session as a note in their
    /// dossier (never in the shared summary). `at` defaults to the session's day, at noon.
    pub fn group_observation(
        &mut self,
        session_id: &str,
        client: &str,
        text: &str,
        special: bool,
        at: Option<NaiveDateTime>,
    ) -> Result<String> {
        self.change(|s| observe(s, session_id, client, text, special, at))
    }

    /// Records a group session and, from the same screen, each participant's own
    /// observation as a note in that participant's dossier only: one change, so either all
    /// of it is kept or none. Returns the session's id.
    pub fn record_group_session(
        &mut self,
        new: &NewGroupSession,
        notes: &[GroupNote],
    ) -> Result<String> {
        if let Some(n) = notes
            .iter()
            .find(|n| !new.participants.contains(&n.client_id))
        {
            return Err(Error::invalid(
                Field::Input("client_id"),
                t!("group.not_a_participant_id", id = n.client_id),
            ));
        }
        // Every note is checked as a note typed anywhere is, before anything is written.
        for n in notes {
            crate::model::parse_note_body(&n.text)?;
        }
        self.change(|s| {
            let id = s.add_group_session(new)?;
            for n in notes {
                observe(s, &id, &n.client_id, &n.text, n.special, None)?;
            }
            Ok(id)
        })
    }

    /// A dossier's meldcodes (signals with their steps 2 to 5), newest signal first; the
    /// text of special ones only with `reveal` (each reveal logged).
    pub fn meldcodes(&mut self, client: &str, reveal: bool) -> Result<Vec<Trajectory>> {
        self.change(|s| {
            let mut list = s.meldcodes(client)?;
            s.log(Action::View, Some(client), "meldcode")?;
            if reveal {
                for t in &list {
                    if t.signal.special {
                        s.log(
                            Action::RevealSpecial,
                            Some(client),
                            &format!("signal {}", t.signal.id),
                        )?;
                    }
                    for st in t.steps.iter().filter(|st| st.special) {
                        s.log(
                            Action::RevealSpecial,
                            Some(client),
                            &format!("meldcode_step {}", st.id),
                        )?;
                    }
                }
            } else {
                mask_meldcodes(&mut list);
            }
            Ok(list)
        })
    }

    /// The dossier a signal belongs to (ids only: nothing is logged).
    pub fn meldcode_client(&self, signal: &str) -> Result<String> {
        self.store
            .client_of(crate::model::record::Kind::Signal, signal)
    }

    /// The id of a meldcode record (a signal or a step) from a prefix (ids only).
    pub fn resolve_meldcode_record(&self, prefix: &str) -> Result<String> {
        use crate::model::record::Kind;
        match self.store.resolve_id(Kind::Signal, prefix) {
            Err(Error::NotFound { .. }) => self.store.resolve_id(Kind::MeldcodeStep, prefix),
            other => other,
        }
    }

    /// A dossier's consents, each with the attachment that holds its signed form, if one
    /// does (logged as a view of the consents).
    pub fn consents_with_forms(&mut self, client: &str) -> Result<Vec<(Consent, Option<String>)>> {
        self.change(|s| {
            let list = s.consents(client)?;
            let mut forms = s.signed_forms(&list)?;
            s.log(Action::View, Some(client), "consents")?;
            Ok(list
                .into_iter()
                .map(|c| {
                    let form = forms.remove(&c.id);
                    (c, form)
                })
                .collect())
        })
    }

    /// What a consent form for `client` says: the client's name (logged: the form is made
    /// for them), who asks, and what the consent would be.
    #[allow(clippy::too_many_arguments)]
    pub fn consent_form(
        &mut self,
        client: &str,
        org: &str,
        purpose: &str,
        scope: Scope,
        special: bool,
        until: Option<NaiveDate>,
        privacy_officer: Option<String>,
        today: NaiveDate,
    ) -> Result<ConsentFormFacts> {
        let identity = self.identity()?;
        let worker = if identity.name.is_empty() {
            identity.owner.clone()
        } else {
            identity.name.clone()
        };
        self.change(|s| {
            let name = s.client(client)?.name;
            s.log(Action::View, Some(client), "consent form")?;
            Ok(ConsentFormFacts {
                client_name: name,
                asking_org: Some(identity.org_name.clone()).filter(|o| !o.is_empty()),
                worker,
                org: org.to_owned(),
                purpose: purpose.to_owned(),
                scope,
                special,
                until,
                privacy_officer,
                made_on: today,
            })
        })
    }

    /// What the leaflet for residents says about this vault: its organisation, whether
    /// colleagues and IT can be involved, and the retention periods in effect (the vault's
    /// policy, else the config, else kluis's default). Settings only: nothing to log.
    pub fn leaflet_facts(&self, privacy_officer: Option<String>) -> Result<LeafletFacts> {
        let org = self.store.meta("org_name")?.filter(|o| !o.is_empty());
        let mut retention = Vec::new();
        for d in Domain::ALL {
            retention.push((*d, self.store.retention_years(*d)?));
        }
        Ok(LeafletFacts {
            team: self.store.meta("worker_id")?.is_some(),
            org_name: org,
            recovery: !self.store.recovery_recipients()?.is_empty(),
            retention,
            privacy_officer,
        })
    }

    /// The access review: your dossiers without activity for `months` months and closed
    /// ones you are still assigned to; each dossier listed is logged (names are shown).
    pub fn access_review(&mut self, today: NaiveDate, months: u32) -> Result<Vec<ReviewItem>> {
        self.change(|s| {
            let items = s.access_review(today, months)?;
            for i in &items {
                s.log(Action::View, Some(&i.client_id), "access review")?;
            }
            Ok(items)
        })
    }

    /// Unassigns this vault's worker from a dossier, if a colleague who is active on the
    /// roster stays assigned: a dossier is never left with no one (refused, exit 2).
    /// False when you were not assigned. The copy in this vault stays until the dossier is
    /// erased; it no longer goes to you, and you can no longer change it.
    pub fn unassign_me(&mut self, client: &str) -> Result<bool> {
        let Some(me) = self.store.meta("worker_id")? else {
            return Err(Error::NotEnrolled {
                path: self.path.clone(),
            });
        };
        self.store.client(client)?;
        let assigned = self.store.assignees(client)?;
        if !assigned.contains(&me) {
            return Ok(false);
        }
        // Who else may still hold it: on the vault's roster and active now (a vault with no
        // roster has no one else).
        let roster = super::verified_roster(&self.store, &self.path).ok();
        let now = chrono::Utc::now();
        let active: Vec<&String> = assigned
            .iter()
            .filter(|w| {
                **w != me
                    && roster
                        .as_ref()
                        .is_some_and(|r| r.inactive(w, now).is_none())
            })
            .collect();
        if active.is_empty() {
            return Err(Error::invalid(
                Field::Input("client_id"),
                t!("access.last_assignee", id = client),
            ));
        }
        self.change(|s| s.assign(client, &me, false))
    }

    /// The content-free overview of the team as far as this vault knows it: numbers per
    /// worker, no client names, no dossier ids, no content. Nothing is shown about a
    /// dossier, so nothing is logged.
    pub fn team_overview(&self, today: NaiveDate, months: u32) -> Result<TeamOverview> {
        self.store.team_overview(today, months)
    }

    /// The reminders daily practice adds to the agenda: the next step of each undecided
    /// meldcode, and the dossiers of the access review (`months` without activity); each
    /// dossier on it is logged, since names and addresses are shown.
    pub fn reminders(
        &mut self,
        today: NaiveDate,
        days: u64,
        months: u32,
    ) -> Result<Vec<AgendaItem>> {
        self.change(|s| {
            let items = s.practice_agenda(today, days, months)?;
            let clients: BTreeSet<&str> = items.iter().map(|i| i.client_id.as_str()).collect();
            for c in clients {
                s.log(Action::View, Some(c), "agenda")?;
            }
            Ok(items)
        })
    }
}
