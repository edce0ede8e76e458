//! The one door to dossier data. Every read a person makes goes through a method here that
//! is named after its purpose (the caseload, a dossier, a search, the agenda, a report, a
//! disclosure) and that writes its access-log entry in the same transaction as it reads, so
//! nothing is shown that the log does not hold. Special-category notes come out without
//! their text and the BSN without its digits unless the caller asks for them, and asking is
//! logged too. Nothing outside the engine (`lib.rs`) can reach the store's raw reads: the
//! compiler keeps this door the only one.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::NaiveDate;
use zeroize::Zeroizing;

use super::Session;
use crate::error::{Error, Result};
use crate::i18n::{Lang, t};
use crate::model::record::{self, Kind, Record, Section};
use crate::model::{
    Action, AgendaItem, Assessment, Attachment, AuditEntry, Bsn, Client, Consent, Contact,
    Disclosure, Evaluation, Goal, Handover, HouseholdMember, Note, PlanAction, Scope, SearchHit,
    Visit,
};
use crate::store::{IdTable, OpenConflict, RetentionItem, Store};

/// One row of the caseload: a dossier (without the BSN's digits), its number of notes and
/// its last contact.
#[derive(Clone, Debug)]
pub struct CaseloadRow {
    /// The details; `client.bsn` is empty.
    pub client: Client,
    /// The BSN as lists show it (`******333`).
    pub bsn_masked: Option<String>,
    /// Workers assigned.
    pub assigned: Vec<String>,
    /// Its consents.
    pub consents: Vec<Consent>,
    /// How many notes it has.
    pub notes: u64,
    /// When the last contact was (local time as written).
    pub last_contact: Option<String>,
}

/// What the session hands out of a client's details. The BSN's digits are in `client.bsn`
/// only when they were asked for (and that was logged); otherwise `bsn_masked` has its last
/// three digits.
#[derive(Clone, Debug)]
pub struct ClientView {
    /// The details.
    pub client: Client,
    /// The BSN as lists show it (`******333`).
    pub bsn_masked: Option<String>,
    /// Workers assigned.
    pub assigned: Vec<String>,
    /// Its consents.
    pub consents: Vec<Consent>,
}

/// A record of a kind without a screen of its own, as the generic code shows it: its
/// fields (column name, value), special ones masked unless revealed.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GenericRecord {
    /// Its id.
    pub id: String,
    /// Field name and the value shown.
    pub fields: Vec<(&'static str, String)>,
    /// Special-category data.
    pub special: bool,
    /// Its text is left out (special and not revealed, or withheld from the client's own
    /// report).
    pub masked: bool,
    /// Why it is kept out of the client's own report (a code), if it is.
    pub withheld: Option<String>,
    /// The whole record as JSON (text fields null when masked), for `--json`.
    pub value: serde_json::Value,
}

/// Everything a dossier holds, read in one go (the dossier screen, the client's report, a
/// disclosure).
#[derive(Clone, Debug)]
pub struct Dossier {
    /// The details, workers and consents.
    pub details: ClientView,
    /// Notes, newest contact first; special ones without their text unless revealed.
    pub notes: Vec<Note>,
    /// Disclosures to other organisations.
    pub disclosures: Vec<Disclosure>,
    /// Household.
    pub household: Vec<HouseholdMember>,
    /// Network.
    pub contacts: Vec<Contact>,
    /// Plan goals.
    pub goals: Vec<Goal>,
    /// Plan actions.
    pub actions: Vec<PlanAction>,
    /// Evaluations with the note that holds each.
    pub evaluations: Vec<(Evaluation, Option<Note>)>,
    /// Scores.
    pub assessments: Vec<Assessment>,
    /// Planned visits.
    pub visits: Vec<Visit>,
    /// Handovers.
    pub handovers: Vec<Handover>,
    /// Files (without their bytes).
    pub attachments: Vec<Attachment>,
    /// Kinds shown by the generic code, each with its records.
    pub other: Vec<(Kind, Vec<GenericRecord>)>,
    /// The access log about this dossier, oldest first.
    pub log: Vec<AuditEntry>,
}

impl Dossier {
    /// The client.
    pub fn client(&self) -> &Client {
        &self.details.client
    }
}

/// The support plan of a dossier.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Goals, per life domain.
    pub goals: Vec<Goal>,
    /// Actions: open ones by due date first.
    pub actions: Vec<PlanAction>,
    /// Evaluations with their notes (special ones without text).
    pub evaluations: Vec<(Evaluation, Option<Note>)>,
}

