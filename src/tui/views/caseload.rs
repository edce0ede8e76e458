//! The caseload: open clients with domain, last contact and number of notes; sort, closed
//! ones too, and a live full-text search as you type (run by the app when typing pauses).

use std::collections::HashSet;

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};

use super::{Cursor, Loaded, code_label, date, dim, highlight, hint, masked, name_shown};
use crate::i18n::t;
use crate::model::SearchHit;
use crate::session::CaseloadRow;
use crate::tui::nav::{Ctx, FormKind, FormRequest, Nav, Reveal, Tab};

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
    rows: Loaded<CaseloadRow>,
    cursor: Cursor,
    query: String,
    searching: bool,
    hits: Loaded<SearchHit>,
    sort: Sort,
    all: bool,
    /// The privacy screen: the client shown in full (logged) until the selection moves.
    revealed: Option<String>,
    /// The query changed since the last search; the search runs when typing pauses.
    query_changed: bool,
    /// Open sync conflicts, shown in the title so they are not missed.
    conflicts: Result<usize, String>,
    /// Clients with a consent that ends within 30 days, flagged in the list.
    expiring: HashSet<String>,
}

impl Caseload {
    /// The caseload as the session read it.
    pub fn new(
        rows: Loaded<CaseloadRow>,
        all: bool,
        conflicts: Result<usize, String>,
        expiring: HashSet<String>,
    ) -> Caseload {
        let mut c = Caseload {
            rows,
            cursor: Cursor::default(),
            query: String::new(),
            searching: false,
            hits: Ok(Vec::new()),
            sort: Sort::Name,
            all,
            revealed: None,
            query_changed: false,
            conflicts,
            expiring,
        };
        c.sort_rows();
        c
    }

    /// Takes a fresh read, keeping the sort, the selection and the search.
    pub fn refresh(&mut self, fresh: Caseload) {
        self.rows = fresh.rows;
        self.all = fresh.all;
        self.conflicts = fresh.conflicts;
        self.expiring = fresh.expiring;
        self.sort_rows();
        self.cursor.clamp(self.len());
    }

    fn sort_rows(&mut self) {
        if let Ok(rows) = &mut self.rows {
            match self.sort {
                Sort::Name => rows.sort_by(|a, b| {
                    a.client
                        .name
                        .to_lowercase()
                        .cmp(&b.client.name.to_lowercase())
                }),
                Sort::LastContact => rows.sort_by(|a, b| b.last_contact.cmp(&a.last_contact)),
                Sort::Notes => rows.sort_by_key(|r| std::cmp::Reverse(r.notes)),
            }
        }
    }

    /// Whether closed dossiers are listed.
    pub fn all(&self) -> bool {
        self.all
    }

    /// The search to run now that typing paused, if the query changed.
    pub fn idle(&mut self) -> Option<String> {
        std::mem::take(&mut self.query_changed).then(|| self.query.clone())
    }

    /// Whether a search is waiting for a pause in typing.
    pub fn search_pending(&self) -> bool {
        self.query_changed
    }

    /// The search's results (or why there are none).
    pub fn found(&mut self, hits: Loaded<SearchHit>) {
        self.hits = hits;
        self.cursor.at = 0;
    }

    /// A row was revealed (and logged).
    pub fn revealed(&mut self, client: &str) {
        self.revealed = Some(client.to_owned());
    }

    fn len(&self) -> usize {
        let n = if self.showing_hits() {
            self.hits.as_ref().map(Vec::len)
        } else {
            self.rows.as_ref().map(Vec::len)
        };
        n.unwrap_or(0)
    }

    fn showing_hits(&self) -> bool {
        !self.query.is_empty()
    }

    /// Whether keys go into the search field.
    pub fn searching(&self) -> bool {
        self.searching
    }

    /// The selected client, and the note a search found.
    fn selected(&self) -> Option<(String, Option<String>)> {
        if self.showing_hits() {
            let h = self.hits.as_ref().ok()?.get(self.cursor.at)?;
            Some((
                h.client_id.clone(),
                (h.kind == "note").then(|| h.id.clone()),
            ))
        } else {
            let r = self.rows.as_ref().ok()?.get(self.cursor.at)?;
            Some((r.client.id.clone(), None))
        }
    }

