//! Today, for a field day: who, where and what is due (visits, actions, consents and
//! retention periods that end, and what is overdue). Enter opens the dossier.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Block, Borders, Row, Table};

use super::{date, dim, highlight, hint, initials, masked};
use crate::i18n::t;
use crate::model::AgendaItem;
use crate::tui::app::{App, Outcome, Screen};
use crate::tui::views::{caseload::Caseload, dossier::Dossier};

/// State of the agenda screen.
pub struct Agenda {
    items: Vec<AgendaItem>,
    selected: usize,
}

impl Agenda {
    /// Today's items (and overdue ones); the clients shown are logged as viewed.
    pub fn today(app: &mut App) -> Agenda {
        let today = app.opts.now().date();
        let items = match app.session.as_mut().map(|s| s.agenda(today, 0)) {
            Some(Ok(items)) => items,
            Some(Err(e)) => {
                app.message = Some(e.to_string());
                Vec::new()
            }
            None => Vec::new(),
        };
        Agenda { items, selected: 0 }
    }

    /// Whether there is anything for today.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Handles a key.
    pub fn handle(mut self, key: KeyEvent, app: &mut App) -> (Screen, Outcome) {
        match key.code {
            KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down => {
                self.selected = (self.selected + 1).min(self.items.len().saturating_sub(1))
            }
            KeyCode::Enter => {
                if let Some(i) = self.items.get(self.selected)
                    && let Some(d) = Dossier::open(app, &i.client_id.clone())
                {
                    return (Screen::Dossier(d), Outcome::None);
                }
            }
            KeyCode::Esc | KeyCode::Backspace => {
                return (Screen::Caseload(Caseload::new(app)), Outcome::None);
            }
            _ => {}
        }
        (Screen::Agenda(self), Outcome::None)
    }

    /// Draws the screen.
    pub fn draw(&self, app: &App, frame: &mut Frame, area: Rect) {
        let lang = app.opts.lang;
        let header = Row::new(vec![
            t!("tui.agenda_when").into_owned(),
            t!("tui.agenda_who").into_owned(),
            t!("tui.agenda_where").into_owned(),
            t!("tui.agenda_what").into_owned(),
        ])
        .style(dim());
        let rows: Vec<Row> = self
            .items
            .iter()
            .enumerate()
            .map(|(i, it)| {
                let when = match &it.time {
                    Some(tm) => format!("{} {tm}", date(lang, &it.date.to_string())),
                    None => date(lang, &it.date.to_string()),
                };
                let (who, place) = if app.privacy {
                    (initials(&it.client_name), masked())
                } else {
                    (
                        it.client_name.clone(),
                        it.address.clone().unwrap_or_else(|| "-".into()),
                    )
                };
                let what = match it.kind {
                    "visit" => t!("agenda.visit", what = it.what),
                    "action" => t!("agenda.action", what = it.what),
                    "consent" => t!("agenda.consent", what = it.what),
                    _ => t!("agenda.retention"),
                };
                let what = if app.privacy {
                    masked()
                } else {
                    what.into_owned()
                };
                highlight(Row::new(vec![when, who, place, what]), i == self.selected)
            })
            .collect();
        let table = Table::new(
            rows,
            [
                Constraint::Length(17),
                Constraint::Length(22),
                Constraint::Length(24),
                Constraint::Fill(1),
            ],
        )
        .header(header)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(t!("tui.agenda_title").into_owned()),
        );
        frame.render_widget(table, area);
        if self.items.is_empty() {
            hint(frame, area, &t!("tui.agenda_empty"));
        }
    }
}
