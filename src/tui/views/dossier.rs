//! One client's file: details (BSN masked), consents and who saw the file, the notes
//! timeline newest first with superseded and special-category notes marked, and contacts
//! per month. Opening it, showing the whole BSN and showing a special note are logged.

use std::collections::HashSet;

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Borders, Paragraph, Wrap};

use super::{date, datetime, dim, initials, local_datetime, masked, selected};
use crate::i18n::t;
use crate::model::{AuditEntry, Client, Consent, Note};
use crate::tui::app::{App, Outcome, Screen};
use crate::tui::views::dossier_tabs::{self, Depth, Tab};
use crate::tui::views::{caseload::Caseload, client_form::ClientForm, editor::NoteEditor};

/// State of the dossier screen.
pub struct Dossier {
    /// The details; `client.bsn` holds the digits only while they are shown (`b`, logged).
    client: Client,
    /// The BSN as lists show it.
    bsn_masked: Option<String>,
    notes: Vec<Note>,
    per_month: Vec<(String, u64)>,
    selected: usize,
    /// Privacy mode: this client shown in full until the user leaves it.
    revealed: bool,
    consents: Vec<Consent>,
    /// The newest entries of the access log about this client, newest first.
    seen_by: Vec<AuditEntry>,
    /// The whole BSN is shown (`b`, logged).
    bsn_shown: bool,
    /// Special-category notes shown (`s` on the note, logged).
    special_shown: HashSet<String>,
    /// The tab shown.
    tab: Tab,
    /// Plan, household and network, scores, log.
    depth: Depth,
}

/// How many access log entries the dossier shows.
const SEEN_BY: usize = 4;

impl Dossier {
    /// Loads a dossier through the session (which logs the view); None when it is gone,
    /// with the reason in the status bar.
    pub fn open(app: &mut App, id: &str) -> Option<Box<Dossier>> {
        let today = app.opts.now().date();
        let session = app.session.as_mut()?;
        let loaded = session.dossier(id).and_then(|d| {
            let per_month = session.contacts_per_month(id, today, 12)?;
            Ok((d, per_month))
        });
        let (d, per_month) = match loaded {
            Ok(x) => x,
            Err(e) => {
                app.message = Some(e.to_string());
                return None;
            }
        };
        let mut log = d.log;
        log.reverse();
        Some(Box::new(Dossier {
            client: d.details.client,
            bsn_masked: d.details.bsn_masked,
            notes: d.notes,
            per_month,
            selected: 0,
            revealed: false,
            consents: d.details.consents,
            seen_by: log.iter().take(SEEN_BY).cloned().collect(),
            bsn_shown: false,
            special_shown: HashSet::new(),
            tab: Tab::Overview,
            depth: Depth {
                household: d.household,
                contacts: d.contacts,
                goals: d.goals,
                actions: d.actions,
                assessments: d.assessments,
                visits: d.visits,
                attachments: d.attachments,
                evaluations: d.evaluations,
                log,
            },
        }))
    }

    fn reload_log(&mut self, app: &mut App) {
        let Some(s) = &app.session else {
            return;
        };
        match s.audit(Some(&self.client.id)) {
            Ok(mut all) => {
                all.reverse();
                self.seen_by = all.iter().take(SEEN_BY).cloned().collect();
                self.depth.log = all;
            }
            Err(e) => app.message = Some(e.to_string()),
        }
    }

    /// The whole BSN, through the session (which logs it); None when it cannot be logged.
    fn reveal_bsn(&self, app: &mut App, why: &str) -> Option<crate::model::Bsn> {
        match app.session.as_mut()?.reveal_bsn(&self.client.id, why) {
            Ok(bsn) => bsn,
            Err(e) => {
                app.message = Some(e.to_string());
                None
            }
        }
    }

    /// The client shown.
    pub fn client_id(&self) -> &str {
        &self.client.id
    }

