//! One client's file: details (BSN masked), the notes timeline newest first with superseded
//! notes marked, and contacts per month.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Borders, Paragraph, Wrap};

use super::{date, datetime, dim, initials, masked, selected};
use crate::i18n::t;
use crate::model::{Client, Note};
use crate::tui::app::{App, Outcome, Screen};
use crate::tui::views::{caseload::Caseload, client_form::ClientForm, editor::NoteEditor};

/// State of the dossier screen.
pub struct Dossier {
    client: Client,
    notes: Vec<Note>,
    per_month: Vec<(String, u64)>,
    selected: usize,
    /// Privacy mode: this client shown in full until the user leaves it.
    revealed: bool,
}

impl Dossier {
    /// Loads a client; None when it is gone.
    pub fn open(app: &App, id: &str) -> Option<Dossier> {
        let store = app.session.as_ref()?.store();
        let client = store.client(id).ok()?;
        let notes = store.notes(id).ok()?;
        let today = app.opts.now().date();
        let per_month = store.contacts_per_month(id, today, 12).unwrap_or_default();
        Some(Dossier {
            client,
            notes,
            per_month,
            selected: 0,
            revealed: false,
        })
    }

    /// The client shown.
    pub fn client_id(&self) -> &str {
        &self.client.id
    }

    /// Handles a key.
    pub fn handle(mut self, key: KeyEvent, app: &mut App) -> (Screen, Outcome) {
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(self.notes.len().saturating_sub(1))
            }
            KeyCode::Esc | KeyCode::Backspace => {
                return (Screen::Caseload(Caseload::back(app)), Outcome::None);
            }
            KeyCode::Char('r') => self.revealed = !self.revealed,
            KeyCode::Char('n') => {
                return (
                    Screen::Editor(Box::new(NoteEditor::new(
                        &self.client.id,
                        None,
                        app.opts.now(),
                    ))),
                    Outcome::None,
                );
            }
            KeyCode::Char('c') => {
                // Correct the newest version of the selected note.
                if let Some(n) = self.notes.get(self.selected) {
                    let mut target = n.clone();
                    while let Some(next) = target
                        .superseded_by
                        .as_ref()
                        .and_then(|id| self.notes.iter().find(|m| &m.id == id))
                    {
                        target = next.clone();
                    }
                    let mut editor =
                        NoteEditor::new(&self.client.id, Some(target.id.clone()), app.opts.now());
                    editor.prefill(&target);
                    return (Screen::Editor(Box::new(editor)), Outcome::None);
                }
            }
            KeyCode::Char('e') => {
                return (
                    Screen::ClientForm(ClientForm::edit(&self.client)),
                    Outcome::None,
                );
            }
            _ => {}
        }
        (Screen::Dossier(self), Outcome::None)
    }

    /// Draws the screen.
    pub fn draw(&self, app: &App, frame: &mut Frame, area: Rect) {
        let hide = app.privacy && !self.revealed;
        let lang = app.opts.lang;
        let [top, timeline] =
            Layout::vertical([Constraint::Length(9), Constraint::Min(3)]).areas(area);
        let [details, chart] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(40)]).areas(top);
        let c = &self.client;
        let name = if hide {
            initials(&c.name)
        } else {
            c.name.clone()
        };
        let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        let private = |v: Option<String>| {
            if hide && v.is_some() {
                masked()
            } else {
                or_dash(v)
            }
        };
        let bsn = c.bsn.as_ref().map(|b| {
            if hide {
                "*********".to_owned()
            } else {
                b.masked()
            }
        });
        let status = match c.closed_on {
            Some(d) => format!("{} ({})", c.status, date(lang, &d.to_string())),
            None => c.status.to_string(),
        };
        let rows = [
            (t!("field.bsn"), or_dash(bsn)),
            (
                t!("field.birth_date"),
                private(c.birth_date.map(|d| date(lang, &d.to_string()))),
            ),
            (t!("field.address"), private(c.address.clone())),
            (t!("field.phone"), private(c.phone.clone())),
            (t!("field.domain"), c.domain.to_string()),
            (t!("field.status"), status),
            (t!("field.opened_on"), date(lang, &c.opened_on.to_string())),
        ];
        let lines: Vec<Line> = rows
            .into_iter()
            .map(|(l, v)| Line::from(vec![Span::styled(format!("{l:<14}"), dim()), Span::raw(v)]))
            .collect();
        frame.render_widget(
            Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(name)),
            details,
        );

        let bars: Vec<Bar> = self
            .per_month
            .iter()
            .map(|(m, n)| {
                Bar::default()
                    .value(*n)
                    .label(Line::from(m[5..7].to_owned()))
            })
            .collect();
        frame.render_widget(
            BarChart::default()
                .block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(t!("tui.contacts_per_month").into_owned()),
                )
                .data(BarGroup::default().bars(&bars))
                .bar_width(2)
                .bar_gap(1),
            chart,
        );

        let mut lines: Vec<Line> = Vec::new();
        for (i, n) in self.notes.iter().enumerate() {
            let mut head = format!(
                "{}  {}  {}",
                datetime(lang, &n.occurred_at),
                n.kind,
                n.author
            );
            if n.superseded_by.is_some() {
                head.push_str(&format!("  [{}]", t!("tui.superseded")));
            }
            if n.supersedes.is_some() {
                head.push_str(&format!("  [{}]", t!("tui.correction")));
            }
            let style = if i == self.selected {
                selected()
            } else {
                Style::default().add_modifier(Modifier::BOLD)
            };
            lines.push(Line::from(Span::styled(head, style)));
            let body_style = if n.superseded_by.is_some() {
                dim().add_modifier(Modifier::CROSSED_OUT)
            } else {
                Style::default()
            };
            if hide {
                lines.push(Line::from(Span::styled(format!("  {}", masked()), dim())));
            } else {
                for l in n.body.lines() {
                    lines.push(Line::from(Span::styled(format!("  {l}"), body_style)));
                }
            }
            lines.push(Line::raw(""));
        }
        if self.notes.is_empty() {
            lines.push(Line::from(Span::styled(
                t!("list.no_notes").into_owned(),
                dim(),
            )));
        }
        // Keep the selected note in view.
        let scroll = self
            .notes
            .iter()
            .take(self.selected)
            .map(|n| if hide { 3 } else { 2 + n.body.lines().count() })
            .sum::<usize>();
        let visible = timeline.height.saturating_sub(2) as usize;
        let offset = scroll.saturating_sub(visible / 2) as u16;
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .scroll((offset, 0))
                .block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(t!("tui.timeline", count = self.notes.len()).into_owned()),
                ),
            timeline,
        );
    }
}
