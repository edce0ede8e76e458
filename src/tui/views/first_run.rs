//! First run: what kluis is and where the vault will live; then either a personal vault
//! (a passphrase chosen twice, with a live strength meter) or a team vault from the
//! enrollment file IT gave you (its path, its code, then a passphrase chosen twice).

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Gauge, Paragraph, Wrap};
use zeroize::Zeroizing;

use super::{dim, error, selected};
use crate::i18n::t;
use crate::secret::SecretString;
use crate::tui::nav::{Ctx, Nav};

/// Which way in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Path {
    /// Still choosing.
    #[default]
    Choose,
    /// A personal vault.
    Personal,
    /// A team vault from IT's enrollment file.
    Enroll,
}

/// The fields, in order, for each way in.
const PERSONAL: &[Field] = &[Field::Pass, Field::Repeat];
const ENROLL: &[Field] = &[Field::File, Field::Code, Field::Pass, Field::Repeat];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    File,
    Code,
    Pass,
    Repeat,
}

/// State of the first-run screen.
#[derive(Default)]
pub struct FirstRun {
    path: Path,
    /// The option selected while choosing (0 personal, 1 enrollment).
    choice: usize,
    file: String,
    code: Zeroizing<String>,
    first: Zeroizing<String>,
    second: Zeroizing<String>,
    focus: usize,
    error: Option<String>,
    busy: bool,
}

