//! Household, network, support plan and assessments in the database. Each row is also a
//! register op whose value is the row as JSON (`household/ID`, `contact/ID`, `goal/ID`,
//! `action/ID`, `assessment/ID`), so it travels with the dossier and a later version (an
//! action done) wins in every vault.

use chrono::NaiveDate;
use rusqlite::OptionalExtension;

use super::{Store, new_id};
use crate::error::{Error, Result};
use crate::i18n::t;
use crate::model::{
    self, Action, ActionStatus, AgendaItem, Assessment, Attachment, Contact, Evaluation, Goal,
    Handover, HandoverStatus, HouseholdMember, PlanAction, Relation, Visit,
};

impl Store {
    pub(in crate::engine) fn new_row_checks(&self, client: &str) -> Result<String> {
        self.client(client)?;
        self.require_assigned(client)?;
        self.user()
    }

    /// Adds a household member; returns the id.
    pub fn add_household(
        &self,
        client: &str,
        name: &str,
        relation: Relation,
        birth_date: Option<NaiveDate>,
    ) -> Result<String> {
        let author = self.new_row_checks(client)?;
        let h = HouseholdMember {
            id: new_id(),
            client_id: client.to_owned(),
            name: name.to_owned(),
            relation,
            birth_date,
            author,
            created_at: self.now(),
        };
        self.put(&h, Action::Create)?;
        Ok(h.id)
    }

    /// The household, children first, then by name.
    pub(in crate::engine) fn household(&self, client: &str) -> Result<Vec<HouseholdMember>> {
        self.rows(
            client,
            "relation <> 'kind', coalesce(birth_date, ''), name COLLATE NOCASE, id",
        )
    }

    /// Adds someone to the network; returns the id.
    pub fn add_contact(&self, c: &Contact) -> Result<String> {
        let author = self.new_row_checks(&c.client_id)?;
        let c = Contact {
            id: new_id(),
            author,
            created_at: self.now(),
            ..c.clone()
        };
        self.put(&c, Action::Create)?;
        Ok(c.id)
    }

    /// The network, by name.
    pub(in crate::engine) fn contacts(&self, client: &str) -> Result<Vec<Contact>> {
        self.rows(client, "name COLLATE NOCASE, id")
    }

    /// Adds a goal in a life domain; returns the id.
    pub fn add_goal(&self, client: &str, domain: &str, text: &str) -> Result<String> {
        let author = self.new_row_checks(client)?;
        let g = Goal {
            id: new_id(),
            client_id: client.to_owned(),
            domain: domain.to_owned(),
            text: text.to_owned(),
            author,
            created_at: self.now(),
        };
        self.put(&g, Action::Create)?;
        Ok(g.id)
    }

    /// The goals, per life domain.
    pub(in crate::engine) fn goals(&self, client: &str) -> Result<Vec<Goal>> {
        self.rows(client, "domain, created_at, id")
    }

    /// Adds an action to a goal; returns the id.
    pub fn add_action(
        &self,
        goal_id: &str,
        text: &str,
        owner: &str,
        due: Option<NaiveDate>,
    ) -> Result<String> {
        let goal: Goal = self.row(goal_id)?.ok_or_else(|| Error::NotFound {
            what: t!("word.goal").into_owned(),
            id: goal_id.to_owned(),
        })?;
        let author = self.new_row_checks(&goal.client_id)?;
        let a = PlanAction {
            id: new_id(),
            client_id: goal.client_id,
            goal_id: goal.id,
            text: text.to_owned(),
            owner: owner.to_owned(),
            due,
            status: ActionStatus::Open,
            done_on: None,
            author,
            created_at: self.now(),
        };
        self.put(&a, Action::Create)?;
        Ok(a.id)
    }

