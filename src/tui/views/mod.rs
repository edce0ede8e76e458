//! One file per screen: its state, its keys (which return a [`Nav`](super::nav::Nav)) and
//! its drawing. Shared here: masking for the privacy screen, dates as people write them,
//! words for stored codes, wrapping, list movement and styles. Nothing here reads the
//! session or builds another screen.

pub mod agenda;
pub mod caseload;
pub mod conflicts;
pub mod dossier;
pub mod editor;
pub mod fields;
pub mod first_run;
pub mod form;
pub mod help;
pub mod nudge;
pub mod overview;
pub mod tabs;
pub mod textbox;
pub mod unlock;

use std::cell::Cell;

use ratatui::Frame;
use ratatui::crossterm::event::KeyCode;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Paragraph, Row, Wrap};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::i18n::{Lang, t};

/// Initials only: "Fatima el Amrani" → "F. e. A.".
pub fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .map(|c| format!("{c}."))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the privacy screen shows instead of text.
pub fn masked() -> String {
    "••••••".to_owned()
}

/// A name as the privacy screen shows it: initials unless revealed.
pub fn name_shown(hide: bool, name: &str) -> String {
    if hide {
        initials(name)
    } else {
        name.to_owned()
    }
}

/// A private text as the privacy screen shows it: dots unless revealed.
pub fn text_shown(hide: bool, text: &str) -> String {
    if hide { masked() } else { text.to_owned() }
}

/// A stored date (`YYYY-MM-DD…`) as people write it: `14-03-2026` in Dutch, ISO in English.
pub fn date(lang: Lang, stored: &str) -> String {
    let d = &stored[..stored.len().min(10)];
    match (lang, d.len()) {
        (Lang::Nl, 10) => format!("{}-{}-{}", &d[8..10], &d[5..7], &d[0..4]),
        _ => d.to_owned(),
    }
}

/// A stored date-time as people write it, to the minute.
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

/// The word for a stored code of a choice, in the reader's language: a note kind, a
/// domain, a relation, a scope, an action's state. Unknown codes are shown as stored.
pub fn code_label(field: &str, code: &str) -> String {
    let key = match field {
        "relation" => format!("relation.{code}"),
        "scope" => format!("scope.{code}"),
        "status" => format!("action_status.{code}"),
        "domain" => format!("domain.{code}"),
        "kind" => format!("note_kind.{code}"),
        // The meldcode's choices (whom consulted, the decision, a ground to withhold).
        "step" | "consulted" | "decision" | "withheld" => format!("choice.{field}.{code}"),
        _ => return code.to_owned(),
    };
    let word = t!(key.as_str()).into_owned();
    if word == key { code.to_owned() } else { word }
}

/// A life domain in the reader's language: the default (ZRM) domains have words in both
/// catalogs; an organisation's own domains are shown as configured.
pub fn life_domain(domain: &str) -> String {
    match crate::model::LIFE_DOMAINS.iter().position(|d| *d == domain) {
        Some(i) => t!(format!("life_domain.{i}")).into_owned(),
        None => domain.to_owned(),
    }
}

/// Who does an action: the codes `client` and `me` in words, anything else as written.
pub fn owner(code: &str) -> String {
    match code {
        "client" => t!("word.client").into_owned(),
        "me" => t!("word.me").into_owned(),
        other => other.to_owned(),
    }
}

/// Display width of a text.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Wraps text to `width` columns at spaces, breaking words longer than a line; a line
/// break in the text starts a new line.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        let mut used = 0;
        for word in para.split(' ') {
            let w = UnicodeWidthStr::width(word);
            if used > 0 && used + 1 + w > width {
                out.push(std::mem::take(&mut line));
                used = 0;
            } else if used > 0 {
                line.push(' ');
                used += 1;
            }
            if w <= width - used {
                line.push_str(word);
                used += w;
                continue;
            }
            for c in word.chars() {
                let cw = c.width().unwrap_or(0);
                if used + cw > width {
                    out.push(std::mem::take(&mut line));
                    used = 0;
                }
                line.push(c);
                used += cw;
            }
        }
        out.push(line);
    }
    out
}

