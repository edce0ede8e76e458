//! What kluis holds on one client, as a readable document: the client's own report (inzage,
//! AVG art. 15) and the scoped report a disclosure sends. Markdown or self-contained HTML.

use zeroize::Zeroizing;

use crate::i18n::{Lang, t};
use crate::model::record::{FieldSpec, Input, Kind as RecordKind};
use crate::model::{Note, Scope};
use crate::session::{Dossier, GenericRecord};

/// The heading of a kind's section in a report: its own (`report.kind.CODE`) when the
/// catalog has one, else the kind's name.
fn kind_heading(kind: RecordKind, locale: &str) -> String {
    let key = format!("report.kind.{}", kind.spec().code);
    let own = t!(&key, locale = locale);
    if own.ends_with(key.as_str()) {
        t!(format!("kind.{}", kind.spec().code), locale = locale).into_owned()
    } else {
        own.into_owned()
    }
}

/// One field of a generic record in words: a choice by its label (`choice.FIELD.CODE`), a
/// flag as yes or no, a text withheld from the client as the ground it is withheld on.
fn generic_cell(r: &GenericRecord, f: &FieldSpec, locale: &str) -> String {
    let v = &r.value[f.name];
    match (f.input, v) {
        (Input::Text, serde_json::Value::Null) if r.masked => match &r.withheld {
            Some(ground) => t!(
                "report.withheld",
                locale = locale,
                ground = t!(format!("choice.withheld.{ground}"), locale = locale)
            )
            .into_owned(),
            None => t!("note.special_masked", locale = locale).into_owned(),
        },
        (_, serde_json::Value::Null) => "-".to_owned(),
        (Input::Flag, serde_json::Value::Bool(b)) => {
            t!(if *b { "word.yes" } else { "word.no" }, locale = locale).into_owned()
        }
        (Input::Choice, serde_json::Value::String(code)) => {
            let key = format!("choice.{}.{code}", f.name);
            let label = t!(&key, locale = locale);
            if label.ends_with(key.as_str()) {
                code.clone()
            } else {
                label.into_owned()
            }
        }
        (_, serde_json::Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Markdown (plain text that reads well anywhere).
    Md,
    /// One self-contained HTML page that prints well.
    Html,
}

/// What goes into a report.
#[derive(Clone, Debug)]
pub enum Kind {
    /// Everything, for the client.
    Inzage,
    /// Only the consented (or legally grounded) scope, for another organisation.
    Disclosure {
        /// Receiving organisation.
        org: String,
        /// Purpose.
        purpose: String,
        /// What is shared.
        scope: Scope,
        /// The consent or legal ground, as a sentence.
        basis: String,
        /// Whether special-category notes go too.
        include_special: bool,
    },
}

/// The special-category notes a report of `kind` would show.
pub fn special_note_ids(c: &Dossier, kind: &Kind) -> Vec<String> {
    notes_for(c, kind)
        .filter(|n| n.special)
        .map(|n| n.id.clone())
        .collect()
}

fn notes_for<'a>(c: &'a Dossier, kind: &'a Kind) -> impl Iterator<Item = &'a Note> + 'a {
    c.notes.iter().filter(move |n| match kind {
        Kind::Inzage => true,
        Kind::Disclosure {
            scope,
            include_special,
            ..
        } => scope.notes() && (!n.special || *include_special),
    })
}

/// A document being built: blocks of Markdown or HTML.
struct Doc {
    format: Format,
    locale: &'static str,
    out: Zeroizing<String>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Markdown that shows the text as written (no accidental emphasis, links, HTML, table
/// cells or headings), while staying readable as plain text.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let trimmed = s.trim_start();
    // A line starting like a heading, quote or list item would change meaning.
    if trimmed.starts_with(['#', '>', '-', '+', '=']) {
        out.push('\\');
    }
    for c in s.chars() {
        if "\\`*_[]<>|".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Doc {
    fn heading(&mut self, level: usize, text: &str) {
        match self.format {
            Format::Md => {
                self.out
                    .push_str(&format!("{} {}\n\n", "#".repeat(level), md(text)));
            }
            Format::Html => {
                self.out
                    .push_str(&format!("<h{level}>{}</h{level}>\n", esc(text)));
            }
        }
    }

    fn para(&mut self, text: &str) {
        match self.format {
            Format::Md => self.out.push_str(&format!("{}\n\n", md(text))),
            Format::Html => self.out.push_str(&format!("<p>{}</p>\n", esc(text))),
        }
    }

    fn table<S: AsRef<str>>(&mut self, head: &[S], rows: &[Vec<String>]) {
        let locale = self.locale;
        if rows.is_empty() {
            self.para(&t!("report.none", locale = locale));
            return;
        }
        match self.format {
            Format::Md => {
                let cell = |s: &str| md(s).replace('\n', " ");
                self.out.push_str(&format!(
                    "| {} |\n|{}\n",
                    head.iter()
                        .map(|h| cell(h.as_ref()))
                        .collect::<Vec<_>>()
                        .join(" | "),
                    " --- |".repeat(head.len())
                ));
                for r in rows {
                    self.out.push_str(&format!(
                        "| {} |\n",
                        r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
                    ));
                }
                self.out.push('\n');
            }
            Format::Html => {
                self.out.push_str("<table>\n<thead><tr>");
                for h in head {
                    self.out.push_str(&format!("<th>{}</th>", esc(h.as_ref())));
                }
                self.out.push_str("</tr></thead>\n<tbody>\n");
                for r in rows {
                    self.out.push_str("<tr>");
                    for c in r {
                        self.out.push_str(&format!("<td>{}</td>", esc(c)));
                    }
                    self.out.push_str("</tr>\n");
                }
                self.out.push_str("</tbody>\n</table>\n");
            }
        }
    }

    fn fields(&mut self, rows: &[(String, String)]) {
        let locale = self.locale;
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect();
        self.table(
            &[
                t!("report.field", locale = locale),
                t!("report.value", locale = locale),
            ],
            &rows,
        );
    }

    fn note(&mut self, n: &Note) {
        let locale = self.locale;
        let mut head = format!(
            "{} · {} · {}",
            n.occurred_at.replacen('T', " ", 1),
            n.kind,
            n.author
        );
        if n.special {
            head.push_str(&format!(" · {}", t!("report.special", locale = locale)));
        }
        if let Some(old) = &n.supersedes {
            head.push_str(&format!(
                " · {}",
                t!("list.corrects", locale = locale, id = old)
            ));
        }
        match self.format {
            Format::Md => {
                self.out.push_str(&format!("**{}**\n\n", md(&head)));
                for line in n.body.lines() {
                    self.out.push_str(&format!("> {}\n", md(line)));
                }
                self.out.push('\n');
            }
            Format::Html => {
                self.out.push_str(&format!(
                    "<div class=\"note\"><p class=\"meta\">{}</p><p class=\"body\">{}</p></div>\n",
                    esc(&head),
                    esc(&n.body).replace('\n', "<br>\n")
                ));
            }
        }
    }
}

const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;\
padding:0 1rem;line-height:1.5;color:#111}h1{font-size:1.6rem}h2{font-size:1.2rem;\
border-bottom:1px solid #999;margin-top:2rem}table{border-collapse:collapse;width:100%}\
th,td{border:1px solid #999;padding:.25rem .5rem;text-align:left;vertical-align:top}\
.note{border-left:3px solid #999;padding-left:.75rem;margin:1rem 0;page-break-inside:avoid}\
.meta{font-weight:bold;margin:0}.body{margin:.25rem 0}\
@media print{body{margin:0;max-width:none}h2{page-break-after:avoid}}";

/// Writes the report in `lang`, whatever language messages are in. `show_bsn` shows the
/// whole BSN (when the dossier was read with it); otherwise its last three digits.
pub fn render(
    c: &Dossier,
    kind: &Kind,
    format: Format,
    lang: Lang,
    show_bsn: bool,
    today: chrono::NaiveDate,
) -> Zeroizing<String> {
    let locale = lang.code();
    let mut d = Doc {
        format,
        locale,
        out: Zeroizing::new(String::new()),
    };
    let title = match kind {
        Kind::Inzage => t!("report.title", locale = locale, name = c.client().name).into_owned(),
        Kind::Disclosure { org, .. } => t!(
            "report.disclosure_title",
            locale = locale,
            name = c.client().name,
            org = org
        )
        .into_owned(),
    };
    if format == Format::Html {
        d.out.push_str(&format!(
            "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
            lang.code(),
            esc(&title)
        ));
    }
    d.heading(1, &title);
    match kind {
        Kind::Inzage => d.para(&t!("report.intro", locale = locale, date = today)),
        Kind::Disclosure { purpose, basis, .. } => {
            d.para(&t!(
                "report.disclosure_intro",
                locale = locale,
                date = today,
                purpose = purpose
            ));
            d.para(basis);
        }
    }
    let cl = c.client();
    let none = || "-".to_owned();
    let date = |x: Option<chrono::NaiveDate>| x.map(|v| v.to_string()).unwrap_or_else(none);
    let show_details = match kind {
        Kind::Inzage => true,
        Kind::Disclosure { scope, .. } => scope.details(),
    };
    d.heading(2, &t!("report.details", locale = locale));
    let mut rows = vec![(
        t!("field.name", locale = locale).into_owned(),
        cl.name.clone(),
    )];
    if show_details {
        let bsn = match (&cl.bsn, show_bsn) {
            (Some(b), true) => Some(b.digits().to_owned()),
            _ => c.details.bsn_masked.clone(),
        };
        rows.extend([
            (
                t!("field.bsn", locale = locale).into_owned(),
                bsn.unwrap_or_else(none),
            ),
            (
                t!("field.birth_date", locale = locale).into_owned(),
                date(cl.birth_date),
            ),
            (
                t!("field.address", locale = locale).into_owned(),
                cl.address.clone().unwrap_or_else(none),
            ),
            (
                t!("field.phone", locale = locale).into_owned(),
                cl.phone.clone().unwrap_or_else(none),
            ),
        ]);
    }
    if matches!(kind, Kind::Inzage) {
        rows.extend([
            (
                t!("field.domain", locale = locale).into_owned(),
                cl.domain.to_string(),
            ),
            (
                t!("field.status", locale = locale).into_owned(),
                cl.status.to_string(),
            ),
            (
                t!("field.opened_on", locale = locale).into_owned(),
                cl.opened_on.to_string(),
            ),
            (
                t!("field.closed_on", locale = locale).into_owned(),
                date(cl.closed_on),
            ),
            (
                t!("field.retention_until", locale = locale).into_owned(),
                date(cl.retention_until),
            ),
            (
                t!("field.assigned", locale = locale).into_owned(),
                if c.details.assigned.is_empty() {
                    none()
                } else {
                    c.details.assigned.join(", ")
                },
            ),
        ]);
    }
    d.fields(&rows);
    let notes: Vec<&Note> = notes_for(c, kind).collect();
    let show_notes = match kind {
        Kind::Inzage => true,
        Kind::Disclosure { scope, .. } => scope.notes(),
    };
    if show_notes {
        d.heading(2, &t!("report.notes", locale = locale, n = notes.len()));
        if notes.is_empty() {
            d.para(&t!("report.none", locale = locale));
        }
        for n in notes {
            d.note(n);
        }
    }
    if matches!(kind, Kind::Inzage) {
        let o = |v: &Option<String>| v.clone().unwrap_or_else(none);
        d.heading(2, &t!("report.household", locale = locale));
        let rows: Vec<Vec<String>> = c
            .household
            .iter()
            .map(|h| vec![h.name.clone(), h.relation.to_string(), date(h.birth_date)])
            .collect();
        d.table(
            &[
                t!("field.name", locale = locale),
                t!("report.relation", locale = locale),
                t!("field.birth_date", locale = locale),
            ],
            &rows,
        );
        d.heading(2, &t!("report.network", locale = locale));
        let rows: Vec<Vec<String>> = c
            .contacts
            .iter()
            .map(|k| {
                vec![
                    k.name.clone(),
                    o(&k.role),
                    o(&k.org),
                    o(&k.phone),
                    o(&k.email),
                ]
            })
            .collect();
        d.table(
            &[
                t!("field.name", locale = locale),
                t!("report.role", locale = locale),
                t!("report.org", locale = locale),
                t!("field.phone", locale = locale),
                t!("report.email", locale = locale),
            ],
            &rows,
        );
        d.heading(2, &t!("report.plan", locale = locale));
        let rows: Vec<Vec<String>> = c
            .goals
            .iter()
            .flat_map(|g| {
                let goal = vec![
                    g.domain.clone(),
                    g.text.clone(),
                    String::new(),
                    String::new(),
                ];
                let evaluations = c
                    .evaluations
                    .iter()
                    .filter(|(e, _)| e.goal_id == g.id)
                    .filter_map(|(_, n)| n.as_ref())
                    .map(|n| {
                        vec![
                            String::new(),
                            format!(
                                "{}: {}",
                                t!(
                                    "depth.evaluation",
                                    locale = locale,
                                    date = &n.occurred_at[..10]
                                ),
                                n.body
                            ),
                            n.author.clone(),
                            String::new(),
                        ]
                    });
                std::iter::once(goal)
                    .chain(c.actions.iter().filter(|a| a.goal_id == g.id).map(|a| {
                        vec![
                            String::new(),
                            format!("→ {}", a.text),
                            a.owner.clone(),
                            a.done_on.map_or_else(
                                || date(a.due),
                                |d| t!("depth.done_on", locale = locale, date = d).into_owned(),
                            ),
                        ]
                    }))
                    .chain(evaluations)
            })
            .collect();
        d.table(
            &[
                t!("report.domain", locale = locale),
                t!("report.goal", locale = locale),
                t!("report.owner", locale = locale),
                t!("report.when", locale = locale),
            ],
            &rows,
        );
        d.heading(2, &t!("report.assessments", locale = locale));
        let rows: Vec<Vec<String>> = c
            .assessments
            .iter()
            .map(|s| {
                vec![
                    s.at.to_string(),
                    s.domain.clone(),
                    format!("{}/5", s.score),
                    s.reason.clone(),
                ]
            })
            .collect();
        d.table(
            &[
                t!("report.when", locale = locale),
                t!("report.domain", locale = locale),
                t!("report.score", locale = locale),
                t!("report.reason", locale = locale),
            ],
            &rows,
        );
        d.heading(2, &t!("report.visits", locale = locale));
        let rows: Vec<Vec<String>> = c
            .visits
            .iter()
            .map(|v| {
                vec![
                    v.at.replacen('T', " ", 1).chars().take(16).collect(),
                    o(&v.purpose),
                ]
            })
            .collect();
        d.table(
            &[
                t!("report.when", locale = locale),
                t!("report.purpose", locale = locale),
            ],
            &rows,
        );
        d.heading(2, &t!("report.attachments", locale = locale));
        let rows: Vec<Vec<String>> = c
            .attachments
            .iter()
            .map(|a| {
                vec![
                    a.created_at.chars().take(10).collect(),
                    a.title.clone(),
                    a.filename.clone(),
                    format!("{} KB", a.size.div_ceil(1024)),
                ]
            })
            .collect();
        d.table(
            &[
                t!("report.when", locale = locale),
                t!("report.what", locale = locale),
                t!("report.file", locale = locale),
                t!("report.size", locale = locale),
            ],
            &rows,
        );
        if !c.handovers.is_empty() {
            d.heading(2, &t!("report.handovers", locale = locale));
            let rows: Vec<Vec<String>> = c
                .handovers
                .iter()
                .map(|h| {
                    vec![
                        h.created_at.clone(),
                        h.from_worker.clone(),
                        h.to_worker.clone(),
                        h.received_at.clone().unwrap_or_else(none),
                    ]
                })
                .collect();
            d.table(
                &[
                    t!("report.when", locale = locale),
                    t!("report.from", locale = locale),
                    t!("report.to", locale = locale),
                    t!("report.received", locale = locale),
                ],
                &rows,
            );
        }
        // Kinds without a section of their own: a table of their fields each, in the
        // report's language (codes become words), what is withheld from the client without
        // its text but with its ground.
        let mut withheld = 0;
        for (kind, records) in &c.other {
            d.heading(2, &kind_heading(*kind, locale));
            let fields: Vec<&FieldSpec> = crate::model::record::fields_of(*kind)
                .iter()
                .filter(|f| f.input != Input::Link)
                .collect();
            let head: Vec<String> = fields
                .iter()
                .map(|f| t!(format!("field.{}", f.name), locale = locale).into_owned())
                .collect();
            let rows: Vec<Vec<String>> = records
                .iter()
                .map(|r| {
                    if r.masked && r.withheld.is_some() {
                        withheld += 1;
                    }
                    fields.iter().map(|f| generic_cell(r, f, locale)).collect()
                })
                .collect();
            d.table(&head, &rows);
        }
        if withheld > 0 {
            d.para(&t!("report.withheld_note", locale = locale, n = withheld));
        }
        d.heading(2, &t!("report.consents", locale = locale));
        let head = [
            t!("report.org", locale = locale),
            t!("report.purpose", locale = locale),
            t!("report.scope", locale = locale),
            t!("report.given", locale = locale),
            t!("report.until", locale = locale),
            t!("report.state", locale = locale),
            t!("report.evidence", locale = locale),
        ];
        let rows: Vec<Vec<String>> = c
            .details
            .consents
            .iter()
            .map(|k| {
                vec![
                    k.org.clone(),
                    k.purpose.clone(),
                    t!(format!("scope.{}", k.scope.code()), locale = locale).into_owned(),
                    k.given_on.to_string(),
                    date(k.until),
                    t!(format!("consent.state.{}", k.state(today)), locale = locale).into_owned(),
                    match c
                        .attachments
                        .iter()
                        .find(|a| Some(&a.id) == k.evidence.as_ref())
                    {
                        Some(a) => {
                            t!("report.signed_form", locale = locale, title = a.title).into_owned()
                        }
                        None => k.evidence.clone().unwrap_or_else(none),
                    },
                ]
            })
            .collect();
        d.table(&head, &rows);
        d.heading(2, &t!("report.disclosures", locale = locale));
        let head = [
            t!("report.when", locale = locale),
            t!("report.org", locale = locale),
            t!("report.purpose", locale = locale),
            t!("report.scope", locale = locale),
            t!("report.basis", locale = locale),
        ];
        let rows: Vec<Vec<String>> = c
            .disclosures
            .iter()
            .map(|x| {
                vec![
                    x.at.clone(),
                    x.org.clone(),
                    x.purpose.clone(),
                    t!(format!("scope.{}", x.scope.code()), locale = locale).into_owned(),
                    match (&x.consent_id, &x.legal_ground) {
                        (Some(k), _) => {
                            t!("report.basis_consent", locale = locale, id = k).into_owned()
                        }
                        (None, Some(g)) => {
                            t!("report.basis_legal", locale = locale, ground = g).into_owned()
                        }
                        (None, None) => none(),
                    },
                ]
            })
            .collect();
        d.table(&head, &rows);
        d.heading(2, &t!("report.access", locale = locale));
        d.para(&t!("report.access_intro", locale = locale));
        let head = [
            t!("report.when", locale = locale),
            t!("report.what", locale = locale),
            t!("report.who", locale = locale),
            t!("report.on_behalf", locale = locale),
        ];
        let rows: Vec<Vec<String>> = c
            .log
            .iter()
            .map(|e| {
                vec![
                    e.at.clone(),
                    e.action.label_in(lang),
                    e.user.clone(),
                    e.on_behalf.clone().unwrap_or_else(none),
                ]
            })
            .collect();
        d.table(&head, &rows);
        d.heading(2, &t!("report.rights", locale = locale));
        d.para(&t!("report.rights_text", locale = locale));
    }
    if format == Format::Html {
        d.out.push_str("</body>\n</html>\n");
    }
    d.out
}
