//! Writing a note: kind, when, and multi-line text (ratatui-textarea). Ctrl-S saves; a
//! correction becomes a new note that supersedes the old one. Text is never lost on lock:
//! it goes into the vault's draft table and comes back after unlocking.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui_textarea::TextArea;

use super::{error, selected};
use crate::i18n::t;
use crate::model::{self, Draft, NewNote, Note, NoteKind};
use crate::session::Session;
use crate::tui::app::{App, Outcome, Screen};
use crate::tui::views::dossier::Dossier;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Kind,
    At,
    Text,
}

/// State of the note editor.
pub struct NoteEditor {
    client_id: String,
    supersedes: Option<String>,
    kind: NoteKind,
    at: String,
    text: TextArea<'static>,
    focus: Field,
    error: Option<String>,
    confirm_discard: bool,
    /// Special-category data (Ctrl-B): the note is masked until revealed.
    special: bool,
}

impl NoteEditor {
    /// A new note for `client_id` (correcting `supersedes` when given).
    pub fn new(
        client_id: &str,
        supersedes: Option<String>,
        now: chrono::NaiveDateTime,
    ) -> NoteEditor {
        NoteEditor {
            client_id: client_id.to_owned(),
            supersedes,
            kind: NoteKind::Huisbezoek,
            at: now.format("%Y-%m-%d %H:%M").to_string(),
            text: TextArea::default(),
            focus: Field::Text,
            error: None,
            confirm_discard: false,
            special: false,
        }
    }

    /// Starts a correction from the note it corrects.
    pub fn prefill(&mut self, note: &Note) {
        self.kind = note.kind;
        self.at = note
            .occurred_at
            .replacen('T', " ", 1)
            .chars()
            .take(16)
            .collect();
        self.text = TextArea::new(note.body.lines().map(str::to_owned).collect());
        self.special = note.special;
    }

    /// Reopens a kept draft.
    pub fn from_draft(d: Draft) -> NoteEditor {
        let mut e = NoteEditor::new(
            &d.client_id,
            d.supersedes.clone(),
            chrono::NaiveDateTime::default(),
        );
        e.kind = d.kind;
        e.at = d.occurred_at.clone();
        e.text = TextArea::new(d.body.lines().map(str::to_owned).collect());
        e.special = d.special;
        e
    }

