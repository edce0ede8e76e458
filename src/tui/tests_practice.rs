//! Privacy in daily practice in the terminal app (issue 21): the nudges before a note, a goal
//! or any free text is saved (mark it special, remove the detail, keep it: the worker's
//! choice, nothing blocked), the agenda's reminders and the access review's unassign within
//! the no-orphan rule, and the meldcode's next step from the dossier's More tab.

use chrono::NaiveDate;
use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::app::{App, Screen};
use super::nav::{FormKind, Tab};
use super::tests::{app, clock, ctrl, fixture, key, new_session, render, typed, unlock, words};
use crate::i18n::{Lang, set_lang, t};
use crate::model::{MeldStep, MeldcodeStep, NewClient, Note};

fn notes(a: &mut App, client: &str) -> Vec<Note> {
    a.session.as_mut().unwrap().notes(client, true).unwrap()
}

pub(super) fn asking(a: &App) -> bool {
    match &a.screen {
        Screen::Editor(e) => e.asking(),
        Screen::Form(f) => f.asking(),
        _ => false,
    }
}

pub(super) fn press(a: &mut App, c: char) {
    a.handle_key(KeyEvent::from(KeyCode::Char(c)));
}

/// Opens the first client by name (Fatima) and starts a note.
fn new_note(a: &mut App) -> String {
    if !matches!(a.screen, Screen::Dossier(_)) {
        a.handle_key(key(KeyCode::Enter));
    }
    let Screen::Dossier(d) = &a.screen else {
        panic!("no dossier")
    };
    let id = d.client_id().to_owned();
    press(a, 'n');
    assert!(matches!(a.screen, Screen::Editor(_)));
    id
}

#[test]
fn the_editor_asks_before_saving_and_each_choice_does_what_it_says() {
    let _words = words(Lang::En);
    let (_dir, path, _) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    let fatima = new_note(&mut a);
    let before = notes(&mut a, &fatima).len();
    typed(&mut a, "Heeft een depressie, BSN 111222333 genoemd.");
    a.handle_key(ctrl('s'));
    assert!(asking(&a), "{}", render(&a));
    assert_eq!(notes(&mut a, &fatima).len(), before, "nothing saved yet");
    let shown = render(&a);
    assert!(
        shown.contains("******333") && shown.contains("mark it special"),
        "{shown}"
    );
    // The privacy screen: no number in full, no word, in the question either.
    a.handle_key(key(KeyCode::F(2)));
    let hidden = render(&a);
    assert!(
        !hidden.contains("111222333") && !hidden.contains("depressie"),
        "{hidden}"
    );
    assert!(hidden.contains("******333"), "{hidden}");
    a.handle_key(key(KeyCode::F(2)));
    // Esc: back to writing, nothing saved, nothing lost.
    a.handle_key(key(KeyCode::Esc));
    assert!(!asking(&a) && matches!(a.screen, Screen::Editor(_)));
    assert!(render(&a).contains("111222333"));
    // Other keys do nothing while asking.
    a.handle_key(ctrl('s'));
    press(&mut a, 'x');
    assert!(asking(&a));
    // Remove the detail: the word is still there, so the mark is offered again.
    press(&mut a, '2');
    assert!(asking(&a), "{}", render(&a));
    assert!(!render(&a).contains("111222333"));
    press(&mut a, '1');
    assert!(matches!(a.screen, Screen::Dossier(_)), "{:?}", a.message);
    let saved = notes(&mut a, &fatima);
    let n = saved
        .iter()
        .find(|n| n.body.contains("depressie"))
        .expect("saved");
    assert_eq!(n.body, "Heeft een depressie, BSN […] genoemd.");
    assert!(n.special, "marked special as chosen");

    // Keep it as it is: saved as written, not special.
    new_note(&mut a);
    typed(&mut a, "Bel haar op 06-12345678 morgen.");
    a.handle_key(ctrl('s'));
    assert!(asking(&a));
    assert!(
        !render(&a).contains("1 mark it special"),
        "no word: no mark"
    );
    press(&mut a, '1');
    assert!(asking(&a), "a choice not offered does nothing");
    press(&mut a, '3');
    assert!(matches!(a.screen, Screen::Dossier(_)));
    let n = notes(&mut a, &fatima)
        .into_iter()
        .find(|n| n.body.contains("06-12345678"))
        .expect("kept as written");
    assert!(!n.special);

    // Nothing to say: saved at once.
    new_note(&mut a);
    typed(&mut a, "Boodschappen samen gedaan.");
    a.handle_key(ctrl('s'));
    assert!(matches!(a.screen, Screen::Dossier(_)));
    // A special note needs no word about its words.
    new_note(&mut a);
    a.handle_key(ctrl('b'));
    typed(&mut a, "Slaapt slecht door de depressie.");
    a.handle_key(ctrl('s'));
    assert!(matches!(a.screen, Screen::Dossier(_)), "{}", render(&a));
}

