//! The dossier's other tabs: the plan, the household and network, the assessments (a chart
//! per life domain) and the access log. Each draws from data the dossier loaded (and logged
//! as viewed) when it opened.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::{date, dim, local_datetime, masked};
use crate::i18n::{Lang, t};
use crate::model::{
    ActionStatus, Assessment, Attachment, AuditEntry, Contact, Goal, HouseholdMember, PlanAction,
    Relation, Visit,
};

/// The tabs, in order (keys 1-6, Tab and Shift-Tab).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Tab {
    /// Details, consents, who saw the file and the notes.
    #[default]
    Overview,
    /// Goals per life domain, their actions, and planned visits.
    Plan,
    /// Household and network.
    Network,
    /// Scores over time, per life domain.
    Assessments,
    /// Files kept in the dossier.
    Attachments,
    /// The access log.
    Log,
}

impl Tab {
    /// Every tab, in order.
    pub const ALL: [Tab; 6] = [
        Tab::Overview,
        Tab::Plan,
        Tab::Network,
        Tab::Assessments,
        Tab::Attachments,
        Tab::Log,
    ];

    /// The tab's label.
    pub fn label(self) -> String {
        match self {
            Tab::Overview => t!("tui.tab_overview"),
            Tab::Plan => t!("tui.tab_plan"),
            Tab::Network => t!("tui.tab_network"),
            Tab::Assessments => t!("tui.tab_assessments"),
            Tab::Attachments => t!("tui.tab_attachments"),
            Tab::Log => t!("tui.tab_log"),
        }
        .into_owned()
    }

    /// The next (or previous) tab.
    pub fn step(self, forward: bool) -> Tab {
        let i = Tab::ALL.iter().position(|t| *t == self).unwrap_or(0);
        let n = Tab::ALL.len();
        Tab::ALL[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
}

/// What the tabs show.
#[derive(Default)]
pub struct Depth {
    /// Household.
    pub household: Vec<HouseholdMember>,
    /// Network.
    pub contacts: Vec<Contact>,
    /// Goals.
    pub goals: Vec<Goal>,
    /// Actions.
    pub actions: Vec<PlanAction>,
    /// Scores.
    pub assessments: Vec<Assessment>,
    /// Planned visits.
    pub visits: Vec<Visit>,
    /// Files (without their bytes).
    pub attachments: Vec<Attachment>,
    /// Evaluations of goals, with their notes.
    pub evaluations: Vec<(crate::model::Evaluation, Option<crate::model::Note>)>,
    /// The access log about this client, newest first.
    pub log: Vec<AuditEntry>,
}

fn block(title: String) -> Block<'static> {
    Block::default().borders(Borders::ALL).title(title)
}

fn bold(s: String) -> Span<'static> {
    Span::styled(s, Style::default().add_modifier(Modifier::BOLD))
}

/// The tab bar line.
pub fn bar(active: Tab) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, tab) in Tab::ALL.iter().enumerate() {
        let label = format!(" {} {} ", i + 1, tab.label());
        spans.push(if *tab == active {
            Span::styled(label, Style::default().add_modifier(Modifier::REVERSED))
        } else {
            Span::styled(label, dim())
        });
    }
    Line::from(spans)
}

