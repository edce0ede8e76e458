//! Saving what a form or the note editor checked, through the store's own methods inside
//! `Session::change` (one journal record each), then back to the dossier with the record
//! selected. A refusal is shown under the field it is about.

use chrono::NaiveDate;

use super::{App, Screen};
use crate::error::Error;
use crate::i18n::t;
use crate::model::record::{Cell, Kind, Record, Visitor};
use crate::model::{
    Assessment, Bsn, ClientPatch, Consent, Contact, Domain, Goal, HouseholdMember, NewClient,
    NewConsent, NewNote, PlanAction, Signal, Visit,
};
use crate::store::Store;
use crate::tui::nav::{FormKind, Tab};
use crate::tui::views::form::Output;
use crate::tui::views::masked;

/// Why a form could not be saved, and the field it is about (if one).
pub(super) struct Refused(pub(super) Option<String>, pub(super) String);

impl From<Error> for Refused {
    fn from(e: Error) -> Refused {
        match e {
            // The library names fields by code (`birth_date`, the form's own); a flag
            // (`--birth-date`) is mapped to the code it stands for.
            Error::Invalid { field, reason } => Refused(
                Some(field.name().trim_start_matches('-').replace('-', "_")),
                reason,
            ),
            other => Refused(None, other.to_string()),
        }
    }
}

fn row<R: Record>(out: &Output) -> Result<R, Refused> {
    out.row
        .as_deref()
        .and_then(R::from_cells)
        .ok_or_else(|| Refused(None, t!("tui.form_broken").into_owned()))
}

pub(super) fn day(c: &Cell) -> Option<NaiveDate> {
    c.text()?.parse().ok()
}

/// A kind the registry gained and that has no add method of its own: written whole.
struct Generic<'a> {
    store: &'a Store,
    out: &'a Output,
    editing: bool,
}

impl Visitor for Generic<'_> {
    type Out = Result<String, Refused>;
    fn visit<R: Record>(self) -> Self::Out {
        let r: R = row(self.out)?;
        if self.editing {
            self.store.edit_record(&r)?;
            Ok(r.id().to_owned())
        } else {
            Ok(self.store.add_record(&r)?)
        }
    }
}

/// Saves a record kind's form: the store's add method for it, or a changed row.
fn save_record(
    s: &Store,
    kind: Kind,
    client: &str,
    out: &Output,
    editing: bool,
) -> Result<String, Refused> {
    macro_rules! edit {
        ($t:ty) => {{
            let r: $t = row(out)?;
            s.edit_record(&r)?;
            return Ok(r.id.clone());
        }};
    }
    if editing {
        match kind {
            Kind::Household => edit!(HouseholdMember),
            Kind::Contact => edit!(Contact),
            Kind::Goal => edit!(Goal),
            Kind::Action => edit!(PlanAction),
            Kind::Assessment => edit!(Assessment),
            Kind::Visit => edit!(Visit),
            _ => {}
        }
    }
    Ok(match kind {
        Kind::Household => {
            let h: HouseholdMember = row(out)?;
            s.add_household(client, &h.name, h.relation, h.birth_date)?
        }
        Kind::Contact => s.add_contact(&row::<Contact>(out)?)?,
        Kind::Goal => {
            let g: Goal = row(out)?;
            s.add_goal(client, &g.domain, &g.text)?
        }
        Kind::Action => {
            let a: PlanAction = row(out)?;
            s.add_action(&a.goal_id, &a.text, &a.owner, a.due)?
        }
        Kind::Assessment => {
            let a: Assessment = row(out)?;
            s.add_assessment(client, &a.domain, a.score, &a.reason, a.at)?
        }
        Kind::Visit => {
            let v: Visit = row(out)?;
            let at = crate::model::parse_datetime("at", &v.at)?;
            s.add_visit(client, at, v.purpose.as_deref())?
        }
        Kind::Consent => {
            let c: Consent = row(out)?;
            if c.until.is_some_and(|u| u < c.given_on) {
                return Err(Refused(
                    Some("until".into()),
                    t!("val.until_before_given").into_owned(),
                ));
            }
            s.add_consent(&NewConsent {
                client_id: client.to_owned(),
                org: c.org,
                purpose: c.purpose,
                scope: c.scope,
                special: c.special,
                given_on: c.given_on,
                until: c.until,
                evidence: c.evidence,
            })?
        }
        // As `kluis meldcode signal`: step 1 of a meldcode.
        Kind::Signal => {
            let g: Signal = row(out)?;
            s.add_signal(client, g.observed_on, &g.text, g.special, g.withheld)?
        }
        other => other
            .visit(Generic {
                store: s,
                out,
                editing,
            })
            .unwrap_or_else(|| Err(Refused(None, t!("tui.form_broken").into_owned())))?,
    })
}

