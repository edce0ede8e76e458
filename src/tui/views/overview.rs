//! Drawing the dossier: the tab bar (every tab's name at 80 columns; the numbers alone and
//! the shown tab's name when narrower), the overview (details, notes per month, consents and
//! who saw the file when there is room, and the notes, newest first, the selected one
//! highlighted), the other tabs, and the list of what `a` adds.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Bar, BarChart, BarGroup, Block, Borders, Clear, List, ListItem, ListState, Paragraph,
};

use super::dossier::Dossier;
use super::tabs::view;
use super::{
    code_label, date, datetime, dim, local_datetime, masked, name_shown, selected, width, wrap,
};
use crate::i18n::t;
use crate::model::Note;
use crate::tui::nav::{Ctx, FormKind, Tab};

/// How many access log entries the overview shows.
const SEEN_BY: usize = 4;

/// The tab bar line for `width` columns.
pub fn bar(active: Tab, width: u16) -> Line<'static> {
    let all = Tab::all();
    let padded: Vec<String> = all
        .iter()
        .enumerate()
        .map(|(i, t)| format!(" {} {} ", i + 1, t.label()))
        .collect();
    let fit = |labels: &[String]| labels.iter().map(|l| super::width(l)).sum::<usize>();
    // With a space less between tabs when that is what makes every name fit.
    let tight: Vec<String> = padded.iter().map(|l| l.trim_end().to_owned()).collect();
    let fits = fit(&tight) <= width as usize;
    let full = if fit(&padded) <= width as usize {
        padded
    } else if fits {
        tight
    } else {
        padded
    };
    let spans = all
        .iter()
        .zip(full)
        .enumerate()
        .map(|(i, (tab, label))| {
            let on = *tab == active;
            let label = if fits || on {
                label
            } else {
                format!(" {} ", i + 1)
            };
            if on {
                Span::styled(label, Style::default().add_modifier(Modifier::REVERSED))
            } else {
                Span::styled(label, dim())
            }
        })
        .collect::<Vec<_>>();
    Line::from(spans)
}

impl Dossier {
    fn hide(&self, ctx: &Ctx) -> bool {
        ctx.privacy && !self.revealed
    }

    /// Draws the screen.
    pub fn draw(&self, ctx: &Ctx, frame: &mut Frame, area: Rect) {
        let [tabs, area] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
        frame.render_widget(Paragraph::new(bar(self.tab, tabs.width)), tabs);
        if self.tab == Tab::Overview {
            self.draw_overview(ctx, frame, area);
        } else {
            self.draw_tab(ctx, frame, area);
        }
        if let Some((cursor, kinds)) = &self.adding {
            draw_adding(cursor, kinds, frame, area);
        }
    }

    fn title(&self, ctx: &Ctx) -> String {
        name_shown(self.hide(ctx), &self.data.details.client.name)
    }

    fn draw_tab(&self, ctx: &Ctx, frame: &mut Frame, area: Rect) {
        let block = Block::default().borders(Borders::ALL).title(format!(
            "{} · {}",
            self.title(ctx),
            self.tab.label()
        ));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let v = view(
            &self.data,
            self.tab,
            ctx,
            self.hide(ctx),
            inner.width as usize,
        );
        let at = self.cursor().map_or(0, |c| c.at);
        let h = inner.height as usize;
        // Keep the selected item in view: from its first line, up to half a page above.
        let first = v
            .lines
            .iter()
            .position(|(i, _)| *i == Some(at))
            .unwrap_or(0);
        let last = v
            .lines
            .iter()
            .rposition(|(i, _)| *i == Some(at))
            .unwrap_or(0);
        let scroll = if last < h {
            0
        } else {
            first
                .saturating_sub(h / 2)
                .min(v.lines.len().saturating_sub(h))
        };
        if let Some(c) = self.cursor() {
            c.page.set(h.max(1) / 2);
        }
        let lines: Vec<Line> = v
            .lines
            .into_iter()
            .skip(scroll)
            .take(h)
            .map(|(i, l)| {
                if i == Some(at) && !v.items.is_empty() {
                    l.patch_style(selected())
                } else {
                    l
                }
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), inner);
    }