#[test]
fn a_form_asks_about_its_free_text_and_removes_the_detail_there() {
    let _words = words(Lang::En);
    let (_dir, path, _) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    a.handle_key(key(KeyCode::Down));
    a.handle_key(key(KeyCode::Enter));
    let jan = match &a.screen {
        Screen::Dossier(d) => d.client_id().to_owned(),
        _ => panic!("no dossier"),
    };
    press(&mut a, '2');
    press(&mut a, 'a');
    a.handle_key(key(KeyCode::Enter));
    let Screen::Form(f) = &a.screen else {
        panic!("no form: {}", render(&a))
    };
    assert_eq!(f.kind, FormKind::Record(crate::model::record::Kind::Goal));
    a.handle_key(key(KeyCode::Right));
    a.handle_key(key(KeyCode::Tab));
    typed(&mut a, "Mail van jan@example.nl beantwoorden");
    a.handle_key(ctrl('s'));
    assert!(asking(&a), "{}", render(&a));
    let shown = render(&a);
    assert!(shown.contains("j…@example.nl"), "{shown}");
    // A goal has no special mark: that is not offered.
    assert!(!shown.contains("1 mark it special"), "{shown}");
    press(&mut a, '2');
    assert!(matches!(a.screen, Screen::Dossier(_)), "{}", render(&a));
    let goals: Vec<crate::model::Goal> = a.session.as_mut().unwrap().records(&jan).unwrap();
    assert_eq!(goals.len(), 1);
    assert_eq!(goals[0].text, "Mail van […] beantwoorden");
}

/// A team vault of worker w001 alone: an open dossier with a signal (its next step is
/// overdue) and a closed one w001 is still assigned to.
pub(super) fn practice_fixture() -> (tempfile::TempDir, std::path::PathBuf, String, String) {
    let dir = tempfile::Builder::new()
        .prefix("kluis-snap")
        .tempdir_in("/tmp")
        .unwrap();
    let path = dir.path().join("vault.kluis");
    let mut s = new_session(&path);
    s.change(|st| crate::internals::set_meta(st, "worker_id", "w001"))
        .unwrap();
    let client = |name: &str| NewClient {
        name: name.into(),
        bsn: None,
        birth_date: None,
        address: Some("Kerkstraat 4, Kampen".into()),
        phone: None,
        domain: crate::model::Domain::Jeugd,
        opened_on: NaiveDate::from_ymd_opt(2026, 2, 1).unwrap(),
    };
    let (open, closed) = s
        .change(|st| {
            let open = st.add_client(&client("Sanne Mulder"))?;
            let closed = st.add_client(&client("Piet Bakker"))?;
            st.add_signal(
                &open,
                NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
                "Blauwe plekken op de armen",
                true,
                None,
            )?;
            st.close_client(&closed, NaiveDate::from_ymd_opt(2026, 11, 10).unwrap())?;
            Ok((open, closed))
        })
        .unwrap();
    s.close().unwrap();
    (dir, path, open, closed)
}