fn client_fields(
    out: &Output,
) -> Result<(String, Option<Bsn>, Option<NaiveDate>, Domain), Refused> {
    let name = out.text("name").unwrap_or_default().to_owned();
    let bsn = out.text("bsn").map(Bsn::parse).transpose()?;
    let birth = day(out.get("birth_date"));
    let domain = out
        .text("domain")
        .and_then(|d| d.parse().ok())
        .unwrap_or(Domain::Overig);
    Ok((name, bsn, birth, domain))
}

impl App {
    /// Saves the form on screen; back to its dossier when it is saved.
    pub(super) fn save_form(&mut self) {
        let Screen::Form(form) = &mut self.screen else {
            return;
        };
        let Some(out) = form.take_output() else {
            return;
        };
        let today = self.opts.now().date();
        let (kind, client, editing) = (form.kind, form.client.clone(), form.editing.clone());
        // A meldcode step's form changes its signal.
        let signal = editing.clone();
        if matches!(kind, FormKind::Attach | FormKind::Export) {
            return self.save_file(kind, client, editing, &out);
        }
        if matches!(kind, FormKind::ConsentForm | FormKind::Leaflet) {
            return self.save_document(kind, client, &out);
        }
        if kind == FormKind::Group {
            return self.save_group(client, &out);
        }
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let mut message = None;
        let saved = session.change(|s| {
            let id = match save(s, kind, client.as_deref(), editing.as_deref(), &out, today) {
                Ok(done) => done,
                Err(r) => return Ok(Err(r)),
            };
            s.discard_form_draft()?;
            Ok(Ok(id))
        });
        let saved = match saved {
            Ok(inner) => inner,
            // Saved in memory; written at the next change or when kluis closes.
            Err(e @ Error::NotWritten { .. }) => {
                message = Some(e.to_string());
                Ok(Saved::Nothing)
            }
            Err(e) => Err(Refused::from(e)),
        };
        match saved {
            Ok(done) => {
                self.changed = true;
                let (client, item) = match done {
                    Saved::Client(id) => (Some(id), None),
                    Saved::Record(id) => (client, Some(id)),
                    Saved::Nothing => (client, editing),
                };
                let mut said = message.unwrap_or_else(|| saved_what(kind));
                if let (FormKind::Meldcode(_), Some(c), Some(signal)) = (kind, &client, &signal)
                    && self.decision_contradicts(c, signal)
                {
                    said = t!("tui.meldcode_contradicts").into_owned();
                }
                self.message = Some(said);
                self.back_to(client.as_deref(), kind.tab(), item.as_deref());
            }
            Err(Refused(field, why)) => {
                if let Screen::Form(form) = &mut self.screen {
                    form.fail(field.as_deref(), why);
                }
            }
        }
    }

