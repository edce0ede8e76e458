//! Conflicts: fields two colleagues changed at the same time, with both values, to confirm
//! the one shown or choose the other. Settling one travels to colleagues with the next sync.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Wrap};

use super::{dim, highlight, hint, initials, masked};
use crate::i18n::t;
use crate::store::OpenConflict;
use crate::tui::app::{App, Outcome, Screen};
use crate::tui::views::caseload::Caseload;

/// State of the conflicts screen.
pub struct Conflicts {
    list: Vec<OpenConflict>,
    selected: usize,
}

/// A field's name for people: "Phone", "Assigned: w002".
pub fn field_label(field: &str) -> String {
    match crate::merge::field(field) {
        Some(crate::merge::Field::Assign(w)) => format!("{}: {w}", t!("field.assigned")),
        Some(crate::merge::Field::Column(col)) => match col {
            "name" => t!("field.name"),
            "bsn" => t!("field.bsn"),
            "birth_date" => t!("field.birth_date"),
            "address" => t!("field.address"),
            "phone" => t!("field.phone"),
            "domain" => t!("field.domain"),
            "status" => t!("field.status"),
            "opened_on" => t!("field.opened_on"),
            "closed_on" => t!("field.closed_on"),
            other => other.into(),
        }
        .into_owned(),
        _ => field.to_owned(),
    }
}

impl Conflicts {
    /// Loads the open conflicts.
    pub fn new(app: &mut App) -> Conflicts {
        // The screen shows these dossiers' values: the session logs a view of each.
        let list = match app.session.as_mut().map(|s| s.conflicts()) {
            Some(Ok(list)) => list,
            Some(Err(e)) => {
                app.message = Some(e.to_string());
                Vec::new()
            }
            None => Vec::new(),
        };
        Conflicts { list, selected: 0 }
    }

    fn settle(&mut self, app: &mut App, take_other: bool) {
        let Some(c) = self.list.get(self.selected) else {
            return;
        };
        let id = c.loser.id.clone();
        let Some(session) = app.session.as_mut() else {
            return;
        };
        app.message = Some(
            match session.change(|s| s.resolve_conflict(&id, take_other)) {
                Ok(()) if take_other => t!("tui.conflict_chosen").into_owned(),
                Ok(()) => t!("tui.conflict_confirmed").into_owned(),
                Err(e) => e.to_string(),
            },
        );
        app.changed = true;
        let keep = self.selected;
        *self = Conflicts::new(app);
        self.selected = keep.min(self.list.len().saturating_sub(1));
    }

    /// Handles a key.
    pub fn handle(mut self, key: KeyEvent, app: &mut App) -> (Screen, Outcome) {
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(self.list.len().saturating_sub(1))
            }
            KeyCode::Enter | KeyCode::Char('b') => self.settle(app, false),
            KeyCode::Char('o') => self.settle(app, true),
            KeyCode::Esc => return (Screen::Caseload(Caseload::back(app)), Outcome::None),
            _ => {}
        }
        (Screen::Conflicts(self), Outcome::None)
    }

    /// Draws the screen.
    pub fn draw(&self, app: &App, frame: &mut Frame, area: Rect) {
        let [intro, list] =
            Layout::vertical([Constraint::Length(4), Constraint::Min(1)]).areas(area);
        frame.render_widget(
            Paragraph::new(Line::from(t!("tui.conflicts_intro").into_owned()))
                .wrap(Wrap { trim: true })
                .block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(t!("tui.conflicts_title", n = self.list.len()).into_owned()),
                ),
            intro,
        );
        let value = |field: &str, v: &Option<String>, author: &str| {
            let v = if app.privacy {
                masked()
            } else {
                crate::model::shown_value(field, v.as_deref())
            };
            format!("{v} ({author})")
        };
        let header = Row::new(vec![
            t!("tui.conflict_client").into_owned(),
            t!("tui.conflict_field").into_owned(),
            t!("tui.conflict_shown").into_owned(),
            t!("tui.conflict_other").into_owned(),
        ])
        .style(dim());
        let rows: Vec<Row> = self
            .list
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let name = if app.privacy {
                    initials(&c.client_name)
                } else {
                    c.client_name.clone()
                };
                let row = Row::new(vec![
                    name,
                    field_label(&c.field),
                    value(&c.field, &c.winner.value, &c.winner.author),
                    value(&c.field, &c.loser.value, &c.loser.author),
                ]);
                highlight(row, i == self.selected)
            })
            .collect();
        let table = Table::new(
            rows,
            [
                Constraint::Fill(1),
                Constraint::Length(16),
                Constraint::Fill(1),
                Constraint::Fill(1),
            ],
        )
        .header(header)
        .block(Block::default().borders(Borders::ALL));
        frame.render_widget(table, list);
        if self.list.is_empty() {
            hint(frame, list, &t!("sync.no_conflicts"));
        }
    }
}
