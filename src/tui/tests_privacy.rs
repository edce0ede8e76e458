//! The privacy screen holds everywhere (issue 19): with it on, a walk through every screen,
//! tab, form, list and the editor, with a canary in every field, never shows a canary until
//! it is revealed; each reveal is one item, asked for with a key, and logged.

use chrono::NaiveDate;
use ratatui::crossterm::event::KeyCode;

use super::app::{App, Screen};
use super::tests::{
    PASS, app, clock, conflict_fixture, ctrl, key, new_session, render_at, typed, unlock, words,
};
use crate::i18n::Lang;
use crate::model::{
    Bsn, Contact, Domain, NewClient, NewConsent, NewNote, NoteKind, Relation, Scope,
};

/// Every field's canary (a birth date and a BSN in each way they are written).
const CANARIES: &[&str] = &[
    "Naamkanarie",
    "111222333",
    "******333",
    "17-07-1977",
    "1977-07-17",
    "Adreskanarie",
    "06-55512345",
    "Notitiekanarie",
    "Bijzonderkanarie",
    "Huisgenootkanarie",
    "11-11-2011",
    "2011-11-11",
    "Contactkanarie",
    "Orgkanarie",
    "Rolkanarie",
    "038-5550000",
    "mailkanarie",
    "Doelkanarie",
    "Actiekanarie",
    "Eigenaarkanarie",
    "Evaluatiekanarie",
    "Redenkanarie",
    "Bezoekkanarie",
    "Titelkanarie",
    "bestandkanarie",
    "Toestemmingorgkanarie",
    "Delendoelkanarie",
    "Bewijskanarie",
    "Signaalkanarie",
    "Stapkanarie",
    "Themakanarie",
    "Verslagkanarie",
];

/// A vault with one client whose every field holds a canary; something on today's agenda.
fn canary_fixture() -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::Builder::new()
        .prefix("kluis-priv")
        .tempdir_in("/tmp")
        .unwrap();
    let path = dir.path().join("vault.kluis");
    let mut s = new_session(&path);
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let id = s
        .change(|st| {
            st.add_client(&NewClient {
                name: "Kees Naamkanarie".into(),
                bsn: Some(Bsn::parse("111222333").unwrap()),
                birth_date: Some(day(1977, 7, 17)),
                address: Some("Adreskanarie 7, Zwolle".into()),
                phone: Some("06-55512345".into()),
                domain: Domain::Wmo,
                opened_on: day(2026, 1, 15),
            })
        })
        .unwrap();
    let note = |body: &str, special| NewNote {
        client_id: id.clone(),
        kind: NoteKind::Huisbezoek,
        occurred_at: day(2026, 10, 3).and_hms_opt(9, 0, 0).unwrap(),
        body: body.into(),
        supersedes: None,
        special,
    };
    s.change(|st| {
        st.add_note(&note("Huisbezoek Notitiekanarie gedaan.", false))?;
        st.add_note(&note("Bijzonderkanarie", true))?;
        st.add_household(
            &id,
            "Huisgenootkanarie",
            Relation::Kind,
            Some(day(2011, 11, 11)),
        )?;
        st.add_contact(&Contact {
            id: String::new(),
            client_id: id.clone(),
            name: "Contactkanarie".into(),
            org: Some("Orgkanarie".into()),
            role: Some("Rolkanarie".into()),
            phone: Some("038-5550000".into()),
            email: Some("mailkanarie@example.nl".into()),
            author: String::new(),
            created_at: String::new(),
        })?;
        let g = st.add_goal(&id, "financiën", "Doelkanarie")?;
        st.add_action(&g, "Actiekanarie", "Eigenaarkanarie", Some(clock().date()))?;
        st.evaluate_goal(
            &g,
            "Evaluatiekanarie",
            day(2026, 9, 30).and_hms_opt(9, 0, 0).unwrap(),
        )?;
        st.add_assessment(&id, "financiën", 2, "Redenkanarie", day(2026, 10, 1))?;
        st.add_visit(
            &id,
            clock().date().and_hms_opt(15, 0, 0).unwrap(),
            Some("Bezoekkanarie"),
        )?;
        st.add_attachment(&id, "Titelkanarie", "bestandkanarie.pdf", b"%PDF")?;
        st.add_consent(&NewConsent {
            client_id: id.clone(),
            org: "Toestemmingorgkanarie".into(),
            purpose: "Delendoelkanarie".into(),
            scope: Scope::All,
            special: false,
            given_on: day(2026, 6, 1),
            until: None,
            evidence: Some("Bewijskanarie".into()),
        })?;
        // The kinds on the "More" tab, not special: only the privacy screen hides them.
        let signal = st.add_signal(&id, day(2026, 10, 1), "Signaalkanarie", false, None)?;
        st.add_meldcode_step(&crate::store::NewStep {
            signal_id: signal,
            step: crate::model::MeldStep::Consult,
            taken_on: day(2026, 10, 2),
            text: "Stapkanarie".into(),
            consulted: Some(crate::model::Consulted::Colleague),
            report_needed: None,
            help_possible: None,
            decision: None,
            next_by: None,
            special: false,
            withheld: None,
        })?;
        st.add_group_session(&crate::store::NewGroupSession {
            participants: vec![id.clone()],
            held_on: day(2026, 10, 3),
            theme: "Themakanarie".into(),
            summary: "Verslagkanarie".into(),
            special: false,
        })?;
        Ok(())
    })
    .unwrap();
    s.close().unwrap();
    (dir, path, id)
}

