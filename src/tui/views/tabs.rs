//! What the dossier's tabs other than the overview show, as lines that belong to the items
//! a person can select (to change one, mark an action done, withdraw a consent, write a
//! file out). The dossier loaded (and logged as viewed) all of it when it opened.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::fields::specs;
use super::{
    bold, code_label, date, datetime, dim, initials, life_domain, local_datetime, masked, owner,
    wrap,
};
use crate::i18n::t;
use crate::model::record::{Input, Kind};
use crate::model::{ActionStatus, Relation};
use crate::session::Dossier as Data;
use crate::tui::nav::{Ctx, Tab};

/// A tab's contents.
#[derive(Default)]
pub struct View {
    /// The items that can be selected: their kind and id.
    pub items: Vec<(Kind, String)>,
    /// Every line, with the item it belongs to.
    pub lines: Vec<(Option<usize>, Line<'static>)>,
}

impl View {
    fn heading(&mut self, text: String, width: usize) {
        if !self.lines.is_empty() {
            self.lines.push((None, Line::raw("")));
        }
        for l in wrap(&text, width) {
            self.lines.push((None, Line::from(Span::styled(l, bold()))));
        }
    }

    fn note(&mut self, text: String) {
        self.lines
            .push((None, Line::from(Span::styled(text, dim()))));
    }