/// Cuts text to `width` columns, with "…" when it was longer.
pub fn cut(text: &str, width: usize) -> String {
    if UnicodeWidthStr::width(text) <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let cw = c.width().unwrap_or(0);
        if used + cw + 1 > width {
            break;
        }
        out.push(c);
        used += cw;
    }
    out.push('…');
    out
}

/// A selection in a list: arrows, j/k, Home/End and PgUp/PgDn move it. The page is what
/// the list showed when it was last drawn.
#[derive(Debug, Default)]
pub struct Cursor {
    /// The selected row.
    pub at: usize,
    /// Rows the list showed last time.
    pub page: Cell<usize>,
}

impl Cursor {
    /// Moves for a key; false when the key is not a movement.
    pub fn key(&mut self, code: KeyCode, len: usize) -> bool {
        let last = len.saturating_sub(1);
        let page = self.page.get().max(1);
        self.at = match code {
            KeyCode::Up | KeyCode::Char('k') => self.at.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => (self.at + 1).min(last),
            KeyCode::Home => 0,
            KeyCode::End => last,
            KeyCode::PageUp => self.at.saturating_sub(page),
            KeyCode::PageDown => (self.at + page).min(last),
            _ => return false,
        };
        true
    }

    /// Keeps the selection inside a list of `len`.
    pub fn clamp(&mut self, len: usize) {
        self.at = self.at.min(len.saturating_sub(1));
    }

    /// The first row to show so the selection is in view, for a list of `len` rows with
    /// `visible` rows of room (and remembers the page).
    pub fn first(&self, len: usize, visible: usize) -> usize {
        self.page.set(visible.max(1));
        self.at
            .saturating_sub(visible / 2)
            .min(len.saturating_sub(visible))
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

/// Bold.
pub fn bold() -> Style {
    Style::default().add_modifier(Modifier::BOLD)
}

/// A table row, highlighted when selected.
pub fn highlight(row: Row<'_>, on: bool) -> Row<'_> {
    if on { row.style(selected()) } else { row }
}

/// A dim line inside an empty list (or a red one when the list could not be read).
pub fn hint(frame: &mut Frame, list: Rect, text: &str, failed: bool) {
    let style = if failed { error() } else { dim() };
    frame.render_widget(
        Paragraph::new(text.to_owned())
            .style(style)
            .wrap(Wrap { trim: true }),
        inner(list),
    );
}

fn inner(area: Rect) -> Rect {
    Rect {
        x: area.x + 2,
        y: area.y + 2,
        width: area.width.saturating_sub(4),
        height: area.height.saturating_sub(3),
    }
}

/// A list read through the session, or why it could not be.
pub type Loaded<T> = Result<Vec<T>, String>;

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

    #[test]
    fn wrapping_keeps_words_and_breaks_long_ones() {
        assert_eq!(
            wrap("de kat zat op de mat", 9),
            vec!["de kat", "zat op de", "mat"]
        );
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("een\ntwee", 20), vec!["een", "twee"]);
        assert_eq!(cut("Toegangslogboek", 8), "Toegang…");
        assert_eq!(cut("kort", 8), "kort");
    }

    #[test]
    fn lists_move_by_page_and_to_the_ends() {
        let mut c = Cursor::default();
        assert_eq!(c.first(100, 10), 0);
        assert!(c.key(KeyCode::PageDown, 100));
        assert_eq!(c.at, 10);
        c.key(KeyCode::End, 100);
        assert_eq!(c.at, 99);
        assert_eq!(c.first(100, 10), 90);
        c.key(KeyCode::PageUp, 100);
        assert_eq!(c.at, 89);
        c.key(KeyCode::Home, 100);
        assert_eq!(c.at, 0);
        assert!(!c.key(KeyCode::Char('x'), 100));
    }
}
