//! A group session's per-participant observations (issue 21): typed on the same screen as
//! the shared summary, each saved as a note in that participant's own dossier only, through
//! the session's door; the nudges read each text with its own names.

use ratatui::crossterm::event::KeyCode;

use super::app::{App, Screen};
use super::tests::{app, ctrl, fixture, key, render, typed, unlock, words};
use super::tests_practice::{asking, group_form, press};
use crate::i18n::Lang;
use crate::model::{Note, NoteKind};

fn notes(a: &mut App, client: &str) -> Vec<Note> {
    a.session.as_mut().unwrap().notes(client, true).unwrap()
}

fn jan(a: &mut App) -> String {
    let rows = a.session.as_mut().unwrap().caseload(false).unwrap();
    rows.into_iter()
        .find(|r| r.client.name == "Jan de Vries")
        .unwrap()
        .client
        .id
}

/// From the summary (where `group_form` leaves the cursor) to a participant's observation:
/// the summary's mark, then per participant the observation and its mark.
fn to_observation(a: &mut App, participant: usize) {
    for _ in 0..2 + 2 * participant {
        a.handle_key(key(KeyCode::Tab));
    }
}

#[test]
fn each_participants_observation_becomes_a_note_in_their_own_dossier_only() {
    let _words = words(Lang::En);
    let (_dir, path, fatima) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    let jan = jan(&mut a);
    let (before_f, before_j) = (notes(&mut a, &fatima).len(), notes(&mut a, &jan).len());
    group_form(&mut a, "We spraken over budgetteren.");
    let shown = render(&a);
    assert!(
        shown.contains("About Fatima") && shown.contains("About Jan"),
        "{shown}"
    );
    to_observation(&mut a, 0);
    typed(&mut a, "Stelde veel vragen over toeslagen.");
    a.handle_key(key(KeyCode::Tab));
    a.handle_key(key(KeyCode::Tab));
    typed(&mut a, "Was stil, bleef tot het eind.");
    a.handle_key(ctrl('s'));
    assert!(
        matches!(a.screen, Screen::Dossier(_)),
        "{:?}\n{}",
        a.message,
        render(&a)
    );
    assert_eq!(
        a.message.as_deref(),
        Some("group session saved in 2 dossiers; own notes: 2")
    );
    let (nf, nj) = (notes(&mut a, &fatima), notes(&mut a, &jan));
    assert_eq!((nf.len(), nj.len()), (before_f + 1, before_j + 1));
    let of = |n: &[Note], text: &str| n.iter().any(|n| n.body.contains(text));
    assert!(
        of(&nf, "toeslagen") && !of(&nf, "stil"),
        "Fatima's own only"
    );
    assert!(of(&nj, "stil") && !of(&nj, "toeslagen"), "Jan's own only");
    let mine = nf.iter().find(|n| n.body.contains("toeslagen")).unwrap();
    assert_eq!(mine.kind, NoteKind::Observatie);
    assert_eq!(
        mine.occurred_at,
        format!("{}T12:00:00", super::tests::clock().date()),
        "on the session's day"
    );
    assert!(!mine.special);
    let session = a.session.as_mut().unwrap();
    let list = session.group_sessions().unwrap();
    assert_eq!(
        list[0].summary.as_deref(),
        Some("We spraken over budgetteren.")
    );
}

#[test]
fn an_observation_that_names_another_participant_is_asked_about_and_marked_alone() {
    let _words = words(Lang::En);
    let (_dir, path, fatima) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    let jan = jan(&mut a);
    group_form(&mut a, "Over budgetten gepraat.");
    to_observation(&mut a, 0);
    // Naming Jan in Fatima's own note would put his name in her dossier; her health word
    // is hers, and only her note is offered the special mark.
    typed(&mut a, "Vertelde Jan over haar depressie.");
    a.handle_key(ctrl('s'));
    assert!(asking(&a), "{}", render(&a));
    let shown = render(&a);
    assert!(
        shown.contains("the name of a participant: \"Jan\"") && shown.contains("depressie"),
        "{shown}"
    );
    press(&mut a, '2');
    assert!(
        asking(&a),
        "the health word is still there:\n{}",
        render(&a)
    );
    press(&mut a, '1');
    assert!(matches!(a.screen, Screen::Dossier(_)), "{}", render(&a));
    let nf = notes(&mut a, &fatima);
    let mine = nf.iter().find(|n| n.body.contains("depressie")).unwrap();
    assert_eq!(mine.body, "Vertelde […] over haar depressie.");
    assert!(mine.special, "marked special as chosen");
    assert!(
        notes(&mut a, &jan)
            .iter()
            .all(|n| !n.body.contains("depressie"))
    );
    let session = a.session.as_mut().unwrap();
    let list = session.group_sessions().unwrap();
    assert!(
        !list[0].special,
        "the summary held nothing special: not marked"
    );
}

