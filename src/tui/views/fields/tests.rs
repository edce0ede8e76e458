//! How a form's fields are made and checked.

use super::*;
use crate::i18n::Lang;

fn ctx(domains: &[String]) -> Ctx<'_> {
    Ctx {
        lang: Lang::Nl,
        privacy: false,
        now: NaiveDate::from_ymd_opt(2026, 11, 20)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap(),
        life_domains: domains,
        lexicon: crate::tui::views::nudge::builtin(),
    }
}

/// Every kind a person adds has a form built from its declaration, and every entered
/// field of it is asked for, but for what an action or a withdrawal sets.
#[test]
fn every_register_kind_gets_its_entered_fields() {
    let domains: Vec<String> = model::LIFE_DOMAINS.iter().map(|d| d.to_string()).collect();
    let c = ctx(&domains);
    for kind in Kind::ALL {
        let specs = specs(*kind);
        let f = fields(FormKind::Record(*kind), None, &[], &c);
        let names: Vec<&str> = f.iter().map(|f| f.name).collect();
        for s in specs.iter().filter(|s| s.input.is_entered()) {
            assert_eq!(
                names.contains(&s.name),
                !skipped(*kind, s.name, false),
                "{kind:?}.{}",
                s.name
            );
        }
        for s in specs.iter().filter(|s| !s.input.is_entered()) {
            assert!(
                !names.contains(&s.name),
                "{kind:?}.{} is set by kluis",
                s.name
            );
        }
    }
}

#[test]
fn values_are_checked_with_the_models_parsers() {
    let _words = crate::tui::tests::words(Lang::En);
    let domains = vec!["financiën".to_owned(), "justitie".to_owned()];
    let c = ctx(&domains);
    let mut f = fields(FormKind::Record(Kind::Assessment), None, &[], &c);
    let by = |f: &mut Vec<FormField>, n: &str| f.iter().position(|x| x.name == n).unwrap();
    let (d, s, r, at) = (
        by(&mut f, "domain"),
        by(&mut f, "score"),
        by(&mut f, "reason"),
        by(&mut f, "at"),
    );
    assert_eq!(f[at].value, "20-11-2026", "today, as people write it");
    assert_eq!(f[d].choices.len(), 2, "the configured life domains");
    assert_eq!(f[r].check(&c), Err(t!("val.reason_required").into_owned()));
    f[s].set("7".into());
    assert!(f[s].check(&c).is_err());
    f[s].set("3".into());
    assert_eq!(f[s].check(&c), Ok(Cell::I(3)));
    f[at].set("14-3-2026".into());
    assert_eq!(f[at].check(&c), Ok(Cell::T("2026-03-14".into())));
    f[at].set("morgen".into());
    assert_eq!(f[at].check(&c), Ok(Cell::T("2026-11-21".into())));
    f[d].set("werk".into());
    assert!(f[d].check(&c).is_err(), "not on the list");
    let mut client = fields(FormKind::Client, None, &[], &c);
    client[2].set("14-03-1980".into());
    assert_eq!(client[2].check(&c), Ok(Cell::T("1980-03-14".into())));
    client[1].set("123456789".into());
    assert!(client[1].check(&c).unwrap_err().contains("elfproef"));
}
