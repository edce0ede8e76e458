//! One client's dossier: its tabs (overview with the notes, plan, people, scores, files,
//! sharing, kinds shown by the generic code, the access log), what can be selected on each,
//! and the keys that add, change, correct, reveal or write out. The app loaded the dossier
//! through the session (which logged the view); every reveal asked for here is logged by
//! the app before anything more is shown.

use std::collections::{HashMap, HashSet};

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::Cursor;
use super::tabs::view;
use crate::i18n::t;
use crate::model::record::{Kind, Record};
use crate::model::{AuditEntry, Bsn, Note};
use crate::session::Dossier as Data;
use crate::tui::nav::{Ctx, FormKind, FormRequest, Nav, Reveal, Tab};

/// State of the dossier screen.
pub struct Dossier {
    /// What the session handed out: the BSN's digits only while shown (`b`, logged),
    /// special notes' text only while shown (`s`, logged).
    pub data: Data,
    /// Notes per month over the last year.
    pub per_month: Vec<(String, u64)>,
    /// The tab shown.
    pub tab: Tab,
    cursors: HashMap<Tab, Cursor>,
    /// The privacy screen: this dossier shown in full anyway (`r`, logged).
    pub revealed: bool,
    /// The whole BSN is shown.
    pub bsn_shown: bool,
    /// Special notes shown.
    pub special_shown: HashSet<String>,
    /// The list of what `a` can add here, while it is open.
    pub adding: Option<(Cursor, Vec<FormKind>)>,
}

impl Dossier {
    /// A dossier as the session read it, at `tab`, with `item` selected when it is there.
    pub fn new(data: Data, per_month: Vec<(String, u64)>, tab: Tab, item: Option<&str>) -> Self {
        let mut d = Dossier {
            data,
            per_month,
            tab,
            cursors: HashMap::new(),
            revealed: false,
            bsn_shown: false,
            special_shown: HashSet::new(),
            adding: None,
        };
        if let Some(id) = item {
            d.select(id);
        }
        d
    }

    /// The client shown.
    pub fn client_id(&self) -> &str {
        &self.data.details.client.id
    }

    /// The selection on the tab shown.
    pub fn cursor(&self) -> Option<&Cursor> {
        self.cursors.get(&self.tab)
    }

    /// Selects an item on the tab shown (a note a search found, a record just saved).
    pub fn select(&mut self, id: &str) {
        let at = self.items(self.tab).iter().position(|(_, i)| i == id);
        if let Some(at) = at {
            self.cursors.entry(self.tab).or_default().at = at;
        }
    }

    /// The items a person can select on a tab: (kind, id).
    pub fn items(&self, tab: Tab) -> Vec<(Kind, String)> {
        if tab == Tab::Overview {
            return self
                .data
                .notes
                .iter()
                .map(|n| (Kind::Note, n.id.clone()))
                .collect();
        }
        let ctx = Ctx {
            lang: crate::i18n::current(),
            privacy: false,
            now: chrono::NaiveDateTime::default(),
            life_domains: &[],
            lexicon: super::nudge::builtin(),
        };
        view(&self.data, tab, &ctx, true, 80).items
    }

    fn selected(&self) -> Option<(Kind, String)> {
        let at = self.cursor().map_or(0, |c| c.at);
        self.items(self.tab).get(at).cloned()
    }

    /// The whole BSN, as the session handed it out (logged).
    pub fn show_bsn(&mut self, bsn: Option<Bsn>) {
        self.bsn_shown = bsn.is_some();
        self.data.details.client.bsn = bsn;
    }

    /// A special note's text, as the session handed it out (logged).
    pub fn show_note(&mut self, note: Note) {
        if let Some(n) = self.data.notes.iter_mut().find(|n| n.id == note.id) {
            n.body = note.body;
            self.special_shown.insert(note.id);
        }
    }

    /// The access log after a reveal wrote to it.
    pub fn set_log(&mut self, log: Vec<AuditEntry>) {
        self.data.log = log;
    }

    fn hide_note(&mut self, id: &str) {
        use zeroize::Zeroize;
        if let Some(n) = self.data.notes.iter_mut().find(|n| n.id == id) {
            n.body.zeroize();
            n.body.clear();
        }
        self.special_shown.remove(id);
    }

