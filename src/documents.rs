//! Printable documents for residents: the consent form to sign and the leaflet that says
//! what kluis keeps and what residents may ask. One self-contained HTML page each (no
//! scripts, no external files) with print CSS for A4, in plain language (B1), Dutch or
//! English. The words are in the catalog (`doc.*` in src/locales/app.yml); the facts come
//! from the session (`Session::consent_form`, `Session::leaflet_facts`), so the documents
//! say what this vault actually does.
//!
//! Why HTML and not PDF: no maintained Rust crate lays out HTML and CSS into a PDF without a
//! browser, and a second layout (a PDF drawn by hand) would be a second text to keep equal to
//! this one. Every browser prints this page to A4 or to PDF; the tests do exactly that with
//! headless Chromium and read the PDF back (tests/it/documents.rs).

use crate::i18n::{Lang, t};
use crate::model::{ConsentFormFacts, Domain, LeafletFacts, Scope};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const CSS: &str = "@page{size:A4;margin:18mm 18mm 20mm 18mm}\
body{font-family:'DejaVu Sans',Arial,sans-serif;font-size:11pt;line-height:1.45;color:#000;\
max-width:46rem;margin:1.5rem auto;padding:0 1rem}\
h1{font-size:18pt;margin:0 0 .6rem}h2{font-size:12.5pt;margin:1.1rem 0 .3rem;\
page-break-after:avoid}p,ul{margin:.3rem 0}li{margin:.15rem 0}\
.box{border:1px solid #000;padding:.5rem .8rem;margin:.6rem 0;page-break-inside:avoid}\
table{border-collapse:collapse;width:100%;page-break-inside:avoid}\
th,td{border:1px solid #000;padding:.3rem .5rem;text-align:left;vertical-align:top}\
.sign td{height:2.4rem}.sign th{width:30%}.foot{margin-top:1.2rem;font-size:9pt;color:#333}\
@media print{body{margin:0;max-width:none;padding:0}}";

/// A document being written.
struct Page {
    locale: &'static str,
    out: String,
}

impl Page {
    fn new(lang: Lang, title: &str) -> Page {
        let mut out = String::new();
        out.push_str(&format!(
            "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
            lang.code(),
            esc(title),
            esc(title)
        ));
        Page {
            locale: lang.code(),
            out,
        }
    }

    fn t(&self, key: &str) -> String {
        t!(key, locale = self.locale).into_owned()
    }

    fn h2(&mut self, text: &str) {
        self.out.push_str(&format!("<h2>{}</h2>\n", esc(text)));
    }

    fn p(&mut self, text: &str) {
        self.out.push_str(&format!("<p>{}</p>\n", esc(text)));
    }

    fn boxed(&mut self, text: &str) {
        self.out
            .push_str(&format!("<p class=\"box\">{}</p>\n", esc(text)));
    }

    fn list(&mut self, items: &[String]) {
        self.out.push_str("<ul>\n");
        for i in items {
            self.out.push_str(&format!("<li>{}</li>\n", esc(i)));
        }
        self.out.push_str("</ul>\n");
    }

    fn table(&mut self, class: &str, rows: &[(String, String)]) {
        self.out
            .push_str(&format!("<table class=\"{class}\">\n<tbody>\n"));
        for (k, v) in rows {
            self.out.push_str(&format!(
                "<tr><th>{}</th><td>{}</td></tr>\n",
                esc(k),
                esc(v)
            ));
        }
        self.out.push_str("</tbody>\n</table>\n");
    }

    fn rights(&mut self) {
        self.h2(&self.t("doc.rights"));
        let items: Vec<String> = [
            "doc.right_access",
            "doc.right_correct",
            "doc.right_erase",
            "doc.right_object",
            "doc.right_complain",
        ]
        .iter()
        .map(|k| self.t(k))
        .collect();
        self.list(&items);
    }

    fn finish(mut self, foot: &str) -> String {
        self.out.push_str(&format!(
            "<p class=\"foot\">{}</p>\n</body>\n</html>\n",
            esc(foot)
        ));
        self.out
    }
}

/// A day as people write it in a letter: "30 juni 2027", "30 June 2027".
fn long_date(d: chrono::NaiveDate, locale: &str) -> String {
    use chrono::Datelike;
    format!(
        "{} {} {}",
        d.day(),
        t!(format!("doc.month.{}", d.month()), locale = locale),
        d.year()
    )
}

/// The information a scope covers, in words for residents.
fn scope_words(scope: Scope, locale: &str) -> String {
    t!(format!("doc.scope.{}", scope.code()), locale = locale).into_owned()
}

/// The domain in words for residents.
fn domain_words(d: Domain, locale: &str) -> String {
    t!(format!("doc.domain.{}", d.code()), locale = locale).into_owned()
}

