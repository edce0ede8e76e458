//! Today, for a field day: who, where and what is due (visits, actions, consents and
//! retention periods that end, and what is overdue), with the reminders of daily practice
//! (a meldcode's next step, the access review). Enter opens the dossier; `u` on an access
//! review item unassigns you (the session refuses to leave a dossier with no one).

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Text};
use ratatui::widgets::{Block, Borders, Row, Table};

use super::{Cursor, Loaded, cut, date, dim, highlight, hint, masked, name_shown, owner, wrap};
use crate::i18n::t;
use crate::model::AgendaItem;
use crate::tui::nav::{Ctx, Nav, Reveal, Tab};

/// State of the agenda screen.
pub struct Agenda {
    items: Loaded<AgendaItem>,
    cursor: Cursor,
    /// The privacy screen: the row shown in full (logged) until the selection moves.
    revealed: Option<usize>,
}

impl Agenda {
    /// Today's items (and overdue ones), as the session read them.
    pub fn new(items: Loaded<AgendaItem>) -> Agenda {
        Agenda {
            items,
            cursor: Cursor::default(),
            revealed: None,
        }
    }

    /// Whether something is due (besides the access review), or the agenda could not be
    /// read (that is shown).
    pub fn due(&self) -> bool {
        match &self.items {
            Ok(items) => items.iter().any(|i| i.kind != "review"),
            Err(_) => true,
        }
    }

    /// The selected row was revealed (and logged).
    pub fn revealed(&mut self) {
        self.revealed = Some(self.cursor.at);
    }

    /// Handles a key.
    pub fn handle(&mut self, key: KeyEvent, ctx: &Ctx) -> Nav {
        let items = self.items.as_deref().unwrap_or_default();
        let before = self.cursor.at;
        if self.cursor.key(key.code, items.len()) {
            if self.cursor.at != before {
                self.revealed = None;
            }
            return Nav::Stay;
        }
        let item = items.get(self.cursor.at);
        match (key.code, item) {
            (KeyCode::Enter, Some(i)) => Nav::Dossier {
                client: i.client_id.clone(),
                tab: match i.kind {
                    "visit" | "action" => Tab::Plan,
                    "consent" => Tab::Sharing,
                    "meldcode" => Tab::Records,
                    _ => Tab::Overview,
                },
                item: Some(i.id.clone()),
            },
            (KeyCode::Char('r'), Some(i)) if ctx.privacy => {
                if self.revealed == Some(self.cursor.at) {
                    self.revealed = None;
                    Nav::Stay
                } else {
                    Nav::Reveal(Reveal::OnScreen {
                        client: Some(i.client_id.clone()),
                        what: "agenda row",
                    })
                }
            }
            (KeyCode::Char('u'), Some(i)) if i.kind == "review" => {
                Nav::Unassign(i.client_id.clone())
            }
            (KeyCode::Char('u'), Some(_)) => Nav::Say(t!("tui.unassign_review_only").into_owned()),
            (KeyCode::Esc | KeyCode::Backspace, _) => Nav::Caseload,
            _ => Nav::Stay,
        }
    }

