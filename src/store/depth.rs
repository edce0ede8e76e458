//! Household, network, support plan and assessments in the database. Each row is also a
//! register op whose value is the row as JSON (`household/ID`, `contact/ID`, `goal/ID`,
//! `action/ID`, `assessment/ID`), so it travels with the dossier and a later version (an
//! action done) wins in every vault.

use chrono::NaiveDate;
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Store, new_id};
use crate::error::{Error, Result};
use crate::i18n::t;
use crate::model::{
    self, Action, ActionStatus, AgendaItem, Assessment, Attachment, Contact, Evaluation, Goal,
    Handover, HandoverStatus, HouseholdMember, PlanAction, Relation, Visit, now_utc,
};

/// A row type that is also a register op.
trait Record: Serialize + DeserializeOwned {
    /// The op's kind (`kind/ID`).
    const KIND: &'static str;
    const TABLE: &'static str;
    const COLUMNS: &'static [&'static str];
    fn id(&self) -> &str;
    fn client(&self) -> &str;
    fn values(&self) -> Vec<Value>;
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self>;
}

fn text(v: &str) -> Value {
    Value::Text(v.to_owned())
}

fn opt(v: &Option<String>) -> Value {
    v.as_deref().map_or(Value::Null, text)
}

fn date(v: Option<NaiveDate>) -> Value {
    v.map_or(Value::Null, |d| Value::Text(d.to_string()))
}

fn get_date(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<NaiveDate>> {
    Ok(r.get::<_, Option<String>>(i)?.and_then(|s| s.parse().ok()))
}

impl Record for HouseholdMember {
    const KIND: &'static str = "household";
    const TABLE: &'static str = "household";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "client_id",
        "name",
        "relation",
        "birth_date",
        "author",
        "created_at",
    ];
    fn id(&self) -> &str {
        &self.id
    }
    fn client(&self) -> &str {
        &self.client_id
    }
    fn values(&self) -> Vec<Value> {
        vec![
            text(&self.id),
            text(&self.client_id),
            text(&self.name),
            text(self.relation.code()),
            date(self.birth_date),
            text(&self.author),
            text(&self.created_at),
        ]
    }
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(HouseholdMember {
            id: r.get(0)?,
            client_id: r.get(1)?,
            name: r.get(2)?,
            relation: r.get::<_, String>(3)?.parse().unwrap_or(Relation::Overig),
            birth_date: get_date(r, 4)?,
            author: r.get(5)?,
            created_at: r.get(6)?,
        })
    }
}

impl Record for Contact {
    const KIND: &'static str = "contact";
    const TABLE: &'static str = "contact";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "client_id",
        "name",
        "org",
        "role",
        "phone",
        "email",
        "author",
        "created_at",
    ];
    fn id(&self) -> &str {
        &self.id
    }
    fn client(&self) -> &str {
        &self.client_id
    }
    fn values(&self) -> Vec<Value> {
        vec![
            text(&self.id),
            text(&self.client_id),
            text(&self.name),
            opt(&self.org),
            opt(&self.role),
            opt(&self.phone),
            opt(&self.email),
            text(&self.author),
            text(&self.created_at),
        ]
    }
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Contact {
            id: r.get(0)?,
            client_id: r.get(1)?,
            name: r.get(2)?,
            org: r.get(3)?,
            role: r.get(4)?,
            phone: r.get(5)?,
            email: r.get(6)?,
            author: r.get(7)?,
            created_at: r.get(8)?,
        })
    }
}

impl Record for Goal {
    const KIND: &'static str = "goal";
    const TABLE: &'static str = "goal";
    const COLUMNS: &'static [&'static str] =
        &["id", "client_id", "domain", "text", "author", "created_at"];
    fn id(&self) -> &str {
        &self.id
    }
    fn client(&self) -> &str {
        &self.client_id
    }
    fn values(&self) -> Vec<Value> {
        vec![
            text(&self.id),
            text(&self.client_id),
            text(&self.domain),
            text(&self.text),
            text(&self.author),
            text(&self.created_at),
        ]
    }
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Goal {
            id: r.get(0)?,
            client_id: r.get(1)?,
            domain: r.get(2)?,
            text: r.get(3)?,
            author: r.get(4)?,
            created_at: r.get(5)?,
        })
    }
}

