//! Doing what a screen asked for: opening the vault, reading what the next screen shows
//! through the session (which logs it) and switching, revealing on request (logged). A read
//! that fails is shown: in the status bar when the screen cannot open, in the list when a
//! list cannot be read; never as an empty screen.

use std::collections::HashSet;

use super::{App, Outcome, Screen};
use crate::i18n::t;
use crate::model::record::{Kind, Record, Visitor};
use crate::model::{Draft, FormDraft};
use crate::session::{Access, Session};
use crate::tui::nav::{FormKind, FormRequest, Nav, Reveal, Tab};
use crate::tui::views::{
    agenda::Agenda, caseload::Caseload, conflicts::Conflicts, dossier::Dossier, editor::NoteEditor,
    form::Form,
};

impl App {
    /// Performs what a screen asked for.
    pub(super) fn go(&mut self, nav: Nav) -> Outcome {
        match nav {
            Nav::Stay => {}
            Nav::Busy => return Outcome::Busy,
            Nav::Lock => return Outcome::Lock,
            Nav::Quit => return Outcome::Quit,
            Nav::Say(m) => self.message = Some(m),
            Nav::Unlock(pass) => self.unlock(&pass),
            Nav::Create(pass) => {
                let owner = crate::session::default_owner();
                let made = Session::create(&self.opts.path, &pass, self.opts.kdf, &[], &owner);
                self.entered(made);
            }
            Nav::Enroll { file, code, pass } => {
                let made = crate::sync::create_from_enrollment_file(
                    &self.opts.path,
                    &file,
                    &code,
                    &pass,
                    self.opts.kdf,
                );
                self.entered(made);
            }
            Nav::Caseload => self.screen = Screen::Caseload(Box::new(self.caseload_back())),
            Nav::ReloadCaseload { all } => {
                let fresh = self.load_caseload(all);
                if let Screen::Caseload(c) = &mut self.screen {
                    c.refresh(fresh);
                }
            }
            Nav::Search(q) => self.search(&q),
            Nav::Dossier { client, tab, item } => {
                if let Some(d) = self.open_dossier(&client, tab, item.as_deref()) {
                    self.switch(Screen::Dossier(Box::new(d)));
                }
            }
            Nav::Agenda => {
                let agenda = self.load_agenda();
                self.switch(Screen::Agenda(agenda));
            }
            Nav::Unassign(client) => self.unassign(&client),
            Nav::Meldcode {
                client,
                signal,
                revealed,
            } => self.meldcode_step(&client, &signal, revealed),
            Nav::Conflicts => {
                let list = self.load_conflicts();
                self.switch(Screen::Conflicts(Conflicts::new(list)));
            }
            Nav::Note { client, correct } => {
                let ctx = self.ctx();
                let mut editor =
                    NoteEditor::new(&client, correct.as_ref().map(|n| n.id.clone()), &ctx);
                if let Some(n) = &correct {
                    editor.prefill(n, &ctx);
                }
                if matches!(&self.screen, Screen::Dossier(d) if d.revealed) {
                    editor.revealed();
                }
                self.screen = Screen::Editor(Box::new(editor));
            }
            Nav::Form(req) => self.open_form(*req),
            Nav::SaveForm => self.save_form(),
            Nav::SaveNote(n) => self.save_note(n.note),
            Nav::Discard { form, client, tab } => {
                if let Some(s) = self.session.as_mut() {
                    let dropped = s.change(|st| {
                        if form {
                            st.discard_form_draft()
                        } else {
                            st.discard_draft()
                        }
                    });
                    if let Err(e) = dropped {
                        self.message = Some(e.to_string());
                    }
                }
                self.back_to(client.as_deref(), tab, None);
            }
            Nav::Reveal(r) => self.reveal(r),
            Nav::Settle { loser, take_other } => self.settle(&loser, take_other),
        }
        Outcome::None
    }

