//! What kluis holds on one client, as a readable document: the client's own report (inzage,
//! AVG art. 15) and the scoped report a disclosure sends. Markdown or self-contained HTML.

use zeroize::Zeroizing;

use crate::error::Result;
use crate::i18n::{Lang, set_lang, t};
use crate::model::{AuditEntry, Client, Consent, Disclosure, Note, Scope};
use crate::store::Store;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
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

/// Everything a report shows, read from the store in one go.
pub struct Contents {
    client: Client,
    assigned: Vec<String>,
    notes: Vec<Note>,
    consents: Vec<Consent>,
    disclosures: Vec<Disclosure>,
    log: Vec<AuditEntry>,
    household: Vec<crate::model::HouseholdMember>,
    contacts: Vec<crate::model::Contact>,
    goals: Vec<crate::model::Goal>,
    actions: Vec<crate::model::PlanAction>,
    assessments: Vec<crate::model::Assessment>,
    visits: Vec<crate::model::Visit>,
    handovers: Vec<crate::model::Handover>,
    attachments: Vec<crate::model::Attachment>,
    evaluations: Vec<(crate::model::Evaluation, Option<Note>)>,
}

impl Contents {
    /// Reads one client's records.
    pub fn read(store: &Store, client: &str) -> Result<Contents> {
        Ok(Contents {
            client: store.client(client)?,
            assigned: store.assignees(client)?,
            notes: store.notes(client)?,
            consents: store.consents(client)?,
            disclosures: store.disclosures(client)?,
            log: store.audit(Some(client))?,
            household: store.household(client)?,
            contacts: store.contacts(client)?,
            goals: store.goals(client)?,
            actions: store.actions(client)?,
            assessments: store.assessments(client)?,
            visits: store.visits(client)?,
            handovers: store.handovers(client)?,
            attachments: store.attachments(client)?,
            evaluations: store.evaluations(client)?,
        })
    }

    /// The special-category notes a report of `kind` would show.
    pub fn special_note_ids(&self, kind: &Kind) -> Vec<String> {
        self.notes_for(kind)
            .filter(|n| n.special)
            .map(|n| n.id.clone())
            .collect()
    }

    fn notes_for<'a>(&'a self, kind: &'a Kind) -> impl Iterator<Item = &'a Note> + 'a {
        self.notes.iter().filter(move |n| match kind {
            Kind::Inzage => true,
            Kind::Disclosure {
                scope,
                include_special,
                ..
            } => scope.notes() && (!n.special || *include_special),
        })
    }
}

/// A document being built: blocks of Markdown or HTML.
struct Doc {
    format: Format,
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
        if rows.is_empty() {
            self.para(&t!("report.none"));
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
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect();
        self.table(&[t!("report.field"), t!("report.value")], &rows);
    }