#[test]
fn an_observation_follows_its_participant_off_and_back_on_the_list_and_into_a_draft() {
    let _words = words(Lang::En);
    let (_dir, path, _) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    group_form(&mut a, "Samen gekookt.");
    to_observation(&mut a, 1);
    typed(&mut a, "Kookte voor het eerst mee.");
    // Back to the participants, take Jan off: his field goes; on again: his text is back.
    for _ in 0..5 {
        a.handle_key(key(KeyCode::BackTab));
    }
    a.handle_key(key(KeyCode::Enter));
    a.handle_key(key(KeyCode::Down));
    a.handle_key(key(KeyCode::Enter));
    assert!(!render(&a).contains("About Jan"), "{}", render(&a));
    a.handle_key(key(KeyCode::Enter));
    a.handle_key(key(KeyCode::Esc));
    assert!(render(&a).contains("Kookte voor het eerst mee."));
    // A draft keeps it under the participant it is for.
    let jan = jan(&mut a);
    let Screen::Form(f) = &a.screen else {
        panic!("no form")
    };
    let draft = f.draft().unwrap();
    assert!(
        draft.values.contains(&(
            format!("observation:{jan}"),
            "Kookte voor het eerst mee.".into()
        )),
        "{:?}",
        draft.values
    );
    // And a form made from the draft (after a lock) has it back under Jan.
    let refs = vec![
        (f.client.clone().unwrap(), "Fatima el Amrani".to_owned()),
        (jan.clone(), "Jan de Vries".to_owned()),
    ];
    let req = super::nav::FormRequest {
        kind: super::nav::FormKind::Group,
        client: f.client.clone(),
        editing: None,
        cells: None,
        values: draft.values.clone(),
        refs,
        revealed: false,
    };
    let back = super::views::form::Form::new(req, &a.ctx());
    assert_eq!(back.restored().draft().unwrap().values, draft.values);
}

#[test]
fn the_privacy_screen_names_participants_of_observations_by_initials() {
    let _words = words(Lang::En);
    let (_dir, path, _) = fixture();
    let mut a = app(&path, Lang::En, true);
    unlock(&mut a);
    group_form(&mut a, "Samen gekookt.");
    to_observation(&mut a, 1);
    typed(&mut a, "Kookte mee.");
    let hidden = super::tests::render_at(&a, 120, 36);
    assert!(
        hidden.contains("About J. d. V.") && !hidden.contains("Kookte") && !hidden.contains("Jan"),
        "{hidden}"
    );
}

/// The group form with a participant's own observation, and the nudges' question about it,
/// at three sizes in Dutch and English.
#[test]
fn the_group_screens_with_observations_at_three_sizes_in_both_languages() {
    let _words = words(Lang::En);
    let settings = super::tests_snap::dir_filters();
    let _guard = settings.bind_to_scope();
    for lang in [Lang::Nl, Lang::En] {
        crate::i18n::set_lang(lang);
        let l = lang.code();
        let (_dir, path, _) = fixture();
        let mut a = app(&path, lang, false);
        unlock(&mut a);
        group_form(&mut a, "Over budgetten gepraat.");
        to_observation(&mut a, 0);
        typed(&mut a, "Vertelde Jan over haar depressie.");
        super::tests_snap::snap(&format!("form_group_observation_{l}"), &a);
        a.handle_key(ctrl('s'));
        assert!(asking(&a));
        super::tests_snap::snap(&format!("form_group_observation_nudge_{l}"), &a);
        press(&mut a, '3');
        super::tests_snap::snap(&format!("group_saved_{l}"), &a);
    }
}

/// The session and its notes are one change: a note for someone who did not take part, or
/// one that is not a note (empty), is refused and leaves no session behind.
#[test]
fn a_group_session_and_its_notes_are_saved_all_or_nothing() {
    use crate::session::GroupNote;
    let _words = words(Lang::En);
    let (_dir, path, fatima) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    let jan = jan(&mut a);
    let session = a.session.as_mut().unwrap();
    let new = crate::store::NewGroupSession {
        participants: vec![fatima.clone()],
        held_on: super::tests::clock().date(),
        theme: "Koken".into(),
        summary: "Samen gekookt.".into(),
        special: false,
    };
    let note = |client: &str, text: &str| GroupNote {
        client_id: client.to_owned(),
        text: text.to_owned(),
        special: false,
    };
    let refused = session.record_group_session(&new, &[note(&jan, "Was er niet.")]);
    assert!(refused.is_err(), "Jan did not take part");
    let broken = session.record_group_session(&new, &[note(&fatima, "")]);
    assert!(broken.is_err(), "an empty note is refused");
    assert!(session.group_sessions().unwrap().is_empty(), "nothing kept");
    session
        .record_group_session(&new, &[note(&fatima, "Kookte mee.")])
        .unwrap();
    assert_eq!(session.group_sessions().unwrap().len(), 1);
}