    /// Keeps a file in the dossier, or writes one out: the session reads and writes the
    /// file (the app never opens files itself).
    fn save_file(
        &mut self,
        kind: FormKind,
        client: Option<String>,
        editing: Option<String>,
        out: &Output,
    ) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let path = expand_home(out.text("path").unwrap_or_default());
        let done = match (kind, &client, &editing) {
            (FormKind::Attach, Some(c), _) => session
                .attach_file(c, out.text("title"), &path)
                .map(|id| (Some(id), t!("depth.attached", path = path.display()))),
            (FormKind::Export, _, Some(id)) => {
                let recipient = out
                    .text("recipient")
                    .map(|r| crate::model::parse_recipient("recipient", r))
                    .transpose();
                recipient
                    .and_then(|r| session.export_attachment(id, &path, r.as_ref()).map(|()| r))
                    .map(|r| {
                        let said = match r {
                            Some(_) => t!("tui.exported_sealed", path = path.display()),
                            None => t!("depth.attachment_plain", path = path.display()),
                        };
                        (Some(id.clone()), said)
                    })
            }
            _ => return,
        };
        let done = done.and_then(|d| session.change(|s| s.discard_form_draft()).map(|()| d));
        // A file's name can say whom it is about: the privacy screen masks it here too.
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let shown = |text: String| match (&name, self.privacy) {
            (Some(n), true) if !n.is_empty() => text.replace(n.as_str(), &masked()),
            _ => text,
        };
        match done {
            Ok((item, said)) => {
                self.changed = true;
                self.message = Some(shown(said.into_owned()));
                self.back_to(client.as_deref(), Tab::Files, item.as_deref());
            }
            Err(e) => {
                let Refused(field, why) = Refused::from(e);
                let why = shown(why);
                // The file's errors are about the path typed.
                let field = field.map(|f| if f == "FILE" { "path".to_owned() } else { f });
                if let Screen::Form(form) = &mut self.screen {
                    form.fail(field.as_deref().or(Some("path")), why);
                }
            }
        }
    }

    /// Writes a printable document to a new file, through the session (the app never
    /// opens files itself); an existing file is refused under the path, never replaced.
    fn save_document(&mut self, kind: FormKind, client: Option<String>, out: &Output) {
        let today = self.opts.now().date();
        let lang = self.opts.lang;
        let officer = self.opts.practice.privacy_officer.clone();
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let path = expand_home(out.text("path").unwrap_or_default());
        let done = match (kind, &client) {
            (FormKind::ConsentForm, Some(c)) => {
                let until = day(out.get("until"));
                if until.is_some_and(|u| u < today) {
                    if let Screen::Form(form) = &mut self.screen {
                        form.fail(Some("until"), t!("val.until_before_given").into_owned());
                    }
                    return;
                }
                let req = crate::session::ConsentFormRequest {
                    org: out.text("org").unwrap_or_default().to_owned(),
                    purpose: out.text("purpose").unwrap_or_default().to_owned(),
                    scope: out
                        .text("scope")
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(crate::model::Scope::Details),
                    special: matches!(out.get("special"), Cell::I(1)),
                    until,
                };
                session
                    .write_consent_form(c, &req, officer, today, lang, &path)
                    .map(|()| t!("tui.consent_form_written", path = path.display()))
            }
            (FormKind::Leaflet, _) => session
                .write_leaflet(officer, today, lang, &path)
                .map(|()| t!("tui.leaflet_written", path = path.display())),
            _ => return,
        };
        let done = done.and_then(|d| session.change(|s| s.discard_form_draft()).map(|()| d));
        // A file's name can say whom it is about: the privacy screen masks it here too.
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let shown = |text: String| match (&name, self.privacy) {
            (Some(n), true) if !n.is_empty() => text.replace(n.as_str(), &masked()),
            _ => text,
        };
        match done {
            Ok(said) => {
                self.message = Some(shown(said.into_owned()));
                self.back_to(client.as_deref(), kind.tab(), None);
            }
            Err(e) => {
                let Refused(field, why) = Refused::from(e);
                let why = shown(why);
                let field = field.filter(|f| f != "FILE");
                if let Screen::Form(form) = &mut self.screen {
                    form.fail(field.as_deref().or(Some("path")), why);
                }
            }
        }
    }

    /// Saves a note (and drops its draft); back to the dossier with it selected.
    pub(super) fn save_note(&mut self, note: NewNote) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let client = note.client_id.clone();
        let saved = session.change(|s| {
            let id = s.add_note(&note)?;
            s.discard_draft()?;
            Ok(id)
        });
        match saved {
            Ok(id) => {
                self.changed = true;
                self.message = Some(t!("tui.note_saved").into_owned());
                self.back_to(Some(&client), Tab::Overview, Some(&id));
            }
            // The note is in the vault (in memory) and will be written when the disk allows:
            // saving it again would make a second one.
            Err(e @ Error::NotWritten { .. }) => {
                self.changed = true;
                self.message = Some(e.to_string());
                self.back_to(Some(&client), Tab::Overview, None);
            }
            Err(e) => {
                if let Screen::Editor(ed) = &mut self.screen {
                    ed.fail(e.to_string());
                }
            }
        }
    }
}

/// "client saved", "goal saved": what a form saved, in words.
fn saved_what(kind: FormKind) -> String {
    let code = match kind {
        FormKind::Client => "client",
        FormKind::Record(k) => k.spec().code,
        FormKind::Evaluation => "evaluation",
        FormKind::ActionDone => "action",
        FormKind::Withdraw => "consent",
        FormKind::Meldcode(_) | FormKind::Withhold => "meldcode_step",
        FormKind::Group => "group_session",
        FormKind::ConsentForm | FormKind::Leaflet => "attachment",
        FormKind::Attach | FormKind::Export => "attachment",
    };
    t!("tui.saved", what = t!(format!("kind.{code}"))).into_owned()
}