    fn unlock(&mut self, pass: &crate::secret::SecretString) {
        let opened = if self.held_lock.is_some() {
            Session::open_holding(&self.opts.path, pass, &mut self.held_lock)
        } else {
            Session::open(&self.opts.path, pass, Access::Write)
        };
        let opened = opened.and_then(|s| {
            if s.must_change_passphrase()? {
                self.held_lock = s.close_keep_lock().ok();
                return Err(crate::Error::MustChangePassphrase);
            }
            Ok(s)
        });
        self.entered(opened);
    }

    /// After a vault opened or was made: in; or why not, on the screen that tried.
    fn entered(&mut self, opened: crate::Result<Session>) {
        match opened {
            Ok(session) => self.screen = self.enter(session),
            Err(e) => match &mut self.screen {
                Screen::Unlock(u) => u.fail(e.to_string()),
                Screen::FirstRun(f) => {
                    let file = matches!(e, crate::Error::Io { .. });
                    f.fail(e.to_string(), file)
                }
                _ => self.message = Some(e.to_string()),
            },
        }
    }

    /// After a successful unlock: a kept note or form, else back to where the user was,
    /// else the day's agenda when something is on it, else the caseload.
    pub fn enter(&mut self, mut session: Session) -> Screen {
        // Configured like every session (the unlock goes into the access log with the
        // first thing shown).
        session.apply(&crate::session::Setup {
            via: "tui",
            clock: self.opts.clock,
            ..self.opts.setup.clone()
        });
        self.session = Some(session);
        let resume = std::mem::take(&mut self.resume);
        match self.session.as_mut().map(Session::draft).transpose() {
            Ok(Some(Some(draft))) => return self.restore_note(draft),
            Ok(_) => {}
            Err(e) => self.message = Some(e.to_string()),
        }
        match self.session.as_mut().map(Session::form_draft).transpose() {
            Ok(Some(Some(draft))) => match self.restore_form(draft) {
                Some(screen) => return screen,
                // What it changed is gone (an erased dossier, say): nothing to come back to.
                None if self.message.is_none() => {
                    if let Some(Err(e)) = self
                        .session
                        .as_mut()
                        .map(|s| s.change(|st| st.discard_form_draft()))
                    {
                        self.message = Some(e.to_string());
                    }
                }
                None => {}
            },
            Ok(_) => {}
            Err(e) => self.message = Some(e.to_string()),
        }
        if let Some(id) = resume.client {
            let tab = Tab::all().get(resume.tab).copied().unwrap_or_default();
            if let Some(d) = self.open_dossier(&id, tab, None) {
                return Screen::Dossier(Box::new(d));
            }
        }
        // A field day starts on today: who, where, what is due (the access review waits
        // for the worker to open the agenda: it is never due today).
        let today = self.load_agenda();
        if today.due() {
            return Screen::Agenda(today);
        }
        Screen::Caseload(Box::new(self.load_caseload(false)))
    }

    fn restore_note(&mut self, draft: Draft) -> Screen {
        self.message = Some(t!("tui.draft_restored").into_owned());
        let ctx = self.ctx();
        Screen::Editor(Box::new(NoteEditor::from_draft(draft, &ctx)))
    }

