//! Conflicts: fields two colleagues changed at the same time, with both values, to confirm
//! the one shown or choose the other. Settling one travels to colleagues with the next sync.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Wrap};

use super::{Cursor, Loaded, dim, highlight, hint, masked, name_shown};
use crate::i18n::t;
use crate::store::OpenConflict;
use crate::tui::nav::{Ctx, Nav, Reveal};

/// State of the conflicts screen.
pub struct Conflicts {
    list: Loaded<OpenConflict>,
    cursor: Cursor,
    /// The privacy screen: the row shown in full (logged) until the selection moves.
    revealed: Option<usize>,
}

/// A field's name for people: "Phone", "Assigned: w002".
pub fn field_label(field: &str) -> String {
    match crate::merge::field(field) {
        Some(crate::merge::Field::Assign(w)) => format!("{}: {w}", t!("field.assigned")),
        Some(crate::merge::Field::Column(col)) => {
            let key = format!("field.{col}");
            let word = t!(key.as_str()).into_owned();
            if word == key { col.to_owned() } else { word }
        }
        _ => field.to_owned(),
    }
}

impl Conflicts {
    /// The open conflicts as the session read them.
    pub fn new(list: Loaded<OpenConflict>) -> Conflicts {
        Conflicts {
            list,
            cursor: Cursor::default(),
            revealed: None,
        }
    }

    /// Read again after one was settled: the selection stays where it was.
    pub fn refresh(&mut self, list: Loaded<OpenConflict>) {
        self.list = list;
        self.cursor
            .clamp(self.list.as_ref().map(Vec::len).unwrap_or(0));
        self.revealed = None;
    }

    /// The selected row was revealed (and logged).
    pub fn revealed(&mut self) {
        self.revealed = Some(self.cursor.at);
    }

    /// Handles a key.
    pub fn handle(&mut self, key: KeyEvent, ctx: &Ctx) -> Nav {
        let len = self.list.as_ref().map(Vec::len).unwrap_or(0);
        let before = self.cursor.at;
        if self.cursor.key(key.code, len) {
            if before != self.cursor.at {
                self.revealed = None;
            }
            return Nav::Stay;
        }
        let Some(c) = self.list.as_ref().ok().and_then(|l| l.get(self.cursor.at)) else {
            return if key.code == KeyCode::Esc {
                Nav::Caseload
            } else {
                Nav::Stay
            };
        };
        match key.code {
            KeyCode::Enter | KeyCode::Char('b') => Nav::Settle {
                loser: c.loser.id.clone(),
                take_other: false,
            },
            KeyCode::Char('o') => Nav::Settle {
                loser: c.loser.id.clone(),
                take_other: true,
            },
            KeyCode::Char('r') if ctx.privacy => {
                if self.revealed == Some(self.cursor.at) {
                    self.revealed = None;
                    Nav::Stay
                } else {
                    Nav::Reveal(Reveal::OnScreen {
                        client: Some(c.client_id.clone()),
                        what: "conflict row",
                    })
                }
            }
            KeyCode::Esc => Nav::Caseload,
            _ => Nav::Stay,
        }
    }

    /// Its keys, for help.
    pub fn keys(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            ("↑ ↓", "help.move"),
            ("Enter b", "help.confirm_shown"),
            ("o", "help.choose_other"),
            ("r", "help.reveal"),
            ("Esc", "help.back"),
        ]
    }

    /// Draws the screen.
    pub fn draw(&self, ctx: &Ctx, frame: &mut Frame, area: Rect) {
        let n = self.list.as_ref().map(Vec::len).unwrap_or(0);
        let [intro, list] =
            Layout::vertical([Constraint::Length(4), Constraint::Min(1)]).areas(area);
        frame.render_widget(
            Paragraph::new(Line::from(t!("tui.conflicts_intro").into_owned()))
                .wrap(Wrap { trim: true })
                .block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(t!("tui.conflicts_title", n = n).into_owned()),
                ),
            intro,
        );
        let block = Block::default().borders(Borders::ALL);
        let conflicts = match &self.list {
            Ok(l) => l,
            Err(e) => {
                frame.render_widget(block, list);
                hint(frame, list, e, true);
                return;
            }
        };
        let header = Row::new(vec![
            t!("tui.conflict_client").into_owned(),
            t!("tui.conflict_field").into_owned(),
            t!("tui.conflict_shown").into_owned(),
            t!("tui.conflict_other").into_owned(),
        ])
        .style(dim());
        let visible = list.height.saturating_sub(3) as usize;
        let first = self.cursor.first(conflicts.len(), visible);
        let rows: Vec<Row> = conflicts
            .iter()
            .enumerate()
            .skip(first)
            .take(visible.max(1))
            .map(|(i, c)| {
                let hide = ctx.privacy && self.revealed != Some(i);
                let value = |v: &Option<String>, author: &str| {
                    let v = if hide {
                        masked()
                    } else {
                        crate::model::shown_value(&c.field, v.as_deref())
                    };
                    format!("{v} ({author})")
                };
                let row = Row::new(vec![
                    name_shown(hide, &c.client_name),
                    field_label(&c.field),
                    value(&c.winner.value, &c.winner.author),
                    value(&c.loser.value, &c.loser.author),
                ]);
                highlight(row, i == self.cursor.at)
            })
            .collect();
        let table = Table::new(
            rows,
            [
                Constraint::Fill(1),
                Constraint::Length(14),
                Constraint::Fill(1),
                Constraint::Fill(1),
            ],
        )
        .header(header)
        .block(block);
        frame.render_widget(table, list);
        if conflicts.is_empty() {
            hint(frame, list, &t!("sync.no_conflicts"), false);
        }
    }
}