/// No canary on the screen, at two sizes; `where_` says which screen failed.
fn hidden(a: &App, where_: &str) {
    for (w, h) in [(120, 36), (80, 24)] {
        let screen = render_at(a, w, h);
        for c in CANARIES {
            assert!(
                !screen.contains(c),
                "{c} shown on {where_} at {w}x{h}:\n{screen}"
            );
        }
    }
}

fn reveals(a: &App, client: &str) -> usize {
    a.session
        .as_ref()
        .unwrap()
        .audit(Some(client))
        .unwrap()
        .iter()
        .filter(|e| {
            e.action == crate::model::Action::View
                && e.detail
                    .as_deref()
                    .is_some_and(|d| d.starts_with("privacy screen lifted"))
        })
        .count()
}

fn on_form(a: &App) -> bool {
    matches!(a.screen, Screen::Form(_))
}

/// Esc until the form is gone (a list open in it, a question first).
fn leave_form(a: &mut App) {
    for _ in 0..3 {
        if on_form(a) {
            a.handle_key(key(KeyCode::Esc));
        }
    }
    assert!(
        matches!(a.screen, Screen::Dossier(_)),
        "left the form for another screen"
    );
}

/// Opens each item's form on the tab shown (Enter on every item, and `d`, `x`, `o` where
/// they apply), checks it, and leaves it without saving. Returns how many it checked.
fn every_form_on_tab(a: &mut App, tab: char) -> usize {
    let mut checked = 0;
    a.handle_key(key(KeyCode::Char(tab)));
    let items = match &a.screen {
        Screen::Dossier(d) => d.items(d.tab).len(),
        _ => panic!("not on the dossier"),
    };
    for i in 0..items {
        a.handle_key(key(KeyCode::Home));
        for _ in 0..i {
            a.handle_key(key(KeyCode::Down));
        }
        for k in ['\n', 'd', 'x', 'o'] {
            let code = if k == '\n' {
                KeyCode::Enter
            } else {
                KeyCode::Char(k)
            };
            a.handle_key(key(code));
            if on_form(a) {
                hidden(a, &format!("the form of item {i} on tab {tab} ({k:?})"));
                checked += 1;
                leave_form(a);
                a.handle_key(key(KeyCode::Char(tab)));
                a.handle_key(key(KeyCode::Home));
                for _ in 0..i {
                    a.handle_key(key(KeyCode::Down));
                }
            }
        }
    }
    // What `a` adds, each form of the list (a reference to a goal lists goals, masked).
    a.handle_key(key(KeyCode::Char('a')));
    let kinds = match &a.screen {
        Screen::Dossier(d) => d.adding.as_ref().map_or(1, |(_, k)| k.len()),
        Screen::Form(_) => 1,
        _ => 0,
    };
    if on_form(a) {
        leave_form(a);
    } else {
        a.handle_key(key(KeyCode::Esc));
    }
    for n in 0..kinds {
        a.handle_key(key(KeyCode::Char('a')));
        for _ in 0..n {
            a.handle_key(key(KeyCode::Down));
        }
        if !on_form(a) {
            a.handle_key(key(KeyCode::Enter));
        }
        if on_form(a) {
            hidden(a, &format!("a new record's form on tab {tab}"));
            a.handle_key(key(KeyCode::Enter));
            hidden(a, &format!("a new record's list on tab {tab}"));
            checked += 1;
            leave_form(a);
        }
        a.handle_key(key(KeyCode::Char(tab)));
    }
    checked
}