impl Record for PlanAction {
    const KIND: &'static str = "action";
    const TABLE: &'static str = "plan_action";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "client_id",
        "goal_id",
        "text",
        "owner",
        "due",
        "status",
        "done_on",
        "author",
        "created_at",
    ];
    fn id(&self) -> &str {
        &self.id
    }
    fn client(&self) -> &str {
        &self.client_id
    }
    fn values(&self) -> Vec<Value> {
        vec![
            text(&self.id),
            text(&self.client_id),
            text(&self.goal_id),
            text(&self.text),
            text(&self.owner),
            date(self.due),
            text(self.status.code()),
            date(self.done_on),
            text(&self.author),
            text(&self.created_at),
        ]
    }
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(PlanAction {
            id: r.get(0)?,
            client_id: r.get(1)?,
            goal_id: r.get(2)?,
            text: r.get(3)?,
            owner: r.get(4)?,
            due: get_date(r, 5)?,
            status: r.get::<_, String>(6)?.parse().unwrap_or(ActionStatus::Open),
            done_on: get_date(r, 7)?,
            author: r.get(8)?,
            created_at: r.get(9)?,
        })
    }
}

impl Record for Assessment {
    const KIND: &'static str = "assessment";
    const TABLE: &'static str = "assessment";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "client_id",
        "domain",
        "score",
        "reason",
        "at",
        "author",
        "created_at",
    ];
    fn id(&self) -> &str {
        &self.id
    }
    fn client(&self) -> &str {
        &self.client_id
    }
    fn values(&self) -> Vec<Value> {
        vec![
            text(&self.id),
            text(&self.client_id),
            text(&self.domain),
            Value::Integer(i64::from(self.score)),
            text(&self.reason),
            text(&self.at.to_string()),
            text(&self.author),
            text(&self.created_at),
        ]
    }
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Assessment {
            id: r.get(0)?,
            client_id: r.get(1)?,
            domain: r.get(2)?,
            score: r.get(3)?,
            reason: r.get(4)?,
            at: get_date(r, 5)?.unwrap_or_default(),
            author: r.get(6)?,
            created_at: r.get(7)?,
        })
    }
}

impl Record for Visit {
    const KIND: &'static str = "visit";
    const TABLE: &'static str = "visit";
    const COLUMNS: &'static [&'static str] =
        &["id", "client_id", "at", "purpose", "author", "created_at"];
    fn id(&self) -> &str {
        &self.id
    }
    fn client(&self) -> &str {
        &self.client_id
    }
    fn values(&self) -> Vec<Value> {
        vec![
            text(&self.id),
            text(&self.client_id),
            text(&self.at),
            opt(&self.purpose),
            text(&self.author),
            text(&self.created_at),
        ]
    }
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Visit {
            id: r.get(0)?,
            client_id: r.get(1)?,
            at: r.get(2)?,
            purpose: r.get(3)?,
            author: r.get(4)?,
            created_at: r.get(5)?,
        })
    }
}

impl Record for Handover {
    const KIND: &'static str = "handover";
    const TABLE: &'static str = "handover";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "client_id",
        "from_worker",
        "to_worker",
        "note_id",
        "status",
        "received_at",
        "created_at",
    ];
    fn id(&self) -> &str {
        &self.id
    }
    fn client(&self) -> &str {
        &self.client_id
    }
    fn values(&self) -> Vec<Value> {
        vec![
            text(&self.id),
            text(&self.client_id),
            text(&self.from_worker),
            text(&self.to_worker),
            text(&self.note_id),
            text(self.status.code()),
            opt(&self.received_at),
            text(&self.created_at),
        ]
    }
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Handover {
            id: r.get(0)?,
            client_id: r.get(1)?,
            from_worker: r.get(2)?,
            to_worker: r.get(3)?,
            note_id: r.get(4)?,
            status: r
                .get::<_, String>(5)?
                .parse()
                .unwrap_or(HandoverStatus::Pending),
            received_at: r.get(6)?,
            created_at: r.get(7)?,
        })
    }
}

