//! Adding or editing a client, with validation (elfproef, dates) and the message next to
//! the field it is about.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::{error, selected};
use crate::error::Error;
use crate::i18n::t;
use crate::model::{self, Bsn, Client, ClientPatch, Domain, NewClient};
use crate::tui::app::{App, Outcome, Screen};
use crate::tui::views::{caseload::Caseload, dossier::Dossier};

const FIELDS: [(&str, &str); 6] = [
    ("field.name", "--name"),
    ("field.bsn", "--bsn"),
    ("field.birth_date", "--birth-date"),
    ("field.domain", "--domain"),
    ("field.address", "--address"),
    ("field.phone", "--phone"),
];

/// State of the client form.
pub struct ClientForm {
    editing: Option<String>,
    values: [String; 6],
    focus: usize,
    errors: [Option<String>; 6],
}

impl ClientForm {
    /// An empty form for a new client.
    pub fn new_client() -> ClientForm {
        let mut values: [String; 6] = Default::default();
        values[3] = Domain::Overig.to_string();
        ClientForm {
            editing: None,
            values,
            focus: 0,
            errors: Default::default(),
        }
    }

    /// A form filled with a client's details.
    pub fn edit(c: &Client) -> ClientForm {
        ClientForm {
            editing: Some(c.id.clone()),
            values: [
                c.name.clone(),
                c.bsn
                    .as_ref()
                    .map(|b| b.digits().to_owned())
                    .unwrap_or_default(),
                c.birth_date.map(|d| d.to_string()).unwrap_or_default(),
                c.domain.to_string(),
                c.address.clone().unwrap_or_default(),
                c.phone.clone().unwrap_or_default(),
            ],
            focus: 0,
            errors: Default::default(),
        }
    }

    fn check<T>(&mut self, i: usize, r: Result<T, Error>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(Error::Invalid { reason, .. }) => {
                self.errors[i] = Some(reason);
                None
            }
            Err(e) => {
                self.errors[i] = Some(e.to_string());
                None
            }
        }
    }

    fn save(&mut self, app: &mut App) -> Option<String> {
        self.errors = Default::default();
        let today = app.opts.now().date();
        let v = self.values.clone();
        let name = self.check(0, model::parse_name("--name", &v[0]));
        let bsn = self.check(
            1,
            if v[1].trim().is_empty() {
                Ok(None)
            } else {
                Bsn::parse(&v[1]).map(Some)
            },
        );
        let birth = self.check(
            2,
            if v[2].trim().is_empty() {
                Ok(None)
            } else {
                model::parse_birth_date(&v[2], today).map(Some)
            },
        );
        let domain = self.check(3, model::parse_choice("--domain", &v[3], Domain::ALL));
        let address = self.check(4, model::parse_optional_line("--address", &v[4]));
        let phone = self.check(5, model::parse_optional_line("--phone", &v[5]));
        let (name, bsn, birth_date, domain, address, phone) =
            (name?, bsn?, birth?, domain?, address?, phone?);
        let session = app.session.as_mut()?;
        let result = match &self.editing {
            None => session.change(|s| {
                s.add_client(&NewClient {
                    name,
                    bsn,
                    birth_date,
                    address,
                    phone,
                    domain,
                    opened_on: today,
                })
            }),
            Some(id) => {
                let patch = ClientPatch {
                    name: Some(name),
                    bsn: Some(bsn),
                    birth_date: Some(birth_date),
                    address: Some(address),
                    phone: Some(phone),
                    domain: Some(domain),
                };
                let id = id.clone();
                session.change(|s| s.edit_client(&id, &patch).map(|_| id.clone()))
            }
        };
        match result {
            Ok(id) => Some(id),
            Err(e) => {
                self.errors[0] = Some(e.to_string());
                None
            }
        }
    }

    /// Handles a key.
    pub fn handle(mut self, key: KeyEvent, app: &mut App) -> (Screen, Outcome) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('s') if ctrl => {
                if let Some(id) = self.save(app) {
                    app.changed = true;
                    app.message = Some(t!("tui.client_saved").into_owned());
                    if let Some(d) = Dossier::open(app, &id) {
                        return (Screen::Dossier(d), Outcome::None);
                    }
                }
            }
            KeyCode::Esc => {
                let back = match self
                    .editing
                    .as_deref()
                    .and_then(|id| Dossier::open(app, id))
                {
                    Some(d) => Screen::Dossier(d),
                    None => Screen::Caseload(Caseload::back(app)),
                };
                return (back, Outcome::None);
            }
            KeyCode::Tab | KeyCode::Down | KeyCode::Enter => {
                self.focus = (self.focus + 1) % FIELDS.len()
            }
            KeyCode::BackTab | KeyCode::Up => {
                self.focus = (self.focus + FIELDS.len() - 1) % FIELDS.len()
            }
            KeyCode::Backspace => {
                self.values[self.focus].pop();
            }
            KeyCode::Char(c) if !ctrl => self.values[self.focus].push(c),
            _ => {}
        }
        (Screen::ClientForm(self), Outcome::None)
    }

    /// Draws the screen.
    pub fn draw(&self, _app: &App, frame: &mut Frame, area: Rect) {
        let title = if self.editing.is_some() {
            t!("tui.edit_client")
        } else {
            t!("tui.new_client")
        };
        let mut lines = Vec::new();
        for (i, (label, _)) in FIELDS.iter().enumerate() {
            let style = if i == self.focus {
                selected()
            } else {
                Default::default()
            };
            let mut spans = vec![
                Span::raw(format!("{:<16}", t!(*label))),
                Span::styled(format!("{} ", self.values[i]), style),
            ];
            if let Some(e) = &self.errors[i] {
                spans.push(Span::styled(format!("  ← {e}"), error()));
            }
            lines.push(Line::from(spans));
            if i == 3 {
                let domains: Vec<String> = Domain::ALL.iter().map(|d| d.to_string()).collect();
                lines.push(Line::from(Span::styled(
                    format!("{:<16}{}", "", domains.join(" | ")),
                    super::dim(),
                )));
            }
        }
        lines.push(Line::raw(""));
        lines.push(Line::from(Span::styled(
            t!("tui.form_hint").into_owned(),
            super::dim(),
        )));
        frame.render_widget(
            Paragraph::new(lines).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(title.into_owned()),
            ),
            area,
        );
    }
}