#[test]
fn the_agenda_shows_the_reminders_and_never_leaves_a_dossier_with_no_one() {
    let _words = words(Lang::En);
    let (_dir, path, _open, closed) = practice_fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    // The meldcode's step is due: the app opens on the agenda.
    assert!(matches!(a.screen, Screen::Agenda(_)), "{}", render(&a));
    let shown = render(&a);
    assert!(
        shown.contains("meldcode: step 2, consult")
            && shown.contains("access review: closed, you are"),
        "{shown}"
    );
    // `u` on anything else says what it is for.
    a.handle_key(key(KeyCode::Home));
    press(&mut a, 'u');
    assert_eq!(a.message.as_deref(), Some(&*t!("tui.unassign_review_only")));
    // On the review item: refused, w001 is the only one assigned; the session's reason.
    a.handle_key(key(KeyCode::End));
    press(&mut a, 'u');
    let said = a.message.clone().unwrap_or_default();
    assert_eq!(
        said,
        crate::Error::invalid(
            crate::error::Field::Input("client_id"),
            t!("access.last_assignee", id = closed)
        )
        .to_string()
    );
    let assigned =
        crate::internals::assignments(crate::internals::store(a.session.as_ref().unwrap()))
            .unwrap();
    assert_eq!(assigned.get(&closed), Some(&vec!["w001".to_owned()]));
    assert!(render(&a).contains("access review: closed"), "still listed");
    // The privacy screen: names as initials, the reminders' words stay (no content).
    a.handle_key(key(KeyCode::F(2)));
    let hidden = super::tests::render_at(&a, 120, 36);
    assert!(
        !hidden.contains("Piet Bakker")
            && !hidden.contains("Kerkstraat")
            && hidden.contains("P. B."),
        "{hidden}"
    );
    // Enter on the meldcode opens the More tab.
    a.handle_key(key(KeyCode::Home));
    a.handle_key(key(KeyCode::Enter));
    assert!(matches!(&a.screen, Screen::Dossier(d) if d.tab == Tab::Records));
}

#[test]
fn the_next_meldcode_step_is_taken_from_the_more_tab_through_its_workflow() {
    let _words = words(Lang::En);
    let (_dir, path, open, _) = practice_fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    a.handle_key(key(KeyCode::Home));
    a.handle_key(key(KeyCode::Enter));
    let more = Tab::Records.index();
    let steps =
        |a: &mut App| -> Vec<MeldcodeStep> { a.session.as_mut().unwrap().records(&open).unwrap() };
    for (i, step) in [
        MeldStep::Consult,
        MeldStep::Talk,
        MeldStep::Weigh,
        MeldStep::Decide,
    ]
    .into_iter()
    .enumerate()
    {
        press(&mut a, char::from(b'1' + more as u8));
        a.handle_key(key(KeyCode::Home));
        press(&mut a, 'm');
        let Screen::Form(f) = &a.screen else {
            panic!("no form: {:?}\n{}", a.message, render(&a))
        };
        assert_eq!(f.kind, FormKind::Meldcode(step));
        assert!(
            render(&a).contains(&format!("Meldcode: step {}", step.number())),
            "{}",
            render(&a)
        );
        a.handle_key(key(KeyCode::Tab));
        typed(&mut a, &format!("Stap {} gezet", step.number()));
        a.handle_key(ctrl('s'));
        assert!(
            matches!(a.screen, Screen::Dossier(_)),
            "{:?}\n{}",
            a.message,
            render(&a)
        );
        let all = steps(&mut a);
        assert_eq!(all.len(), i + 1);
        let s = all.iter().find(|s| s.step == step).expect("this step");
        assert_eq!(s.taken_on, clock().date(), "dated");
        assert!(!s.author.is_empty(), "attributed");
        assert!(s.special, "special by default");
        assert_eq!(s.consulted.is_some(), step == MeldStep::Consult);
        assert_eq!(s.decision.is_some(), step == MeldStep::Decide);
    }
    // Decided: no next step, and the dossier says so.
    press(&mut a, char::from(b'1' + more as u8));
    a.handle_key(key(KeyCode::Home));
    press(&mut a, 'm');
    assert!(matches!(a.screen, Screen::Dossier(_)));
    assert_eq!(a.message.as_deref(), Some(&*t!("tui.meldcode_decided")));
    // The steps' texts are special: masked on the tab.
    assert!(!render(&a).contains("gezet"), "{}", render(&a));
}

