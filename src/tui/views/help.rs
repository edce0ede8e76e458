//! `?`: every key binding of the current screen.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::i18n::t;
use crate::tui::app::{App, Screen};

/// (key, catalog key of what it does) for the current screen, then the global ones.
pub fn bindings(app: &App) -> Vec<(&'static str, String)> {
    let mut b: Vec<(&'static str, &'static str)> = match &app.screen {
        Screen::FirstRun(_) => vec![("Tab", "help.next_field"), ("Enter", "help.create")],
        Screen::Unlock(_) => vec![("Enter", "help.unlock")],
        Screen::Caseload(_) => vec![
            ("↑ ↓", "help.move"),
            ("Enter", "help.open"),
            ("/", "help.search"),
            ("Esc", "help.clear_search"),
            ("s", "help.sort"),
            ("a", "help.all"),
            ("n", "help.new_client"),
            ("c", "help.conflicts"),
            ("t", "help.today"),
            ("r", "help.reveal"),
        ],
        Screen::Agenda(_) => vec![
            ("↑ ↓", "help.move"),
            ("Enter", "help.open"),
            ("Esc", "help.back"),
        ],
        Screen::Conflicts(_) => vec![
            ("↑ ↓", "help.move"),
            ("Enter b", "help.confirm_shown"),
            ("o", "help.choose_other"),
            ("Esc", "help.back"),
        ],
        Screen::Dossier(_) => vec![
            ("↑ ↓", "help.move"),
            ("n", "help.new_note"),
            ("c", "help.correct"),
            ("e", "help.edit_client"),
            ("1-6 Tab", "help.tabs"),
            ("b", "help.show_bsn"),
            ("s", "help.show_special"),
            ("r", "help.reveal"),
            ("Esc", "help.back"),
        ],
        Screen::Editor(_) => vec![
            ("Tab", "help.next_field"),
            ("← →", "help.kind"),
            ("Ctrl-B", "help.special"),
            ("Ctrl-S", "help.save"),
            ("Esc", "help.cancel"),
        ],
        Screen::ClientForm(_) => vec![
            ("Tab", "help.next_field"),
            ("Ctrl-S", "help.save"),
            ("Esc", "help.cancel"),
        ],
    };
    if app.unlocked() {
        b.extend([("Ctrl-L", "help.lock"), ("F2", "help.privacy")]);
    }
    b.extend([("? F1", "help.help"), ("Ctrl-Q", "help.quit")]);
    b.into_iter()
        .map(|(k, d)| (k, t!(d).into_owned()))
        .collect()
}

/// Draws the help box over the screen.
pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let lines: Vec<String> = bindings(app)
        .into_iter()
        .map(|(k, d)| format!("{k:<8} {d}"))
        .collect();
    let height = (lines.len() as u16 + 4).min(area.height);
    let width = 56.min(area.width);
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