#[test]
fn the_privacy_screen_holds_on_every_screen_until_an_item_is_revealed() {
    let _words = words(Lang::En);
    let (dir, path, id) = canary_fixture();
    let mut a = app(&path, Lang::Nl, true);
    hidden(&a, "the lock screen");
    unlock(&mut a);
    // Today's agenda (a visit and an action due).
    assert!(matches!(a.screen, Screen::Agenda(_)));
    hidden(&a, "the agenda");
    a.handle_key(key(KeyCode::Char('?')));
    hidden(&a, "help");
    a.handle_key(key(KeyCode::Esc));
    let before = reveals(&a, &id);
    a.handle_key(key(KeyCode::Char('r')));
    assert!(
        render_at(&a, 120, 36).contains("Adreskanarie"),
        "r reveals the row"
    );
    assert_eq!(reveals(&a, &id), before + 1, "and that is logged");
    a.handle_key(key(KeyCode::Down));
    a.handle_key(key(KeyCode::Up));
    hidden(&a, "the agenda after the selection moved");
    a.handle_key(key(KeyCode::Esc));

    // The caseload and a search.
    hidden(&a, "the caseload");
    a.handle_key(key(KeyCode::Char('/')));
    typed(&mut a, "huisbezoek");
    a.idle();
    hidden(&a, "search results");
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(key(KeyCode::Char('r')));
    assert!(
        render_at(&a, 120, 36).contains("Naamkanarie"),
        "r reveals the row"
    );
    a.handle_key(key(KeyCode::Char('r')));
    hidden(&a, "the caseload, hidden again");

    // The dossier: every tab, every form, the editor.
    a.handle_key(key(KeyCode::Enter));
    for tab in ['1', '2', '3', '4', '5', '6', '7', '8'] {
        a.handle_key(key(KeyCode::Char(tab)));
        hidden(&a, &format!("tab {tab}"));
    }
    let forms: usize = ['2', '3', '4', '5', '6', '7']
        .into_iter()
        .map(|tab| every_form_on_tab(&mut a, tab))
        .sum();
    // Goal, action (changed, done), visit, household, contact, score, file out, consent
    // withdrawn; and a new one of each kind the tabs add (ten, a signal too).
    assert!(forms >= 19, "only {forms} forms were walked");
    a.handle_key(key(KeyCode::Char('1')));
    a.handle_key(key(KeyCode::Char('e')));
    assert!(on_form(&a));
    hidden(&a, "the client's form");
    let before = reveals(&a, &id);
    a.handle_key(ctrl('r'));
    let shown = render_at(&a, 120, 36);
    assert!(
        shown.contains("Adreskanarie") && shown.contains("111222333"),
        "{shown}"
    );
    assert_eq!(reveals(&a, &id), before + 1);
    a.handle_key(key(KeyCode::Esc));
    let plain = match &a.screen {
        Screen::Dossier(d) => d.data.notes.iter().position(|n| n.body.contains("Notitie")),
        _ => None,
    };
    a.handle_key(key(KeyCode::Home));
    for _ in 0..plain.expect("the plain note") {
        a.handle_key(key(KeyCode::Down));
    }
    a.handle_key(key(KeyCode::Char('c')));
    assert!(matches!(a.screen, Screen::Editor(_)), "{:?}", a.message);
    hidden(&a, "the correction of a note");
    a.handle_key(ctrl('r'));
    assert!(render_at(&a, 120, 36).contains("Notitiekanarie"));
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(key(KeyCode::Char('n')));
    typed(&mut a, "iets");
    hidden(&a, "a new note");
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(key(KeyCode::Esc));
    // A status message after a save holds nothing either.
    a.handle_key(key(KeyCode::Char('3')));
    a.handle_key(key(KeyCode::Home));
    a.handle_key(key(KeyCode::Enter));
    a.handle_key(ctrl('s'));
    hidden(&a, "the dossier after a save");
    // The dossier revealed: everything of it, logged once.
    let before = reveals(&a, &id);
    a.handle_key(key(KeyCode::Char('1')));
    a.handle_key(key(KeyCode::Char('r')));
    let shown = render_at(&a, 120, 36);
    assert!(
        shown.contains("Naamkanarie") && shown.contains("Notitiekanarie"),
        "{shown}"
    );
    assert_eq!(reveals(&a, &id), before + 1);
    // The BSN and a special note are shown when asked for, even now (both logged).
    a.handle_key(key(KeyCode::Char('r')));
    hidden(&a, "the dossier, hidden again");
    a.handle_key(key(KeyCode::Char('b')));
    assert!(render_at(&a, 120, 36).contains("111222333"));
    a.handle_key(key(KeyCode::Char('b')));
    // A file written out: its name is masked in the message, and in the refusal when the
    // name is taken.
    let out = dir.path().join("bestandkanarie.pdf");
    for _ in 0..2 {
        a.handle_key(key(KeyCode::Char('5')));
        a.handle_key(key(KeyCode::Home));
        a.handle_key(key(KeyCode::Char('o')));
        a.handle_key(ctrl('u'));
        typed(&mut a, &out.display().to_string());
        a.handle_key(ctrl('s'));
        hidden(&a, "a file written out");
    }
    assert!(out.exists() && on_form(&a), "the second time is refused");
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(key(KeyCode::Esc));
    hidden(&a, "the caseload after the dossier");
    a.quit().unwrap();
}

#[test]
fn the_privacy_screen_holds_on_conflicts_until_a_row_is_revealed() {
    let _words = words(Lang::En);
    let (_dir, path, id) = conflict_fixture();
    let mut a = app(&path, Lang::En, true);
    unlock(&mut a);
    a.handle_key(key(KeyCode::Char('c')));
    let screen = render_at(&a, 120, 36);
    for v in ["06-11111111", "06-22222222", "Sanne", "Mulder"] {
        assert!(!screen.contains(v), "{v} shown:\n{screen}");
    }
    let before = reveals(&a, &id);
    a.handle_key(key(KeyCode::Char('r')));
    assert!(render_at(&a, 120, 36).contains("06-22222222"));
    assert_eq!(reveals(&a, &id), before + 1);
    let _ = PASS;
    a.quit().unwrap();
}
