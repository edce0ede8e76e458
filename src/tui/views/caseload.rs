//! The caseload: open clients with domain, last contact and number of notes; filter, sort,
//! and live full-text search as you type.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};

use super::{date, dim, highlight, hint, initials, masked};
use crate::i18n::t;
use crate::model::SearchHit;
use crate::session::CaseloadRow;
use crate::tui::app::{App, Outcome, Screen};
use crate::tui::views::{client_form::ClientForm, conflicts::Conflicts, dossier::Dossier};

/// Sort order of the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    /// By name.
    Name,
    /// Most recent contact first.
    LastContact,
    /// Most notes first.
    Notes,
}

/// State of the caseload screen.
pub struct Caseload {
    rows: Vec<CaseloadRow>,
    selected: usize,
    query: String,
    searching: bool,
    hits: Vec<SearchHit>,
    sort: Sort,
    all: bool,
    /// Privacy mode: the row shown in full until the selection moves.
    revealed: Option<usize>,
    /// The query changed since the last search; the search runs when typing pauses.
    query_changed: bool,
    /// Open sync conflicts, shown in the title so they are not missed.
    conflicts: usize,
    /// Clients with a consent that ends within 30 days, flagged in the list.
    expiring: std::collections::HashSet<String>,
}

impl Caseload {
    /// Loads the open clients.
    pub fn new(app: &mut App) -> Caseload {
        let mut c = Caseload {
            rows: Vec::new(),
            selected: 0,
            query: String::new(),
            searching: false,
            hits: Vec::new(),
            sort: Sort::Name,
            all: false,
            revealed: None,
            query_changed: false,
            conflicts: 0,
            expiring: Default::default(),
        };
        if let Some(s) = app.session.as_mut() {
            s.forget_searches();
        }
        c.reload(app);
        c
    }

    fn reload(&mut self, app: &mut App) {
        let today = app.opts.now().date();
        if let Some(s) = app.session.as_mut() {
            match s.caseload(self.all) {
                Ok(rows) => self.rows = rows,
                Err(e) => app.message = Some(e.to_string()),
            }
            self.conflicts = s.conflict_count().unwrap_or(0);
            self.expiring = s.consents_ending(today, 30).unwrap_or_default();
        }
        match self.sort {
            Sort::Name => {}
            Sort::LastContact => self
                .rows
                .sort_by(|a, b| b.last_contact.cmp(&a.last_contact)),
            Sort::Notes => self.rows.sort_by_key(|r| std::cmp::Reverse(r.notes)),
        }
        self.selected = self.selected.min(self.len().saturating_sub(1));
    }

    /// Back from a dossier: the caseload as it was (reloaded if something changed).
    pub fn back(app: &mut App) -> Caseload {
        match app.parked.take() {
            Some(mut c) => {
                if let Some(s) = app.session.as_mut() {
                    s.forget_searches();
                }
                if std::mem::take(&mut app.changed) {
                    c.reload(app);
                }
                *c
            }
            None => Caseload::new(app),
        }
    }

    /// Runs a search the user has stopped typing for. Called when no key came for a moment,
    /// so typing is never held up by searching.
    pub fn idle(&mut self, app: &mut App) {
        if std::mem::take(&mut self.query_changed) {
            self.search(app);
        }
    }

    /// Whether a search is waiting for a pause in typing.
    pub fn search_pending(&self) -> bool {
        self.query_changed
    }

    fn search(&mut self, app: &mut App) {
        // Each client a search shows is logged once per visit to the caseload (the session
        // keeps count), so typing does not fill the log with the same names.
        let found = match (crate::model::fts_query(&self.query), app.session.as_mut()) {
            (Some(q), Some(s)) => s.search(&q, 50),
            _ => Ok(Vec::new()),
        };
        // Nothing is shown that the log does not hold.
        self.hits = found.unwrap_or_else(|e| {
            app.message = Some(e.to_string());
            Vec::new()
        });
        self.selected = 0;
    }

    fn len(&self) -> usize {
        if self.showing_hits() {
            self.hits.len()
        } else {
            self.rows.len()
        }
    }

    fn showing_hits(&self) -> bool {
        !self.query.is_empty()
    }

    /// Whether keys go into the search field.
    pub fn searching(&self) -> bool {
        self.searching
    }

    fn selected_client(&self) -> Option<String> {
        if self.showing_hits() {
            self.hits.get(self.selected).map(|h| h.client_id.clone())
        } else {
            self.rows.get(self.selected).map(|r| r.client.id.clone())
        }
    }

