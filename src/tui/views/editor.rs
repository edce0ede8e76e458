//! Writing a note: kind, when, and text that wraps at words (ratatui-textarea). Ctrl-S saves;
//! a correction becomes a new note that supersedes the old one. Text is never lost on lock:
//! the app keeps it in the vault's draft table and it comes back after unlocking. A paste
//! of any length goes in whole.

use super::nudge::{Choice, Nudge};
use super::textbox::TextBox;
use super::{code_label, datetime, dim, error, masked, selected};
use crate::i18n::t;
use crate::model::{self, Draft, NewNote, Note, NoteKind};
use crate::tui::nav::{Ctx, Nav, NoteOut, Reveal, Tab};
use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

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
    text: TextBox,
    focus: Field,
    error: Option<String>,
    confirm_discard: bool,
    /// Special-category data (Ctrl-B): the note is masked until revealed.
    special: bool,
    /// The privacy screen: the text shown anyway (Ctrl-R, logged).
    revealed: bool,
    /// The nudges' question before saving (issue 21), while it is asked.
    nudge: Option<Nudge>,
}

impl NoteEditor {
    /// A new note for `client_id` (correcting `supersedes` when given), at `now`.
    pub fn new(client_id: &str, supersedes: Option<String>, ctx: &Ctx) -> NoteEditor {
        NoteEditor {
            client_id: client_id.to_owned(),
            supersedes,
            kind: NoteKind::Huisbezoek,
            at: datetime(ctx.lang, &model::format_datetime(ctx.now)),
            text: TextBox::new(""),
            focus: Field::Text,
            error: None,
            confirm_discard: false,
            special: false,
            revealed: false,
            nudge: None,
        }
    }

    /// Starts a correction from the note it corrects.
    pub fn prefill(&mut self, note: &Note, ctx: &Ctx) {
        self.kind = note.kind;
        self.at = datetime(ctx.lang, &note.occurred_at);
        self.text = TextBox::new(&note.body);
        self.special = note.special;
    }

    /// Reopens a kept draft.
    pub fn from_draft(d: Draft, ctx: &Ctx) -> NoteEditor {
        let mut e = NoteEditor::new(&d.client_id, d.supersedes.clone(), ctx);
        e.kind = d.kind;
        e.at = d.occurred_at.clone();
        e.text = TextBox::new(&d.body);
        e.special = d.special;
        e
    }