/// What a report or disclosure may show beyond the masked view; each is logged.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reveal {
    /// The whole BSN.
    pub bsn: bool,
    /// The text of special-category notes.
    pub special: bool,
}

/// A disclosure asked for: to whom, why, on what basis.
#[derive(Clone, Debug)]
pub struct DisclosureRequest {
    /// The dossier.
    pub client: String,
    /// The receiving organisation.
    pub org: String,
    /// The purpose.
    pub purpose: String,
    /// The receiving organisation's age key.
    pub recipient: age::x25519::Recipient,
    /// A legal ground instead of a consent.
    pub legal_ground: Option<String>,
    /// The scope a legal ground needs (default: details only).
    pub legal_scope: Option<Scope>,
    /// A particular consent (id prefix).
    pub consent: Option<String>,
    /// Special-category notes go too (needs a consent that covers them, or the ground).
    pub include_special: bool,
    /// The whole BSN goes.
    pub show_bsn: bool,
    /// Markdown or HTML.
    pub format: crate::report::Format,
    /// The language of the document.
    pub lang: Lang,
    /// The day it is made.
    pub today: NaiveDate,
}

/// Masks what was not asked for: the BSN's digits, special notes' text.
fn masked_client(mut client: Client, reveal_bsn: bool) -> (Client, Option<String>) {
    let masked = client.bsn.as_ref().map(Bsn::masked);
    if !reveal_bsn {
        client.bsn = None;
    }
    (client, masked)
}

fn mask_notes(notes: &mut [Note], reveal: bool) {
    if reveal {
        return;
    }
    for n in notes.iter_mut().filter(|n| n.special) {
        use zeroize::Zeroize;
        n.body.zeroize();
        n.body.clear();
    }
}

struct Generic<'a> {
    store: &'a Store,
    client: &'a str,
    reveal: bool,
    /// For the client's own report: what is withheld from it goes without its text.
    for_client: bool,
}

impl record::Visitor for Generic<'_> {
    type Out = Result<Vec<GenericRecord>>;
    fn visit<R: Record>(self) -> Self::Out {
        let rows: Vec<R> = self.store.rows(self.client, "id")?;
        Ok(rows
            .iter()
            .map(|r| {
                let special = r.special();
                let withheld = r.withheld();
                let masked = (special && !self.reveal) || (self.for_client && withheld.is_some());
                let cells = r.cells();
                let fields = R::FIELDS
                    .iter()
                    .zip(&cells[2..])
                    .map(|(f, c)| {
                        let shown = if masked && f.input == record::Input::Text {
                            String::new()
                        } else {
                            match c {
                                record::Cell::N => "-".to_owned(),
                                record::Cell::I(i) if f.input == record::Input::Flag => {
                                    (*i == 1).to_string()
                                }
                                record::Cell::I(i) => i.to_string(),
                                record::Cell::R(x) => x.to_string(),
                                record::Cell::T(t) => t.clone(),
                                record::Cell::B(b) => format!("{} B", b.len()),
                            }
                        };
                        (f.name, shown)
                    })
                    .collect();
                let mut value = serde_json::to_value(r).unwrap_or_default();
                if masked {
                    for f in R::FIELDS.iter().filter(|f| f.input == record::Input::Text) {
                        value[f.name] = serde_json::Value::Null;
                    }
                }
                GenericRecord {
                    id: r.id().to_owned(),
                    fields,
                    special,
                    masked,
                    withheld,
                    value,
                }
            })
            .collect())
    }
}

/// Reads a whole dossier (no logging: the callers here log). `for_client`: for the client's
/// own report, so what is withheld from it (AVG art. 23, UAVG art. 41) goes without its text.
fn read_dossier(store: &Store, id: &str, reveal: Reveal, for_client: bool) -> Result<Dossier> {
    let (client, bsn_masked) = masked_client(store.client(id)?, reveal.bsn);
    let mut notes = store.notes(id)?;
    mask_notes(&mut notes, reveal.special);
    let mut evaluations = store.evaluations(id)?;
    for (_, n) in &mut evaluations {
        if let Some(n) = n {
            mask_notes(std::slice::from_mut(n), reveal.special);
        }
    }
    let mut other = Vec::new();
    for kind in Kind::ALL {
        if kind.spec().section == Section::Records
            && let Some(rows) = kind.visit(Generic {
                store,
                client: id,
                reveal: reveal.special,
                for_client,
            })
        {
            other.push((*kind, rows?));
        }
    }
    Ok(Dossier {
        details: ClientView {
            client,
            bsn_masked,
            assigned: store.assignees(id)?,
            consents: store.consents(id)?,
        },
        notes,
        disclosures: store.disclosures(id)?,
        household: store.household(id)?,
        contacts: store.contacts(id)?,
        goals: store.goals(id)?,
        actions: store.actions(id)?,
        evaluations,
        assessments: store.assessments(id)?,
        visits: store.visits(id)?,
        handovers: store.handovers(id)?,
        attachments: store.attachments(id)?,
        other,
        log: store.audit(Some(id))?,
    })
}