    fn note(&mut self, n: &Note) {
        let mut head = format!(
            "{} · {} · {}",
            n.occurred_at.replacen('T', " ", 1),
            n.kind,
            n.author
        );
        if n.special {
            head.push_str(&format!(" · {}", t!("report.special")));
        }
        if let Some(old) = &n.supersedes {
            head.push_str(&format!(" · {}", t!("list.corrects", id = old)));
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

/// Writes the report in `lang` (messages return to the current language afterwards).
/// `show_bsn` shows the whole BSN; otherwise its last three digits.
pub fn render(
    c: &Contents,
    kind: &Kind,
    format: Format,
    lang: Lang,
    show_bsn: bool,
    today: chrono::NaiveDate,
) -> Zeroizing<String> {
    let before = crate::i18n::current();
    set_lang(lang);
    let doc = render_in(c, kind, format, lang, show_bsn, today);
    set_lang(before);
    doc
}

fn render_in(
    c: &Contents,
    kind: &Kind,
    format: Format,
    lang: Lang,
    show_bsn: bool,
    today: chrono::NaiveDate,
) -> Zeroizing<String> {
    let mut d = Doc {
        format,
        out: Zeroizing::new(String::new()),
    };
    let title = match kind {
        Kind::Inzage => t!("report.title", name = c.client.name).into_owned(),
        Kind::Disclosure { org, .. } => {
            t!("report.disclosure_title", name = c.client.name, org = org).into_owned()
        }
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
        Kind::Inzage => d.para(&t!("report.intro", date = today)),
        Kind::Disclosure { purpose, basis, .. } => {
            d.para(&t!(
                "report.disclosure_intro",
                date = today,
                purpose = purpose
            ));
            d.para(basis);
        }
    }
    let cl = &c.client;
    let none = || "-".to_owned();
    let date = |x: Option<chrono::NaiveDate>| x.map(|v| v.to_string()).unwrap_or_else(none);
    let show_details = match kind {
        Kind::Inzage => true,
        Kind::Disclosure { scope, .. } => scope.details(),
    };
    d.heading(2, &t!("report.details"));
    let mut rows = vec![(t!("field.name").into_owned(), cl.name.clone())];
    if show_details {
        let bsn = cl.bsn.as_ref().map(|b| {
            if show_bsn {
                b.digits().to_owned()
            } else {
                b.masked()
            }
        });
        rows.extend([
            (t!("field.bsn").into_owned(), bsn.unwrap_or_else(none)),
            (t!("field.birth_date").into_owned(), date(cl.birth_date)),
            (
                t!("field.address").into_owned(),
                cl.address.clone().unwrap_or_else(none),
            ),
            (
                t!("field.phone").into_owned(),
                cl.phone.clone().unwrap_or_else(none),
            ),
        ]);
    }
    if matches!(kind, Kind::Inzage) {
        rows.extend([
            (t!("field.domain").into_owned(), cl.domain.to_string()),
            (t!("field.status").into_owned(), cl.status.to_string()),
            (t!("field.opened_on").into_owned(), cl.opened_on.to_string()),
            (t!("field.closed_on").into_owned(), date(cl.closed_on)),
            (
                t!("field.retention_until").into_owned(),
                date(cl.retention_until),
            ),
            (
                t!("field.assigned").into_owned(),
                if c.assigned.is_empty() {
                    none()
                } else {
                    c.assigned.join(", ")
                },
            ),
        ]);
    }
    d.fields(&rows);
    let notes: Vec<&Note> = c.notes_for(kind).collect();
    let show_notes = match kind {
        Kind::Inzage => true,
        Kind::Disclosure { scope, .. } => scope.notes(),
    };
    if show_notes {
        d.heading(2, &t!("report.notes", n = notes.len()));
        if notes.is_empty() {
            d.para(&t!("report.none"));
        }
        for n in notes {
            d.note(n);
        }
    }
    if matches!(kind, Kind::Inzage) {
        let o = |v: &Option<String>| v.clone().unwrap_or_else(none);
        d.heading(2, &t!("report.household"));
        let rows: Vec<Vec<String>> = c
            .household
            .iter()
            .map(|h| vec![h.name.clone(), h.relation.to_string(), date(h.birth_date)])
            .collect();
        d.table(
            &[
                t!("field.name"),
                t!("report.relation"),
                t!("field.birth_date"),
            ],
            &rows,
        );
        d.heading(2, &t!("report.network"));
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
                t!("field.name"),
                t!("report.role"),
                t!("report.org"),
                t!("field.phone"),
                t!("report.email"),
            ],
            &rows,
        );
        d.heading(2, &t!("report.plan"));
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
                                t!("depth.evaluation", date = &n.occurred_at[..10]),
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
                                |d| t!("depth.done_on", date = d).into_owned(),
                            ),
                        ]
                    }))
                    .chain(evaluations)
            })
            .collect();
        d.table(
            &[
                t!("report.domain"),
                t!("report.goal"),
                t!("report.owner"),
                t!("report.when"),
            ],
            &rows,
        );
        d.heading(2, &t!("report.assessments"));
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
                t!("report.when"),
                t!("report.domain"),
                t!("report.score"),
                t!("report.reason"),
            ],
            &rows,
        );
        d.heading(2, &t!("report.visits"));
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
        d.table(&[t!("report.when"), t!("report.purpose")], &rows);
        d.heading(2, &t!("report.attachments"));
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
                t!("report.when"),
                t!("report.what"),
                t!("report.file"),
                t!("report.size"),
            ],
            &rows,
        );
        if !c.handovers.is_empty() {
            d.heading(2, &t!("report.handovers"));
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
                    t!("report.when"),
                    t!("report.from"),
                    t!("report.to"),
                    t!("report.received"),
                ],
                &rows,
            );
        }
        d.heading(2, &t!("report.consents"));
        let head = [
            t!("report.org"),
            t!("report.purpose"),
            t!("report.scope"),
            t!("report.given"),
            t!("report.until"),
            t!("report.state"),
            t!("report.evidence"),
        ];
        let rows: Vec<Vec<String>> = c
            .consents
            .iter()
            .map(|k| {
                vec![
                    k.org.clone(),
                    k.purpose.clone(),
                    t!(format!("scope.{}", k.scope.code())).into_owned(),
                    k.given_on.to_string(),
                    date(k.until),
                    t!(format!("consent.state.{}", k.state(today))).into_owned(),
                    k.evidence.clone().unwrap_or_else(none),
                ]
            })
            .collect();
        d.table(&head, &rows);
        d.heading(2, &t!("report.disclosures"));
        let head = [
            t!("report.when"),
            t!("report.org"),
            t!("report.purpose"),
            t!("report.scope"),
            t!("report.basis"),
        ];
        let rows: Vec<Vec<String>> = c
            .disclosures
            .iter()
            .map(|x| {
                vec![
                    x.at.clone(),
                    x.org.clone(),
                    x.purpose.clone(),
                    t!(format!("scope.{}", x.scope.code())).into_owned(),
                    match (&x.consent_id, &x.legal_ground) {
                        (Some(k), _) => t!("report.basis_consent", id = k).into_owned(),
                        (None, Some(g)) => t!("report.basis_legal", ground = g).into_owned(),
                        (None, None) => none(),
                    },
                ]
            })
            .collect();
        d.table(&head, &rows);
        d.heading(2, &t!("report.access"));
        d.para(&t!("report.access_intro"));
        let head = [
            t!("report.when"),
            t!("report.what"),
            t!("report.who"),
            t!("report.on_behalf"),
        ];
        let rows: Vec<Vec<String>> = c
            .log
            .iter()
            .map(|e| {
                vec![
                    e.at.clone(),
                    e.action.label(),
                    e.user.clone(),
                    e.on_behalf.clone().unwrap_or_else(none),
                ]
            })
            .collect();
        d.table(&head, &rows);
        d.heading(2, &t!("report.rights"));
        d.para(&t!("report.rights_text"));
    }
    if format == Format::Html {
        d.out.push_str("</body>\n</html>\n");
    }
    d.out
}
