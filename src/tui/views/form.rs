//! One form for every record: a client's details, a household member, a contact, a goal,
//! an action, an evaluation, a score, a visit, a consent, a file, and any kind the registry
//! gains. Fields come from [`fields`](super::fields); choices open a list; each value is
//! checked on saving and the reason shown under its field. What is typed survives a lock
//! (the app keeps it in the vault's draft table); Esc asks before throwing it away.

use std::cell::Cell as Shared;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::Cursor;
use super::fields::{FormField, default_cell, fields, specs};
use super::nudge::{Checked, Choice, Nudge};
use crate::i18n::t;
use crate::model::FormDraft;
use crate::model::record::Cell;
use crate::tui::nav::{Ctx, FormKind, FormRequest, Nav, Reveal};

mod draw;
mod group;

/// A form's checked values.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    /// Each field asked for, by name.
    pub values: Vec<(&'static str, Cell)>,
    /// For a record kind: the whole row (`id`, `client_id`, then every field in order),
    /// what the form asked for over what was stored (or defaults).
    pub row: Option<Vec<Cell>>,
    /// What was asked once per participant: (their dossier, field, cell).
    pub each: Vec<(String, &'static str, Cell)>,
}

impl Output {
    /// The cell of a field.
    pub fn get(&self, name: &str) -> &Cell {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(&Cell::N, |(_, c)| c)
    }

    /// The cell of a field asked for one participant.
    pub fn of(&self, client: &str, name: &str) -> &Cell {
        self.each
            .iter()
            .find(|(c, n, _)| c == client && *n == name)
            .map_or(&Cell::N, |(_, _, c)| c)
    }

    /// The text of a field, if any.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).text().filter(|t| !t.is_empty())
    }
}

/// State of a form.
pub struct Form {
    /// What it is for.
    pub kind: FormKind,
    /// The dossier (None: a new client).
    pub client: Option<String>,
    /// The record changed.
    pub editing: Option<String>,
    base: Option<Vec<crate::model::record::Cell>>,
    fields: Vec<FormField>,
    focus: usize,
    /// A choice list is open.
    picking: Option<Cursor>,
    dirty: bool,
    confirm_discard: bool,
    /// Why saving failed (beyond one field).
    error: Option<String>,
    /// The privacy screen: shown in full anyway (logged).
    revealed: bool,
    /// Checked values waiting for the app to save them.
    ready: Option<Output>,
    /// The first line drawn.
    scroll: Shared<usize>,
    /// The nudges' question before saving (issue 21), while it is asked.
    nudge: Option<Nudge>,
    /// Names no free text of this form should hold (a group session's participants).
    pub names: Vec<String>,
    /// Per-participant fields of participants no longer chosen, typed in (kept aside).
    stash: Vec<FormField>,
}

impl Form {
    /// A form as asked for.
    pub fn new(req: FormRequest, ctx: &Ctx) -> Form {
        let mut fields = fields(req.kind, req.cells.as_deref(), &req.refs, ctx);
        for (name, value) in &req.values {
            if let Some(f) = fields.iter_mut().find(|f| f.name == name) {
                f.set(value.clone());
            }
        }
        let mut form = Form {
            kind: req.kind,
            client: req.client,
            editing: req.editing,
            base: req.cells,
            fields,
            focus: 0,
            picking: None,
            dirty: false,
            confirm_discard: false,
            error: None,
            revealed: req.revealed,
            ready: None,
            scroll: Shared::new(0),
            nudge: None,
            names: Vec::new(),
            stash: Vec::new(),
        };
        form.follow_participants();
        form.restore_per_participant(&req.values);
        form
    }

    /// Marks a form restored from a draft: leaving it asks first.
    pub fn restored(mut self) -> Form {
        self.dirty = true;
        self
    }

    /// What to keep in the vault on lock and quit (nothing when nothing was typed).
    pub fn draft(&self) -> Option<FormDraft> {
        self.dirty.then(|| FormDraft {
            form: self.kind.code(),
            client_id: self.client.clone(),
            editing: self.editing.clone(),
            values: self
                .fields
                .iter()
                .map(|f| (Form::draft_name(f), f.value.clone()))
                .collect(),
        })
    }

    /// The checked values, once (after [`Nav::SaveForm`]).
    pub fn take_output(&mut self) -> Option<Output> {
        self.ready.take()
    }

    /// Saving failed: under the field it is about, or under the form.
    pub fn fail(&mut self, field: Option<&str>, why: String) {
        match field.and_then(|n| self.fields.iter().position(|f| f.name == n)) {
            Some(i) => {
                self.fields[i].error = Some(why);
                self.focus = i;
            }
            None => self.error = Some(why),
        }
    }

    /// Shown in full on the privacy screen (logged).
    pub fn revealed(&mut self) {
        self.revealed = true;
    }

