//! The meldcode in the terminal app offers what `kluis meldcode` offers (issue 21): a step
//! or a signal kept out of the client's own report on a ground, or put back (`w`), and the
//! afwegingskader's word when a decision goes against what step 4 weighed.

use chrono::NaiveDate;
use ratatui::crossterm::event::KeyCode;

use super::app::{App, Screen};
use super::nav::FormKind;
use super::tests::{app, ctrl, key, render, typed, unlock, words};
use super::tests_practice::{practice_fixture, press};
use crate::i18n::{Lang, t};
use crate::model::{MeldStep, MeldcodeStep, Signal, Withhold};

fn on_form(a: &App, kind: FormKind) {
    match &a.screen {
        Screen::Form(f) => assert_eq!(f.kind, kind, "{}", render(a)),
        _ => panic!("no form: {:?}\n{}", a.message, render(a)),
    }
}

fn saved(a: &App) {
    assert!(
        matches!(a.screen, Screen::Dossier(_)),
        "{:?}\n{}",
        a.message,
        render(a)
    );
}

/// Opens Sanne's dossier from the agenda (its meldcode's next step), on the More tab.
fn sanne(a: &mut App) {
    a.handle_key(key(KeyCode::Home));
    a.handle_key(key(KeyCode::Enter));
    a.handle_key(key(KeyCode::Home));
}

#[test]
fn a_step_and_its_signal_are_kept_out_of_the_clients_report_and_put_back() {
    let _words = words(Lang::En);
    let (_dir, path, open, _) = practice_fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    sanne(&mut a);
    press(&mut a, 'm');
    on_form(&a, FormKind::Meldcode(MeldStep::Consult));
    let shown = render(&a);
    assert!(
        shown.contains("Not in client report") && shown.contains("no, it is in it"),
        "{shown}"
    );
    a.handle_key(key(KeyCode::Tab));
    typed(&mut a, "Overlegd met de aandachtsfunctionaris.");
    for _ in 0..4 {
        a.handle_key(key(KeyCode::Tab));
    }
    a.handle_key(key(KeyCode::Right));
    a.handle_key(key(KeyCode::Right));
    assert!(
        render(&a).contains("it is about someone else"),
        "{}",
        render(&a)
    );
    a.handle_key(ctrl('s'));
    saved(&a);
    let steps: Vec<MeldcodeStep> = a.session.as_mut().unwrap().records(&open).unwrap();
    assert_eq!(steps[0].withheld, Some(Withhold::ThirdParty));

    // The signal, afterwards: `w` on it, from none to safety, then back.
    let signal = |a: &mut App| -> Signal {
        let list: Vec<Signal> = a.session.as_mut().unwrap().records(&open).unwrap();
        list.into_iter().next().unwrap()
    };
    a.handle_key(key(KeyCode::Home));
    press(&mut a, 'w');
    on_form(&a, FormKind::Withhold);
    a.handle_key(key(KeyCode::Right));
    a.handle_key(ctrl('s'));
    saved(&a);
    assert_eq!(signal(&mut a).withheld, Some(Withhold::Safety));
    a.handle_key(key(KeyCode::Home));
    press(&mut a, 'w');
    assert!(
        render(&a).contains("for the safety"),
        "starts from its ground"
    );
    a.handle_key(key(KeyCode::Left));
    a.handle_key(ctrl('s'));
    saved(&a);
    assert_eq!(signal(&mut a).withheld, None);
    // The step keeps its own ground: only the signal was put back.
    let steps: Vec<MeldcodeStep> = a.session.as_mut().unwrap().records(&open).unwrap();
    assert_eq!(steps[0].withheld, Some(Withhold::ThirdParty));
}

#[test]
fn a_signal_added_by_form_is_in_the_clients_report_unless_the_worker_says_otherwise() {
    let _words = words(Lang::En);
    let (_dir, path, open, _) = practice_fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    sanne(&mut a);
    press(&mut a, 'a');
    on_form(&a, FormKind::Record(crate::model::record::Kind::Signal));
    a.handle_key(key(KeyCode::Tab));
    typed(&mut a, "Kwam niet naar school.");
    a.handle_key(ctrl('s'));
    saved(&a);
    let list: Vec<Signal> = a.session.as_mut().unwrap().records(&open).unwrap();
    let new = list.iter().find(|s| s.text.contains("school")).unwrap();
    assert_eq!(new.withheld, None);
    assert!(new.special);
}