/// The new screens at three sizes, in Dutch and English.
#[test]
fn the_practice_screens_at_three_sizes_in_both_languages() {
    let _words = words(Lang::En);
    let settings = super::tests_snap::dir_filters();
    let _guard = settings.bind_to_scope();
    for lang in [Lang::Nl, Lang::En] {
        set_lang(lang);
        let l = lang.code();
        let (_dir, path, _, _) = practice_fixture();
        let mut a = app(&path, lang, false);
        unlock(&mut a);
        super::tests_snap::snap(&format!("agenda_reminders_{l}"), &a);
        a.handle_key(key(KeyCode::Home));
        a.handle_key(key(KeyCode::Enter));
        press(&mut a, 'm');
        super::tests_snap::snap(&format!("form_meldcode_{l}"), &a);
        a.handle_key(key(KeyCode::Esc));
        assert!(matches!(a.screen, Screen::Dossier(_)));
        press(&mut a, 'n');
        typed(
            &mut a,
            "Vertelde over haar depressie; BSN 111222333, tel 06-12345678.",
        );
        a.handle_key(ctrl('s'));
        assert!(asking(&a));
        super::tests_snap::snap(&format!("editor_nudge_{l}"), &a);
        a.handle_key(key(KeyCode::F(2)));
        super::tests_snap::snap(&format!("editor_nudge_privacy_{l}"), &a);

        let (_dir, path, _) = fixture();
        let mut a = app(&path, lang, false);
        unlock(&mut a);
        group_form(&mut a, "Jan vertelde over zijn schulden.");
        super::tests_snap::snap(&format!("form_group_{l}"), &a);
        a.handle_key(ctrl('s'));
        assert!(asking(&a));
        super::tests_snap::snap(&format!("form_group_nudge_{l}"), &a);
        press(&mut a, '3');
        press(&mut a, char::from(b'1' + Tab::Sharing.index() as u8));
        press(&mut a, 'f');
        super::tests_snap::snap(&format!("form_consent_form_{l}"), &a);
        a.handle_key(key(KeyCode::Esc));
        a.handle_key(key(KeyCode::Esc));
        press(&mut a, 'f');
        super::tests_snap::snap(&format!("form_leaflet_{l}"), &a);
    }
}

/// Fills a group session on Fatima's More tab with Jan as the second participant.
pub(super) fn group_form(a: &mut App, summary: &str) {
    a.handle_key(key(KeyCode::Enter));
    press(a, char::from(b'1' + Tab::Records.index() as u8));
    press(a, 'g');
    let Screen::Form(f) = &a.screen else {
        panic!("no form: {:?}\n{}", a.message, render(a))
    };
    assert_eq!(f.kind, FormKind::Group);
    a.handle_key(key(KeyCode::Tab));
    typed(a, "Budgetcursus");
    a.handle_key(key(KeyCode::Tab));
    a.handle_key(key(KeyCode::Enter));
    a.handle_key(key(KeyCode::Down));
    a.handle_key(key(KeyCode::Enter));
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(key(KeyCode::Tab));
    typed(a, summary);
}

#[test]
fn a_group_session_is_added_from_the_more_tab_and_its_summary_names_no_one() {
    use crate::model::GroupSession;
    let _words = words(Lang::En);
    let (_dir, path, fatima) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    group_form(
        &mut a,
        "Over budgetten gepraat; Jan vertelde over zijn diabetes.",
    );
    let shown = render(&a);
    assert!(
        shown.contains("Fatima") && shown.contains("Jan de Vries"),
        "{shown}"
    );
    a.handle_key(ctrl('s'));
    assert!(asking(&a), "{}", render(&a));
    let shown = render(&a);
    assert!(
        shown.contains("the name of a participant: \"Jan\""),
        "{shown}"
    );
    // Remove the name; the health word is still there: mark it special.
    press(&mut a, '2');
    assert!(asking(&a) && !render(&a).contains("participant: \"Jan\""));
    press(&mut a, '1');
    assert!(
        matches!(a.screen, Screen::Dossier(_)),
        "{:?}\n{}",
        a.message,
        render(&a)
    );
    let session = a.session.as_mut().unwrap();
    let list = session.group_sessions().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].participants.len(), 2, "in both dossiers");
    assert_eq!(list[0].theme, "Budgetcursus");
    assert_eq!(list[0].held_on, clock().date());
    let copies: Vec<GroupSession> = session.records(&fatima).unwrap();
    assert_eq!(copies.len(), 1);
    assert!(copies[0].special, "marked special as chosen");
    assert_eq!(
        copies[0].summary,
        "Over budgetten gepraat; […] vertelde over zijn diabetes."
    );
}