    /// Handles a key.
    pub fn handle(&mut self, key: KeyEvent, ctx: &Ctx) -> Nav {
        let before = self.cursor.at;
        let nav = self.handle_inner(key, ctx);
        if self.cursor.at != before {
            self.revealed = None;
        }
        nav
    }

    fn handle_inner(&mut self, key: KeyEvent, ctx: &Ctx) -> Nav {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if self.searching {
            match key.code {
                KeyCode::Backspace => {
                    self.query.pop();
                    self.query_changed = true;
                    return Nav::Stay;
                }
                KeyCode::Char(c) if !ctrl => {
                    self.query.push(c);
                    self.query_changed = true;
                    return Nav::Stay;
                }
                _ => {}
            }
        }
        let len = self.len();
        if !(self.searching && matches!(key.code, KeyCode::Char(_)))
            && self.cursor.key(key.code, len)
        {
            return Nav::Stay;
        }
        match key.code {
            KeyCode::Enter => {
                if let Some((client, item)) = self.selected() {
                    return Nav::Dossier {
                        client,
                        tab: Tab::Overview,
                        item,
                    };
                }
            }
            KeyCode::Esc => {
                self.searching = false;
                self.query.clear();
                self.hits = Ok(Vec::new());
                self.cursor.at = 0;
            }
            KeyCode::Char('/') => self.searching = true,
            KeyCode::Char('r') if ctx.privacy => {
                let Some((client, _)) = self.selected() else {
                    return Nav::Stay;
                };
                if self.revealed.as_deref() == Some(client.as_str()) {
                    self.revealed = None;
                } else {
                    return Nav::Reveal(Reveal::OnScreen {
                        client: Some(client),
                        what: "caseload row",
                    });
                }
            }
            KeyCode::Char('s') => {
                self.sort = match self.sort {
                    Sort::Name => Sort::LastContact,
                    Sort::LastContact => Sort::Notes,
                    Sort::Notes => Sort::Name,
                };
                self.sort_rows();
            }
            KeyCode::Char('a') => return Nav::ReloadCaseload { all: !self.all },
            KeyCode::Char('n') => {
                return Nav::Form(Box::new(FormRequest {
                    client: None,
                    ..FormRequest::new(FormKind::Client, "")
                }));
            }
            KeyCode::Char('c') => return Nav::Conflicts,
            KeyCode::Char('t') => return Nav::Agenda,
            KeyCode::Char('f') => {
                return Nav::Form(Box::new(crate::tui::nav::FormRequest {
                    client: None,
                    ..crate::tui::nav::FormRequest::new(crate::tui::nav::FormKind::Leaflet, "")
                }));
            }
            _ => {}
        }
        Nav::Stay
    }

    /// A paste goes into the search field.
    pub fn paste(&mut self, text: &str) {
        self.searching = true;
        self.query.push_str(&text.replace(['\n', '\r'], " "));
        self.query_changed = true;
    }

