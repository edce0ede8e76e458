//! The nudges toward less data before a text is saved (issue 21): what `model::nudge` found
//! in a note, a goal or any free text of a form, and the worker's three choices: mark it
//! special, remove the detail, or keep it as it is. Nothing is blocked; Esc goes back to
//! writing. On the privacy screen a number or address is shown only as `Finding::shown`
//! masks it (`******333`), a word only by its category, and a name by its initials.

use std::sync::OnceLock;

use ratatui::Frame;
use ratatui::crossterm::event::KeyCode;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::{bold, dim, initials, masked, wrap};
use crate::i18n::t;
use crate::model::nudge::{self, Finding, Lexicon, What};

/// kluis's own word list, for what has no settings (a screen's own bookkeeping, tests).
pub fn builtin() -> &'static Lexicon {
    static LEX: OnceLock<Lexicon> = OnceLock::new();
    LEX.get_or_init(Lexicon::builtin)
}

/// Everything in `text` worth a second look: details, special-category words, and the
/// `names` of others (a group session's participants), in order of position.
pub fn findings(text: &str, names: &[String], lexicon: &Lexicon) -> Vec<Finding> {
    let mut found = nudge::scan(text, lexicon);
    found.extend(nudge::scan_names(text, names));
    found.sort_by_key(|f| f.range.start);
    found
}

/// `text` without its details (numbers, addresses, names), as `nudge::remove` leaves it.
pub fn removed(text: &str, names: &[String], lexicon: &Lexicon) -> String {
    nudge::remove(text, &findings(text, names, lexicon))
}

/// One text to look at before saving.
#[derive(Clone, Copy, Debug)]
pub struct Checked<'a> {
    /// What was typed.
    pub text: &'a str,
    /// Its record is marked special already.
    pub special: bool,
    /// Its record has a special mark.
    pub can_mark: bool,
    /// Names that do not belong in it.
    pub names: &'a [String],
}

/// What the worker chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// Mark the text special (masked until revealed, reveals logged).
    Special,
    /// Take the details out.
    Remove,
    /// Save it as it is.
    Keep,
    /// Back to writing.
    Back,
}

/// The question shown before saving.
#[derive(Clone, Debug)]
pub struct Nudge {
    found: Vec<Finding>,
    /// "Mark it special" is offered (the text holds special-category words, is not special
    /// yet, and its record can be marked).
    pub mark: bool,
    /// "Remove the details" is offered.
    pub remove: bool,
}

impl Nudge {
    /// What to ask about `texts` before saving them; None when there is nothing to say.
    /// `special`: marked special already; `can_mark`: the record has a special mark.
    pub fn check(
        texts: &[&str],
        special: bool,
        can_mark: bool,
        names: &[String],
        lexicon: &Lexicon,
    ) -> Option<Nudge> {
        let each: Vec<Checked> = texts
            .iter()
            .map(|text| Checked {
                text,
                special,
                can_mark,
                names,
            })
            .collect();
        Nudge::check_each(&each, lexicon)
    }

