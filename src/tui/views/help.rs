//! `?`: every key of the current screen, then the ones that work everywhere.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::i18n::t;

/// The screen's keys (key, catalog key of what it does) and the global ones, in words.
pub fn bindings(
    screen: Vec<(&'static str, &'static str)>,
    unlocked: bool,
) -> Vec<(&'static str, String)> {
    let mut b = screen;
    if unlocked {
        b.extend([("Ctrl-L", "help.lock"), ("F2", "help.privacy")]);
    }
    b.extend([("? F1", "help.help"), ("Ctrl-Q", "help.quit")]);
    b.into_iter()
        .map(|(k, d)| (k, t!(d).into_owned()))
        .collect()
}

/// Draws the help box over the screen.
pub fn draw(bindings: &[(&'static str, String)], frame: &mut Frame, area: Rect) {
    let key_width = bindings.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let lines: Vec<String> = bindings
        .iter()
        .map(|(k, d)| format!("{k:<key_width$}  {d}"))
        .collect();
    let height = (lines.len() as u16 + 4).min(area.height);
    let width = 64.min(area.width);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, popup);
    let text = format!("{}\n\n{}", lines.join("\n"), t!("help.close"));
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(t!("help.title").into_owned()),
        ),
        popup,
    );
}