    /// Writes an evaluation of a goal: a note (kind "overig") linked to the goal. Returns the
    /// note's id.
    pub fn evaluate_goal(
        &self,
        goal_id: &str,
        text: &str,
        at: chrono::NaiveDateTime,
    ) -> Result<String> {
        let goal: Goal = self.row(goal_id)?.ok_or_else(|| Error::NotFound {
            what: t!("word.goal").into_owned(),
            id: goal_id.to_owned(),
        })?;
        let author = self.new_row_checks(&goal.client_id)?;
        let note_id = self.add_note(&model::NewNote {
            client_id: goal.client_id.clone(),
            kind: model::NoteKind::Overig,
            occurred_at: at,
            body: text.to_owned(),
            supersedes: None,
            special: false,
        })?;
        let e = Evaluation {
            id: new_id(),
            client_id: goal.client_id,
            goal_id: goal.id,
            note_id: note_id.clone(),
            author,
            created_at: self.now(),
        };
        self.put(&e, Action::Create)?;
        Ok(note_id)
    }

    /// A client's evaluations, with the note each links to (when it is here).
    pub(in crate::engine) fn evaluations(
        &self,
        client: &str,
    ) -> Result<Vec<(Evaluation, Option<model::Note>)>> {
        let evals: Vec<Evaluation> = self.rows(client, "created_at, id")?;
        let notes = self.notes(client)?;
        Ok(evals
            .into_iter()
            .map(|e| {
                let n = notes.iter().find(|n| n.id == e.note_id).cloned();
                (e, n)
            })
            .collect())
    }

    /// Marks an action done on `on`; false when it already was.
    pub fn action_done(&self, id: &str, on: NaiveDate) -> Result<bool> {
        let mut a: PlanAction = self.row(id)?.ok_or_else(|| Error::NotFound {
            what: t!("word.action").into_owned(),
            id: id.to_owned(),
        })?;
        self.require_assigned(&a.client_id)?;
        if a.status == ActionStatus::Done {
            return Ok(false);
        }
        a.status = ActionStatus::Done;
        a.done_on = Some(on);
        self.put(&a, Action::Change)?;
        Ok(true)
    }

    /// A client's actions: open ones by due date first, then done ones.
    pub(in crate::engine) fn actions(&self, client: &str) -> Result<Vec<PlanAction>> {
        self.rows(client, "status = 'done', due IS NULL, due, created_at, id")
    }

    /// Records a life-domain score with its reason; returns the id.
    pub fn add_assessment(
        &self,
        client: &str,
        domain: &str,
        score: u8,
        reason: &str,
        at: NaiveDate,
    ) -> Result<String> {
        let author = self.new_row_checks(client)?;
        let s = Assessment {
            id: new_id(),
            client_id: client.to_owned(),
            domain: domain.to_owned(),
            score,
            reason: reason.to_owned(),
            at,
            author,
            created_at: self.now(),
        };
        self.put(&s, Action::Create)?;
        Ok(s.id)
    }

    /// A client's scores, per domain, oldest first.
    pub(in crate::engine) fn assessments(&self, client: &str) -> Result<Vec<Assessment>> {
        self.rows(client, "domain, at, created_at, id")
    }

    /// Hands a dossier over to a colleague: assigns them, writes the handover note and records
    /// the handover. This worker stays assigned until the colleague's vault has the dossier
    /// (`act_on_handovers`). Returns the handover's id.
    pub fn handover(&self, client: &str, to: &str, note: &str) -> Result<String> {
        let Some(me) = self.meta("worker_id")? else {
            return Err(Error::invalid("to_worker", t!("depth.handover_team_only")));
        };
        if to == me {
            return Err(Error::invalid("to_worker", t!("depth.handover_self")));
        }
        self.client(client)?;
        self.require_assigned(client)?;
        self.assign(client, to, true)?;
        // The note is stored as written: who it was for is in the handover record, and
        // words around it are added when it is shown, in the reader's language.
        let note_id = self.add_note(&model::NewNote {
            client_id: client.to_owned(),
            kind: model::NoteKind::Overig,
            occurred_at: self.local_now(),
            body: note.to_owned(),
            supersedes: None,
            special: false,
        })?;
        let h = Handover {
            id: new_id(),
            client_id: client.to_owned(),
            from_worker: me,
            to_worker: to.to_owned(),
            note_id,
            status: HandoverStatus::Pending,
            received_at: None,
            created_at: self.now(),
        };
        self.put(&h, Action::Change)?;
        Ok(h.id)
    }

    /// A dossier's handovers, newest first.
    pub(in crate::engine) fn handovers(&self, client: &str) -> Result<Vec<Handover>> {
        self.rows(client, "created_at DESC, id DESC")
    }