    fn check(&mut self, ctx: &Ctx) -> Option<Output> {
        self.error = None;
        let mut values = Vec::new();
        let mut each = Vec::new();
        let mut first_bad = None;
        for (i, f) in self.fields.iter_mut().enumerate() {
            match f.check(ctx) {
                Ok(c) => {
                    f.error = None;
                    match &f.about {
                        Some(id) => each.push((id.clone(), f.name, c)),
                        None => values.push((f.name, c)),
                    }
                }
                Err(e) => {
                    f.error = Some(e);
                    first_bad.get_or_insert(i);
                }
            }
        }
        if let Some(i) = first_bad {
            self.focus = i;
            return None;
        }
        let row = match self.kind {
            FormKind::Record(kind) => {
                let specs = specs(kind);
                let mut row = self.base.clone().unwrap_or_else(|| {
                    let mut r = vec![Cell::T(String::new()), Cell::T(String::new())];
                    r.extend(specs.iter().map(default_cell));
                    r
                });
                if let Some(c) = &self.client {
                    row[1] = Cell::T(c.clone());
                }
                for (name, cell) in &values {
                    if let Some(i) = specs.iter().position(|s| s.name == *name) {
                        row[i + 2] = cell.clone();
                    }
                }
                Some(row)
            }
            _ => None,
        };
        Some(Output { values, row, each })
    }

    /// Whether the nudges' question is on screen.
    pub fn asking(&self) -> bool {
        self.nudge.is_some()
    }

    /// Checks the values; with `ask`, what the nudges find in its free texts is asked
    /// about first (nothing is blocked: keeping it as it is saves it).
    fn save(&mut self, ctx: &Ctx, ask: bool) -> Nav {
        self.ready = self.check(ctx);
        if self.ready.is_none() {
            return Nav::Stay;
        }
        if ask {
            // Each text with its own special mark and the names that do not belong in it
            // (the participants chosen, in a group session's summary).
            let slots = self.slots();
            let nudge = Nudge::check_each(&self.checked(&slots), ctx.lexicon);
            self.nudge = nudge;
            if self.nudge.is_some() {
                self.ready = None;
                return Nav::Stay;
            }
        }
        Nav::SaveForm
    }

    /// The texts as the nudges read them.
    fn checked<'a>(&'a self, slots: &'a [group::Slot]) -> Vec<Checked<'a>> {
        slots
            .iter()
            .map(|s| Checked {
                text: &self.fields[s.at].value,
                special: s.flag.is_some_and(|f| self.fields[f].value == "1"),
                can_mark: s.flag.is_some(),
                names: &s.names,
            })
            .collect()
    }

    fn nudge_key(&mut self, key: KeyEvent, ctx: &Ctx) -> Nav {
        let Some(choice) = self.nudge.as_ref().and_then(|n| n.key(key.code)) else {
            return Nav::Stay;
        };
        self.nudge = None;
        let slots = self.slots();
        match choice {
            Choice::Back => return Nav::Stay,
            Choice::Special => {
                // Only the texts that hold special-category words are marked.
                let marks: Vec<usize> = self
                    .checked(&slots)
                    .iter()
                    .zip(&slots)
                    .filter(|(c, _)| Nudge::would_mark(c, ctx.lexicon))
                    .filter_map(|(_, s)| s.flag)
                    .collect();
                for i in marks {
                    self.fields[i].set("1".into());
                }
            }
            Choice::Remove => {
                for s in &slots {
                    let out =
                        super::nudge::removed(&self.fields[s.at].value, &s.names, ctx.lexicon);
                    self.fields[s.at].set(out);
                }
            }
            Choice::Keep => {}
        }
        self.dirty = true;
        self.save(ctx, choice != Choice::Keep)
    }