impl Record for Attachment {
    const KIND: &'static str = "attachment";
    const TABLE: &'static str = "attachment";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "client_id",
        "title",
        "filename",
        "size",
        "sha256",
        "author",
        "created_at",
    ];
    fn id(&self) -> &str {
        &self.id
    }
    fn client(&self) -> &str {
        &self.client_id
    }
    fn values(&self) -> Vec<Value> {
        vec![
            text(&self.id),
            text(&self.client_id),
            text(&self.title),
            text(&self.filename),
            Value::Integer(self.size as i64),
            text(&self.sha256),
            text(&self.author),
            text(&self.created_at),
        ]
    }
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Attachment {
            id: r.get(0)?,
            client_id: r.get(1)?,
            title: r.get(2)?,
            filename: r.get(3)?,
            size: r.get::<_, i64>(4)?.max(0) as u64,
            sha256: r.get(5)?,
            author: r.get(6)?,
            created_at: r.get(7)?,
        })
    }
}

impl Record for Evaluation {
    const KIND: &'static str = "evaluation";
    const TABLE: &'static str = "evaluation";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "client_id",
        "goal_id",
        "note_id",
        "author",
        "created_at",
    ];
    fn id(&self) -> &str {
        &self.id
    }
    fn client(&self) -> &str {
        &self.client_id
    }
    fn values(&self) -> Vec<Value> {
        vec![
            text(&self.id),
            text(&self.client_id),
            text(&self.goal_id),
            text(&self.note_id),
            text(&self.author),
            text(&self.created_at),
        ]
    }
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Evaluation {
            id: r.get(0)?,
            client_id: r.get(1)?,
            goal_id: r.get(2)?,
            note_id: r.get(3)?,
            author: r.get(4)?,
            created_at: r.get(5)?,
        })
    }
}

/// Hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A one-line text as kluis writes it (trimmed, no control characters).
fn line(v: &str) -> bool {
    model::parse_name("field", v).is_ok_and(|p| p == v)
}