    /// Handles a key.
    pub fn handle(mut self, key: KeyEvent, app: &mut App) -> (Screen, Outcome) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let before = self.selected;
        if key.code == KeyCode::Char('r') && !self.searching {
            self.revealed = if self.revealed == Some(self.selected) {
                None
            } else {
                Some(self.selected)
            };
            return (Screen::Caseload(self), Outcome::None);
        }
        let (screen, outcome) = self.handle_move(key, ctrl, app);
        match screen {
            Screen::Caseload(mut c) => {
                if c.selected != before {
                    c.revealed = None;
                }
                (Screen::Caseload(c), outcome)
            }
            other => (other, outcome),
        }
    }

    fn handle_move(mut self, key: KeyEvent, ctrl: bool, app: &mut App) -> (Screen, Outcome) {
        match key.code {
            KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down => self.selected = (self.selected + 1).min(self.len().saturating_sub(1)),
            KeyCode::Enter => {
                if let Some(id) = self.selected_client()
                    && let Some(d) = Dossier::open(app, &id)
                {
                    app.parked = Some(Box::new(self));
                    return (Screen::Dossier(d), Outcome::None);
                }
            }
            KeyCode::Esc => {
                self.searching = false;
                self.query.clear();
                self.hits.clear();
                self.selected = 0;
            }
            KeyCode::Backspace if self.searching => {
                self.query.pop();
                self.query_changed = true;
            }
            KeyCode::Char(c) if self.searching && !ctrl => {
                self.query.push(c);
                self.query_changed = true;
            }
            KeyCode::Char('/') => self.searching = true,
            KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(self.len().saturating_sub(1))
            }
            KeyCode::Char('s') => {
                self.sort = match self.sort {
                    Sort::Name => Sort::LastContact,
                    Sort::LastContact => Sort::Notes,
                    Sort::Notes => Sort::Name,
                };
                self.reload(app);
            }
            KeyCode::Char('a') => {
                self.all = !self.all;
                self.reload(app);
            }
            KeyCode::Char('n') => {
                return (Screen::ClientForm(ClientForm::new_client()), Outcome::None);
            }
            KeyCode::Char('c') => {
                app.parked = Some(Box::new(self));
                return (Screen::Conflicts(Conflicts::new(app)), Outcome::None);
            }
            KeyCode::Char('t') => {
                let today = crate::tui::views::agenda::Agenda::today(app);
                return (Screen::Agenda(today), Outcome::None);
            }
            _ => {}
        }
        (Screen::Caseload(self), Outcome::None)
    }

    /// Draws the screen.
    pub fn draw(&self, app: &App, frame: &mut Frame, area: Rect) {
        let [search, list] =
            Layout::vertical([Constraint::Length(3), Constraint::Min(1)]).areas(area);
        let prompt = if self.searching || !self.query.is_empty() {
            Line::from(vec![
                Span::raw(format!("/ {}", self.query)),
                Span::raw(if self.searching { "▏" } else { "" }),
            ])
        } else {
            Line::from(Span::styled(t!("tui.search_hint").into_owned(), dim()))
        };
        frame.render_widget(
            Paragraph::new(prompt).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(t!("tui.search_title").into_owned()),
            ),
            search,
        );
        let name = |i: usize, n: &str| {
            if app.privacy && self.revealed != Some(i) {
                initials(n)
            } else {
                n.to_owned()
            }
        };
        let title = if self.all {
            t!("tui.caseload_all")
        } else {
            t!("tui.caseload_title")
        };
        let sort = match self.sort {
            Sort::Name => t!("tui.sort_name"),
            Sort::LastContact => t!("tui.sort_contact"),
            Sort::Notes => t!("tui.sort_notes"),
        };
        let mut heading = format!("{title} · {sort}");
        if self.conflicts > 0 {
            heading.push_str(&format!(
                " · {}",
                t!("tui.conflicts_waiting", n = self.conflicts)
            ));
        }
        if !self.expiring.is_empty() {
            heading.push_str(&format!(
                " · ⚑ {}",
                t!("tui.consents_expiring", n = self.expiring.len())
            ));
        }
        let block = Block::default().borders(Borders::ALL).title(heading);
        if self.showing_hits() {
            let rows: Vec<Row> = self
                .hits
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    let snippet = if app.privacy {
                        masked()
                    } else if h.special {
                        t!("tui.special_hidden").into_owned()
                    } else {
                        h.snippet.replace('\n', " ")
                    };
                    let kind = if h.kind == "client" {
                        t!("word.client")
                    } else {
                        t!("word.note")
                    };
                    let row = Row::new(vec![kind.into_owned(), name(i, &h.client_name), snippet]);
                    highlight(row, i == self.selected)
                })
                .collect();
            let table = Table::new(
                rows,
                [
                    Constraint::Length(9),
                    Constraint::Length(28),
                    Constraint::Fill(1),
                ],
            )
            .block(block);
            frame.render_widget(table, list);
            if self.hits.is_empty() {
                hint(frame, list, &t!("list.no_hits"));
            }
            return;
        }
        let header = Row::new(vec![
            t!("field.name"),
            t!("field.domain"),
            t!("tui.last_contact"),
            t!("tui.notes"),
        ])
        .style(dim());
        // Only the rows that fit are built: a caseload of 2,000 stays as fast as one of 20.
        let visible = list.height.saturating_sub(3) as usize;
        let first = self
            .selected
            .saturating_sub(visible / 2)
            .min(self.rows.len().saturating_sub(visible));
        let rows: Vec<Row> = self
            .rows
            .iter()
            .enumerate()
            .skip(first)
            .take(visible.max(1))
            .map(|(i, r)| {
                let (c, notes) = (&r.client, r.notes);
                let last = r
                    .last_contact
                    .as_deref()
                    .map(|l| date(app.opts.lang, l))
                    .unwrap_or_else(|| "-".into());
                let mut label = name(i, &c.name);
                if self.expiring.contains(&c.id) {
                    label = format!("⚑ {label}");
                }
                if c.status == crate::model::Status::Closed {
                    label.push_str(&format!(" ({})", t!("tui.closed")));
                }
                let row = Row::new(vec![label, c.domain.to_string(), last, notes.to_string()]);
                highlight(row, i == self.selected)
            })
            .collect();
        let table = Table::new(
            rows,
            [
                Constraint::Fill(1),
                Constraint::Length(13),
                Constraint::Length(16),
                Constraint::Length(9),
            ],
        )
        .header(header)
        .block(block);
        frame.render_widget(table, list);
        if self.rows.is_empty() {
            hint(frame, list, &t!("tui.no_clients"));
        }
    }
}