    /// Handles a key.
    pub fn handle(&mut self, key: KeyEvent, ctx: &Ctx) -> Nav {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if self.nudge.is_some() {
            return self.nudge_key(key, ctx);
        }
        if self.picking.is_some() {
            self.pick_key(key);
            return Nav::Stay;
        }
        match key.code {
            KeyCode::Char('s') if ctrl => return self.save(ctx, true),
            KeyCode::Char('r') if ctrl && ctx.privacy => {
                if self.revealed {
                    self.revealed = false;
                    return Nav::Stay;
                }
                return Nav::Reveal(Reveal::OnScreen {
                    client: self.client.clone(),
                    what: "form",
                });
            }
            KeyCode::Esc => {
                if !self.dirty || self.confirm_discard {
                    return Nav::Discard {
                        form: true,
                        client: self.client.clone(),
                        tab: self.kind.tab(),
                    };
                }
                self.confirm_discard = true;
                self.error = Some(t!("tui.confirm_discard_form").into_owned());
                return Nav::Stay;
            }
            _ => {}
        }
        if self.confirm_discard {
            self.confirm_discard = false;
            self.error = None;
        }
        let n = self.fields.len();
        let f = &mut self.fields[self.focus];
        match key.code {
            KeyCode::Tab | KeyCode::Down => self.focus = (self.focus + 1) % n,
            KeyCode::BackTab | KeyCode::Up => self.focus = (self.focus + n - 1) % n,
            KeyCode::Enter | KeyCode::Char(' ') if f.picked() => {
                if f.input == crate::model::record::Input::Flag {
                    let on = f.value == "1";
                    f.set(if on { "0" } else { "1" }.into());
                    self.dirty = true;
                } else if !f.choices.is_empty() {
                    let at = f.choices.iter().position(|(v, _)| *v == f.value);
                    self.picking = Some(Cursor {
                        at: at.unwrap_or(0),
                        ..Cursor::default()
                    });
                }
            }
            KeyCode::Enter => self.focus = (self.focus + 1) % n,
            KeyCode::Left | KeyCode::Right if f.picked() && !f.multi && !f.choices.is_empty() => {
                let len = f.choices.len();
                let at = f.choices.iter().position(|(v, _)| *v == f.value);
                let next = match (at, key.code) {
                    (None, _) => 0,
                    (Some(i), KeyCode::Left) => (i + len - 1) % len,
                    (Some(i), _) => (i + 1) % len,
                };
                f.set(f.choices[next].0.clone());
                f.error = None;
                self.dirty = true;
            }
            KeyCode::Char(c) if f.picked() && !f.multi && !ctrl => {
                // A letter or digit jumps to the next choice that starts with it.
                let c = c.to_lowercase().to_string();
                let len = f.choices.len();
                let at = f.choices.iter().position(|(v, _)| *v == f.value);
                let start = at.map_or(0, |i| i + 1);
                if let Some(i) = (0..len)
                    .map(|k| (start + k) % len)
                    .find(|i| f.choices[*i].1.to_lowercase().starts_with(&c))
                {
                    f.set(f.choices[i].0.clone());
                    f.error = None;
                    self.dirty = true;
                }
            }
            _ if f.picked() => {}
            KeyCode::Left => f.cursor = f.cursor.saturating_sub(1),
            KeyCode::Right => f.cursor = (f.cursor + 1).min(f.value.chars().count()),
            KeyCode::Home => f.cursor = 0,
            KeyCode::End => f.cursor = f.value.chars().count(),
            KeyCode::Char('u') if ctrl => {
                f.set(String::new());
                self.dirty = true;
            }
            KeyCode::Backspace if f.cursor > 0 => {
                let at = byte_at(&f.value, f.cursor - 1);
                f.value.remove(at);
                f.cursor -= 1;
                f.error = None;
                self.dirty = true;
            }
            KeyCode::Delete if f.cursor < f.value.chars().count() => {
                let at = byte_at(&f.value, f.cursor);
                f.value.remove(at);
                self.dirty = true;
            }
            KeyCode::Char(c) if !ctrl => {
                let at = byte_at(&f.value, f.cursor);
                f.value.insert(at, c);
                f.cursor += 1;
                f.error = None;
                self.dirty = true;
            }
            _ => {}
        }
        Nav::Stay
    }

    fn pick_key(&mut self, key: KeyEvent) {
        let f = &mut self.fields[self.focus];
        let Some(cursor) = self.picking.as_mut() else {
            return;
        };
        if cursor.key(key.code, f.choices.len()) {
            return;
        }
        match key.code {
            // One of many: chosen or not, and the list stays open until Esc.
            KeyCode::Enter | KeyCode::Char(' ') if f.multi => {
                if let Some((v, _)) = f.choices.get(cursor.at).cloned() {
                    f.toggle(&v);
                    f.error = None;
                    self.dirty = true;
                    self.follow_participants();
                }
            }
            KeyCode::Enter | KeyCode::Char(' ') => {
                if let Some((v, _)) = f.choices.get(cursor.at) {
                    f.set(v.clone());
                    f.error = None;
                    self.dirty = true;
                }
                self.picking = None;
            }
            KeyCode::Esc => self.picking = None,
            _ => {}
        }
    }

    /// A paste goes into the field with the cursor (one line, but for a text).
    pub fn paste(&mut self, text: &str) {
        if self.nudge.is_some() {
            return;
        }
        let f = &mut self.fields[self.focus];
        if f.picked() {
            return;
        }
        let text = if f.input == crate::model::record::Input::Text {
            text.replace("\r\n", "\n")
        } else {
            text.replace(['\r', '\n'], " ")
        };
        let at = byte_at(&f.value, f.cursor);
        f.value.insert_str(at, &text);
        f.cursor += text.chars().count();
        f.error = None;
        self.dirty = true;
    }

    /// Its keys, for help.
    pub fn keys(&self) -> Vec<(&'static str, &'static str)> {
        if self.nudge.is_some() {
            return super::editor::nudge_keys();
        }
        vec![
            ("Tab ↓ ↑", "help.next_field"),
            ("Enter", "help.pick"),
            ("← →", "help.choice"),
            ("Ctrl-S", "help.save"),
            ("Ctrl-R", "help.reveal"),
            ("Esc", "help.cancel"),
        ]
    }
}

/// The byte index of the `chars`-th character.
fn byte_at(s: &str, chars: usize) -> usize {
    s.char_indices().nth(chars).map_or(s.len(), |(i, _)| i)
}