    /// The goals, for a form that refers to one: (id, "domain: text").
    fn goal_refs(&self) -> Vec<(String, String)> {
        self.data
            .goals
            .iter()
            .map(|g| {
                (
                    g.id.clone(),
                    format!("{}: {}", super::life_domain(&g.domain), g.text),
                )
            })
            .collect()
    }

    /// What `a` adds on a tab.
    fn addable(&self) -> Vec<FormKind> {
        match self.tab {
            Tab::Plan => vec![
                FormKind::Record(Kind::Goal),
                FormKind::Record(Kind::Action),
                FormKind::Evaluation,
                FormKind::Record(Kind::Visit),
            ],
            Tab::People => vec![
                FormKind::Record(Kind::Household),
                FormKind::Record(Kind::Contact),
            ],
            Tab::Scores => vec![FormKind::Record(Kind::Assessment)],
            Tab::Files => vec![FormKind::Attach],
            Tab::Sharing => vec![FormKind::Record(Kind::Consent)],
            // A meldcode step or a group session's copy has a workflow of its own.
            Tab::Records => crate::tui::nav::generic_kinds()
                .into_iter()
                .filter(|k| k.typed_whole())
                .map(FormKind::Record)
                .collect(),
            Tab::Overview | Tab::Log => Vec::new(),
        }
    }

    /// A form to add a `kind` here, with the goal of what is selected for an action.
    fn add(&self, kind: FormKind) -> Nav {
        let mut req = FormRequest::new(kind, self.client_id());
        req.revealed = self.revealed;
        if kind == FormKind::Record(Kind::Signal) {
            // Meldcode records are special-category data unless the worker says otherwise,
            // as with `kluis meldcode signal`.
            req.values.push(("special".into(), "1".into()));
        }
        if matches!(kind, FormKind::Record(Kind::Action) | FormKind::Evaluation) {
            if self.data.goals.is_empty() {
                return Nav::Say(t!("tui.goal_first").into_owned());
            }
            req.refs = self.goal_refs();
            let goal = match self.selected() {
                Some((Kind::Goal, id)) => Some(id),
                Some((Kind::Action, id)) => self
                    .data
                    .actions
                    .iter()
                    .find(|a| a.id == id)
                    .map(|a| a.goal_id.clone()),
                _ => None,
            };
            if let Some(g) = goal.or_else(|| self.data.goals.first().map(|g| g.id.clone())) {
                req.values.push(("goal_id".into(), g));
            }
        }
        Nav::Form(Box::new(req))
    }

    /// A form to change the selected record.
    fn edit(&self, kind: Kind, id: &str) -> Nav {
        fn cells<R: Record>(rows: &[R], id: &str) -> Option<Vec<crate::model::record::Cell>> {
            rows.iter().find(|r| r.id() == id).map(Record::cells)
        }
        let d = &self.data;
        let cells = match kind {
            Kind::Household => cells(&d.household, id),
            Kind::Contact => cells(&d.contacts, id),
            Kind::Goal => cells(&d.goals, id),
            Kind::Action => cells(&d.actions, id),
            Kind::Assessment => cells(&d.assessments, id),
            Kind::Visit => cells(&d.visits, id),
            Kind::Attachment => return self.export(id),
            _ => None,
        };
        let Some(cells) = cells else {
            return Nav::Stay;
        };
        let mut req = FormRequest::new(FormKind::Record(kind), self.client_id());
        req.editing = Some(id.to_owned());
        req.cells = Some(cells);
        req.revealed = self.revealed;
        Nav::Form(Box::new(req))
    }

    /// Where to write a file out: the home folder, under its own name, to start with.
    fn export(&self, id: &str) -> Nav {
        let name = self
            .data
            .attachments
            .iter()
            .find(|a| a.id == id)
            .map(|a| format!("~/{}", a.filename))
            .unwrap_or_default();
        self.with(FormKind::Export, id, vec![("path".into(), name)])
    }

    /// A small form about one record (done on, withdrawn on, where to write a file).
    fn with(&self, kind: FormKind, id: &str, values: Vec<(String, String)>) -> Nav {
        let mut req = FormRequest::new(kind, self.client_id());
        req.editing = Some(id.to_owned());
        req.values = values;
        req.revealed = self.revealed;
        Nav::Form(Box::new(req))
    }

