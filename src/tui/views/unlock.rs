//! The lock screen: a passphrase field without echo.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use zeroize::Zeroizing;

use super::{dim, error};
use crate::i18n::t;
use crate::secret::SecretString;
use crate::tui::nav::{Ctx, Nav};

/// State of the lock screen.
#[derive(Default)]
pub struct Unlock {
    typed: Zeroizing<String>,
    error: Option<String>,
    busy: bool,
    /// The demo vault's passphrase, shown (its data is fictitious).
    pub demo: Option<String>,
}

impl Unlock {
    /// The lock screen; a demo vault's passphrase shown on it.
    pub fn new(demo: Option<String>) -> Unlock {
        Unlock {
            demo,
            ..Unlock::default()
        }
    }

    /// Handles a key.
    pub fn handle(&mut self, key: KeyEvent) -> Nav {
        match key.code {
            KeyCode::Enter if !self.typed.is_empty() => {
                self.busy = true;
                return Nav::Busy;
            }
            KeyCode::Backspace => {
                self.typed.pop();
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.typed.clear()
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.typed.push(c)
            }
            _ => {}
        }
        Nav::Stay
    }

    /// A paste goes into the field (a passphrase from a password manager), one line.
    pub fn paste(&mut self, text: &str) {
        self.typed.push_str(text.lines().next().unwrap_or(""));
    }

    /// After the "working" frame: the passphrase to try.
    pub fn submit(&mut self) -> Nav {
        self.busy = false;
        Nav::Unlock(SecretString::from(std::mem::take(&mut *self.typed)))
    }

    /// The vault did not open.
    pub fn fail(&mut self, why: String) {
        self.error = Some(why);
    }

    /// Its keys, for help.
    pub fn keys(&self) -> Vec<(&'static str, &'static str)> {
        vec![("Enter", "help.unlock")]
    }

    /// Draws the screen.
    pub fn draw(&self, _ctx: &Ctx, path: &str, frame: &mut Frame, area: Rect) {
        let height = if self.demo.is_some() { 11 } else { 9 };
        let [_, middle, _] = Layout::vertical([
            Constraint::Fill(1),
            Constraint::Length(height),
            Constraint::Fill(1),
        ])
        .areas(area);
        let [_, boxed, _] = Layout::horizontal([
            Constraint::Fill(1),
            Constraint::Length(64),
            Constraint::Fill(1),
        ])
        .areas(middle);
        let block = Block::default()
            .borders(Borders::ALL)
            .title(t!("tui.unlock_title").into_owned());
        let inner = block.inner(boxed);
        frame.render_widget(block, boxed);
        let [field, demo, err] = Layout::vertical([
            Constraint::Length(4),
            Constraint::Length(if self.demo.is_some() { 2 } else { 0 }),
            Constraint::Min(1),
        ])
        .areas(inner);
        let dots = "•".repeat(self.typed.chars().count().min(40));
        let mut text = format!("{path}\n{} {dots}▏\n", t!("prompt.passphrase"));
        if self.busy {
            text.push_str(&t!("tui.unlocking"));
        }
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), field);
        if let Some(p) = &self.demo {
            frame.render_widget(
                Paragraph::new(t!("tui.demo_passphrase", passphrase = p).into_owned())
                    .style(dim())
                    .wrap(Wrap { trim: true }),
                demo,
            );
        }
        if let Some(e) = &self.error {
            frame.render_widget(
                Paragraph::new(e.as_str())
                    .style(error())
                    .wrap(Wrap { trim: true }),
                err,
            );
        }
    }
}