    /// The client the note is about.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    fn body(&self) -> String {
        self.text.lines().join("\n")
    }

    /// Keeps unsaved text in the vault (called on lock and quit).
    pub fn save_draft(&self, session: &mut Session) -> crate::Result<()> {
        if self.text.is_empty() || self.body().trim().is_empty() {
            return Ok(());
        }
        let draft = Draft {
            client_id: self.client_id.clone(),
            supersedes: self.supersedes.clone(),
            kind: self.kind,
            occurred_at: self.at.clone(),
            body: self.body(),
            special: self.special,
        };
        session.change(|s| s.save_draft(&draft))
    }

    fn back(app: &mut App, client_id: &str) -> Screen {
        match Dossier::open(app, client_id) {
            Some(d) => Screen::Dossier(d),
            None => Screen::Caseload(crate::tui::views::caseload::Caseload::back(app)),
        }
    }

    fn save(&mut self, app: &mut App) -> Option<Screen> {
        let occurred_at = match model::parse_datetime("--at", &self.at) {
            Ok(v) => v,
            Err(e) => {
                self.error = Some(e.to_string());
                self.focus = Field::At;
                return None;
            }
        };
        let body = match model::parse_note_body(&self.body()) {
            Ok(b) => b,
            Err(e) => {
                self.error = Some(e.to_string());
                return None;
            }
        };
        let session = app.session.as_mut()?;
        let note = NewNote {
            client_id: self.client_id.clone(),
            kind: self.kind,
            occurred_at,
            body,
            supersedes: self.supersedes.clone(),
            special: self.special,
        };
        match session.change(|s| {
            s.add_note(&note)?;
            s.discard_draft()
        }) {
            Ok(()) => {
                app.changed = true;
                app.message = Some(t!("tui.note_saved").into_owned());
                Some(Self::back(app, &self.client_id))
            }
            // The note is in the vault (in memory) and will be written when the disk allows:
            // saving it again would make a second one.
            Err(e @ crate::Error::NotWritten { .. }) => {
                app.changed = true;
                app.message = Some(e.to_string());
                Some(Self::back(app, &self.client_id))
            }
            Err(e) => {
                self.error = Some(e.to_string());
                None
            }
        }
    }

    /// Handles a key.
    pub fn handle(mut self, key: KeyEvent, app: &mut App) -> (Screen, Outcome) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('b') {
            self.special = !self.special;
            return (Screen::Editor(Box::new(self)), Outcome::None);
        }
        if ctrl && key.code == KeyCode::Char('s') {
            return match self.save(app) {
                Some(screen) => (screen, Outcome::None),
                None => (Screen::Editor(Box::new(self)), Outcome::None),
            };
        }
        if key.code == KeyCode::Esc {
            if self.body().trim().is_empty() || self.confirm_discard {
                if let Some(s) = app.session.as_mut() {
                    let _ = s.change(|st| st.discard_draft());
                }
                return (Self::back(app, &self.client_id), Outcome::None);
            }
            self.confirm_discard = true;
            self.error = Some(t!("tui.confirm_discard").into_owned());
            return (Screen::Editor(Box::new(self)), Outcome::None);
        }
        self.confirm_discard = false;
        match (self.focus, key.code) {
            (_, KeyCode::Tab) => {
                self.focus = match self.focus {
                    Field::Kind => Field::At,
                    Field::At => Field::Text,
                    Field::Text => Field::Kind,
                }
            }
            (_, KeyCode::BackTab) => {
                self.focus = match self.focus {
                    Field::Kind => Field::Text,
                    Field::At => Field::Kind,
                    Field::Text => Field::At,
                }
            }
            (Field::Kind, KeyCode::Left | KeyCode::Right | KeyCode::Char(' ')) => {
                let all = NoteKind::ALL;
                let i = all.iter().position(|k| *k == self.kind).unwrap_or(0);
                let next = if key.code == KeyCode::Left {
                    i + all.len() - 1
                } else {
                    i + 1
                };
                self.kind = all[next % all.len()];
            }
            (Field::At, KeyCode::Backspace) => {
                self.at.pop();
            }
            (Field::At, KeyCode::Char(c)) if !ctrl => self.at.push(c),
            (Field::Text, _) => {
                self.text.input(key);
            }
            _ => {}
        }
        (Screen::Editor(Box::new(self)), Outcome::None)
    }

    /// Draws the screen.
    pub fn draw(&self, _app: &App, frame: &mut Frame, area: Rect) {
        let mut title = if self.supersedes.is_some() {
            t!("tui.editor_correction")
        } else {
            t!("tui.editor_title")
        }
        .into_owned();
        if self.special {
            title.push_str(&format!(" · {}", t!("note.special")));
        }
        let block = Block::default().borders(Borders::ALL).title(title);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let [kind, at, text, err] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(2),
        ])
        .areas(inner);
        let focus = |f: Field| {
            if self.focus == f {
                selected()
            } else {
                Style::default()
            }
        };
        let kinds: Vec<String> = NoteKind::ALL
            .iter()
            .map(|k| {
                if *k == self.kind {
                    format!("[{k}]")
                } else {
                    k.to_string()
                }
            })
            .collect();
        frame.render_widget(
            Paragraph::new(format!("{:<12} {}", t!("tui.kind"), kinds.join("  ")))
                .style(focus(Field::Kind)),
            kind,
        );
        frame.render_widget(
            Paragraph::new(format!("{:<12} {}", t!("tui.when"), self.at)).style(focus(Field::At)),
            at,
        );
        let mut area_text = self.text.clone();
        area_text.set_block(
            Block::default()
                .borders(Borders::ALL)
                .title(t!("tui.text").into_owned())
                .border_style(focus(Field::Text)),
        );
        area_text.set_placeholder_text(t!("tui.text_placeholder").into_owned());
        frame.render_widget(&area_text, text);
        if let Some(e) = &self.error {
            frame.render_widget(Paragraph::new(e.as_str()).style(error()), err);
        }
    }
}