impl Session {
    /// The open dossiers (with `all`, closed ones too), by name.
    pub fn caseload(&mut self, all: bool) -> Result<Vec<CaseloadRow>> {
        self.change(|s| {
            // Two queries for all dossiers, not two per dossier.
            let mut assigned = s.assignees_by_client()?;
            let mut consents = s.consents_by_client()?;
            let rows = s
                .clients(all)?
                .into_iter()
                .map(|(c, notes, last_contact)| {
                    let (client, bsn_masked) = masked_client(c, false);
                    CaseloadRow {
                        assigned: assigned.remove(&client.id).unwrap_or_default(),
                        consents: consents.remove(&client.id).unwrap_or_default(),
                        client,
                        bsn_masked,
                        notes,
                        last_contact,
                    }
                })
                .collect();
            s.log(Action::View, None, "client list")?;
            Ok(rows)
        })
    }

    /// One client's details, assigned workers and consents; the BSN's digits only with
    /// `reveal_bsn` (logged).
    pub fn client(&mut self, id: &str, reveal_bsn: bool) -> Result<ClientView> {
        self.change(|s| {
            let (client, bsn_masked) = masked_client(s.client(id)?, reveal_bsn);
            let view = ClientView {
                client,
                bsn_masked,
                assigned: s.assignees(id)?,
                consents: s.consents(id)?,
            };
            s.log(Action::View, Some(id), "")?;
            if reveal_bsn {
                s.log(Action::RevealBsn, Some(id), "")?;
            }
            Ok(view)
        })
    }

    /// A whole dossier, for the dossier screen: every kind, the access log about it.
    pub fn dossier(&mut self, id: &str) -> Result<Dossier> {
        self.change(|s| {
            // Logged first, so the log it shows lists this view too.
            s.client(id)?;
            s.log(Action::View, Some(id), "dossier")?;
            read_dossier(s, id, Reveal::default(), false)
        })
    }

    /// The whole BSN of a client (logged).
    pub fn reveal_bsn(&mut self, client: &str, why: &str) -> Result<Option<Bsn>> {
        self.change(|s| {
            let bsn = s.client(client)?.bsn;
            s.log(Action::RevealBsn, Some(client), why)?;
            Ok(bsn)
        })
    }

    /// A special-category note with its text (logged).
    pub fn reveal_note(&mut self, note: &str) -> Result<Note> {
        self.change(|s| {
            let client = s.note_client(note)?;
            let n = s
                .notes(&client)?
                .into_iter()
                .find(|n| n.id == note)
                .ok_or_else(|| Error::NotFound {
                    what: t!("word.note").into_owned(),
                    id: note.to_owned(),
                })?;
            if n.special {
                s.log(
                    Action::RevealSpecial,
                    Some(&client),
                    &format!("note {note}"),
                )?;
            }
            Ok(n)
        })
    }

    /// With the privacy screen on: one item (a row, a dossier, a form, the note being
    /// written) shown in full on request. What it shows was handed out, and logged, when
    /// the screen read it; this entry says the privacy screen was lifted for it, and when.
    pub fn reveal_on_screen(&mut self, client: Option<&str>, what: &str) -> Result<()> {
        let detail = format!("privacy screen lifted: {what}");
        self.change(|s| {
            if let Some(c) = client {
                s.client(c)?;
            }
            s.log(Action::View, client, &detail).map(|_| ())
        })
    }