    /// An item: its text wrapped to `width` after `indent` spaces.
    fn item(
        &mut self,
        kind: Kind,
        id: &str,
        indent: usize,
        text: &str,
        width: usize,
        style: Style,
    ) {
        let i = self.items.len();
        self.items.push((kind, id.to_owned()));
        let pad = " ".repeat(indent);
        for l in wrap(text, width.saturating_sub(indent)) {
            self.lines.push((
                Some(i),
                Line::from(Span::styled(format!("{pad}{l}"), style)),
            ));
        }
    }
}

/// How records of a kind with a workflow of its own are added (the command line's).
pub fn workflow(kind: Kind) -> String {
    t!(format!("tui.workflow.{}", kind.spec().code)).into_owned()
}

/// What an empty kind on the generic tab says: the key that adds one, or its workflow.
fn empty_kind(kind: Kind) -> String {
    if kind.typed_whole() {
        t!(
            "tui.empty_records",
            what = t!(format!("kind.{}", kind.spec().code))
        )
        .into_owned()
    } else {
        format!("{} {}", t!("tui.empty_nothing"), workflow(kind))
    }
}

/// The keys that add something on a tab, said when it is empty.
fn empty_hint(tab: Tab) -> String {
    match tab {
        Tab::Plan => t!("tui.empty_plan"),
        Tab::People => t!("tui.empty_people"),
        Tab::Scores => t!("tui.empty_scores"),
        Tab::Files => t!("tui.empty_files"),
        Tab::Sharing => t!("tui.empty_sharing"),
        // Each kind on the tab says how it is added, under its heading.
        Tab::Overview | Tab::Log | Tab::Records => t!("depth.none"),
    }
    .into_owned()
}

/// A tab's items and lines, wrapped to `width`; `hide` masks names and texts.
pub fn view(d: &Data, tab: Tab, ctx: &Ctx, hide: bool, width: usize) -> View {
    let mut v = View::default();
    let lang = ctx.lang;
    let text = |s: &str| if hide { masked() } else { s.to_owned() };
    let name = |s: &str| if hide { initials(s) } else { s.to_owned() };
    let opt = |s: &Option<String>| s.as_deref().map_or_else(|| "-".to_owned(), text);
    match tab {
        Tab::Overview => {}
        Tab::Plan => {
            let mut domain = "";
            for g in &d.goals {
                if g.domain != domain {
                    domain = &g.domain;
                    v.heading(life_domain(domain).to_uppercase(), width);
                }
                v.item(Kind::Goal, &g.id, 2, &text(&g.text), width, bold());
                for a in d.actions.iter().filter(|a| a.goal_id == g.id) {
                    let status = match (a.status, a.done_on, a.due) {
                        (ActionStatus::Done, Some(on), _) => {
                            t!("depth.done_on", date = date(lang, &on.to_string()))
                        }
                        (_, _, Some(due)) => t!("depth.due", date = date(lang, &due.to_string())),
                        _ => t!("depth.open"),
                    };
                    let who = match a.owner.as_str() {
                        "client" | "me" => owner(&a.owner),
                        other => name(other),
                    };
                    let style = if a.status == ActionStatus::Done {
                        dim()
                    } else {
                        Style::default()
                    };
                    let line = format!("• {} ({who}) [{status}]", text(&a.text));
                    v.item(Kind::Action, &a.id, 4, &line, width, style);
                }
                for (e, n) in d.evaluations.iter().filter(|(e, _)| e.goal_id == g.id) {
                    let (when, body) = match n {
                        // A special note stays hidden here as in the notes.
                        Some(n) if n.special => (n.occurred_at.as_str(), masked()),
                        Some(n) => (n.occurred_at.as_str(), text(&n.body)),
                        None => ("", "-".to_owned()),
                    };
                    let line = format!(
                        "{}: {}",
                        t!("depth.evaluation", date = date(lang, when)),
                        body.replace('\n', " ")
                    );
                    v.item(Kind::Evaluation, &e.id, 4, &line, width, dim());
                }
            }
            if !d.visits.is_empty() {
                v.heading(t!("tui.visits").into_owned(), width);
                for vis in &d.visits {
                    let line = format!("{}  {}", datetime(lang, &vis.at), opt(&vis.purpose));
                    v.item(Kind::Visit, &vis.id, 2, &line, width, Style::default());
                }
            }
        }
        Tab::People => {
            v.heading(t!("tui.household").into_owned(), width);
            for h in &d.household {
                let born = h
                    .birth_date
                    .map(|b| format!(" ({})", text(&date(lang, &b.to_string()))))
                    .unwrap_or_default();
                let relation = code_label("relation", h.relation.code());
                let line = format!("{relation:<10} {}{born}", name(&h.name));
                // Children at a glance.
                let style = if h.relation == Relation::Kind {
                    bold()
                } else {
                    Style::default()
                };
                v.item(Kind::Household, &h.id, 2, &line, width, style);
            }
            if d.household.is_empty() {
                v.note(format!("  {}", t!("depth.none")));
            }
            v.heading(t!("tui.network").into_owned(), width);
            for c in &d.contacts {
                let line = format!(
                    "{}  {} · {} · {} · {}",
                    name(&c.name),
                    opt(&c.role),
                    opt(&c.org),
                    opt(&c.phone),
                    opt(&c.email)
                );
                v.item(Kind::Contact, &c.id, 2, &line, width, Style::default());
            }
            if d.contacts.is_empty() {
                v.note(format!("  {}", t!("depth.none")));
            }
        }
        Tab::Scores => {
            // Per domain: the scores over time as a small chart, then each score.
            let bars = ['▁', '▃', '▅', '▆', '█'];
            let mut domains: Vec<&str> = d.assessments.iter().map(|a| a.domain.as_str()).collect();
            domains.dedup();
            for dom in domains {
                let scores: Vec<_> = d.assessments.iter().filter(|a| a.domain == dom).collect();
                let chart: String = scores
                    .iter()
                    .map(|a| bars[usize::from(a.score.clamp(1, 5)) - 1])
                    .collect();
                let last = scores.last().map_or(0, |a| a.score);
                v.heading(format!("{}  {chart}  {last}/5", life_domain(dom)), width);
                for a in scores {
                    let line = format!(
                        "{}  {}/5  {}",
                        date(lang, &a.at.to_string()),
                        a.score,
                        text(&a.reason)
                    );
                    v.item(Kind::Assessment, &a.id, 2, &line, width, Style::default());
                }
            }
        }
        Tab::Files => {
            for a in &d.attachments {
                let line = format!(
                    "{}  ({}, {} KB, {})",
                    text(&a.title),
                    text(&a.filename),
                    a.size.div_ceil(1024),
                    a.author
                );
                v.item(Kind::Attachment, &a.id, 2, &line, width, Style::default());
            }
        }
        Tab::Sharing => {
            let today = ctx.today();
            for c in &d.details.consents {
                let state = t!(format!("consent.state.{}", c.state(today)));
                let until = c
                    .until
                    .map(|u| format!(" – {}", date(lang, &u.to_string())))
                    .unwrap_or_default();
                let mut line = format!(
                    "{state:<10} {} · {} · {} · {}{until}",
                    text(&c.org),
                    text(&c.purpose),
                    code_label("scope", c.scope.code()),
                    date(lang, &c.given_on.to_string()),
                );
                if c.special {
                    line.push_str(&format!(" · {}", t!("note.special")));
                }
                if c.expires_within(today, 30) {
                    line.push_str(" ⚑");
                }
                v.item(Kind::Consent, &c.id, 2, &line, width, Style::default());
            }
            if !d.disclosures.is_empty() {
                v.heading(t!("tui.disclosures").into_owned(), width);
                for s in &d.disclosures {
                    let line = format!(
                        "{}  {} · {} · {}",
                        local_datetime(lang, &s.at),
                        text(&s.org),
                        text(&s.purpose),
                        code_label("scope", s.scope.code())
                    );
                    v.item(Kind::Disclosure, &s.id, 2, &line, width, dim());
                }
            }
        }
        Tab::Records => {
            for kind in crate::tui::nav::generic_kinds() {
                v.heading(
                    t!(format!("kinds.{}", kind.spec().code)).into_owned(),
                    width,
                );
                let specs = specs(kind);
                let rows = d
                    .other
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .map_or(&[][..], |(_, rows)| rows.as_slice());
                if rows.is_empty() {
                    for l in wrap(&empty_kind(kind), width.saturating_sub(2)) {
                        v.note(format!("  {l}"));
                    }
                }
                for r in rows {
                    let parts: Vec<String> = r
                        .fields
                        .iter()
                        .filter_map(|(f, value)| {
                            let spec = specs.iter().find(|s| s.name == *f)?;
                            // What is not set, an id it refers to, and the special mark
                            // (the text says it is hidden) say nothing to the reader.
                            if !spec.input.is_entered()
                                || value == "-"
                                || matches!(spec.input, Input::Ref(_))
                                || *f == "special"
                            {
                                return None;
                            }
                            if *f == "withheld" {
                                return Some(format!(
                                    "{}: {}",
                                    field_word(f),
                                    code_label(f, value)
                                ));
                            }
                            if spec.input == Input::Flag {
                                let word = t!(if value == "true" {
                                    "word.yes"
                                } else {
                                    "word.no"
                                });
                                return Some(format!("{}: {word}", field_word(f)));
                            }
                            let private = matches!(spec.input, Input::Line | Input::Text);
                            let shown = if r.masked && spec.input == Input::Text {
                                t!("tui.special_hidden").into_owned()
                            } else if hide && private {
                                masked()
                            } else if spec.input == Input::Date {
                                date(lang, value)
                            } else {
                                code_label(f, value)
                            };
                            Some(shown)
                        })
                        .collect();
                    v.item(kind, &r.id, 2, &parts.join(" · "), width, Style::default());
                }
            }
        }
        Tab::Log => {
            for e in d.log.iter().rev() {
                let mut s = format!(
                    "{}  {} · {}",
                    local_datetime(lang, &e.at),
                    e.user,
                    e.action.label()
                );
                if let Some(b) = &e.on_behalf {
                    s.push_str(&format!(" ({})", t!("audit.on_behalf", who = b)));
                }
                v.item(Kind::LogEntry, &e.id, 0, &s, width, Style::default());
            }
        }
    }
    if v.items.is_empty() && !matches!(tab, Tab::Overview | Tab::Records) {
        v.note(String::new());
        for l in wrap(&empty_hint(tab), width) {
            v.note(l);
        }
    }
    v
}

/// A field's name for people, as forms show it.
fn field_word(name: &str) -> String {
    let key = format!("field.{name}");
    let word = t!(key.as_str()).into_owned();
    if word == key { name.to_owned() } else { word }
}