    /// What to ask about texts that each have their own special mark and their own names
    /// to look for (a group session's summary and its participants' observations); None
    /// when there is nothing to say about any.
    pub fn check_each(texts: &[Checked<'_>], lexicon: &Lexicon) -> Option<Nudge> {
        let mut out = Nudge {
            found: Vec::new(),
            mark: false,
            remove: false,
        };
        let mut any = false;
        for c in texts {
            let found = findings(c.text, c.names, lexicon);
            let advice = nudge::advise(&found, c.special);
            if advice.is_empty() {
                continue;
            }
            any = true;
            out.found.extend(
                found
                    .into_iter()
                    .filter(|f| f.what.is_detail() || advice.suggest_special),
            );
            out.mark |= advice.suggest_special && c.can_mark;
            out.remove |= !advice.details.is_empty();
        }
        any.then_some(out)
    }

    /// Whether "mark it special" would mark this text: it holds special-category words and
    /// is not special yet.
    pub fn would_mark(c: &Checked<'_>, lexicon: &Lexicon) -> bool {
        nudge::advise(&findings(c.text, c.names, lexicon), c.special).suggest_special
    }

    /// The choice a key makes; None for any other key (it is ignored while asking).
    pub fn key(&self, code: KeyCode) -> Option<Choice> {
        match code {
            KeyCode::Char('1') if self.mark => Some(Choice::Special),
            KeyCode::Char('2') if self.remove => Some(Choice::Remove),
            KeyCode::Char('3') => Some(Choice::Keep),
            KeyCode::Esc => Some(Choice::Back),
            _ => None,
        }
    }

    /// What was found, one line each, as the screen may show it.
    pub fn described(&self, hide: bool) -> Vec<String> {
        self.found.iter().map(|f| describe(f, hide)).collect()
    }

    /// The choices offered, in words.
    pub fn choices(&self) -> String {
        let mut c = Vec::new();
        if self.mark {
            c.push(t!("tui.nudge_mark").into_owned());
        }
        if self.remove {
            c.push(t!("tui.nudge_remove").into_owned());
        }
        c.push(t!("tui.nudge_keep").into_owned());
        c.push(t!("tui.nudge_back").into_owned());
        c.join(" · ")
    }

    /// Draws the question over the bottom of `area` (all of it, when it needs that); the
    /// choices always stay in view, the findings are cut first.
    pub fn draw(&self, frame: &mut Frame, area: Rect, hide: bool) {
        let w = area.width.saturating_sub(2) as usize;
        let head = wrap(&t!("tui.nudge_head"), w);
        let choices = wrap(&self.choices(), w);
        let found: Vec<String> = self
            .described(hide)
            .iter()
            .flat_map(|d| {
                let mut l = wrap(&format!("- {d}"), w);
                for more in l.iter_mut().skip(1) {
                    more.insert_str(0, "  ");
                }
                l
            })
            .collect();
        let room = area.height.saturating_sub(2) as usize;
        // On a small screen the choices stay, then what was found, then the heading.
        let head = if head.len() + choices.len() + usize::from(!found.is_empty()) > room {
            Vec::new()
        } else {
            head
        };
        let fixed = head.len() + choices.len();
        let keep = room.saturating_sub(fixed).min(found.len());
        let height = (fixed + keep + 2).min(area.height as usize) as u16;
        let rect = Rect {
            x: area.x,
            y: area.y + area.height - height,
            width: area.width,
            height,
        };
        let mut lines: Vec<Line> = head.into_iter().map(Line::raw).collect();
        lines.extend(found.into_iter().take(keep).map(Line::raw));
        lines.extend(
            choices
                .into_iter()
                .map(|l| Line::from(Span::styled(l, bold()))),
        );
        // When even the choices do not fit, they go first.
        let skip = lines.len().saturating_sub(room);
        frame.render_widget(Clear, rect);
        frame.render_widget(
            Paragraph::new(lines.into_iter().skip(skip).collect::<Vec<_>>()).block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(Style::default())
                    .title(Span::styled(t!("tui.nudge_title").into_owned(), dim())),
            ),
            rect,
        );
    }
}

/// One finding in words; on the privacy screen numbers masked, words by category only,
/// names by initials.
fn describe(f: &Finding, hide: bool) -> String {
    match f.what {
        What::Special(c) => t!(
            "nudge.found_special",
            category = c.label(),
            word = if hide { masked() } else { f.text.clone() }
        ),
        What::Name => t!(
            "tui.nudge_name",
            name = if hide {
                initials(&f.text)
            } else {
                f.text.clone()
            }
        ),
        w => t!(format!("nudge.found_{}", w.code()), shown = f.shown()),
    }
    .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bsn_is_never_shown_in_full_and_words_hide_on_the_privacy_screen() {
        let text = "BSN 111222333, heeft een depressie, bel 06-12345678";
        let n = Nudge::check(&[text], false, true, &[], builtin()).expect("found");
        assert!(n.mark && n.remove);
        for hide in [false, true] {
            let said = n.described(hide).join("\n");
            assert!(
                !said.contains("111222333") && said.contains("******333"),
                "{said}"
            );
            assert!(!said.contains("12345678"), "{said}");
            assert_eq!(said.contains("depressie"), !hide, "{said}");
        }
        // Special already: the word needs no question, the number still does.
        let n = Nudge::check(&[text], true, true, &[], builtin()).expect("found");
        assert!(!n.mark && n.remove);
        assert!(!n.described(false).join(" ").contains("depressie"));
        // Nothing to say: no question.
        assert!(Nudge::check(&["Boodschappen gedaan."], false, true, &[], builtin()).is_none());
        // A kind that cannot be marked is not offered the mark; keeping always is.
        let n = Nudge::check(&["Heeft diabetes"], false, false, &[], builtin()).expect("found");
        assert!(!n.mark && !n.remove);
        assert_eq!(n.key(KeyCode::Char('1')), None);
        assert_eq!(n.key(KeyCode::Char('3')), Some(Choice::Keep));
    }

    #[test]
    fn removing_takes_the_details_and_names_out_and_leaves_the_words() {
        let names = vec!["Fatima el Amrani".to_owned()];
        let out = removed(
            "Fatima vertelde over haar diabetes; IBAN NL91ABNA0417164300.",
            &names,
            builtin(),
        );
        assert_eq!(out, "[…] vertelde over haar diabetes; IBAN […].");
    }
}