    /// A client's notes, newest contact first; the text of special ones only with
    /// `reveal` (each logged).
    pub fn notes(&mut self, client: &str, reveal: bool) -> Result<Vec<Note>> {
        self.change(|s| {
            let mut notes = s.notes(client)?;
            s.log(Action::View, Some(client), "notes")?;
            if reveal {
                for n in notes.iter().filter(|n| n.special) {
                    s.log(
                        Action::RevealSpecial,
                        Some(client),
                        &format!("note {}", n.id),
                    )?;
                }
            }
            mask_notes(&mut notes, reveal);
            Ok(notes)
        })
    }

    /// The note being written when the vault last locked (its text is about a client: the
    /// session logs a view of that dossier).
    pub fn draft(&mut self) -> Result<Option<crate::model::Draft>> {
        let Some(draft) = self.store.open_draft()? else {
            return Ok(None);
        };
        let client = draft.client_id.clone();
        self.change(|s| s.log(Action::View, Some(&client), "draft"))?;
        Ok(Some(draft))
    }

    /// The form being filled in when the vault last locked (its values are about a client:
    /// the session logs a view of that dossier).
    pub fn form_draft(&mut self) -> Result<Option<crate::model::FormDraft>> {
        let Some(draft) = self.store.open_form_draft()? else {
            return Ok(None);
        };
        if let Some(client) = draft.client_id.clone() {
            self.change(|s| s.log(Action::View, Some(&client), "form draft"))?;
        }
        Ok(Some(draft))
    }

    /// A dossier's records of one kind (household, network, scores, visits, files,
    /// consents...), in the order its list shows them.
    pub fn records<R: Record>(&mut self, client: &str) -> Result<Vec<R>> {
        let order = match R::KIND {
            Kind::Household => {
                "relation <> 'kind', coalesce(birth_date, ''), name COLLATE NOCASE, id"
            }
            Kind::Contact => "name COLLATE NOCASE, id",
            Kind::Goal => "domain, created_at, id",
            Kind::Action => "status = 'done', due IS NULL, due, created_at, id",
            Kind::Assessment => "domain, at, created_at, id",
            Kind::Visit => "at, id",
            Kind::Consent => "given_on DESC, id DESC",
            Kind::Disclosure => "at DESC, id DESC",
            _ => "created_at DESC, id DESC",
        };
        let view = view_detail(R::KIND);
        self.change(|s| {
            let rows: Vec<R> = s.rows(client, order)?;
            s.log(Action::View, Some(client), view)?;
            Ok(rows)
        })
    }

    /// A dossier's records of a kind shown by the generic code.
    pub fn generic_records(
        &mut self,
        kind: Kind,
        client: &str,
        reveal: bool,
    ) -> Result<Vec<GenericRecord>> {
        self.change(|s| {
            s.client(client)?;
            let rows = kind
                .visit(Generic {
                    store: s,
                    client,
                    reveal,
                    for_client: false,
                })
                .unwrap_or_else(|| Ok(Vec::new()))?;
            s.log(Action::View, Some(client), view_detail(kind))?;
            if reveal {
                for r in rows.iter().filter(|r| r.special) {
                    let detail = format!("{} {}", kind.spec().code, r.id);
                    s.log(Action::RevealSpecial, Some(client), &detail)?;
                }
            }
            Ok(rows)
        })
    }