    fn draw_overview(&self, ctx: &Ctx, frame: &mut Frame, area: Rect) {
        // The details first; the chart, consents and who saw the file only when there is
        // room, the notes below.
        let details_h = 10.min(area.height / 2).max(3);
        let middle_h = if area.height >= 30 {
            SEEN_BY as u16 + 2
        } else {
            0
        };
        let [top, middle, timeline] = Layout::vertical([
            Constraint::Length(details_h),
            Constraint::Length(middle_h),
            Constraint::Min(0),
        ])
        .areas(area);
        let chart_w = if top.width >= 100 { 40 } else { 0 };
        let [details, chart] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(chart_w)]).areas(top);
        self.draw_details(ctx, frame, details);
        if chart_w > 0 {
            let bars: Vec<Bar> = self
                .per_month
                .iter()
                .map(|(m, n)| {
                    Bar::default()
                        .value(*n)
                        .label(Line::from(m[5..7].to_owned()))
                })
                .collect();
            frame.render_widget(
                BarChart::default()
                    .block(
                        Block::default()
                            .borders(Borders::ALL)
                            .title(t!("tui.contacts_per_month").into_owned()),
                    )
                    .data(BarGroup::default().bars(&bars))
                    .bar_width(2)
                    .bar_gap(1),
                chart,
            );
        }
        if middle_h > 0 {
            self.draw_privacy(ctx, frame, middle);
        }
        if timeline.height > 2 {
            self.draw_notes(ctx, frame, timeline);
        }
    }

    fn draw_details(&self, ctx: &Ctx, frame: &mut Frame, area: Rect) {
        let hide = self.hide(ctx);
        let lang = ctx.lang;
        let c = &self.data.details.client;
        let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        let private = |v: Option<String>| {
            if hide && v.is_some() {
                masked()
            } else {
                or_dash(v)
            }
        };
        // `b` shows the whole BSN even on the privacy screen: asked for, and logged.
        let bsn = match (&c.bsn, &self.data.details.bsn_masked) {
            (Some(b), _) if self.bsn_shown => Some(b.digits().to_owned()),
            (_, Some(_)) if hide => Some("*********".to_owned()),
            (_, m) => m.clone(),
        };
        let status = match c.closed_on {
            Some(d) => format!("{} ({})", t!("tui.closed"), date(lang, &d.to_string())),
            None => t!("tui.open").into_owned(),
        };
        let kids: Vec<String> = self
            .data
            .household
            .iter()
            .filter(|h| h.relation == crate::model::Relation::Kind)
            .map(|h| name_shown(hide, &h.name))
            .collect();
        let rows = [
            (t!("field.bsn"), or_dash(bsn)),
            (
                t!("field.birth_date"),
                private(c.birth_date.map(|d| date(lang, &d.to_string()))),
            ),
            (t!("field.address"), private(c.address.clone())),
            (t!("field.phone"), private(c.phone.clone())),
            (t!("field.domain"), code_label("domain", c.domain.code())),
            (t!("field.status"), status),
            (t!("field.opened_on"), date(lang, &c.opened_on.to_string())),
            // Children in the household, at a glance.
            (
                t!("tui.children"),
                if kids.is_empty() {
                    "-".into()
                } else {
                    kids.join(", ")
                },
            ),
        ];
        let label_w = rows.iter().map(|(l, _)| width(l)).max().unwrap_or(0) + 2;
        let lines: Vec<Line> = rows
            .into_iter()
            .map(|(l, v)| {
                Line::from(vec![
                    Span::styled(format!("{l:<label_w$}"), dim()),
                    Span::raw(v),
                ])
            })
            .collect();
        frame.render_widget(
            Paragraph::new(lines).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(self.title(ctx)),
            ),
            area,
        );
    }

    /// Consents (flagged when they end within 30 days) and who saw the file.
    fn draw_privacy(&self, ctx: &Ctx, frame: &mut Frame, area: Rect) {
        let hide = self.hide(ctx);
        let lang = ctx.lang;
        let today = ctx.today();
        let [consents, seen] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)]).areas(area);
        let mut lines: Vec<Line> = self
            .data
            .details
            .consents
            .iter()
            .map(|k| {
                let state = t!(format!("consent.state.{}", k.state(today))).into_owned();
                let org = if hide { masked() } else { k.org.clone() };
                let mut spans = vec![
                    Span::styled(format!("{state:<10}"), dim()),
                    Span::raw(format!("{org} · {}", code_label("scope", k.scope.code()))),
                ];
                if k.expires_within(today, 30) {
                    spans.push(Span::styled(
                        format!(" ⚑ {}", date(lang, &k.until.unwrap_or(today).to_string())),
                        Style::default().add_modifier(Modifier::BOLD),
                    ));
                }
                Line::from(spans)
            })
            .collect();
        if lines.is_empty() {
            lines.push(Line::from(Span::styled(
                t!("consent.none").into_owned(),
                dim(),
            )));
        }
        frame.render_widget(
            Paragraph::new(lines).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(t!("field.consents").into_owned()),
            ),
            consents,
        );
        let lines: Vec<Line> = self
            .data
            .log
            .iter()
            .rev()
            .take(SEEN_BY)
            .map(|e| {
                Line::from(vec![
                    Span::styled(format!("{}  ", local_datetime(lang, &e.at)), dim()),
                    Span::raw(format!("{} · {}", e.user, e.action.label())),
                ])
            })
            .collect();
        frame.render_widget(
            Paragraph::new(lines).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(t!("tui.seen_by").into_owned()),
            ),
            seen,
        );
    }

    /// A note's lines: its heading (highlighted when selected), then its text.
    fn note_lines(&self, ctx: &Ctx, n: &Note, on: bool, width: usize) -> Vec<Line<'static>> {
        let hide = self.hide(ctx);
        let mut head = format!(
            "{}  {}  {}",
            datetime(ctx.lang, &n.occurred_at),
            code_label("kind", n.kind.code()),
            n.author
        );
        if n.superseded_by.is_some() {
            head.push_str(&format!("  [{}]", t!("tui.superseded")));
        }
        if n.supersedes.is_some() {
            head.push_str(&format!("  [{}]", t!("tui.correction")));
        }
        if n.special {
            head.push_str(&format!("  [{}]", t!("note.special")));
        }
        let style = if on {
            selected()
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        };
        let mut lines: Vec<Line> = wrap(&head, width)
            .into_iter()
            .map(|l| Line::from(Span::styled(l, style)))
            .collect();
        let body_style = if n.superseded_by.is_some() {
            dim().add_modifier(Modifier::CROSSED_OUT)
        } else {
            Style::default()
        };
        let special_shown = self.special_shown.contains(&n.id);
        let special_hidden = n.special && !special_shown;
        // A special note shown with `s` is shown even on the privacy screen: asked for,
        // and logged.
        let body = if hide && !special_shown {
            lines.push(Line::from(Span::styled(format!("  {}", masked()), dim())));
            None
        } else if special_hidden {
            Some((t!("tui.special_hidden").into_owned(), dim()))
        } else {
            Some((n.body.clone(), body_style))
        };
        if let Some((text, style)) = body {
            for l in wrap(&text, width.saturating_sub(2)) {
                lines.push(Line::from(Span::styled(format!("  {l}"), style)));
            }
        }
        lines.push(Line::raw(""));
        lines
    }

    fn draw_notes(&self, ctx: &Ctx, frame: &mut Frame, area: Rect) {
        let notes = &self.data.notes;
        let block = Block::default()
            .borders(Borders::ALL)
            .title(t!("tui.timeline", count = notes.len()).into_owned());
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let w = inner.width as usize;
        let h = inner.height as usize;
        if notes.is_empty() {
            frame.render_widget(
                Paragraph::new(t!("tui.no_notes").into_owned()).style(dim()),
                inner,
            );
            return;
        }
        let at = self.cursor().map_or(0, |c| c.at).min(notes.len() - 1);
        if let Some(c) = self.cursor() {
            c.page.set((h / 4).max(1));
        }
        // Only the notes around the selected one are wrapped: a note of 100,000 characters
        // far down the list costs nothing.
        let mut start = at;
        let mut above = 0;
        while start > 0 {
            let lines = self.note_lines(ctx, &notes[start - 1], false, w).len();
            if above + lines > h / 3 {
                break;
            }
            above += lines;
            start -= 1;
        }
        let mut lines = Vec::new();
        for (i, n) in notes.iter().enumerate().skip(start) {
            if lines.len() >= h {
                break;
            }
            lines.extend(self.note_lines(ctx, n, i == at, w));
        }
        lines.truncate(h);
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

/// The list of what `a` adds on this tab.
fn draw_adding(cursor: &super::Cursor, kinds: &[FormKind], frame: &mut Frame, area: Rect) {
    let items: Vec<ListItem> = kinds
        .iter()
        .map(|k| {
            ListItem::new(match k {
                FormKind::Record(kind) => t!(format!("kind.{}", kind.spec().code)).into_owned(),
                FormKind::Evaluation => t!("kind.evaluation").into_owned(),
                FormKind::Attach => t!("kind.attachment").into_owned(),
                _ => String::new(),
            })
        })
        .collect();
    let title = t!("tui.add_what").into_owned();
    let w = (items.len() as u16).max(1);
    let width = (width(&title) as u16 + 6).max(30).min(area.width);
    let height = (w + 2).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let mut state = ListState::default().with_selected(Some(cursor.at));
    frame.render_widget(Clear, popup);
    frame.render_stateful_widget(
        List::new(items)
            .highlight_style(selected())
            .block(Block::default().borders(Borders::ALL).title(title)),
        popup,
        &mut state,
    );
}