    /// After a merge: the colleague a handover was for says it arrived; the worker who
    /// handed over, once it arrived, is unassigned. Both travel with the next sync.
    pub(super) fn act_on_handovers(&self) -> Result<()> {
        let arrived: Vec<Handover> = self.handovers_in.borrow_mut().drain(..).collect();
        let Some(me) = self.meta("worker_id")? else {
            return Ok(());
        };
        for h in arrived {
            // The newest version here decides (the register's winner is in the table).
            let Some(now) = self.row::<Handover>(&h.id)? else {
                continue;
            };
            let have_dossier = self.client(&now.client_id).is_ok();
            if now.status == HandoverStatus::Pending && now.to_worker == me && have_dossier {
                let received = Handover {
                    status: HandoverStatus::Received,
                    received_at: Some(self.now()),
                    ..now
                };
                self.put(&received, Action::Change)?;
            } else if now.status == HandoverStatus::Received
                && now.from_worker == me
                && self.assignees(&now.client_id)?.contains(&me)
                // Never leave the dossier without an assignee who can receive it (the
                // colleague it went to was revoked meanwhile, say).
                && self.keeps_an_active_assignee(&now.client_id, &me)?
            {
                self.assign(&now.client_id, &me, false)?;
            }
        }
        Ok(())
    }

    /// Keeps a file in the dossier; returns the id. At most [`model::MAX_ATTACHMENT_BYTES`].
    pub fn add_attachment(
        &self,
        client: &str,
        title: &str,
        filename: &str,
        data: &[u8],
    ) -> Result<String> {
        if data.len() as u64 > model::MAX_ATTACHMENT_BYTES {
            return Err(Error::invalid(
                "file",
                t!(
                    "depth.attachment_too_big",
                    max = model::MAX_ATTACHMENT_BYTES / 1024 / 1024
                ),
            ));
        }
        let author = self.new_row_checks(client)?;
        let id = new_id();
        // The file is hashed on another core while it is sealed and written on this one:
        // both read the same bytes, and each costs about as much as the other.
        let (sha256, stored) = std::thread::scope(|scope| {
            let hashing = scope.spawn(|| model::sha256_hex(data));
            let stored = self.put_blob(&id, client, data);
            (hashing.join(), stored)
        });
        stored?;
        let sha256 = sha256.map_err(|_| Error::Encrypt("hashing the file failed".into()))?;
        let a = Attachment {
            id,
            client_id: client.to_owned(),
            title: title.to_owned(),
            filename: filename.to_owned(),
            size: data.len() as u64,
            sha256,
            author,
            created_at: self.now(),
        };
        self.put(&a, Action::Create)?;
        Ok(a.id)
    }

    /// Stores a file's bytes (made here, or arrived in a bundle with its record): sealed in a
    /// file beside the vault with its key kept here, or, in a store without a file place
    /// (tests, fuzzing), in the image as before schema v10.
    pub(in crate::engine) fn put_blob(&self, id: &str, client: &str, data: &[u8]) -> Result<()> {
        if self.is_erased(client)? || self.has_blob(id)? {
            return Ok(());
        }
        let files = self.files.borrow();
        let Some(files) = files.as_ref() else {
            self.conn
                .prepare_cached(
                    "INSERT INTO attachment_blob (id, client_id, data) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO NOTHING",
                )?
                .execute(rusqlite::params![id, client, data])?;
            return self.record("attachment_blob", id);
        };
        // The file is durable before its key is: a crash in between leaves a file nobody
        // can open, which the next cleanup removes.
        let key = files.put(id, data)?;
        self.conn
            .prepare_cached(
                "INSERT INTO attachment_key (id, client_id, identity) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO NOTHING",
            )?
            .execute(rusqlite::params![id, client, key.as_str()])?;
        self.record("attachment_key", id)
    }