    /// Handles a key.
    pub fn handle(&mut self, key: KeyEvent, ctx: &Ctx) -> Nav {
        if let Some((cursor, kinds)) = &mut self.adding {
            if cursor.key(key.code, kinds.len()) {
                return Nav::Stay;
            }
            let chosen = kinds.get(cursor.at).copied();
            self.adding = None;
            return match (key.code, chosen) {
                (KeyCode::Enter, Some(k)) => self.add(k),
                _ => Nav::Stay,
            };
        }
        let len = self.items(self.tab).len();
        if self.cursors.entry(self.tab).or_default().key(key.code, len) {
            return Nav::Stay;
        }
        let selected = self.selected();
        let client = self.client_id().to_owned();
        match key.code {
            KeyCode::Tab => self.tab = self.tab.step(true),
            KeyCode::BackTab => self.tab = self.tab.step(false),
            KeyCode::Char(c @ '1'..='9') => {
                if let Some(t) = Tab::all().get(usize::from(c as u8 - b'1')) {
                    self.tab = *t;
                }
            }
            KeyCode::Esc | KeyCode::Backspace => return Nav::Caseload,
            KeyCode::Char('r') if ctx.privacy => {
                if self.revealed {
                    self.revealed = false;
                } else {
                    return Nav::Reveal(Reveal::OnScreen {
                        client: Some(client),
                        what: "dossier",
                    });
                }
            }
            KeyCode::Char('b') => {
                if self.bsn_shown {
                    self.show_bsn(None);
                } else if self.data.details.bsn_masked.is_some() {
                    return Nav::Reveal(Reveal::Bsn(client));
                }
            }
            KeyCode::Char('s') => {
                let special = self
                    .data
                    .notes
                    .iter()
                    .find(|n| Some(&n.id) == selected.as_ref().map(|(_, id)| id) && n.special)
                    .map(|n| n.id.clone());
                if let (Tab::Overview, Some(id)) = (self.tab, special) {
                    if self.special_shown.contains(&id) {
                        self.hide_note(&id);
                    } else {
                        return Nav::Reveal(Reveal::Special(id));
                    }
                }
            }
            KeyCode::Char('n') => {
                return Nav::Note {
                    client,
                    correct: None,
                };
            }
            KeyCode::Char('c') if self.tab == Tab::Overview => {
                return self.correct(selected.map(|(_, id)| id));
            }
            KeyCode::Char('e') => {
                return Nav::Form(Box::new(FormRequest {
                    editing: Some(client.clone()),
                    revealed: self.revealed,
                    ..FormRequest::new(FormKind::Client, &client)
                }));
            }
            KeyCode::Char('a') => {
                let kinds = self.addable();
                match kinds.len() {
                    0 if self.tab == Tab::Overview => {
                        return Nav::Note {
                            client,
                            correct: None,
                        };
                    }
                    0 => {
                        if self.tab == Tab::Records {
                            let how: Vec<String> = crate::tui::nav::generic_kinds()
                                .into_iter()
                                .map(super::tabs::workflow)
                                .collect();
                            return Nav::Say(how.join(" "));
                        }
                    }
                    1 => return self.add(kinds[0]),
                    _ => self.adding = Some((Cursor::default(), kinds)),
                }
            }
            KeyCode::Enter => {
                if let Some((kind, id)) = selected {
                    return self.edit(kind, &id);
                }
            }
            KeyCode::Char('d') => {
                if let Some((Kind::Action, id)) = selected {
                    let open = self
                        .data
                        .actions
                        .iter()
                        .any(|a| a.id == id && a.done_on.is_none());
                    if open {
                        return self.with(FormKind::ActionDone, &id, Vec::new());
                    }
                    return Nav::Say(t!("tui.action_was_done").into_owned());
                }
            }
            KeyCode::Char('x') => {
                if let Some((Kind::Consent, id)) = selected {
                    let active = self
                        .data
                        .details
                        .consents
                        .iter()
                        .any(|c| c.id == id && c.withdrawn_on.is_none());
                    if active {
                        return self.with(FormKind::Withdraw, &id, Vec::new());
                    }
                    return Nav::Say(t!("consent.already_withdrawn", id = id).into_owned());
                }
            }
            KeyCode::Char('o') => {
                if let Some((Kind::Attachment, id)) = selected {
                    return self.export(&id);
                }
            }
            KeyCode::Char('m') if self.tab == Tab::Records => return self.meldcode(selected),
            KeyCode::Char('w') if self.tab == Tab::Records => return self.withhold(selected),
            KeyCode::Char('f') if self.tab == Tab::Sharing => {
                let mut req = FormRequest::new(FormKind::ConsentForm, &client);
                req.revealed = self.revealed;
                return Nav::Form(Box::new(req));
            }
            KeyCode::Char('g') if self.tab == Tab::Records => {
                // This dossier's client takes part; the others are chosen from the caseload.
                let mut req = FormRequest::new(FormKind::Group, &client);
                req.values.push(("participants".into(), client.clone()));
                req.revealed = self.revealed;
                return Nav::Form(Box::new(req));
            }
            _ => {}
        }
        Nav::Stay
    }