    /// Its keys, for help.
    pub fn keys(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            ("↑ ↓", "help.move"),
            ("Enter", "help.open"),
            ("u", "help.unassign"),
            ("r", "help.reveal"),
            ("Esc", "help.back"),
        ]
    }

    /// Draws the screen.
    pub fn draw(&self, ctx: &Ctx, frame: &mut Frame, area: Rect) {
        let lang = ctx.lang;
        let block = Block::default()
            .borders(Borders::ALL)
            .title(t!("tui.agenda_title").into_owned());
        let items = match &self.items {
            Ok(i) => i,
            Err(e) => {
                frame.render_widget(block, area);
                hint(frame, area, e, true);
                return;
            }
        };
        // Where goes first when the window narrows, then who; what it is stays, wrapped
        // under itself: two lines a row, the selected row whole (its full text).
        let inner = area.width.saturating_sub(2);
        let (with_where, with_who) = (inner >= 90, inner >= 50);
        let mut header = vec![t!("tui.agenda_when").into_owned()];
        let mut widths = vec![Constraint::Length(WHEN)];
        let mut fixed = WHEN + 1;
        if with_who {
            header.push(t!("tui.agenda_who").into_owned());
            widths.push(Constraint::Length(WHO));
            fixed += WHO + 1;
        }
        if with_where {
            header.push(t!("tui.agenda_where").into_owned());
            widths.push(Constraint::Length(WHERE));
            fixed += WHERE + 1;
        }
        if with_who {
            header.push(t!("tui.agenda_what").into_owned());
            widths.push(Constraint::Fill(1));
        } else {
            // Too narrow for columns: when and who on one line, what under them.
            header = vec![format!(
                "{} · {} · {}",
                t!("tui.agenda_when"),
                t!("tui.agenda_who"),
                t!("tui.agenda_what")
            )];
            widths = vec![Constraint::Fill(1)];
        }
        let what_w = if with_who {
            inner.saturating_sub(fixed) as usize
        } else {
            inner.saturating_sub(2) as usize
        };
        let visible = area.height.saturating_sub(3) as usize;
        let lines: Vec<Vec<String>> = items
            .iter()
            .enumerate()
            .map(|(i, it)| {
                let hide = ctx.privacy && self.revealed != Some(i);
                let mut l = wrap(&self.what(it, hide), what_w.max(1));
                let room = if i == self.cursor.at {
                    visible.saturating_sub(usize::from(!with_who)).max(1)
                } else if with_who {
                    2
                } else {
                    1
                };
                if l.len() > room {
                    let rest = l.split_off(room - 1).join(" ");
                    l.push(cut(&rest, what_w));
                }
                l
            })
            .collect();
        let height = |i: usize| lines[i].len() + usize::from(!with_who);
        // The first row shown: as many rows before the selected one as fit with it.
        self.cursor.first(items.len(), visible);
        let mut first = self.cursor.at.min(items.len().saturating_sub(1));
        let mut used = if items.is_empty() { 0 } else { height(first) };
        while first > 0 && used + height(first - 1) <= visible {
            first -= 1;
            used += height(first);
        }
        let rows: Vec<Row> = items
            .iter()
            .enumerate()
            .skip(first)
            .map(|(i, it)| {
                let hide = ctx.privacy && self.revealed != Some(i);
                let when = match &it.time {
                    Some(tm) => format!("{} {tm}", date(lang, &it.date.to_string())),
                    None => date(lang, &it.date.to_string()),
                };
                let who = name_shown(hide, &it.client_name);
                let what = &lines[i];
                let cells: Vec<Text> = if with_who {
                    let mut cells = vec![Text::raw(when), Text::raw(who)];
                    if with_where {
                        let place = if hide {
                            masked()
                        } else {
                            it.address.clone().unwrap_or_else(|| "-".into())
                        };
                        cells.push(Text::raw(place));
                    }
                    cells.push(Text::from(
                        what.iter().cloned().map(Line::raw).collect::<Vec<_>>(),
                    ));
                    cells
                } else {
                    let mut l = vec![Line::raw(cut(&format!("{when}  {who}"), inner as usize))];
                    l.extend(what.iter().map(|w| Line::raw(format!("  {w}"))));
                    vec![Text::from(l)]
                };
                let row = Row::new(cells).height(height(i) as u16);
                highlight(row, i == self.cursor.at)
            })
            .collect();
        let table = Table::new(rows, widths)
            .header(Row::new(header).style(dim()))
            .block(block);
        frame.render_widget(table, area);
        if items.is_empty() {
            hint(frame, area, &t!("tui.agenda_empty"), false);
        }
    }
}

impl Agenda {
    /// What an item is, in words; on the privacy screen only what is not written about
    /// someone (the meldcode's step and the review's reason are codes, not content).
    fn what(&self, it: &AgendaItem, hide: bool) -> String {
        match it.kind {
            _ if hide && !matches!(it.kind, "meldcode" | "review") => masked(),
            // The owner is a code (`client`, `me`) or a name: shown in words.
            "action" => t!("agenda.action", what = action_text(&it.what)).into_owned(),
            _ => it.describe(),
        }
    }
}

/// Column widths: when (a day and a time), who, where.
const WHEN: u16 = 17;
const WHO: u16 = 20;
const WHERE: u16 = 24;

/// An action on the agenda is "text (owner)": the owner in words.
fn action_text(what: &str) -> String {
    match what.rsplit_once(" (") {
        Some((text, who)) if who.ends_with(')') => {
            format!("{text} ({})", owner(&who[..who.len() - 1]))
        }
        _ => what.to_owned(),
    }
}