impl FirstRun {
    fn fields(&self) -> &'static [Field] {
        match self.path {
            Path::Enroll => ENROLL,
            _ => PERSONAL,
        }
    }

    fn value(&mut self, f: Field) -> &mut String {
        match f {
            Field::File => &mut self.file,
            Field::Code => &mut self.code,
            Field::Pass => &mut self.first,
            Field::Repeat => &mut self.second,
        }
    }

    /// Handles a key.
    pub fn handle(&mut self, key: KeyEvent) -> Nav {
        if self.path == Path::Choose {
            match key.code {
                KeyCode::Up | KeyCode::Down | KeyCode::Tab | KeyCode::BackTab => {
                    self.choice = 1 - self.choice
                }
                KeyCode::Char('1') => self.choice = 0,
                KeyCode::Char('2') => self.choice = 1,
                KeyCode::Enter => {
                    self.path = [Path::Personal, Path::Enroll][self.choice];
                    self.focus = 0;
                }
                _ => {}
            }
            return Nav::Stay;
        }
        let fields = self.fields();
        let n = fields.len();
        match key.code {
            KeyCode::Esc => {
                self.path = Path::Choose;
                self.error = None;
            }
            KeyCode::Tab | KeyCode::Down => self.focus = (self.focus + 1) % n,
            KeyCode::BackTab | KeyCode::Up => self.focus = (self.focus + n - 1) % n,
            KeyCode::Enter if self.focus + 1 < n => self.focus += 1,
            KeyCode::Enter => {
                let pass = SecretString::from(self.first.to_string());
                if *self.first != *self.second {
                    self.error = Some(t!("err.passphrase_mismatch").into_owned());
                } else if self.path == Path::Enroll && self.file.trim().is_empty() {
                    self.error = Some(t!("tui.enroll_file_missing").into_owned());
                    self.focus = 0;
                } else if let (Path::Personal, Err(e)) =
                    (self.path, crate::strength::check_strength(&pass, &[]))
                {
                    self.error = Some(e.to_string());
                } else {
                    self.busy = true;
                    return Nav::Busy;
                }
            }
            KeyCode::Backspace => {
                self.value(fields[self.focus]).pop();
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.value(fields[self.focus]).push(c)
            }
            _ => {}
        }
        Nav::Stay
    }

    /// A paste goes into the field (a path, a code), one line.
    pub fn paste(&mut self, text: &str) {
        if self.path != Path::Choose {
            let f = self.fields()[self.focus];
            self.value(f).push_str(text.lines().next().unwrap_or(""));
        }
    }

    /// After the "working" frame: the vault to create.
    pub fn submit(&mut self) -> Nav {
        self.busy = false;
        let pass = SecretString::from(self.first.to_string());
        match self.path {
            Path::Enroll => Nav::Enroll {
                file: expand_home(self.file.trim()),
                code: SecretString::from(self.code.to_string()),
                pass,
            },
            _ => Nav::Create(pass),
        }
    }

    /// The vault could not be made; an enrollment's file could not be read (`file`), or
    /// its code or contents were refused: the cursor goes to the field to fix.
    pub fn fail(&mut self, why: String, file: bool) {
        self.error = Some(why);
        if self.path == Path::Enroll {
            self.focus = if file { 0 } else { 1 };
        }
    }

    /// Its keys, for help.
    pub fn keys(&self) -> Vec<(&'static str, &'static str)> {
        match self.path {
            Path::Choose => vec![("↑ ↓", "help.move"), ("Enter", "help.choose")],
            _ => vec![
                ("Tab", "help.next_field"),
                ("Enter", "help.create"),
                ("Esc", "help.back"),
            ],
        }
    }

    /// Draws the screen.
    pub fn draw(&self, _ctx: &Ctx, path: &str, frame: &mut Frame, area: Rect) {
        let block = Block::default()
            .borders(Borders::ALL)
            .title(t!("tui.first_run_title").into_owned());
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let [intro, rest] = Layout::vertical([Constraint::Max(7), Constraint::Min(1)]).areas(inner);
        let intro_text = format!(
            "{}\n\n{}",
            t!("tui.first_run_intro"),
            t!("tui.first_run_path", path = path)
        );
        frame.render_widget(Paragraph::new(intro_text).wrap(Wrap { trim: true }), intro);
        match self.path {
            Path::Choose => self.draw_choice(frame, rest),
            _ => self.draw_fields(frame, rest),
        }
    }

    fn draw_choice(&self, frame: &mut Frame, area: Rect) {
        let options = [t!("tui.first_run_personal"), t!("tui.first_run_enroll")];
        let mut lines = vec![Line::raw("")];
        for (i, o) in options.iter().enumerate() {
            let text = format!(" {}  {o} ", i + 1);
            lines.push(if i == self.choice {
                Line::from(Span::styled(text, selected()))
            } else {
                Line::raw(text)
            });
        }
        lines.push(Line::raw(""));
        lines.push(Line::from(Span::styled(
            t!("tui.first_run_choose").into_owned(),
            dim(),
        )));
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
    }

    fn draw_fields(&self, frame: &mut Frame, area: Rect) {
        let fields = self.fields();
        let [list, meter, advice] = Layout::vertical([
            Constraint::Length(fields.len() as u16 + 1),
            Constraint::Length(1),
            Constraint::Min(1),
        ])
        .areas(area);
        let dots = |s: &str| "•".repeat(s.chars().count().min(40));
        let lines: Vec<Line> = fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let (label, value) = match f {
                    Field::File => (t!("prompt.enrollment_file"), self.file.clone()),
                    Field::Code => (t!("prompt.enrollment_code"), dots(&self.code)),
                    Field::Pass => (t!("prompt.new_passphrase"), dots(&self.first)),
                    Field::Repeat => (t!("prompt.repeat_passphrase"), dots(&self.second)),
                };
                let mark = if i == self.focus { "▶" } else { " " };
                Line::raw(format!("{mark} {label} {value}"))
            })
            .collect();
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), list);
        let (score, tips) = crate::strength::meter(&self.first, &[]);
        let color = match score {
            3.. => Color::Green,
            2 => Color::Yellow,
            _ => Color::Red,
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
        let para = match &self.error {
            Some(e) => Paragraph::new(e.as_str()).style(error()),
            None => Paragraph::new(lines.join("\n")),
        };
        frame.render_widget(para.wrap(Wrap { trim: true }), advice);
    }
}

/// `~/x` is the home folder's `x`, as in a shell.
fn expand_home(p: &str) -> std::path::PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::PathBuf::from(home).join(rest),
        _ => std::path::PathBuf::from(p),
    }
}