#[test]
fn the_group_form_shows_participants_as_initials_on_the_privacy_screen() {
    let _words = words(Lang::En);
    let (_dir, path, _) = fixture();
    let mut a = app(&path, Lang::En, true);
    unlock(&mut a);
    group_form(&mut a, "Jan vertelde veel.");
    let hidden = super::tests::render_at(&a, 120, 36);
    assert!(
        !hidden.contains("Jan de Vries")
            && !hidden.contains("Fatima")
            && !hidden.contains("vertelde"),
        "{hidden}"
    );
    // The list of participants too.
    a.handle_key(key(KeyCode::BackTab));
    a.handle_key(key(KeyCode::Enter));
    let hidden = super::tests::render_at(&a, 120, 36);
    assert!(hidden.contains("[x] J. d. V."), "{hidden}");
    assert!(!hidden.contains("Jan de Vries"), "{hidden}");
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(ctrl('s'));
    assert!(asking(&a));
    let hidden = super::tests::render_at(&a, 120, 36);
    assert!(
        !hidden.contains("\"Jan\"") && hidden.contains("\"J.\""),
        "{hidden}"
    );
}

#[test]
fn the_consent_form_and_the_leaflet_are_written_from_the_app_and_never_over_a_file() {
    let _words = words(Lang::En);
    let (dir, path, fatima) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    a.handle_key(key(KeyCode::Enter));
    press(&mut a, char::from(b'1' + Tab::Sharing.index() as u8));
    let form = dir.path().join("form.html");
    let fill = |a: &mut App, target: &std::path::Path| {
        press(a, 'f');
        let Screen::Form(f) = &a.screen else {
            panic!("no form: {}", render(a))
        };
        assert_eq!(f.kind, FormKind::ConsentForm);
        typed(a, "Schuldhulp Zwolle");
        a.handle_key(key(KeyCode::Tab));
        typed(a, "schuldregeling");
        for _ in 0..4 {
            a.handle_key(key(KeyCode::Tab));
        }
        a.handle_key(ctrl('u'));
        typed(a, &target.display().to_string());
        a.handle_key(ctrl('s'));
    };
    fill(&mut a, &form);
    assert!(
        matches!(a.screen, Screen::Dossier(_)),
        "{:?}\n{}",
        a.message,
        render(&a)
    );
    let html = std::fs::read_to_string(&form).unwrap();
    assert!(
        html.contains(super::tests::CANARY) && html.contains("Schuldhulp Zwolle"),
        "the form names the client and the organisation"
    );
    assert!(
        a.message
            .as_deref()
            .unwrap_or_default()
            .contains("form.html")
    );
    let logged = a
        .session
        .as_ref()
        .unwrap()
        .audit(Some(&fatima))
        .unwrap()
        .iter()
        .any(|e| e.detail.as_deref() == Some("consent form"));
    assert!(logged, "reading the name for the form is logged");
    // The same path again: refused under the path, the file as it was.
    fill(&mut a, &form);
    assert!(matches!(a.screen, Screen::Form(_)));
    assert!(render(&a).contains("already exists"), "{}", render(&a));
    assert_eq!(std::fs::read_to_string(&form).unwrap(), html);
    // A link in its place is refused too, and nothing is written where it points.
    let target = dir.path().join("elders.html");
    let link = dir.path().join("link.html");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    a.handle_key(ctrl('u'));
    typed(&mut a, &link.display().to_string());
    a.handle_key(ctrl('s'));
    assert!(matches!(a.screen, Screen::Form(_)));
    assert!(!target.exists());
    // The leaflet, from the caseload: no client in it.
    for _ in 0..3 {
        if matches!(a.screen, Screen::Form(_)) {
            a.handle_key(key(KeyCode::Esc));
        }
    }
    a.handle_key(key(KeyCode::Esc));
    assert!(matches!(a.screen, Screen::Caseload(_)));
    press(&mut a, 'f');
    let Screen::Form(f) = &a.screen else {
        panic!("no form: {}", render(&a))
    };
    assert_eq!(f.kind, FormKind::Leaflet);
    let leaflet = dir.path().join("folder.html");
    a.handle_key(ctrl('u'));
    typed(&mut a, &leaflet.display().to_string());
    a.handle_key(ctrl('s'));
    assert!(matches!(a.screen, Screen::Caseload(_)), "{}", render(&a));
    let html = std::fs::read_to_string(&leaflet).unwrap();
    assert!(html.contains("<html") && !html.contains(super::tests::CANARY));
}