/// The consent form to print and sign: who asks, which information, with whom, what for,
/// until when, how to withdraw, the resident's rights, and lines to sign for resident and
/// worker.
pub fn consent_form(f: &ConsentFormFacts, lang: Lang) -> String {
    let l = lang.code();
    let mut p = Page::new(lang, &t!("doc.form.title", locale = l));
    p.p(&t!("doc.form.intro", locale = l, org = f.org));
    p.boxed(&t!("doc.form.free", locale = l));
    p.h2(&p.t("doc.form.who"));
    p.p(&match &f.asking_org {
        Some(asker) => t!(
            "doc.form.who_org",
            locale = l,
            asker = asker,
            worker = f.worker
        ),
        None => t!("doc.form.who_alone", locale = l, worker = f.worker),
    });
    p.h2(&p.t("doc.form.with_whom"));
    p.p(&t!("doc.form.with_whom_text", locale = l, org = f.org));
    p.h2(&p.t("doc.form.why"));
    p.p(&f.purpose);
    p.h2(&p.t("doc.form.what"));
    p.p(&scope_words(f.scope, l));
    p.p(&p.t(if f.special {
        "doc.form.special_yes"
    } else {
        "doc.form.special_no"
    }));
    p.h2(&p.t("doc.form.how_long"));
    p.p(&match f.until {
        Some(d) => t!("doc.form.until", locale = l, date = long_date(d, l)).into_owned(),
        None => t!("doc.form.until_withdrawn", locale = l).into_owned(),
    });
    p.h2(&p.t("doc.form.withdraw"));
    p.p(&t!("doc.form.withdraw_text", locale = l, worker = f.worker));
    if let Some(o) = &f.privacy_officer {
        p.p(&t!("doc.contact_officer", locale = l, contact = o));
    }
    p.rights();
    p.h2(&p.t("doc.form.sign"));
    p.p(&p.t("doc.form.statement"));
    p.table(
        "sign",
        &[
            (
                t!("doc.form.resident_name", locale = l).into_owned(),
                f.client_name.clone(),
            ),
            (t!("doc.form.date", locale = l).into_owned(), String::new()),
            (
                t!("doc.form.signature", locale = l).into_owned(),
                String::new(),
            ),
        ],
    );
    p.p("");
    p.table(
        "sign",
        &[
            (
                t!("doc.form.worker_name", locale = l).into_owned(),
                f.worker.clone(),
            ),
            (t!("doc.form.date", locale = l).into_owned(), String::new()),
            (
                t!("doc.form.signature", locale = l).into_owned(),
                String::new(),
            ),
        ],
    );
    p.finish(&t!(
        "doc.form.foot",
        locale = l,
        date = long_date(f.made_on, l)
    ))
}

/// The leaflet for residents, from this vault's settings: what is kept, who can see a
/// dossier, how long each domain is kept, how to ask for the report, a correction or
/// erasure, and whom to contact.
pub fn leaflet(f: &LeafletFacts, lang: Lang, today: chrono::NaiveDate) -> String {
    let l = lang.code();
    let mut p = Page::new(lang, &t!("doc.leaflet.title", locale = l));
    p.p(&match &f.org_name {
        Some(org) => t!("doc.leaflet.intro", locale = l, org = org),
        None => t!("doc.leaflet.intro_us", locale = l),
    });
    p.h2(&p.t("doc.leaflet.what"));
    let items: Vec<String> = [
        "doc.leaflet.what_details",
        "doc.leaflet.what_notes",
        "doc.leaflet.what_plan",
        "doc.leaflet.what_sharing",
    ]
    .iter()
    .map(|k| p.t(k))
    .collect();
    p.list(&items);
    p.p(&p.t("doc.leaflet.minimal"));
    p.p(&p.t("doc.leaflet.special"));
    p.h2(&p.t("doc.leaflet.where"));
    p.p(&p.t("doc.leaflet.where_text"));
    p.h2(&p.t("doc.leaflet.who"));
    p.p(&p.t(if f.team {
        "doc.leaflet.who_team"
    } else {
        "doc.leaflet.who_alone"
    }));
    p.p(&match (f.recovery, &f.org_name) {
        (true, Some(org)) => t!("doc.leaflet.it_recovery", locale = l, org = org),
        (true, None) => t!("doc.leaflet.it_recovery_plain", locale = l),
        (false, _) => t!("doc.leaflet.it_none", locale = l),
    });
    p.p(&p.t("doc.leaflet.log"));
    p.h2(&p.t("doc.leaflet.sharing"));
    p.p(&p.t("doc.leaflet.sharing_text"));
    p.h2(&p.t("doc.leaflet.how_long"));
    p.p(&p.t("doc.leaflet.how_long_text"));
    let rows: Vec<(String, String)> = f
        .retention
        .iter()
        .map(|(d, years)| {
            (
                domain_words(*d, l),
                t!("doc.leaflet.years", locale = l, n = years).into_owned(),
            )
        })
        .collect();
    p.table("retention", &rows);
    p.p(&p.t("doc.leaflet.after"));
    p.rights();
    p.p(&p.t("doc.leaflet.ask"));
    p.h2(&p.t("doc.leaflet.contact"));
    p.p(&match &f.privacy_officer {
        Some(o) => t!("doc.contact_officer", locale = l, contact = o).into_owned(),
        None => t!("doc.leaflet.contact_worker", locale = l).into_owned(),
    });
    p.finish(&t!(
        "doc.leaflet.foot",
        locale = l,
        date = long_date(today, l)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> LeafletFacts {
        LeafletFacts {
            org_name: Some("Gemeente <Voorbeeld>".into()),
            team: true,
            recovery: true,
            retention: Domain::ALL.iter().map(|d| (*d, 7)).collect(),
            privacy_officer: Some("privacy@voorbeeld.nl".into()),
        }
    }

    #[test]
    fn the_leaflet_escapes_and_says_what_the_settings_say() {
        let today = "2026-05-01".parse().unwrap();
        let html = leaflet(&facts(), Lang::Nl, today);
        assert!(html.contains("Gemeente &lt;Voorbeeld&gt;"));
        assert!(!html.contains("<Voorbeeld>"));
        assert!(html.contains("privacy@voorbeeld.nl"));
        let alone = LeafletFacts {
            team: false,
            recovery: false,
            ..facts()
        };
        assert_ne!(leaflet(&alone, Lang::Nl, today), html);
        assert!(leaflet(&facts(), Lang::En, today).contains("<html lang=\"en\">"));
        assert_eq!(long_date(today, "nl"), "1 mei 2026");
        assert_eq!(long_date(today, "en"), "1 May 2026");
    }
}