    /// Handles a key.
    pub fn handle(mut self: Box<Self>, key: KeyEvent, app: &mut App) -> (Screen, Outcome) {
        match key.code {
            KeyCode::Tab => self.tab = self.tab.step(true),
            KeyCode::BackTab => self.tab = self.tab.step(false),
            KeyCode::Char(c @ '1'..='6') => {
                self.tab = Tab::ALL[usize::from(c as u8 - b'1')];
            }
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(self.notes.len().saturating_sub(1))
            }
            KeyCode::Esc | KeyCode::Backspace => {
                return (Screen::Caseload(Caseload::back(app)), Outcome::None);
            }
            KeyCode::Char('r') => self.revealed = !self.revealed,
            KeyCode::Char('b') => {
                if self.bsn_shown {
                    self.bsn_shown = false;
                    self.client.bsn = None;
                } else if self.bsn_masked.is_some()
                    && let Some(bsn) = self.reveal_bsn(app, "tui")
                {
                    self.client.bsn = Some(bsn);
                    self.bsn_shown = true;
                    self.reload_log(app);
                }
            }
            KeyCode::Char('s') => {
                if let Some(i) = self
                    .notes
                    .get(self.selected)
                    .filter(|n| n.special)
                    .map(|_| self.selected)
                {
                    let id = self.notes[i].id.clone();
                    if self.special_shown.remove(&id) {
                        use zeroize::Zeroize;
                        self.notes[i].body.zeroize();
                        self.notes[i].body.clear();
                    } else if let Some(session) = app.session.as_mut() {
                        match session.reveal_note(&id) {
                            Ok(n) => {
                                self.notes[i].body = n.body.clone();
                                self.special_shown.insert(id);
                                self.reload_log(app);
                            }
                            Err(e) => app.message = Some(e.to_string()),
                        }
                    }
                }
            }
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
                    // Correcting shows the newest version's text: a hidden special note is
                    // shown (and logged) with `s` first.
                    if target.special && !self.special_shown.contains(&target.id) {
                        app.message = Some(t!("tui.special_show_first").into_owned());
                        return (Screen::Dossier(self), Outcome::None);
                    }
                    let mut editor =
                        NoteEditor::new(&self.client.id, Some(target.id.clone()), app.opts.now());
                    editor.prefill(&target);
                    return (Screen::Editor(Box::new(editor)), Outcome::None);
                }
            }
            KeyCode::Char('e') => {
                // The form shows the whole BSN to edit it: a reveal like `b`.
                let mut client = self.client.clone();
                if self.bsn_masked.is_some() && client.bsn.is_none() {
                    match self.reveal_bsn(app, "edit form") {
                        Some(bsn) => client.bsn = Some(bsn),
                        None => return (Screen::Dossier(self), Outcome::None),
                    }
                }
                return (Screen::ClientForm(ClientForm::edit(&client)), Outcome::None);
            }
            _ => {}
        }
        (Screen::Dossier(self), Outcome::None)
    }

    /// Draws the screen.
    pub fn draw(&self, app: &App, frame: &mut Frame, area: Rect) {
        let hide = app.privacy && !self.revealed;
        let lang = app.opts.lang;
        let [tabs, area] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(area);
        frame.render_widget(Paragraph::new(dossier_tabs::bar(self.tab)), tabs);
        if self.tab != Tab::Overview {
            dossier_tabs::draw(self.tab, &self.depth, lang, hide, frame, area);
            return;
        }
        let [top, middle, timeline] = Layout::vertical([
            Constraint::Length(10),
            Constraint::Length(SEEN_BY as u16 + 2),
            Constraint::Min(3),
        ])
        .areas(area);
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
        let bsn = match (&c.bsn, &self.bsn_masked) {
            (_, Some(_)) if hide => Some("*********".to_owned()),
            (Some(b), _) if self.bsn_shown => Some(b.digits().to_owned()),
            (_, m) => m.clone(),
        };
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
            // Children in the household, at a glance.
            (t!("tui.children"), {
                let kids: Vec<String> = self
                    .depth
                    .household
                    .iter()
                    .filter(|h| h.relation == crate::model::Relation::Kind)
                    .map(|h| {
                        if hide {
                            initials(&h.name)
                        } else {
                            h.name.clone()
                        }
                    })
                    .collect();
                if kids.is_empty() {
                    "-".to_owned()
                } else {
                    kids.join(", ")
                }
            }),
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
        self.draw_privacy(app, frame, middle, hide);

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
            if n.special {
                head.push_str(&format!("  [{}]", t!("note.special")));
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
            let special_hidden = n.special && !self.special_shown.contains(&n.id);
            if hide {
                lines.push(Line::from(Span::styled(format!("  {}", masked()), dim())));
            } else if special_hidden {
                lines.push(Line::from(Span::styled(
                    format!("  {}", t!("tui.special_hidden")),
                    dim(),
                )));
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
            .map(|n| {
                if hide || (n.special && !self.special_shown.contains(&n.id)) {
                    3
                } else {
                    2 + n.body.lines().count()
                }
            })
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

impl Dossier {
    /// Consents (flagged when they end within 30 days) and who saw the file.
    fn draw_privacy(&self, app: &App, frame: &mut Frame, area: Rect, hide: bool) {
        let lang = app.opts.lang;
        let today = app.opts.now().date();
        let [consents, seen] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)]).areas(area);
        let mut lines: Vec<Line> = self
            .consents
            .iter()
            .map(|k| {
                let state = t!(format!("consent.state.{}", k.state(today))).into_owned();
                let org = if hide { masked() } else { k.org.clone() };
                let mut spans = vec![
                    Span::styled(format!("{state:<10}"), dim()),
                    Span::raw(format!(
                        "{org} · {}",
                        t!(format!("scope.{}", k.scope.code()))
                    )),
                ];
                if k.expires_within(today, 30) {
                    spans.push(Span::styled(
                        format!(" ⚑ {}", date(lang, &k.until.unwrap_or(today).to_string())),
                        Style::default().add_modifier(Modifier::BOLD),
                    ));
                }
                Line::from(spans)
            })
            .collect();
        if lines.is_empty() {
            lines.push(Line::from(Span::styled(
                t!("consent.none").into_owned(),
                dim(),
            )));
        }
        frame.render_widget(
            Paragraph::new(lines).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(t!("field.consents").into_owned()),
            ),
            consents,
        );
        let lines: Vec<Line> = self
            .seen_by
            .iter()
            .map(|e| {
                Line::from(vec![
                    Span::styled(format!("{}  ", local_datetime(lang, &e.at)), dim()),
                    Span::raw(format!("{} · {}", e.user, e.action.label())),
                ])
            })
            .collect();
        frame.render_widget(
            Paragraph::new(lines).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(t!("tui.seen_by").into_owned()),
            ),
            seen,
        );
    }
}