#[test]
fn a_written_document_is_not_named_in_the_message_on_the_privacy_screen() {
    let _words = words(Lang::En);
    let (dir, path, _) = fixture();
    let mut a = app(&path, Lang::En, true);
    unlock(&mut a);
    a.handle_key(key(KeyCode::Enter));
    press(&mut a, char::from(b'1' + Tab::Sharing.index() as u8));
    press(&mut a, 'f');
    typed(&mut a, "Schuldhulp Zwolle");
    a.handle_key(key(KeyCode::Tab));
    typed(&mut a, "schuldregeling");
    for _ in 0..4 {
        a.handle_key(key(KeyCode::Tab));
    }
    a.handle_key(ctrl('u'));
    let out = dir.path().join("Fatima-el-Amrani.html");
    typed(&mut a, &out.display().to_string());
    hidden_name(&a);
    a.handle_key(ctrl('s'));
    assert!(out.exists() && matches!(a.screen, Screen::Dossier(_)));
    hidden_name(&a);
    // Refused the second time: the refusal does not name it either.
    press(&mut a, 'f');
    typed(&mut a, "Schuldhulp Zwolle");
    a.handle_key(key(KeyCode::Tab));
    typed(&mut a, "schuldregeling");
    for _ in 0..4 {
        a.handle_key(key(KeyCode::Tab));
    }
    a.handle_key(ctrl('u'));
    typed(&mut a, &out.display().to_string());
    a.handle_key(ctrl('s'));
    assert!(matches!(a.screen, Screen::Form(_)));
    hidden_name(&a);
}

fn hidden_name(a: &App) {
    let screen = super::tests::render_at(a, 200, 40);
    assert!(!screen.contains("Fatima-el-Amrani"), "{screen}");
    assert!(
        !a.message
            .as_deref()
            .unwrap_or_default()
            .contains("Fatima-el-Amrani")
    );
}

#[test]
fn the_access_review_alone_does_not_open_the_app_on_the_agenda() {
    let _words = words(Lang::En);
    let (_dir, path, _) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    assert!(matches!(a.screen, Screen::Caseload(_)), "{}", render(&a));
    press(&mut a, 't');
    let shown = super::tests::render_at(&a, 120, 36);
    assert!(
        shown.contains("Jan de Vries") && shown.contains("access review: no activity"),
        "{shown}"
    );
    // A personal vault: no one to hand it to, and the app says what to do instead.
    let at = match &a.screen {
        Screen::Agenda(_) => shown
            .lines()
            .filter(|l| l.contains("20") && l.contains("│"))
            .position(|l| l.contains("Jan de Vries"))
            .unwrap_or(0),
        _ => panic!("not the agenda"),
    };
    a.handle_key(key(KeyCode::Home));
    for _ in 0..at {
        a.handle_key(key(KeyCode::Down));
    }
    press(&mut a, 'u');
    assert_eq!(a.message.as_deref(), Some(&*t!("access.personal")));
}
