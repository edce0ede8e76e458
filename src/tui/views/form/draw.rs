//! How a form is drawn: its fields in two columns (label, value), errors under the field
//! they are about, the open choice list, and the nudges' question over the bottom.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, ListState, Paragraph};

use super::super::fields::FormField;
use super::super::{Cursor, bold, cut, dim, error, initials, masked, selected, width, wrap};
use super::{Form, byte_at};
use crate::i18n::t;
use crate::model::record::Input;
use crate::tui::nav::{Ctx, FormKind};

impl Form {
    /// The form's title: what is added or changed.
    fn title(&self) -> String {
        let what = match self.kind {
            FormKind::Client => t!("word.client").into_owned(),
            FormKind::Record(k) => t!(format!("kind.{}", k.spec().code)).into_owned(),
            FormKind::Evaluation => t!("kind.evaluation").into_owned(),
            FormKind::Attach | FormKind::Export => t!("kind.attachment").into_owned(),
            FormKind::Group => t!("kind.group_session").into_owned(),
            FormKind::ConsentForm => return t!("tui.form_consent_form").into_owned(),
            FormKind::Leaflet => return t!("tui.form_leaflet").into_owned(),
            FormKind::ActionDone => return t!("tui.form_action_done").into_owned(),
            FormKind::Withdraw => return t!("tui.form_withdraw").into_owned(),
            FormKind::Withhold => return t!("tui.form_withhold").into_owned(),
            FormKind::Meldcode(step) => {
                return t!(
                    "tui.form_meldcode",
                    n = step.number(),
                    step = t!(format!("meldcode.step.{}", step.code()))
                )
                .into_owned();
            }
        };
        match (self.kind, &self.editing) {
            (FormKind::Export, _) => t!("tui.form_export", what = what),
            (_, Some(_)) => t!("tui.form_edit", what = what),
            (_, None) => t!("tui.form_new", what = what),
        }
        .into_owned()
    }

    /// Draws the screen.
    pub fn draw(&self, ctx: &Ctx, frame: &mut Frame, area: Rect) {
        let hide = ctx.privacy && !self.revealed;
        let block = Block::default().borders(Borders::ALL).title(self.title());
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let w = inner.width as usize;
        let label_w = self
            .fields
            .iter()
            .map(|f| width(&self.label_of(f, hide)))
            .max()
            .unwrap_or(0)
            .min(w / 3)
            + 2;
        let value_w = w.saturating_sub(label_w).max(1);
        let mut lines: Vec<Line> = Vec::new();
        let mut focus_line = 0;
        let mut pick_line = 0;
        for (i, f) in self.fields.iter().enumerate() {
            let focused = i == self.focus;
            if focused {
                focus_line = lines.len();
            }
            let style = if focused {
                selected()
            } else {
                Style::default()
            };
            let mut value = if hide && f.private() && !f.value.is_empty() {
                if f.name == "name" {
                    initials(&f.value)
                } else if f.multi {
                    f.labels()
                        .iter()
                        .map(|l| initials(l))
                        .collect::<Vec<_>>()
                        .join(", ")
                } else {
                    masked()
                }
            } else {
                f.shown()
            };
            if f.multi {
                // Chosen from a list that stays open (Enter), not stepped through.
                value = format!("{value} …");
            } else if f.picked() {
                value = format!("◀ {value} ▶");
            } else if focused && !(hide && f.private()) {
                let at = byte_at(&f.value, f.cursor);
                value = format!("{}▏{}", &f.value[..at], &f.value[at..]);
            }
            let mut wrapped = wrap(&value, value_w);
            if focused && f.picked() {
                pick_line = lines.len();
            }
            let label = cut(&self.label_of(f, hide), label_w - 2);
            let first = wrapped.remove(0);
            lines.push(Line::from(vec![
                Span::styled(format!("{label:<0$}", label_w), bold()),
                Span::styled(first, style),
            ]));
            for more in wrapped {
                lines.push(Line::from(vec![
                    Span::raw(" ".repeat(label_w)),
                    Span::styled(more, style),
                ]));
            }
            if let Some(e) = &f.error {
                for l in wrap(&format!("↑ {e}"), value_w) {
                    lines.push(Line::from(vec![
                        Span::raw(" ".repeat(label_w)),
                        Span::styled(l, error()),
                    ]));
                }
            }
        }
        lines.push(Line::raw(""));
        if let Some(e) = &self.error {
            for l in wrap(e, w) {
                lines.push(Line::from(Span::styled(l, error())));
            }
        }
        if hide {
            for l in wrap(&t!("tui.form_hidden"), w) {
                lines.push(Line::from(Span::styled(l, dim())));
            }
        }
        if self.kind == FormKind::Group {
            for l in wrap(&t!("tui.group_form_hint"), w) {
                lines.push(Line::from(Span::styled(l, dim())));
            }
        }
        for l in wrap(&t!("tui.form_hint"), w) {
            lines.push(Line::from(Span::styled(l, dim())));
        }
        // Keep the field with the cursor in view.
        let h = inner.height as usize;
        let mut scroll = self.scroll.get();
        if focus_line < scroll {
            scroll = focus_line;
        } else if focus_line >= scroll + h {
            scroll = focus_line + 1 - h;
        }
        scroll = scroll.min(lines.len().saturating_sub(h).max(focus_line.min(scroll)));
        self.scroll.set(scroll);
        let shown: Vec<Line> = lines.into_iter().skip(scroll).collect();
        frame.render_widget(Paragraph::new(shown), inner);
        if let Some(cursor) = &self.picking {
            let f = &self.fields[self.focus];
            let y = inner.y + (pick_line.saturating_sub(scroll) as u16) + 1;
            self.draw_pick(f, cursor, hide, frame, inner, y, label_w as u16);
        }
        if let Some(n) = &self.nudge {
            n.draw(frame, inner, hide);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn draw_pick(
        &self,
        f: &FormField,
        cursor: &Cursor,
        hide: bool,
        frame: &mut Frame,
        inner: Rect,
        y: u16,
        x: u16,
    ) {
        let rows = f.choices.len() as u16 + 2;
        let room_below = (inner.y + inner.height).saturating_sub(y);
        let height = rows.min(inner.height);
        let y = if room_below >= height {
            y
        } else {
            (inner.y + inner.height).saturating_sub(height)
        };
        let x = inner.x + x.min(inner.width.saturating_sub(12));
        let width = (inner.x + inner.width).saturating_sub(x);
        let area = Rect {
            x,
            y,
            width,
            height,
        };
        let items: Vec<ListItem> = f
            .choices
            .iter()
            .enumerate()
            .map(|(i, (_, label))| {
                let label = if hide && f.input == Input::Ref(crate::model::record::Kind::Goal) {
                    format!("{}. {}", i + 1, masked())
                } else if f.multi {
                    let on = f.chosen().contains(&f.choices[i].0.as_str());
                    let name = if hide { initials(label) } else { label.clone() };
                    format!("[{}] {name}", if on { "x" } else { " " })
                } else {
                    label.clone()
                };
                ListItem::new(label)
            })
            .collect();
        cursor.page.set(height.saturating_sub(2) as usize);
        let mut state = ListState::default().with_selected(Some(cursor.at));
        frame.render_widget(Clear, area);
        frame.render_stateful_widget(
            List::new(items)
                .highlight_style(selected())
                .block(Block::default().borders(Borders::ALL)),
            area,
            &mut state,
        );
    }
}