    fn has_blob(&self, id: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM attachment_key WHERE id = ?1)
                     OR EXISTS (SELECT 1 FROM attachment_blob WHERE id = ?1)",
            )?
            .query_row([id], |r| r.get(0))?)
    }

    /// Where files kept in dossiers live (set by the session when it opens the vault).
    pub(in crate::engine) fn set_files(&self, files: Box<dyn super::Files>) {
        *self.files.borrow_mut() = Some(files);
    }

    /// Moves the files a vault made before schema v10 keeps in its image out to their place
    /// beside it; returns how many moved. The rows that held them are deleted, which the
    /// journal cannot carry: the session saves a new generation afterwards.
    pub(in crate::engine) fn move_blobs_out(&self) -> Result<usize> {
        if self.files.borrow().is_none() {
            return Ok(0);
        }
        let ids: Vec<(String, String)> = self
            .conn
            .prepare("SELECT id, client_id FROM attachment_blob ORDER BY id")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (id, client) in &ids {
            let data = self
                .conn
                .query_row(
                    "SELECT data FROM attachment_blob WHERE id = ?1",
                    [id],
                    |r| r.get::<_, Vec<u8>>(0),
                )
                .map(zeroize::Zeroizing::new)?;
            self.conn
                .execute("DELETE FROM attachment_blob WHERE id = ?1", [id])?;
            self.put_blob(id, client, &data)?;
        }
        if !ids.is_empty() {
            // Deleted rows: the session saves a new generation, as after an erasure, vacuumed
            // when the files were a quarter of the image or more (`finish_erasure`).
            self.erased.set(true);
        }
        Ok(ids.len())
    }

    /// Removes the files no kept key opens (an erased dossier's, or one a crash left before
    /// its key was saved); returns how many went.
    pub(in crate::engine) fn drop_unkept_files(&self) -> Result<usize> {
        let files = self.files.borrow();
        let Some(files) = files.as_ref() else {
            return Ok(0);
        };
        let keep: std::collections::HashSet<String> = self
            .conn
            .prepare("SELECT id FROM attachment_key")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        files.retain(&keep)
    }

    /// Every kept file with its record's size and hash, read and checked (for `check`):
    /// one line per problem.
    pub(in crate::engine) fn file_problems(&self) -> Result<Vec<String>> {
        let rows: Vec<(String, String, String)> = self
            .conn
            .prepare(
                "SELECT a.id, a.sha256, k.identity FROM attachment a
                 JOIN attachment_key k ON k.id = a.id ORDER BY a.id",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let files = self.files.borrow();
        let Some(files) = files.as_ref() else {
            return Ok(Vec::new());
        };
        let mut problems = Vec::new();
        for (id, sha, key) in rows {
            let key = zeroize::Zeroizing::new(key);
            match files.sha256(&id, &key) {
                Ok(Some(digest)) if digest == sha => {}
                Ok(Some(_)) => problems.push(t!("check.file_changed", id = id).into_owned()),
                Ok(None) => problems.push(t!("check.file_missing", id = id).into_owned()),
                Err(e) => problems.push(format!("{id}: {e}")),
            }
        }
        Ok(problems)
    }

    /// A dossier's files, newest first (without their bytes).
    pub(in crate::engine) fn attachments(&self, client: &str) -> Result<Vec<Attachment>> {
        self.rows(client, "created_at DESC, id DESC")
    }

    /// One file's record.
    pub(in crate::engine) fn attachment(&self, id: &str) -> Result<Attachment> {
        self.row(id)?.ok_or_else(|| Error::NotFound {
            what: t!("word.attachment").into_owned(),
            id: id.to_owned(),
        })
    }

    /// One file's bytes, if they are here: read from beside the vault only now, when it is
    /// opened or sent.
    pub(in crate::engine) fn attachment_data(
        &self,
        id: &str,
    ) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
        let key: Option<zeroize::Zeroizing<String>> = self
            .conn
            .prepare_cached("SELECT identity FROM attachment_key WHERE id = ?1")?
            .query_row([id], |r| r.get::<_, String>(0))
            .optional()?
            .map(zeroize::Zeroizing::new);
        if let Some(key) = key {
            let files = self.files.borrow();
            return match files.as_ref() {
                Some(files) => files.get(id, &key),
                None => Ok(None),
            };
        }
        Ok(self
            .conn
            .prepare_cached("SELECT data FROM attachment_blob WHERE id = ?1")?
            .query_row([id], |r| r.get::<_, Vec<u8>>(0))
            .optional()?
            .map(zeroize::Zeroizing::new))
    }

    /// Plans a visit; returns the id.
    pub fn add_visit(
        &self,
        client: &str,
        at: chrono::NaiveDateTime,
        purpose: Option<&str>,
    ) -> Result<String> {
        let author = self.new_row_checks(client)?;
        let v = Visit {
            id: new_id(),
            client_id: client.to_owned(),
            at: model::format_datetime(at),
            purpose: purpose.map(str::to_owned),
            author,
            created_at: self.now(),
        };
        self.put(&v, Action::Create)?;
        Ok(v.id)
    }

    /// A client's planned visits, soonest first.
    pub(in crate::engine) fn visits(&self, client: &str) -> Result<Vec<Visit>> {
        self.rows(client, "at, id")
    }

    /// What is coming up from `today` to `today + days` (and what is overdue): visits,
    /// actions due, consents that end and dossiers whose retention ends. Soonest first.
    pub(in crate::engine) fn agenda(&self, today: NaiveDate, days: u64) -> Result<Vec<AgendaItem>> {
        let until = today + chrono::Days::new(days);
        let mut out = Vec::new();
        let mut stmt = self.conn.prepare(
            "SELECT v.id, v.client_id, c.name, c.address, v.at, v.purpose
             FROM visit v JOIN client c ON c.id = v.client_id
             WHERE substr(v.at, 1, 10) BETWEEN ?1 AND ?2",
        )?;
        let rows = stmt.query_map([today.to_string(), until.to_string()], |r| {
            let at: String = r.get(4)?;
            Ok(AgendaItem {
                date: at[..10].parse().unwrap_or(today),
                time: at.get(11..16).map(str::to_owned),
                kind: "visit",
                client_id: r.get(1)?,
                client_name: r.get(2)?,
                address: r.get(3)?,
                what: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                id: r.get(0)?,
            })
        })?;
        for row in rows {
            out.push(row?);
        }
        let mut stmt = self.conn.prepare(
            "SELECT a.id, a.client_id, c.name, c.address, a.due, a.text, a.owner
             FROM plan_action a JOIN client c ON c.id = a.client_id
             WHERE a.status = 'open' AND a.due IS NOT NULL AND a.due <= ?1",
        )?;
        let rows = stmt.query_map([until.to_string()], |r| {
            let due: String = r.get(4)?;
            Ok(AgendaItem {
                date: due.parse().unwrap_or(today),
                time: None,
                kind: "action",
                client_id: r.get(1)?,
                client_name: r.get(2)?,
                address: r.get(3)?,
                what: format!("{} ({})", r.get::<_, String>(5)?, r.get::<_, String>(6)?),
                id: r.get(0)?,
            })
        })?;
        for row in rows {
            out.push(row?);
        }
        for (c, name) in self.consents_expiring(today, days)? {
            let address = self.client(&c.client_id)?.address;
            out.push(AgendaItem {
                date: c.until.unwrap_or(today),
                time: None,
                kind: "consent",
                client_id: c.client_id,
                client_name: name,
                address,
                what: format!("{} — {}", c.org, c.purpose),
                id: c.id,
            });
        }
        for r in self.retention(today)? {
            if r.retention_until <= until {
                out.push(AgendaItem {
                    date: r.retention_until,
                    time: None,
                    kind: "retention",
                    client_id: r.client_id.clone(),
                    client_name: r.name,
                    address: None,
                    what: String::new(),
                    id: r.client_id,
                });
            }
        }
        // A dossier no active worker is assigned to any more: until IT reassigns it, nobody
        // can close or erase it (`kluis org reassign`).
        for o in self.orphaned()? {
            let c = self.client(&o.client_id)?;
            out.push(AgendaItem {
                date: today,
                time: None,
                kind: "orphaned",
                client_id: o.client_id.clone(),
                client_name: c.name,
                address: None,
                what: o.assignees.join(", "),
                id: o.client_id,
            });
        }
        out.sort_by(|a, b| (a.date, &a.time, a.kind, &a.id).cmp(&(b.date, &b.time, b.kind, &b.id)));
        Ok(out)
    }
}