    /// A form kept at the last lock, with what it needs read again (the record it
    /// changes, the goals it may refer to); None when that is gone.
    fn restore_form(&mut self, draft: FormDraft) -> Option<Screen> {
        let kind = FormKind::from_code(&draft.form)?;
        let refs = if kind == FormKind::Group {
            self.participants()?
        } else {
            Vec::new()
        };
        let session = self.session.as_mut()?;
        let mut req = FormRequest {
            kind,
            client: draft.client_id.clone(),
            editing: draft.editing.clone(),
            cells: None,
            values: draft.values,
            refs,
            revealed: false,
        };
        if let (FormKind::Record(k), Some(client), Some(id)) =
            (kind, &draft.client_id, &draft.editing)
        {
            struct Stored<'a> {
                session: &'a mut Session,
                client: &'a str,
                id: &'a str,
            }
            impl Visitor for Stored<'_> {
                type Out = crate::Result<Option<Vec<crate::model::record::Cell>>>;
                fn visit<R: Record>(self) -> Self::Out {
                    let rows: Vec<R> = self.session.records(self.client)?;
                    Ok(rows.iter().find(|r| r.id() == self.id).map(Record::cells))
                }
            }
            match k.visit(Stored {
                session,
                client,
                id,
            }) {
                Some(Ok(Some(cells))) => req.cells = Some(cells),
                Some(Err(e)) => {
                    self.message = Some(e.to_string());
                    return None;
                }
                _ => return None,
            }
        }
        if matches!(kind, FormKind::Record(Kind::Action) | FormKind::Evaluation)
            && let Some(client) = &draft.client_id
        {
            let goals: Vec<crate::model::Goal> = match session.records(client) {
                Ok(g) => g,
                Err(e) => {
                    self.message = Some(e.to_string());
                    return None;
                }
            };
            req.refs = goals
                .into_iter()
                .map(|g| {
                    let label =
                        format!("{}: {}", crate::tui::views::life_domain(&g.domain), g.text);
                    (g.id, label)
                })
                .collect();
        }
        self.message = Some(t!("tui.form_restored").into_owned());
        let ctx = self.ctx();
        Some(Screen::Form(Box::new(Form::new(req, &ctx).restored())))
    }

    /// Switches to a screen opened from the caseload, keeping the caseload to come back to.
    fn switch(&mut self, next: Screen) {
        let before = std::mem::replace(&mut self.screen, next);
        if let Screen::Caseload(c) = before {
            self.parked = Some(c);
        }
    }

    /// The caseload as the session reads it now.
    pub(super) fn load_caseload(&mut self, all: bool) -> Caseload {
        let today = self.opts.now().date();
        let Some(s) = self.session.as_mut() else {
            return Caseload::new(Ok(Vec::new()), all, Ok(0), HashSet::new());
        };
        s.forget_searches();
        let rows = s.caseload(all).map_err(|e| e.to_string());
        let conflicts = s.conflict_count().map_err(|e| e.to_string());
        let expiring = match s.consents_ending(today, 30) {
            Ok(e) => e,
            Err(e) => {
                self.message = Some(e.to_string());
                HashSet::new()
            }
        };
        Caseload::new(rows, all, conflicts, expiring)
    }

    /// Back to the caseload as it was left (read again when something changed).
    fn caseload_back(&mut self) -> Caseload {
        match self.parked.take() {
            Some(mut c) => {
                if let Some(s) = self.session.as_mut() {
                    s.forget_searches();
                }
                if std::mem::take(&mut self.changed) {
                    let fresh = self.load_caseload(c.all());
                    c.refresh(fresh);
                }
                *c
            }
            None => self.load_caseload(false),
        }
    }

    fn search(&mut self, query: &str) {
        // Each client a search shows is logged once per visit to the caseload (the session
        // keeps count), so typing does not fill the log with the same names.
        let found = match (crate::model::fts_query(query), self.session.as_mut()) {
            (Some(q), Some(s)) => s.search(&q, 50).map_err(|e| e.to_string()),
            _ => Ok(Vec::new()),
        };
        if let Screen::Caseload(c) = &mut self.screen {
            c.found(found);
        }
    }

    /// A dossier through the session (which logs the view); None when it cannot be read,
    /// with the reason in the status bar.
    pub(super) fn open_dossier(
        &mut self,
        id: &str,
        tab: Tab,
        item: Option<&str>,
    ) -> Option<Dossier> {
        let today = self.opts.now().date();
        let session = self.session.as_mut()?;
        let loaded = session.dossier(id).and_then(|d| {
            let per_month = session.contacts_per_month(id, today, 12)?;
            Ok((d, per_month))
        });
        match loaded {
            Ok((d, per_month)) => {
                let mut dossier = Dossier::new(d, per_month, tab, item);
                // A privacy reveal holds while the same dossier stays open.
                if let Screen::Dossier(old) = &self.screen
                    && old.client_id() == id
                {
                    dossier.revealed = old.revealed;
                }
                Some(dossier)
            }
            Err(e) => {
                self.message = Some(e.to_string());
                None
            }
        }
    }

    /// Back to a dossier (read again) at `tab` with `item` selected, or to the caseload.
    pub(super) fn back_to(&mut self, client: Option<&str>, tab: Tab, item: Option<&str>) {
        let d = client.and_then(|c| self.open_dossier(c, tab, item));
        self.screen = match d {
            Some(d) => Screen::Dossier(Box::new(d)),
            None => Screen::Caseload(Box::new(self.caseload_back())),
        };
    }

    /// Today's agenda with the reminders of daily practice, in the command line's order.
    fn load_agenda(&mut self) -> Agenda {
        let today = self.opts.now().date();
        let months = self.opts.practice.review_months;
        Agenda::new(match self.session.as_mut() {
            Some(s) => s
                .agenda(today, 0)
                .and_then(|mut items| {
                    items.extend(s.reminders(today, 0, months)?);
                    items.sort_by(|a, b| {
                        (a.date, &a.time, a.kind, &a.id).cmp(&(b.date, &b.time, b.kind, &b.id))
                    });
                    Ok(items)
                })
                .map_err(|e| e.to_string()),
            None => Ok(Vec::new()),
        })
    }

    /// Opens the form of a meldcode's next step, read through the session (which logs it);
    /// a decided meldcode has none, and says so.
    fn meldcode_step(&mut self, client: &str, signal: &str, revealed: bool) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let next = session.meldcodes(client, false).map(|list| {
            list.into_iter()
                .find(|t| t.signal.id == signal)
                .and_then(|t| t.next_step())
        });
        match next {
            Ok(Some(step)) => {
                let mut req = FormRequest::new(FormKind::Meldcode(step), client);
                req.editing = Some(signal.to_owned());
                req.revealed = revealed;
                self.open_form(req);
            }
            Ok(None) => self.message = Some(t!("tui.meldcode_decided").into_owned()),
            Err(e) => self.message = Some(e.to_string()),
        }
    }

    /// Unassigns the worker from a dossier of the access review; the session refuses the
    /// last active assignee, and its reason is shown. The agenda is read again.
    fn unassign(&mut self, client: &str) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        self.message = Some(match session.unassign_me(client) {
            Ok(true) => {
                self.changed = true;
                t!("access.unassigned", id = client).into_owned()
            }
            Ok(false) => t!("access.was_not_assigned", id = client).into_owned(),
            // A personal vault has no colleague to hand a dossier to: say what to do instead.
            Err(crate::Error::NotEnrolled { .. }) => t!("access.personal").into_owned(),
            Err(e) => e.to_string(),
        });
        let agenda = self.load_agenda();
        if let Screen::Agenda(a) = &mut self.screen {
            *a = agenda;
        }
    }

    fn load_conflicts(&mut self) -> crate::tui::views::Loaded<crate::store::OpenConflict> {
        // The screen shows these dossiers' values: the session logs a view of each.
        match self.session.as_mut() {
            Some(s) => s.conflicts().map_err(|e| e.to_string()),
            None => Ok(Vec::new()),
        }
    }

    fn settle(&mut self, loser: &str, take_other: bool) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        self.message = Some(
            match session.change(|s| s.resolve_conflict(loser, take_other)) {
                Ok(()) if take_other => t!("tui.conflict_chosen").into_owned(),
                Ok(()) => t!("tui.conflict_confirmed").into_owned(),
                Err(e) => e.to_string(),
            },
        );
        self.changed = true;
        let list = self.load_conflicts();
        if let Screen::Conflicts(c) = &mut self.screen {
            c.refresh(list);
        }
    }

    /// The open dossiers to choose a group session's participants from: (id, name).
    fn participants(&mut self) -> Option<Vec<(String, String)>> {
        let session = self.session.as_mut()?;
        match session.caseload(false) {
            Ok(rows) => Some(
                rows.into_iter()
                    .map(|r| (r.client.id, r.client.name))
                    .collect(),
            ),
            Err(e) => {
                self.message = Some(e.to_string());
                None
            }
        }
    }

    /// Opens a form; the client's own form shows the whole BSN to edit it, a reveal like
    /// `b` (logged).
    pub(super) fn open_form(&mut self, mut req: FormRequest) {
        if req.kind == FormKind::Group {
            let Some(refs) = self.participants() else {
                return;
            };
            req.refs = refs;
        }
        if let (FormKind::Client, Some(id)) = (req.kind, req.editing.clone()) {
            let Screen::Dossier(d) = &self.screen else {
                return;
            };
            let c = d.data.details.client.clone();
            let has_bsn = d.data.details.bsn_masked.is_some();
            let ctx = self.ctx();
            let date = |d: Option<chrono::NaiveDate>| {
                d.map(|d| crate::tui::views::date(ctx.lang, &d.to_string()))
                    .unwrap_or_default()
            };
            let mut values = vec![
                ("name".to_owned(), c.name.clone()),
                ("birth_date".to_owned(), date(c.birth_date)),
                ("domain".to_owned(), c.domain.code().to_owned()),
                ("address".to_owned(), c.address.clone().unwrap_or_default()),
                ("phone".to_owned(), c.phone.clone().unwrap_or_default()),
            ];
            if has_bsn {
                let Some(session) = self.session.as_mut() else {
                    return;
                };
                match session.reveal_bsn(&id, "edit form") {
                    Ok(b) => values.push((
                        "bsn".to_owned(),
                        b.map(|b| b.digits().to_owned()).unwrap_or_default(),
                    )),
                    Err(e) => {
                        self.message = Some(e.to_string());
                        return;
                    }
                }
            }
            req.values = values;
        }
        let ctx = self.ctx();
        let form = Form::new(req, &ctx);
        self.switch(Screen::Form(Box::new(form)));
    }

    /// Shows something in full once the session logged it; nothing when it could not.
    fn reveal(&mut self, r: Reveal) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let done = match &r {
            Reveal::Bsn(client) => session.reveal_bsn(client, "tui").map(|b| {
                if let Screen::Dossier(d) = &mut self.screen {
                    d.show_bsn(b);
                }
            }),
            Reveal::Special(note) => session.reveal_note(note).map(|n| {
                if let Screen::Dossier(d) = &mut self.screen {
                    d.show_note(n);
                }
            }),
            Reveal::OnScreen { client, what } => session
                .reveal_on_screen(client.as_deref(), what)
                .map(|()| match &mut self.screen {
                    Screen::Caseload(c) => c.revealed(client.as_deref().unwrap_or_default()),
                    Screen::Dossier(d) => d.revealed = true,
                    Screen::Agenda(a) => a.revealed(),
                    Screen::Conflicts(c) => c.revealed(),
                    Screen::Editor(e) => e.revealed(),
                    Screen::Form(f) => f.revealed(),
                    Screen::FirstRun(_) | Screen::Unlock(_) => {}
                }),
        };
        match done {
            Ok(()) => {
                // The dossier's log shows the reveal it just wrote.
                if let (Screen::Dossier(d), Some(s)) = (&mut self.screen, self.session.as_ref()) {
                    match s.audit(Some(d.client_id())) {
                        Ok(log) => d.set_log(log),
                        Err(e) => self.message = Some(e.to_string()),
                    }
                }
            }
            Err(e) => self.message = Some(e.to_string()),
        }
    }
}
