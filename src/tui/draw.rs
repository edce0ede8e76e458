//! Drawing the whole app: the screen, a message in full on its own lines, the status bar
//! (which shortens the vault's path, never the message), and help on top when asked.

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::{App, Screen};
use super::views::{colors, dim, fg, help, width, wrap};
use crate::i18n::t;

/// Draws the app at `now` (for the idle timer).
pub fn draw(app: &App, frame: &mut Frame, now: Instant) {
    let area = frame.area();
    let message: Vec<String> = app
        .message
        .as_deref()
        .map(|m| wrap(&format!(" {m}"), area.width as usize))
        .unwrap_or_default();
    let message_h = (message.len() as u16).min(area.height.saturating_sub(2) / 2);
    let [body, said, status] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(message_h),
        Constraint::Length(1),
    ])
    .areas(area);
    let ctx = app.ctx();
    let path = app.opts.path.display().to_string();
    match &app.screen {
        Screen::FirstRun(s) => s.draw(&ctx, &path, frame, body),
        Screen::Unlock(s) => s.draw(&ctx, &path, frame, body),
        Screen::Caseload(s) => s.draw(&ctx, frame, body),
        Screen::Dossier(s) => s.draw(&ctx, frame, body),
        Screen::Editor(s) => s.draw(&ctx, frame, body),
        Screen::Form(s) => s.draw(&ctx, frame, body),
        Screen::Conflicts(s) => s.draw(&ctx, frame, body),
        Screen::Agenda(s) => s.draw(&ctx, frame, body),
    }
    if message_h > 0 {
        let style = fg(Color::Cyan).add_modifier(Modifier::BOLD);
        let lines: Vec<Line> = message
            .into_iter()
            .map(|l| Line::from(Span::styled(l, style)))
            .collect();
        frame.render_widget(Paragraph::new(lines), said);
    }
    status_bar(app, frame, status, now);
    if app.help {
        let bindings = help::bindings(app.keys(), app.unlocked());
        help::draw(&bindings, frame, body);
    }
}

/// The status bar's parts that fit in `width`: what cannot go (locked or the time left,
/// the privacy screen) always; the path shortened before anything else goes.
fn status_parts(app: &App, now: Instant, cols: usize) -> Vec<(String, Style)> {
    let timer = if app.unlocked() {
        let left = app.remaining(now).as_secs();
        t!(
            "tui.locks_in",
            time = format!("{}:{:02}", left / 60, left % 60)
        )
    } else {
        t!("tui.locked")
    }
    .into_owned();
    let privacy = app.privacy.then(|| t!("tui.privacy_on").into_owned());
    let full = app.opts.path.display().to_string();
    let name = app
        .opts
        .path
        .file_name()
        .map_or_else(|| full.clone(), |n| format!("…/{}", n.to_string_lossy()));
    let lang = app.opts.lang.code().to_owned();
    let help = t!("tui.help_hint").into_owned();
    let warn = fg(Color::Yellow).add_modifier(Modifier::BOLD);
    // From the most to the least to say.
    let tries: [(Option<&str>, bool, bool); 5] = [
        (Some(&full), true, true),
        (Some(&name), true, true),
        (Some(&name), false, true),
        (None, false, true),
        (None, false, false),
    ];
    let mut parts = Vec::new();
    for (path, with_lang, with_help) in tries {
        parts = vec![(" kluis".to_owned(), Style::default())];
        if let Some(p) = path {
            parts.push((p.to_owned(), Style::default()));
        }
        if with_lang {
            parts.push((lang.clone(), Style::default()));
        }
        parts.push((timer.clone(), Style::default()));
        if let Some(p) = &privacy {
            parts.push((p.clone(), warn));
        }
        if with_help {
            parts.push((help.clone(), dim()));
        }
        let used: usize = parts.iter().map(|(s, _)| width(s) + 3).sum();
        if used <= cols + 3 {
            break;
        }
    }
    parts
}

fn status_bar(app: &App, frame: &mut Frame, area: Rect, now: Instant) {
    let mut spans = Vec::new();
    for (i, (text, style)) in status_parts(app, now, area.width as usize)
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            spans.push(Span::raw(" · "));
        }
        spans.push(Span::styled(text, style));
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(if colors() {
            Style::default().bg(Color::Black).fg(Color::White)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }),
        area,
    );
}