    /// Adds a record of `kind` to a dossier from what was typed for its fields (name and
    /// text, each parsed by the field's input; a reference is resolved within this dossier).
    /// Who and when come from the session. Returns the new id.
    pub fn add_record(
        &mut self,
        kind: Kind,
        client: &str,
        typed: &[(String, String)],
        life_domains: &[String],
    ) -> Result<String> {
        // A meldcode step has its order to keep (step 5 after step 4, nothing after a
        // decision): it is added through its own workflow (`Store::add_meldcode_step`).
        if kind == Kind::MeldcodeStep {
            return Err(Error::invalid(
                crate::error::Field::Input(kind.spec().code),
                t!("val.own_workflow"),
            ));
        }
        struct Add<'a> {
            session: &'a mut Session,
            client: &'a str,
            typed: &'a [(String, String)],
            domains: &'a [String],
        }
        impl record::Visitor for Add<'_> {
            type Out = Result<String>;
            fn visit<R: Record>(self) -> Result<String> {
                let store = &self.session.store;
                let mut values = std::collections::BTreeMap::new();
                for (name, text) in self.typed {
                    let Some(field) = R::FIELDS.iter().find(|f| f.name == name.as_str()) else {
                        return Err(Error::invalid(
                            crate::error::Field::Input(R::KIND.spec().code),
                            t!("val.unknown_field", kind = R::KIND.spec().code)
                                + format!(": {name}").as_str(),
                        ));
                    };
                    let mut value = record::parse_input(field, text, self.domains)?;
                    if let (record::Input::Ref(target), Some(prefix)) =
                        (field.input, value.as_str())
                    {
                        let id = store.resolve_id(target, prefix)?;
                        if store.client_of(target, &id)? != self.client {
                            return Err(Error::invalid(
                                crate::error::Field::Input(field.name),
                                t!("val.other_dossier"),
                            ));
                        }
                        value = serde_json::Value::from(id);
                    }
                    values.insert(field.name, value);
                }
                let client = self.client;
                self.session.change(|s| {
                    let author = s.new_row_checks(client)?;
                    let r: R =
                        record::build(&crate::store::new_id(), client, &author, &s.now(), values)?;
                    s.put(&r, Action::Create)?;
                    Ok(r.id().to_owned())
                })
            }
        }
        kind.visit(Add {
            session: self,
            client,
            typed,
            domains: life_domains,
        })
        .unwrap_or_else(|| {
            Err(Error::invalid(
                crate::error::Field::Input(kind.spec().code),
                t!("val.not_entered"),
            ))
        })
    }

    /// The support plan: goals, actions and evaluations.
    pub fn plan(&mut self, client: &str) -> Result<Plan> {
        self.change(|s| {
            let mut evaluations = s.evaluations(client)?;
            for (_, n) in &mut evaluations {
                if let Some(n) = n {
                    mask_notes(std::slice::from_mut(n), false);
                }
            }
            let plan = Plan {
                goals: s.goals(client)?,
                actions: s.actions(client)?,
                evaluations,
            };
            s.log(Action::View, Some(client), "plan")?;
            Ok(plan)
        })
    }

    /// Full-text search in names and notes (special notes are never searched); each client
    /// found is logged, once until [`Session::forget_searches`].
    pub fn search(&mut self, fts_query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let seen = std::mem::take(&mut self.searched);
        let result = self.change(|s| {
            let hits = s.search(fts_query, limit)?;
            let clients: BTreeSet<String> = hits
                .iter()
                .map(|h| h.client_id.clone())
                .filter(|c| !seen.contains(c))
                .collect();
            for c in &clients {
                s.log(Action::Search, Some(c), "")?;
            }
            Ok((hits, clients))
        });
        self.searched = seen;
        let (hits, logged) = result?;
        self.searched.extend(logged);
        Ok(hits)
    }

    /// Starts counting searches anew (a new visit to the caseload): the next search logs
    /// every client it shows again.
    pub fn forget_searches(&mut self) {
        self.searched.clear();
    }

    /// Dossiers with a consent that is active and ends within `days` days (ids only, for a
    /// flag in the caseload: nothing to log).
    pub fn consents_ending(
        &self,
        today: NaiveDate,
        days: u64,
    ) -> Result<std::collections::HashSet<String>> {
        Ok(self
            .store
            .consents_expiring(today, days)?
            .into_iter()
            .map(|(c, _)| c.client_id)
            .collect())
    }

    /// What is coming up from `today` for `days` days (and what is overdue); each dossier
    /// on it is logged, since names and addresses are shown.
    pub fn agenda(&mut self, today: NaiveDate, days: u64) -> Result<Vec<AgendaItem>> {
        self.change(|s| {
            let items = s.agenda(today, days)?;
            let clients: BTreeSet<&str> = items.iter().map(|i| i.client_id.as_str()).collect();
            for c in clients {
                s.log(Action::View, Some(c), "agenda")?;
            }
            Ok(items)
        })
    }

    /// Open conflicts; each dossier shown is logged.
    pub fn conflicts(&mut self) -> Result<Vec<OpenConflict>> {
        self.change(|s| {
            let open = s.conflicts(None)?;
            let clients: BTreeSet<&str> = open.iter().map(|c| c.client_id.as_str()).collect();
            for c in clients {
                s.log(Action::View, Some(c), "conflicts")?;
            }
            Ok(open)
        })
    }

    /// The id of an open conflict's losing op, from a unique prefix.
    pub fn resolve_conflict(&self, prefix: &str) -> Result<String> {
        self.store.resolve_conflict_id(prefix)
    }

    /// Notes per month over the last `months` months (counts only: nothing to log).
    pub fn contacts_per_month(
        &self,
        client: &str,
        today: NaiveDate,
        months: u32,
    ) -> Result<Vec<(String, u64)>> {
        self.store.contacts_per_month(client, today, months)
    }

    /// How many conflicts are open (a number only: nothing to log).
    pub fn conflict_count(&self) -> Result<usize> {
        Ok(self.store.conflicts(None)?.len())
    }

    /// Closed dossiers and the day each is kept until, with their names (logged).
    pub fn retention(&mut self, today: NaiveDate, why: &str) -> Result<Vec<RetentionItem>> {
        self.change(|s| {
            let items = s.retention(today)?;
            s.log(Action::View, None, why)?;
            Ok(items)
        })
    }

    /// Closed dossiers and the day each is kept until, without their names (ids and dates
    /// are not dossier content: nothing is logged).
    pub fn retention_dates(&self, today: NaiveDate) -> Result<Vec<RetentionItem>> {
        let mut items = self.store.retention(today)?;
        for i in &mut items {
            i.name.clear();
        }
        Ok(items)
    }

    /// Everything kluis holds on a client, for the client's own report; logged as a report
    /// (and each revealed special note and BSN) before it is read, so the report lists its
    /// own making.
    pub fn report(&mut self, client: &str, reveal: Reveal, detail: &str) -> Result<Dossier> {
        self.change(|s| {
            s.client(client)?;
            s.log(Action::Report, Some(client), detail)?;
            if reveal.special {
                for n in s.notes(client)?.iter().filter(|n| n.special) {
                    s.log(
                        Action::RevealSpecial,
                        Some(client),
                        &format!("note {} in report", n.id),
                    )?;
                }
            }
            if reveal.bsn {
                s.log(Action::RevealBsn, Some(client), "report")?;
            }
            let mut d = read_dossier(s, client, reveal, true)?;
            // Special records of the generic kinds the report shows (a withheld one is not
            // shown, so not revealed): logged too, and the report's log lists them.
            let mut revealed = false;
            for (kind, rows) in &d.other {
                for r in rows.iter().filter(|r| r.special && !r.masked) {
                    let detail = format!("{} {} in report", kind.spec().code, r.id);
                    s.log(Action::RevealSpecial, Some(client), &detail)?;
                    revealed = true;
                }
            }
            if revealed {
                d.log = s.audit(Some(client))?;
            }
            Ok(d)
        })
    }

    /// One file's record and bytes, written out on purpose (logged with how).
    pub fn attachment_out(
        &mut self,
        id: &str,
        how: &str,
    ) -> Result<(Attachment, Zeroizing<Vec<u8>>)> {
        self.change(|s| {
            let a = s.attachment(id)?;
            let data = s
                .attachment_data(id)?
                .ok_or_else(|| Error::invalid("id", t!("depth.attachment_missing")))?;
            s.log(
                Action::View,
                Some(&a.client_id),
                &format!("attachment {id} written out ({how})"),
            )?;
            Ok((a, data))
        })
    }

    /// The consent a disclosure rests on, or why there is none (checked here, not by the
    /// caller: a disclosure without one is refused whoever asks).
    fn find_consent(&self, req: &DisclosureRequest) -> Result<Consent> {
        let refused = |reason: std::borrow::Cow<'_, str>| Error::Refused {
            reason: reason.into_owned(),
        };
        let state = |c: &Consent| t!(format!("consent.state.{}", c.state(req.today)));
        let all = self.store.consents(&req.client)?;
        if let Some(prefix) = &req.consent {
            let id = self.store.resolve_id(IdTable::Consent, prefix)?;
            let c = all
                .into_iter()
                .find(|c| c.id == id)
                .ok_or_else(|| refused(t!("disclose.consent_other_client", id = id)))?;
            if !c.covers(&req.org, &req.purpose) {
                return Err(refused(t!(
                    "disclose.consent_other_use",
                    id = c.id,
                    org = c.org,
                    purpose = c.purpose
                )));
            }
            if !c.is_active(req.today) {
                return Err(refused(t!(
                    "disclose.consent_inactive",
                    id = c.id,
                    state = state(&c)
                )));
            }
            return Ok(c);
        }
        let matching: Vec<&Consent> = all
            .iter()
            .filter(|c| c.covers(&req.org, &req.purpose))
            .collect();
        // With special notes asked for, an active consent that covers them first; newest
        // first among equals (max_by_key keeps the last maximum it sees).
        if let Some(c) = matching
            .iter()
            .filter(|c| c.is_active(req.today))
            .rev()
            .max_by_key(|c| req.include_special && c.special)
        {
            return Ok((*c).clone());
        }
        Err(refused(match matching.first() {
            Some(c) => t!("disclose.consent_inactive", id = c.id, state = state(c)),
            None => t!("disclose.no_consent", org = req.org, purpose = req.purpose),
        }))
    }

    /// Shares a report of exactly the consented (or legally grounded) scope with another
    /// organisation: checks the consent, renders the report, encrypts it to the
    /// organisation's key, records the disclosure (and logs every special note and a full
    /// BSN it carries), and only then puts the file at `out`. Returns the disclosure.
    pub fn disclose(&mut self, req: &DisclosureRequest, out: &Path) -> Result<Disclosure> {
        self.store.client(&req.client)?;
        let (consent, scope) = match &req.legal_ground {
            Some(_) => (None, req.legal_scope.unwrap_or(Scope::Details)),
            None => {
                let c = self.find_consent(req)?;
                if req.include_special && !c.special {
                    return Err(Error::Refused {
                        reason: t!("disclose.no_special_consent", id = c.id).into_owned(),
                    });
                }
                let scope = c.scope;
                (Some(c), scope)
            }
        };
        let locale = req.lang.code();
        let basis = match (&consent, &req.legal_ground) {
            (Some(c), _) => t!(
                "report.basis_consent_long",
                locale = locale,
                id = c.id,
                given = c.given_on
            ),
            (None, Some(g)) => t!("report.basis_legal", locale = locale, ground = g),
            (None, None) => unreachable!("a consent or a legal ground"),
        }
        .into_owned();
        let kind = crate::report::Kind::Disclosure {
            org: req.org.clone(),
            purpose: req.purpose.clone(),
            scope,
            basis,
            include_special: req.include_special,
        };
        let reveal = Reveal {
            bsn: req.show_bsn,
            special: req.include_special,
        };
        let contents = read_dossier(&self.store, &req.client, reveal, false)?;
        let special_ids = crate::report::special_note_ids(&contents, &kind);
        let doc = crate::report::render(
            &contents,
            &kind,
            req.format,
            req.lang,
            req.show_bsn,
            req.today,
        );
        drop(contents);
        let sealed = crate::vault::seal_to(std::slice::from_ref(&req.recipient), doc.as_bytes())?;
        drop(doc);
        // Written beside the target first and put in place only once the disclosure is
        // recorded: a file never exists without its record.
        let tmp = crate::vault::temp_path(out);
        crate::org::write_new(&tmp, &sealed)?;
        let disclosure = Disclosure {
            id: crate::store::new_id(),
            client_id: req.client.clone(),
            org: req.org.clone(),
            purpose: req.purpose.clone(),
            scope,
            consent_id: consent.map(|c| c.id),
            legal_ground: req.legal_ground.clone(),
            recipient: req.recipient.to_string(),
            file_sha256: crate::model::sha256_hex(&sealed),
            at: self.store.now(),
            by: self.store.user()?,
        };
        let client = &req.client;
        let recorded = self.change(|s| {
            s.record_disclosure(&disclosure)?;
            for id in &special_ids {
                s.log(
                    Action::RevealSpecial,
                    Some(client),
                    &format!("note {id} disclosed"),
                )?;
            }
            if req.show_bsn {
                s.log(Action::RevealBsn, Some(client), "disclosed")?;
            }
            Ok(())
        });
        match recorded {
            // Recorded in memory; the session saves it (NotWritten says so).
            Ok(()) | Err(Error::NotWritten { .. }) => {
                let placed = std::fs::hard_link(&tmp, out);
                let _ = std::fs::remove_file(&tmp);
                placed.map_err(|e| {
                    if e.kind() == std::io::ErrorKind::AlreadyExists {
                        Error::FileExists {
                            path: out.to_owned(),
                        }
                    } else {
                        Error::io(t!("io.write", path = out.display()).into_owned(), e)
                    }
                })?;
                recorded?;
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        }
        Ok(disclosure)
    }
}

/// What the access log says was viewed for a kind's list.
fn view_detail(kind: Kind) -> &'static str {
    match kind {
        Kind::Contact => "contacts",
        Kind::Assessment => "assessments",
        Kind::Visit => "visits",
        Kind::Attachment => "attachments",
        Kind::Consent => "consents",
        Kind::Disclosure => "disclosures",
        k => k.spec().code,
    }
}