    /// The client the note is about.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    fn body(&self) -> String {
        self.text.text()
    }

    /// What to keep in the vault on lock and quit (nothing when there is no text).
    pub fn draft(&self) -> Option<Draft> {
        if self.text.is_blank() {
            return None;
        }
        Some(Draft {
            client_id: self.client_id.clone(),
            supersedes: self.supersedes.clone(),
            kind: self.kind,
            occurred_at: self.at.clone(),
            body: self.body(),
            special: self.special,
        })
    }

    /// Saving failed: why, under the text.
    pub fn fail(&mut self, why: String) {
        self.error = Some(why);
    }

    /// The text was revealed on the privacy screen (and logged).
    pub fn revealed(&mut self) {
        self.revealed = true;
    }

    /// Whether the nudges' question is on screen.
    pub fn asking(&self) -> bool {
        self.nudge.is_some()
    }

    /// Checks and saves; with `ask`, what the nudges find is asked about first.
    fn save(&mut self, ctx: &Ctx, ask: bool) -> Nav {
        let occurred_at = match model::parse_moment("--at", &self.at, ctx.today()) {
            Ok(v) => v,
            Err(e) => {
                self.error = Some(reason(e));
                self.focus = Field::At;
                return Nav::Stay;
            }
        };
        let body = match model::parse_note_body(&self.body()) {
            Ok(b) => b,
            Err(e) => {
                self.error = Some(reason(e));
                return Nav::Stay;
            }
        };
        if ask {
            self.nudge = Nudge::check(&[&body], self.special, true, &[], ctx.lexicon);
            if self.nudge.is_some() {
                return Nav::Stay;
            }
        }
        Nav::SaveNote(Box::new(NoteOut {
            note: NewNote {
                client_id: self.client_id.clone(),
                kind: self.kind,
                occurred_at,
                body,
                supersedes: self.supersedes.clone(),
                special: self.special,
            },
        }))
    }

    /// Handles a key.
    pub fn handle(&mut self, key: KeyEvent, ctx: &Ctx) -> Nav {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if let Some(n) = &self.nudge {
            // The worker's choice, then saving goes on; a choice that leaves something to
            // say asks again (a detail removed, a word still there).
            let choice = n.key(key.code);
            match choice {
                None => return Nav::Stay,
                Some(Choice::Back) => {
                    self.nudge = None;
                    return Nav::Stay;
                }
                Some(Choice::Special) => self.special = true,
                Some(Choice::Remove) => {
                    let out = super::nudge::removed(&self.body(), &[], ctx.lexicon);
                    self.text = TextBox::new(&out);
                }
                Some(Choice::Keep) => {}
            }
            self.nudge = None;
            return self.save(ctx, choice != Some(Choice::Keep));
        }
        match key.code {
            KeyCode::Char('b') if ctrl => {
                self.special = !self.special;
                return Nav::Stay;
            }
            KeyCode::Char('s') if ctrl => return self.save(ctx, true),
            KeyCode::Char('r') if ctrl && ctx.privacy => {
                if self.revealed {
                    self.revealed = false;
                    return Nav::Stay;
                }
                return Nav::Reveal(Reveal::OnScreen {
                    client: Some(self.client_id.clone()),
                    what: "editor",
                });
            }
            KeyCode::Esc => {
                if self.text.is_blank() || self.confirm_discard {
                    return Nav::Discard {
                        form: false,
                        client: Some(self.client_id.clone()),
                        tab: Tab::Overview,
                    };
                }
                self.confirm_discard = true;
                self.error = Some(t!("tui.confirm_discard").into_owned());
                return Nav::Stay;
            }
            _ => {}
        }
        if self.confirm_discard {
            self.confirm_discard = false;
            self.error = None;
        }
        match (self.focus, key.code) {
            (_, KeyCode::Tab) => {
                self.focus = match self.focus {
                    Field::Kind => Field::At,
                    Field::At => Field::Text,
                    Field::Text => Field::Kind,
                };
            }
            (_, KeyCode::BackTab) => {
                self.focus = match self.focus {
                    Field::Kind => Field::Text,
                    Field::At => Field::Kind,
                    Field::Text => Field::At,
                };
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
                self.text.key(key);
            }
            _ => {}
        }
        Nav::Stay
    }

    /// A paste goes in whole where the cursor is.
    pub fn paste(&mut self, text: &str) {
        if self.nudge.is_some() {
            return;
        }
        match self.focus {
            Field::Text => self.text.insert(text),
            Field::At => self.at.push_str(text.lines().next().unwrap_or("")),
            Field::Kind => {}
        }
    }

    /// Its keys, for help.
    pub fn keys(&self) -> Vec<(&'static str, &'static str)> {
        if self.nudge.is_some() {
            return nudge_keys();
        }
        vec![
            ("Tab", "help.next_field"),
            ("← →", "help.kind"),
            ("Ctrl-B", "help.special"),
            ("Ctrl-S", "help.save"),
            ("Ctrl-R", "help.reveal"),
            ("Esc", "help.cancel"),
        ]
    }

    /// Draws the screen.
    pub fn draw(&self, ctx: &Ctx, frame: &mut Frame, area: Rect) {
        let hide = ctx.privacy && !self.revealed;
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
        let err_lines = self
            .error
            .as_ref()
            .map_or(0, |e| super::wrap(e, inner.width as usize).len() as u16);
        let [kind, at, text, err] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(err_lines),
        ])
        .areas(inner);
        let focus = |f: Field| {
            if self.focus == f {
                selected()
            } else {
                Style::default()
            }
        };
        let label_w = super::width(&t!("tui.kind"))
            .max(super::width(&t!("tui.when")))
            .max(4);
        let kinds: Vec<String> = NoteKind::ALL
            .iter()
            .map(|k| {
                let word = code_label("kind", k.code());
                if *k == self.kind {
                    format!("[{word}]")
                } else {
                    word
                }
            })
            .collect();
        frame.render_widget(
            Paragraph::new(format!("{:<label_w$} {}", t!("tui.kind"), kinds.join(" ")))
                .style(focus(Field::Kind)),
            kind,
        );
        frame.render_widget(
            Paragraph::new(format!("{:<label_w$} {}", t!("tui.when"), self.at))
                .style(focus(Field::At)),
            at,
        );
        let block = Block::default()
            .borders(Borders::ALL)
            .title(t!("tui.text").into_owned())
            .border_style(focus(Field::Text));
        let inside = block.inner(text);
        frame.render_widget(block, text);
        if hide {
            let lines = vec![
                Line::raw(masked()),
                Line::from(Span::styled(t!("tui.editor_hidden").into_owned(), dim())),
            ];
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inside);
        } else {
            self.text.draw(
                frame,
                inside,
                self.focus == Field::Text,
                &t!("tui.text_placeholder"),
            );
        }
        if let Some(e) = &self.error {
            frame.render_widget(
                Paragraph::new(e.as_str())
                    .style(error())
                    .wrap(Wrap { trim: true }),
                err,
            );
        }
        if let Some(n) = &self.nudge {
            n.draw(frame, inner, hide);
        }
    }
}

/// The keys of the nudges' question, for help.
pub fn nudge_keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("1", "help.nudge_mark"),
        ("2", "help.nudge_remove"),
        ("3", "help.nudge_keep"),
        ("Esc", "help.nudge_back"),
    ]
}

/// What a form shows of a validation error: its reason (the field is the one it is next to).
pub fn reason(e: crate::Error) -> String {
    match e {
        crate::Error::Invalid { reason, .. } => reason,
        other => other.to_string(),
    }
}