    /// Its keys, for help.
    pub fn keys(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            ("↑ ↓", "help.move"),
            ("PgUp PgDn", "help.page"),
            ("Enter", "help.open"),
            ("/", "help.search"),
            ("Esc", "help.clear_search"),
            ("s", "help.sort"),
            ("a", "help.all"),
            ("n", "help.new_client"),
            ("c", "help.conflicts"),
            ("t", "help.today"),
            ("f", "help.leaflet"),
            ("r", "help.reveal"),
        ]
    }

    /// Draws the screen.
    pub fn draw(&self, ctx: &Ctx, frame: &mut Frame, area: Rect) {
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
        match &self.conflicts {
            Ok(0) => {}
            Ok(n) => heading.push_str(&format!(" · {}", t!("tui.conflicts_waiting", n = n))),
            Err(e) => heading.push_str(&format!(" · {e}")),
        }
        if !self.expiring.is_empty() {
            heading.push_str(&format!(
                " · ⚑ {}",
                t!("tui.consents_expiring", n = self.expiring.len())
            ));
        }
        let block = Block::default().borders(Borders::ALL).title(heading);
        if self.showing_hits() {
            self.draw_hits(ctx, frame, list, block);
        } else {
            self.draw_rows(ctx, frame, list, block);
        }
    }

    fn hide(&self, ctx: &Ctx, client: &str) -> bool {
        ctx.privacy && self.revealed.as_deref() != Some(client)
    }

    fn draw_hits(&self, ctx: &Ctx, frame: &mut Frame, list: Rect, block: Block) {
        let hits = match &self.hits {
            Ok(h) => h,
            Err(e) => {
                frame.render_widget(block, list);
                hint(frame, list, e, true);
                return;
            }
        };
        let visible = list.height.saturating_sub(2) as usize;
        let first = self.cursor.first(hits.len(), visible);
        let wide = list.width >= 60;
        let rows: Vec<Row> = hits
            .iter()
            .enumerate()
            .skip(first)
            .take(visible.max(1))
            .map(|(i, h)| {
                let hide = self.hide(ctx, &h.client_id);
                let snippet = if hide {
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
                let name = name_shown(hide, &h.client_name);
                let row = if wide {
                    Row::new(vec![kind.into_owned(), name, snippet])
                } else {
                    Row::new(vec![name, snippet])
                };
                highlight(row, i == self.cursor.at)
            })
            .collect();
        let widths: Vec<Constraint> = if wide {
            vec![
                Constraint::Length(9),
                Constraint::Length(24),
                Constraint::Fill(1),
            ]
        } else {
            vec![Constraint::Percentage(45), Constraint::Fill(1)]
        };
        frame.render_widget(Table::new(rows, widths).block(block), list);
        if hits.is_empty() {
            hint(frame, list, &t!("list.no_hits"), false);
        }
    }

    fn draw_rows(&self, ctx: &Ctx, frame: &mut Frame, list: Rect, block: Block) {
        let rows = match &self.rows {
            Ok(r) => r,
            Err(e) => {
                frame.render_widget(block, list);
                hint(frame, list, e, true);
                return;
            }
        };
        // Columns go from the right as the window narrows; the name stays.
        let inner = list.width.saturating_sub(2);
        let columns = match inner {
            70.. => 4,
            52..70 => 3,
            36..52 => 2,
            _ => 1,
        };
        let mut header = vec![t!("field.name").into_owned()];
        let mut widths = vec![Constraint::Fill(1)];
        // Each column as wide as its heading and its widest value: nothing is cut.
        let domains = crate::model::Domain::ALL
            .iter()
            .map(|d| super::width(&code_label("domain", d.code())))
            .max()
            .unwrap_or(0);
        let extra = [
            (t!("field.domain"), domains),
            (t!("tui.last_contact"), 10),
            (t!("tui.notes"), 5),
        ];
        for (label, w) in extra.iter().take(columns - 1) {
            header.push(label.to_string());
            widths.push(Constraint::Length((*w).max(super::width(label)) as u16));
        }
        // Only the rows that fit are built: a caseload of 2,000 stays as fast as one of 20.
        let visible = list.height.saturating_sub(3) as usize;
        let first = self.cursor.first(rows.len(), visible);
        let body: Vec<Row> = rows
            .iter()
            .enumerate()
            .skip(first)
            .take(visible.max(1))
            .map(|(i, r)| {
                let c = &r.client;
                let mut label = name_shown(self.hide(ctx, &c.id), &c.name);
                if self.expiring.contains(&c.id) {
                    label = format!("⚑ {label}");
                }
                if c.status == crate::model::Status::Closed {
                    label.push_str(&format!(" ({})", t!("tui.closed")));
                }
                let last = r
                    .last_contact
                    .as_deref()
                    .map_or_else(|| "-".into(), |l| date(ctx.lang, l));
                let cells = [
                    label,
                    code_label("domain", c.domain.code()),
                    last,
                    r.notes.to_string(),
                ];
                highlight(
                    Row::new(cells.into_iter().take(columns).collect::<Vec<_>>()),
                    i == self.cursor.at,
                )
            })
            .collect();
        let table = Table::new(body, widths)
            .header(Row::new(header).style(dim()))
            .block(block);
        frame.render_widget(table, list);
        if rows.is_empty() {
            hint(frame, list, &t!("tui.no_clients"), false);
        }
    }
}
