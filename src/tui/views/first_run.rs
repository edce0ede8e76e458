//! First run: what kluis is, where the vault will live, and a passphrase chosen twice with
//! a live strength meter.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::widgets::{Block, Borders, Gauge, Paragraph, Wrap};
use zeroize::Zeroizing;

use super::error;
use crate::i18n::t;
use crate::secret::SecretString;
use crate::session::Session;
use crate::tui::app::{App, Outcome, Screen};

/// State of the first-run screen.
#[derive(Default)]
pub struct FirstRun {
    first: Zeroizing<String>,
    second: Zeroizing<String>,
    on_second: bool,
    error: Option<String>,
    busy: bool,
}

impl FirstRun {
    fn field(&mut self) -> &mut Zeroizing<String> {
        if self.on_second {
            &mut self.second
        } else {
            &mut self.first
        }
    }

    /// Handles a key.
    pub fn handle(mut self, key: KeyEvent, _app: &mut App) -> (Screen, Outcome) {
        match key.code {
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down => {
                self.on_second = !self.on_second
            }
            KeyCode::Enter if !self.on_second => self.on_second = true,
            KeyCode::Enter => {
                let pass = SecretString::from(self.first.to_string());
                if *self.first != *self.second {
                    self.error = Some(t!("err.passphrase_mismatch").into_owned());
                } else if let Err(e) = crate::strength::check_strength(&pass, &[]) {
                    self.error = Some(e.to_string());
                } else {
                    self.busy = true;
                    return (Screen::FirstRun(self), Outcome::Busy);
                }
            }
            KeyCode::Backspace => {
                self.field().pop();
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.field().push(c)
            }
            _ => {}
        }
        (Screen::FirstRun(self), Outcome::None)
    }

    /// Creates the vault (the KDF runs here).
    pub fn finish(mut self, app: &mut App) -> (Screen, Outcome) {
        self.busy = false;
        let pass = SecretString::from(self.first.to_string());
        let owner = crate::session::default_owner();
        match Session::create(&app.opts.path, &pass, app.opts.kdf, &[], &owner) {
            Ok(session) => (app.enter(session), Outcome::None),
            Err(e) => {
                self.error = Some(e.to_string());
                (Screen::FirstRun(self), Outcome::None)
            }
        }
    }

    /// Draws the screen.
    pub fn draw(&self, app: &App, frame: &mut Frame, area: Rect) {
        let block = Block::default()
            .borders(Borders::ALL)
            .title(t!("tui.first_run_title").into_owned());
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let [intro, fields, meter, advice] = Layout::vertical([
            Constraint::Length(7),
            Constraint::Length(3),
            Constraint::Length(1),
            Constraint::Min(2),
        ])
        .areas(inner);
        let intro_text = format!(
            "{}\n\n{}",
            t!("tui.first_run_intro"),
            t!("tui.first_run_path", path = app.opts.path.display())
        );
        frame.render_widget(Paragraph::new(intro_text).wrap(Wrap { trim: true }), intro);
        let mark = |on: bool| if on { "▶" } else { " " };
        let dots = |s: &str| "•".repeat(s.chars().count().min(40));
        let text = format!(
            "{} {} {}\n{} {} {}",
            mark(!self.on_second),
            t!("prompt.new_passphrase"),
            dots(&self.first),
            mark(self.on_second),
            t!("prompt.repeat_passphrase"),
            dots(&self.second),
        );
        frame.render_widget(Paragraph::new(text), fields);
        let (score, tips) = crate::strength::meter(&self.first, &[]);
        let color = if score >= 3 {
            Color::Green
        } else if score == 2 {
            Color::Yellow
        } else {
            Color::Red
        };
        frame.render_widget(
            Gauge::default()
                .gauge_style(super::fg(color))
                .ratio(f64::from(score) / 4.0)
                .label(t!("tui.strength", score = score).into_owned()),
            meter,
        );
        let mut lines = tips;
        if self.busy {
            lines.push(t!("status.deriving").into_owned());
        }
        let para = Paragraph::new(lines.join("\n")).wrap(Wrap { trim: true });
        match &self.error {
            Some(e) => frame.render_widget(
                Paragraph::new(e.as_str())
                    .style(error())
                    .wrap(Wrap { trim: true }),
                advice,
            ),
            None => frame.render_widget(para, advice),
        }
    }
}