/// Draws a tab other than the overview.
pub fn draw(tab: Tab, d: &Depth, lang: Lang, hide: bool, frame: &mut Frame, area: Rect) {
    let text = |s: &str| if hide { masked() } else { s.to_owned() };
    let mut lines: Vec<Line> = Vec::new();
    let title = match tab {
        Tab::Overview => return,
        Tab::Plan => {
            let mut domain = "";
            for g in &d.goals {
                if g.domain != domain {
                    domain = &g.domain;
                    lines.push(Line::from(bold(domain.to_uppercase())));
                }
                lines.push(Line::from(format!("  {}", text(&g.text))));
                for a in d.actions.iter().filter(|a| a.goal_id == g.id) {
                    let status = match (a.status, a.done_on, a.due) {
                        (ActionStatus::Done, Some(on), _) => {
                            t!("depth.done_on", date = date(lang, &on.to_string()))
                        }
                        (_, _, Some(due)) => t!("depth.due", date = date(lang, &due.to_string())),
                        _ => t!("depth.open"),
                    };
                    let style = if a.status == ActionStatus::Done {
                        dim()
                    } else {
                        Style::default()
                    };
                    lines.push(Line::from(Span::styled(
                        format!("    • {} ({}) [{status}]", text(&a.text), a.owner),
                        style,
                    )));
                }
                for (_, n) in d.evaluations.iter().filter(|(e, _)| e.goal_id == g.id) {
                    if let Some(n) = n {
                        // A special note stays hidden here as in the notes.
                        let body = if n.special { masked() } else { text(&n.body) };
                        lines.push(Line::from(Span::styled(
                            format!(
                                "    {}: {}",
                                t!("depth.evaluation", date = date(lang, &n.occurred_at)),
                                body.replace('\n', " ")
                            ),
                            dim(),
                        )));
                    }
                }
            }
            if d.goals.is_empty() {
                lines.push(Line::from(Span::styled(
                    t!("depth.none").into_owned(),
                    dim(),
                )));
            }
            if !d.visits.is_empty() {
                lines.push(Line::raw(""));
                lines.push(Line::from(bold(t!("report.visits").into_owned())));
                for v in &d.visits {
                    lines.push(Line::from(format!(
                        "  {}  {}",
                        super::datetime(lang, &v.at),
                        text(v.purpose.as_deref().unwrap_or("-"))
                    )));
                }
            }
            t!("tui.tab_plan")
        }
        Tab::Network => {
            lines.push(Line::from(bold(t!("report.household").into_owned())));
            for h in &d.household {
                let born = h
                    .birth_date
                    .map(|b| format!(" ({})", date(lang, &b.to_string())))
                    .unwrap_or_default();
                let relation = t!(format!("relation.{}", h.relation.code()));
                let line = format!("  {relation:<10} {}{born}", text(&h.name));
                // Children at a glance.
                lines.push(Line::from(if h.relation == Relation::Kind {
                    bold(line)
                } else {
                    Span::raw(line)
                }));
            }
            if d.household.is_empty() {
                lines.push(Line::from(Span::styled(
                    format!("  {}", t!("depth.none")),
                    dim(),
                )));
            }
            lines.push(Line::raw(""));
            lines.push(Line::from(bold(t!("report.network").into_owned())));
            let o = |v: &Option<String>| v.as_deref().map_or_else(|| "-".to_owned(), text);
            for c in &d.contacts {
                lines.push(Line::from(format!(
                    "  {}  {} · {} · {}",
                    text(&c.name),
                    o(&c.role),
                    o(&c.org),
                    o(&c.phone)
                )));
            }
            if d.contacts.is_empty() {
                lines.push(Line::from(Span::styled(
                    format!("  {}", t!("depth.none")),
                    dim(),
                )));
            }
            t!("tui.tab_network")
        }
        Tab::Assessments => {
            // One row per domain: the scores over time as a small bar chart, then the
            // latest score and its reason.
            let mut domains: Vec<&str> = d.assessments.iter().map(|a| a.domain.as_str()).collect();
            domains.dedup();
            let bars = ['▁', '▃', '▅', '▆', '█'];
            for dom in domains {
                let scores: Vec<&Assessment> =
                    d.assessments.iter().filter(|a| a.domain == dom).collect();
                let chart: String = scores
                    .iter()
                    .map(|a| bars[usize::from(a.score.clamp(1, 5)) - 1])
                    .collect();
                let last = scores.last().expect("one at least");
                lines.push(Line::from(vec![
                    bold(format!("{dom:<30}")),
                    Span::raw(format!(" {chart:<12} {}/5  ", last.score)),
                    Span::styled(
                        format!(
                            "{} · {}",
                            date(lang, &last.at.to_string()),
                            text(&last.reason)
                        ),
                        dim(),
                    ),
                ]));
            }
            if d.assessments.is_empty() {
                lines.push(Line::from(Span::styled(
                    t!("depth.none").into_owned(),
                    dim(),
                )));
            }
            t!("tui.tab_assessments")
        }
        Tab::Attachments => {
            for a in &d.attachments {
                lines.push(Line::from(vec![
                    Span::raw(format!("  {}  ", text(&a.title))),
                    Span::styled(
                        format!(
                            "({}, {} KB, {})",
                            text(&a.filename),
                            a.size.div_ceil(1024),
                            a.author
                        ),
                        dim(),
                    ),
                ]));
            }
            if d.attachments.is_empty() {
                lines.push(Line::from(Span::styled(
                    t!("depth.none").into_owned(),
                    dim(),
                )));
            }
            lines.push(Line::raw(""));
            lines.push(Line::from(Span::styled(
                t!("tui.attachments_hint").into_owned(),
                dim(),
            )));
            t!("tui.tab_attachments")
        }
        Tab::Log => {
            for e in &d.log {
                let mut s = format!(
                    "{}  {} · {}",
                    local_datetime(lang, &e.at),
                    e.user,
                    e.action.label()
                );
                if let Some(b) = &e.on_behalf {
                    s.push_str(&format!(" ({})", t!("audit.on_behalf", who = b)));
                }
                lines.push(Line::from(s));
            }
            t!("tui.tab_log")
        }
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(title.into_owned())),
        area,
    );
}