/// Whether an op's value is a row kluis would have written for this dossier (the bundle
/// check, before anything is merged).
pub fn check_value(kind: &str, id: &str, client: &str, value: &str) -> bool {
    fn parsed<R: Record>(id: &str, client: &str, value: &str) -> Option<R> {
        serde_json::from_str::<R>(value)
            .ok()
            .filter(|r| r.id() == id && r.client() == client)
    }
    let time = |v: &str| chrono::DateTime::parse_from_rfc3339(v).is_ok();
    match kind {
        "household" => parsed::<HouseholdMember>(id, client, value)
            .is_some_and(|h| line(&h.name) && line(&h.author) && time(&h.created_at)),
        "contact" => parsed::<Contact>(id, client, value).is_some_and(|c| {
            line(&c.name)
                && [&c.org, &c.role, &c.phone, &c.email]
                    .iter()
                    .all(|v| v.as_deref().is_none_or(line))
                && line(&c.author)
                && time(&c.created_at)
        }),
        "goal" => parsed::<Goal>(id, client, value).is_some_and(|g| {
            line(&g.domain)
                && model::parse_note_body(&g.text).is_ok_and(|t| t == g.text)
                && line(&g.author)
                && time(&g.created_at)
        }),
        "action" => parsed::<PlanAction>(id, client, value).is_some_and(|a| {
            model::parse_note_body(&a.text).is_ok_and(|t| t == a.text)
                && line(&a.owner)
                && line(&a.author)
                && (a.status == ActionStatus::Done) == a.done_on.is_some()
                && time(&a.created_at)
        }),
        "evaluation" => parsed::<Evaluation>(id, client, value).is_some_and(|e| {
            model::parse_id_prefix("goal", &e.goal_id).is_ok()
                && model::parse_id_prefix("note", &e.note_id).is_ok()
                && line(&e.author)
                && time(&e.created_at)
        }),
        "attachment" => parsed::<Attachment>(id, client, value).is_some_and(|a| {
            line(&a.title)
                && line(&a.filename)
                && a.size <= model::MAX_ATTACHMENT_BYTES
                && a.sha256.len() == 64
                && a.sha256
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                && line(&a.author)
                && time(&a.created_at)
        }),
        "handover" => parsed::<Handover>(id, client, value).is_some_and(|h| {
            line(&h.from_worker)
                && line(&h.to_worker)
                && model::parse_id_prefix("note", &h.note_id).is_ok()
                && (h.status == HandoverStatus::Received) == h.received_at.is_some()
                && h.received_at.as_deref().is_none_or(time)
                && time(&h.created_at)
        }),
        "visit" => parsed::<Visit>(id, client, value).is_some_and(|v| {
            model::parse_datetime("at", &v.at).is_ok_and(|d| model::format_datetime(d) == v.at)
                && v.purpose.as_deref().is_none_or(line)
                && line(&v.author)
                && time(&v.created_at)
        }),
        "assessment" => parsed::<Assessment>(id, client, value).is_some_and(|s| {
            (1..=5).contains(&s.score)
                && line(&s.domain)
                && model::parse_note_body(&s.reason).is_ok_and(|t| t == s.reason)
                && line(&s.author)
                && time(&s.created_at)
        }),
        _ => false,
    }
}

