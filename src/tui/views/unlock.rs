//! The lock screen: a passphrase field without echo.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use zeroize::Zeroizing;

use super::error;
use crate::error::Error;
use crate::i18n::t;
use crate::secret::SecretString;
use crate::session::{Access, Session};
use crate::tui::app::{App, Outcome, Screen};

/// State of the lock screen.
#[derive(Default)]
pub struct Unlock {
    typed: Zeroizing<String>,
    error: Option<String>,
    busy: bool,
}

impl Unlock {
    /// Handles a key.
    pub fn handle(mut self, key: KeyEvent, _app: &mut App) -> (Screen, Outcome) {
        match key.code {
            KeyCode::Enter if !self.typed.is_empty() => {
                self.busy = true;
                return (Screen::Unlock(self), Outcome::Busy);
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
        (Screen::Unlock(self), Outcome::None)
    }

    /// Runs the KDF and opens the vault.
    pub fn finish(mut self, app: &mut App) -> (Screen, Outcome) {
        self.busy = false;
        let pass = SecretString::from(std::mem::take(&mut *self.typed));
        let opened = if app.held_lock.is_some() {
            Session::open_holding(&app.opts.path, &pass, &mut app.held_lock)
        } else {
            Session::open(&app.opts.path, &pass, Access::Write)
        };
        match opened {
            Ok(session) => {
                if session.must_change_passphrase().unwrap_or(false) {
                    self.error = Some(Error::MustChangePassphrase.to_string());
                    app.held_lock = session.close_keep_lock().ok();
                    return (Screen::Unlock(self), Outcome::None);
                }
                (app.enter(session), Outcome::None)
            }
            Err(e) => {
                self.error = Some(e.to_string());
                (Screen::Unlock(self), Outcome::None)
            }
        }
    }

    /// Draws the screen.
    pub fn draw(&self, app: &App, frame: &mut Frame, area: Rect) {
        let [_, middle, _] = Layout::vertical([
            Constraint::Fill(1),
            Constraint::Length(9),
            Constraint::Fill(1),
        ])
        .areas(area);
        let [_, boxed, _] = Layout::horizontal([
            Constraint::Fill(1),
            Constraint::Length(64),
            Constraint::Fill(1),
        ])
        .areas(middle);
        let dots = "•".repeat(self.typed.chars().count().min(40));
        let mut text = format!(
            "{}\n\n{} {dots}▏\n",
            app.opts.path.display(),
            t!("prompt.passphrase")
        );
        if self.busy {
            text.push_str(&format!("\n{}", t!("tui.unlocking")));
        }
        let block = Block::default()
            .borders(Borders::ALL)
            .title(t!("tui.unlock_title").into_owned());
        let [field, err] = Layout::vertical([Constraint::Length(6), Constraint::Length(3)])
            .areas(block.inner(boxed));
        frame.render_widget(block, boxed);
        frame.render_widget(Paragraph::new(text), field);
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
