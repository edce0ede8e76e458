//! One file per screen: each has its state, its key handling and its drawing. Shared here:
//! masking for privacy mode, dates in the user's format, the status bar and the help overlay.

pub mod agenda;
pub mod caseload;
pub mod client_form;
pub mod conflicts;
pub mod dossier;
pub mod dossier_tabs;
pub mod editor;
pub mod first_run;
pub mod help;
pub mod unlock;

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row};

use super::app::{App, Screen};
use crate::i18n::{Lang, t};

/// Initials only: "Fatima el Amrani" → "F. e. A.".
pub fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .map(|c| format!("{c}."))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What privacy mode shows instead of text.
pub fn masked() -> String {
    "••••••".to_owned()
}

/// A stored date (`YYYY-MM-DD…`) in the user's format: `14-03-2026` in Dutch.
pub fn date(lang: Lang, stored: &str) -> String {
    let d = &stored[..stored.len().min(10)];
    match (lang, d.len()) {
        (Lang::Nl, 10) => format!("{}-{}-{}", &d[8..10], &d[5..7], &d[0..4]),
        _ => d.to_owned(),
    }
}

/// A stored date-time in the user's format, to the minute.
pub fn datetime(lang: Lang, stored: &str) -> String {
    let time = stored.get(11..16).unwrap_or("");
    format!("{} {time}", date(lang, stored))
        .trim_end()
        .to_owned()
}

/// A stored UTC time (RFC 3339) in the user's format and time zone, to the minute.
pub fn local_datetime(lang: Lang, utc: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(utc) {
        Ok(t) => {
            let local = t.with_timezone(&chrono::Local).naive_local();
            datetime(lang, &crate::model::format_datetime(local))
        }
        Err(_) => datetime(lang, utc),
    }
}

/// Style of the selected row.
pub fn selected() -> Style {
    Style::default().add_modifier(Modifier::REVERSED)
}

/// Whether colours may be used: not when `NO_COLOR` is set to anything (no-color.org).
pub fn colors() -> bool {
    static COLORS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *COLORS.get_or_init(|| std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()))
}

/// A foreground colour, or nothing without colours.
pub fn fg(c: Color) -> Style {
    if colors() {
        Style::default().fg(c)
    } else {
        Style::default()
    }
}

/// Style of secondary text.
pub fn dim() -> Style {
    if colors() {
        Style::default().fg(Color::DarkGray)
    } else {
        Style::default().add_modifier(Modifier::DIM)
    }
}

/// Style of error text.
pub fn error() -> Style {
    fg(Color::Red).add_modifier(Modifier::BOLD)
}

/// A table row, highlighted when selected.
pub fn highlight(row: Row<'_>, on: bool) -> Row<'_> {
    if on { row.style(selected()) } else { row }
}

/// A dim line inside an empty list.
pub fn hint(frame: &mut Frame, list: Rect, text: &str) {
    frame.render_widget(Paragraph::new(text.to_owned()).style(dim()), inner(list));
}

fn inner(area: Rect) -> Rect {
    Rect {
        x: area.x + 2,
        y: area.y + 2,
        width: area.width.saturating_sub(4),
        height: area.height.saturating_sub(3),
    }
}

/// Draws the whole app: the screen, the status bar, and help on top when asked.
pub fn draw(app: &App, frame: &mut Frame, now: Instant) {
    let [body, status] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(frame.area());
    match &app.screen {
        Screen::FirstRun(s) => s.draw(app, frame, body),
        Screen::Unlock(s) => s.draw(app, frame, body),
        Screen::Caseload(s) => s.draw(app, frame, body),
        Screen::Dossier(s) => s.draw(app, frame, body),
        Screen::Editor(s) => s.draw(app, frame, body),
        Screen::ClientForm(s) => s.draw(app, frame, body),
        Screen::Conflicts(s) => s.draw(app, frame, body),
        Screen::Agenda(s) => s.draw(app, frame, body),
    }
    status_bar(app, frame, status, now);
    if app.help {
        help::draw(app, frame, body);
    }
}

fn status_bar(app: &App, frame: &mut Frame, area: Rect, now: Instant) {
    let mut spans = vec![Span::raw(format!(
        " kluis · {} · {}",
        app.opts.path.display(),
        app.opts.lang.code()
    ))];
    if app.unlocked() {
        let left = app.remaining(now).as_secs();
        spans.push(Span::raw(format!(
            " · {}",
            t!(
                "tui.locks_in",
                time = format!("{}:{:02}", left / 60, left % 60)
            )
        )));
    } else {
        spans.push(Span::raw(format!(" · {}", t!("tui.locked"))));
    }
    if app.privacy {
        spans.push(Span::styled(
            format!(" · {}", t!("tui.privacy_on")),
            fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ));
    }
    spans.push(Span::styled(format!(" · {}", t!("tui.help_hint")), dim()));
    if let Some(m) = &app.message {
        spans.push(Span::styled(
            format!(" · {m}"),
            fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_and_dates() {
        assert_eq!(initials("Fatima el Amrani"), "F. e. A.");
        assert_eq!(date(Lang::Nl, "2026-03-14T09:30:00"), "14-03-2026");
        assert_eq!(date(Lang::En, "2026-03-14T09:30:00"), "2026-03-14");
        assert_eq!(
            datetime(Lang::Nl, "2026-03-14T09:30:00"),
            "14-03-2026 09:30"
        );
    }
}