#[test]
fn a_decision_against_the_weighing_is_saved_and_said() {
    let _words = words(Lang::En);
    let (_dir, path, open, _) = practice_fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    let session = a.session.as_mut().unwrap();
    let signal = session.records::<Signal>(&open).unwrap()[0].id.clone();
    let day = NaiveDate::from_ymd_opt(2026, 11, 3).unwrap();
    for (step, report) in [
        (MeldStep::Consult, None),
        (MeldStep::Talk, None),
        (MeldStep::Weigh, Some(true)),
    ] {
        let new = crate::store::NewStep {
            signal_id: signal.clone(),
            step,
            taken_on: day,
            text: "gedaan".into(),
            consulted: (step == MeldStep::Consult).then_some(crate::model::Consulted::Colleague),
            report_needed: report,
            help_possible: report,
            decision: None,
            next_by: None,
            special: true,
            withheld: None,
        };
        session.change(|s| s.add_meldcode_step(&new)).unwrap();
    }
    sanne(&mut a);
    press(&mut a, 'm');
    on_form(&a, FormKind::Meldcode(MeldStep::Decide));
    a.handle_key(key(KeyCode::Tab));
    typed(&mut a, "Hulp via het wijkteam.");
    a.handle_key(key(KeyCode::Tab));
    a.handle_key(key(KeyCode::Right));
    assert!(
        render(&a).contains("◀ offer or organise help"),
        "{}",
        render(&a)
    );
    a.handle_key(ctrl('s'));
    saved(&a);
    assert_eq!(
        a.message.as_deref(),
        Some(&*t!("tui.meldcode_contradicts")),
        "saved, and the afwegingskader's word said"
    );
    let steps: Vec<MeldcodeStep> = a.session.as_mut().unwrap().records(&open).unwrap();
    assert!(steps.iter().any(|s| s.step == MeldStep::Decide));
}

/// The meldcode's new screens at three sizes, in Dutch and English: a step's form with its
/// ground, the form to keep a record out of the report, and the word after a decision.
#[test]
fn the_meldcode_screens_at_three_sizes_in_both_languages() {
    let _words = words(Lang::En);
    let settings = super::tests_snap::dir_filters();
    let _guard = settings.bind_to_scope();
    for lang in [Lang::Nl, Lang::En] {
        crate::i18n::set_lang(lang);
        let l = lang.code();
        let (_dir, path, open, _) = practice_fixture();
        let mut a = app(&path, lang, false);
        unlock(&mut a);
        let session = a.session.as_mut().unwrap();
        let signal = session.records::<Signal>(&open).unwrap()[0].id.clone();
        for (step, report) in [
            (MeldStep::Consult, None),
            (MeldStep::Talk, None),
            (MeldStep::Weigh, Some(true)),
        ] {
            let new = crate::store::NewStep {
                signal_id: signal.clone(),
                step,
                taken_on: NaiveDate::from_ymd_opt(2026, 11, 3).unwrap(),
                text: "gedaan".into(),
                consulted: (step == MeldStep::Consult)
                    .then_some(crate::model::Consulted::Colleague),
                report_needed: report,
                help_possible: report,
                decision: None,
                next_by: None,
                special: true,
                withheld: (step == MeldStep::Consult).then_some(Withhold::ThirdParty),
            };
            session.change(|s| s.add_meldcode_step(&new)).unwrap();
        }
        sanne(&mut a);
        press(&mut a, 'w');
        on_form(&a, FormKind::Withhold);
        a.handle_key(key(KeyCode::Right));
        super::tests_snap::snap(&format!("form_withhold_{l}"), &a);
        a.handle_key(key(KeyCode::Esc));
        a.handle_key(key(KeyCode::Esc));
        press(&mut a, 'm');
        on_form(&a, FormKind::Meldcode(MeldStep::Decide));
        a.handle_key(key(KeyCode::Tab));
        typed(&mut a, "Hulp via het wijkteam.");
        a.handle_key(key(KeyCode::Tab));
        a.handle_key(key(KeyCode::Right));
        super::tests_snap::snap(&format!("form_meldcode_decide_{l}"), &a);
        a.handle_key(ctrl('s'));
        saved(&a);
        super::tests_snap::snap(&format!("meldcode_contradicts_{l}"), &a);
    }
}