    /// Whether the selected signal or step stays out of the client's own report, starting
    /// from its ground now.
    fn withhold(&self, selected: Option<(Kind, String)>) -> Nav {
        let Some((kind @ (Kind::Signal | Kind::MeldcodeStep), id)) = selected else {
            return Nav::Say(t!("tui.withhold_select").into_owned());
        };
        let now = self
            .data
            .other
            .iter()
            .filter(|(k, _)| *k == kind)
            .flat_map(|(_, rows)| rows)
            .find(|r| r.id == id)
            .and_then(|r| r.withheld.clone())
            .unwrap_or_default();
        self.with(FormKind::Withhold, &id, vec![("withheld".into(), now)])
    }

    /// The next step of the meldcode of the selected signal or step.
    fn meldcode(&self, selected: Option<(Kind, String)>) -> Nav {
        let signal = match selected {
            Some((Kind::Signal, id)) => Some(id),
            Some((Kind::MeldcodeStep, id)) => self
                .data
                .other
                .iter()
                .filter(|(k, _)| *k == Kind::MeldcodeStep)
                .flat_map(|(_, rows)| rows)
                .find(|r| r.id == id)
                .and_then(|r| r.fields.iter().find(|(f, _)| *f == "signal_id"))
                .map(|(_, v)| v.clone()),
            _ => None,
        };
        match signal {
            Some(signal) => Nav::Meldcode {
                client: self.client_id().to_owned(),
                signal,
                revealed: self.revealed,
            },
            None => Nav::Say(t!("tui.meldcode_select").into_owned()),
        }
    }

    /// Correct the newest version of the selected note.
    fn correct(&self, selected: Option<String>) -> Nav {
        let Some(mut target) = self
            .data
            .notes
            .iter()
            .find(|n| Some(&n.id) == selected.as_ref())
            .cloned()
        else {
            return Nav::Stay;
        };
        while let Some(next) = target
            .superseded_by
            .as_ref()
            .and_then(|id| self.data.notes.iter().find(|m| &m.id == id))
        {
            target = next.clone();
        }
        // Correcting shows the newest version's text: a hidden special note is shown (and
        // logged) with `s` first.
        if target.special && !self.special_shown.contains(&target.id) {
            return Nav::Say(t!("tui.special_show_first").into_owned());
        }
        Nav::Note {
            client: self.client_id().to_owned(),
            correct: Some(Box::new(target)),
        }
    }

    /// Its keys, for help.
    pub fn keys(&self) -> Vec<(&'static str, &'static str)> {
        let mut k = vec![
            ("↑ ↓ PgUp PgDn", "help.move"),
            ("1-9 Tab", "help.tabs"),
            ("n", "help.new_note"),
            ("a", "help.add"),
            ("Enter", "help.change"),
            ("e", "help.edit_client"),
        ];
        match self.tab {
            Tab::Overview => k.extend([("c", "help.correct"), ("s", "help.show_special")]),
            Tab::Plan => k.push(("d", "help.done")),
            Tab::Files => k.push(("o", "help.export")),
            Tab::Sharing => k.extend([("x", "help.withdraw"), ("f", "help.consent_form")]),
            Tab::Records => k.extend([
                ("m", "help.meldcode_step"),
                ("w", "help.withhold"),
                ("g", "help.group"),
            ]),
            _ => {}
        }
        k.extend([
            ("b", "help.show_bsn"),
            ("r", "help.reveal"),
            ("Esc", "help.back"),
        ]);
        k
    }
}