impl Store {
    fn upsert<R: Record>(&self, r: &R) -> Result<()> {
        let cols = R::COLUMNS.join(", ");
        let params = (1..=R::COLUMNS.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sets = R::COLUMNS[1..]
            .iter()
            .map(|c| format!("{c} = excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO {} ({cols}) VALUES ({params}) ON CONFLICT (id) DO UPDATE SET {sets}",
            R::TABLE
        );
        self.conn
            .prepare_cached(&sql)?
            .execute(rusqlite::params_from_iter(r.values()))?;
        self.record(R::TABLE, r.id())?;
        Ok(())
    }

    /// Stores a row made here, writes its op and logs it.
    fn put<R: Record>(&self, r: &R, action: Action) -> Result<()> {
        self.upsert(r)?;
        let value = serde_json::to_string(r).map_err(|e| Error::invalid(R::KIND, e.to_string()))?;
        self.emit(r.client(), &format!("{}/{}", R::KIND, r.id()), Some(&value))?;
        self.log(action, Some(r.client()), &format!("{} {}", R::KIND, r.id()))?;
        Ok(())
    }

    fn rows<R: Record>(&self, client: &str, order: &str) -> Result<Vec<R>> {
        self.client(client)?;
        let sql = format!(
            "SELECT {} FROM {} WHERE client_id = ?1 ORDER BY {order}",
            R::COLUMNS.join(", "),
            R::TABLE
        );
        let rows = self
            .conn
            .prepare(&sql)?
            .query_map([client], R::from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn row<R: Record>(&self, id: &str) -> Result<Option<R>> {
        let sql = format!(
            "SELECT {} FROM {} WHERE id = ?1",
            R::COLUMNS.join(", "),
            R::TABLE
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([id], R::from_row)
            .optional()?)
    }

    /// Brings a row in line with its winning op from a colleague (checked by the bundle
    /// check; a value that does not parse is left alone).
    pub(super) fn materialize_depth(&self, kind: &str, value: &str) -> Result<()> {
        fn apply<R: Record>(s: &Store, value: &str) -> Result<()> {
            match serde_json::from_str::<R>(value) {
                Ok(r) => s.upsert(&r),
                Err(_) => Ok(()),
            }
        }
        match kind {
            "household" => apply::<HouseholdMember>(self, value),
            "contact" => apply::<Contact>(self, value),
            "goal" => apply::<Goal>(self, value),
            "action" => apply::<PlanAction>(self, value),
            "assessment" => apply::<Assessment>(self, value),
            "visit" => apply::<Visit>(self, value),
            "attachment" => apply::<Attachment>(self, value),
            "evaluation" => apply::<Evaluation>(self, value),
            "handover" => {
                apply::<Handover>(self, value)?;
                if let Ok(h) = serde_json::from_str::<Handover>(value) {
                    self.handovers_in.borrow_mut().push(h);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn new_row_checks(&self, client: &str) -> Result<String> {
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
            created_at: now_utc(),
        };
        self.put(&h, Action::Create)?;
        Ok(h.id)
    }

    /// The household, children first, then by name.
    pub fn household(&self, client: &str) -> Result<Vec<HouseholdMember>> {
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
            created_at: now_utc(),
            ..c.clone()
        };
        self.put(&c, Action::Create)?;
        Ok(c.id)
    }

    /// The network, by name.
    pub fn contacts(&self, client: &str) -> Result<Vec<Contact>> {
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
            created_at: now_utc(),
        };
        self.put(&g, Action::Create)?;
        Ok(g.id)
    }

    /// The goals, per life domain.
    pub fn goals(&self, client: &str) -> Result<Vec<Goal>> {
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
            created_at: now_utc(),
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
            author: self.meta("owner")?.unwrap_or_else(|| author.clone()),
            supersedes: None,
            special: false,
        })?;
        let e = Evaluation {
            id: new_id(),
            client_id: goal.client_id,
            goal_id: goal.id,
            note_id: note_id.clone(),
            author,
            created_at: now_utc(),
        };
        self.put(&e, Action::Create)?;
        Ok(note_id)
    }

    /// A client's evaluations, with the note each links to (when it is here).
    pub fn evaluations(&self, client: &str) -> Result<Vec<(Evaluation, Option<model::Note>)>> {
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
    pub fn actions(&self, client: &str) -> Result<Vec<PlanAction>> {
        self.rows(client, "status = 'done', due IS NULL, due, created_at, id")
    }

    /// Open actions of every dossier due on or before `until`, soonest first, with the
    /// client's name.
    pub fn actions_due(&self, until: NaiveDate) -> Result<Vec<(PlanAction, String)>> {
        let cols = PlanAction::COLUMNS
            .iter()
            .map(|c| format!("a.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {cols}, c.name FROM plan_action a JOIN client c ON c.id = a.client_id
             WHERE a.status = 'open' AND a.due IS NOT NULL AND a.due <= ?1 ORDER BY a.due, a.id"
        );
        let n = PlanAction::COLUMNS.len();
        let rows = self
            .conn
            .prepare(&sql)?
            .query_map([until.to_string()], |r| {
                Ok((PlanAction::from_row(r)?, r.get(n)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
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
            created_at: now_utc(),
        };
        self.put(&s, Action::Create)?;
        Ok(s.id)
    }

    /// A client's scores, per domain, oldest first.
    pub fn assessments(&self, client: &str) -> Result<Vec<Assessment>> {
        self.rows(client, "domain, at, created_at, id")
    }

    /// Hands a dossier over to a colleague: assigns them, writes the handover note and records
    /// the handover. This worker stays assigned until the colleague's vault has the dossier
    /// (`act_on_handovers`). Returns the handover's id.
    pub fn handover(&self, client: &str, to: &str, note: &str) -> Result<String> {
        let Some(me) = self.meta("worker_id")? else {
            return Err(Error::invalid("--to", t!("depth.handover_team_only")));
        };
        if to == me {
            return Err(Error::invalid("--to", t!("depth.handover_self")));
        }
        self.client(client)?;
        self.require_assigned(client)?;
        self.assign(client, to, true)?;
        let author = self.meta("owner")?.unwrap_or_else(|| me.clone());
        let note_id = self.add_note(&model::NewNote {
            client_id: client.to_owned(),
            kind: model::NoteKind::Overig,
            occurred_at: chrono::Local::now().naive_local(),
            body: t!("depth.handover_note", to = to, note = note).into_owned(),
            author,
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
            created_at: now_utc(),
        };
        self.put(&h, Action::Change)?;
        Ok(h.id)
    }

    /// A dossier's handovers, newest first.
    pub fn handovers(&self, client: &str) -> Result<Vec<Handover>> {
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
                    received_at: Some(now_utc()),
                    ..now
                };
                self.put(&received, Action::Change)?;
            } else if now.status == HandoverStatus::Received
                && now.from_worker == me
                && self.assignees(&now.client_id)?.contains(&me)
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
                "FILE",
                t!(
                    "depth.attachment_too_big",
                    max = model::MAX_ATTACHMENT_BYTES / 1024 / 1024
                ),
            ));
        }
        let author = self.new_row_checks(client)?;
        let a = Attachment {
            id: new_id(),
            client_id: client.to_owned(),
            title: title.to_owned(),
            filename: filename.to_owned(),
            size: data.len() as u64,
            sha256: sha256_hex(data),
            author,
            created_at: now_utc(),
        };
        self.put_blob(&a.id, client, data)?;
        self.put(&a, Action::Create)?;
        Ok(a.id)
    }

    /// Stores a file's bytes (made here, or arrived in a bundle with its record).
    pub(crate) fn put_blob(&self, id: &str, client: &str, data: &[u8]) -> Result<()> {
        if self.is_erased(client)? {
            return Ok(());
        }
        self.conn
            .prepare_cached(
                "INSERT INTO attachment_blob (id, client_id, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO NOTHING",
            )?
            .execute(rusqlite::params![id, client, data])?;
        self.record("attachment_blob", id)?;
        Ok(())
    }

    /// A dossier's files, newest first (without their bytes).
    pub fn attachments(&self, client: &str) -> Result<Vec<Attachment>> {
        self.rows(client, "created_at DESC, id DESC")
    }

    /// One file's record.
    pub fn attachment(&self, id: &str) -> Result<Attachment> {
        self.row(id)?.ok_or_else(|| Error::NotFound {
            what: t!("word.attachment").into_owned(),
            id: id.to_owned(),
        })
    }

    /// One file's bytes, if they are here.
    pub fn attachment_data(&self, id: &str) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
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
            created_at: now_utc(),
        };
        self.put(&v, Action::Create)?;
        Ok(v.id)
    }

    /// A client's planned visits, soonest first.
    pub fn visits(&self, client: &str) -> Result<Vec<Visit>> {
        self.rows(client, "at, id")
    }

    /// What is coming up from `today` to `today + days` (and what is overdue): visits,
    /// actions due, consents that end and dossiers whose retention ends. Soonest first.
    pub fn agenda(&self, today: NaiveDate, days: u64) -> Result<Vec<AgendaItem>> {
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
        out.sort_by(|a, b| (a.date, &a.time, a.kind, &a.id).cmp(&(b.date, &b.time, b.kind, &b.id)));
        Ok(out)
    }

    /// Deletes an erased client's household, network, plan and assessments (see `scrub`).
    pub(super) fn scrub_depth(&self, client: &str) -> Result<usize> {
        let mut n = 0;
        for table in [
            "household",
            "contact",
            "goal",
            "plan_action",
            "assessment",
            "visit",
            "handover",
            "attachment",
            "attachment_blob",
            "evaluation",
        ] {
            n += self
                .conn
                .prepare_cached(&format!("DELETE FROM {table} WHERE client_id = ?1"))?
                .execute([client])?;
        }
        Ok(n)
    }
}