/// `~/x` is the home folder's `x`, as in a shell.
fn expand_home(p: &str) -> std::path::PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::PathBuf::from(home).join(rest),
        _ => std::path::PathBuf::from(p),
    }
}

/// What a saved form made.
enum Saved {
    /// A client (new or changed).
    Client(String),
    /// A record, to select.
    Record(String),
    /// Nothing to select.
    Nothing,
}

/// Writes what a form checked; inside `Session::change`.
fn save(
    s: &Store,
    kind: FormKind,
    client: Option<&str>,
    editing: Option<&str>,
    out: &Output,
    today: NaiveDate,
) -> Result<Saved, Refused> {
    let client_id = client.unwrap_or_default();
    let id = editing.unwrap_or_default();
    Ok(match kind {
        FormKind::Client => {
            let (name, bsn, birth_date, domain) = client_fields(out)?;
            let (address, phone) = (
                out.text("address").map(str::to_owned),
                out.text("phone").map(str::to_owned),
            );
            match editing {
                None => Saved::Client(s.add_client(&NewClient {
                    name,
                    bsn,
                    birth_date,
                    address,
                    phone,
                    domain,
                    opened_on: today,
                })?),
                Some(id) => {
                    s.edit_client(
                        id,
                        &ClientPatch {
                            name: Some(name),
                            bsn: Some(bsn),
                            birth_date: Some(birth_date),
                            address: Some(address),
                            phone: Some(phone),
                            domain: Some(domain),
                        },
                    )?;
                    Saved::Client(id.to_owned())
                }
            }
        }
        FormKind::Record(k) => Saved::Record(save_record(s, k, client_id, out, editing.is_some())?),
        FormKind::Evaluation => {
            let goal = out.text("goal_id").unwrap_or_default();
            let text = out.text("text").unwrap_or_default();
            let at = crate::model::parse_datetime("at", out.text("at").unwrap_or_default())?;
            s.evaluate_goal(goal, text, at)?;
            Saved::Nothing
        }
        FormKind::ActionDone => {
            let on = day(out.get("done_on")).unwrap_or(today);
            s.action_done(id, on)?;
            Saved::Record(id.to_owned())
        }
        FormKind::Withdraw => {
            let on = day(out.get("withdrawn_on")).unwrap_or(today);
            s.withdraw_consent(id, on)?;
            Saved::Record(id.to_owned())
        }
        // As `kluis meldcode withhold`: a new version of the signal or step, so it travels.
        FormKind::Withhold => {
            let ground = out.text("withheld").and_then(|c| c.parse().ok());
            s.set_withheld(id, ground)?;
            Saved::Record(id.to_owned())
        }
        // As `kluis meldcode consult|talk|weigh|decide`: the store checks the order.
        FormKind::Meldcode(step) => {
            let flag = |name: &str| match out.get(name) {
                Cell::I(v) => Some(*v == 1),
                _ => None,
            };
            let new = crate::store::NewStep {
                signal_id: id.to_owned(),
                step,
                taken_on: day(out.get("taken_on")).unwrap_or(today),
                text: out.text("text").unwrap_or_default().to_owned(),
                consulted: out.text("consulted").and_then(|c| c.parse().ok()),
                report_needed: flag("report_needed"),
                help_possible: flag("help_possible"),
                decision: out.text("decision").and_then(|c| c.parse().ok()),
                next_by: day(out.get("next_by")),
                special: flag("special").unwrap_or(true),
                withheld: out.text("withheld").and_then(|c| c.parse().ok()),
            };
            if new.taken_on > today {
                return Err(Refused(
                    Some("taken_on".into()),
                    t!("val.note_in_future").into_owned(),
                ));
            }
            Saved::Record(s.add_meldcode_step(&new)?)
        }
        // Files come in and go out through the session (the app never opens files itself):
        // see `App::save_file` and `App::save_document`.
        // A group session too: see `App::save_group`.
        FormKind::Attach
        | FormKind::Export
        | FormKind::ConsentForm
        | FormKind::Leaflet
        | FormKind::Group => Saved::Nothing,
    })
}
