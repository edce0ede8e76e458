//! Navigation (issues 15 and 19): a search hit lands on its note, lists move by page and to
//! their ends, a read that fails is shown instead of an empty screen.

use chrono::NaiveDate;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;

use super::app::{App, Screen};
use super::tests::{
    app, break_table, fixture, key, new_session, render, render_at, typed, unlock, words,
};
use crate::i18n::Lang;
use crate::model::{Domain, NewClient};

/// Issue 19: a search hit opens the dossier at the note it found, selected and in view.
#[test]
fn a_search_hit_opens_the_dossier_at_its_note() {
    let _words = words(Lang::En);
    let (_dir, path, fatima) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    a.handle_key(key(KeyCode::Char('/')));
    typed(&mut a, "deurwaarder");
    a.idle();
    a.handle_key(key(KeyCode::Enter));
    let Screen::Dossier(d) = &a.screen else {
        panic!("no dossier: {:?}", a.message)
    };
    assert_eq!(d.client_id(), fatima);
    let at = d.cursor().map_or(0, |c| c.at);
    assert!(
        d.data.notes[at].body.contains("deurwaarder"),
        "not the note found"
    );
    // The heading of the selected note is drawn reversed.
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    terminal
        .draw(|f| super::draw(&a, f, a.last_input()))
        .unwrap();
    let buf = terminal.backend().buffer().clone();
    let reversed_row = (0..30).find(|y| {
        (0..100).any(|x| {
            buf[(x, *y)]
                .modifier
                .contains(ratatui::style::Modifier::REVERSED)
                && buf[(x, *y)].symbol() == "1"
        })
    });
    assert!(reversed_row.is_some(), "nothing highlighted");
    // Back, the search is still there; Esc clears it. A hit on a name opens the dossier.
    a.handle_key(key(KeyCode::Esc));
    assert!(render(&a).contains("deurwaarder"), "the search was kept");
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(key(KeyCode::Char('/')));
    typed(&mut a, "Fatima");
    a.idle();
    a.handle_key(key(KeyCode::Enter));
    assert!(matches!(a.screen, Screen::Dossier(_)));
}

/// Issue 19: lists move by page and to their ends.
#[test]
fn lists_have_home_end_and_page_keys() {
    let _words = words(Lang::En);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.kluis");
    let mut s = new_session(&path);
    for i in 0..60 {
        s.change(|st| {
            st.add_client(&NewClient {
                name: format!("Client {i:02}"),
                bsn: None,
                birth_date: None,
                address: None,
                phone: None,
                domain: Domain::Wmo,
                opened_on: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            })
        })
        .unwrap();
    }
    s.close().unwrap();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    let shown = |a: &App| render_at(a, 80, 24);
    a.handle_key(key(KeyCode::End));
    assert!(shown(&a).contains("Client 59"), "End goes to the last");
    a.handle_key(key(KeyCode::Home));
    assert!(shown(&a).contains("Client 00"), "Home goes to the first");
    a.handle_key(key(KeyCode::PageDown));
    a.handle_key(key(KeyCode::PageDown));
    a.handle_key(key(KeyCode::PageDown));
    let screen = shown(&a);
    assert!(
        !screen.contains("Client 00") && screen.contains("Client 4"),
        "{screen}"
    );
    a.handle_key(key(KeyCode::PageUp));
    a.handle_key(key(KeyCode::PageUp));
    a.handle_key(key(KeyCode::PageUp));
    assert!(shown(&a).contains("Client 00"));
}

/// Issue 15: a read that fails is shown where it failed, never as an empty screen.
#[test]
fn a_failed_read_shows_its_error_instead_of_an_empty_screen() {
    let _words = words(Lang::En);
    let (_dir, path, _) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    break_table(&a, "ALTER TABLE visit RENAME TO visit_gone");
    a.handle_key(key(KeyCode::Enter));
    assert!(
        matches!(a.screen, Screen::Caseload(_)),
        "an empty dossier opened"
    );
    let said = a.message.clone().unwrap_or_default();
    assert!(said.contains("visit"), "the error is not shown: {said:?}");
    assert!(render(&a).contains("visit"));
    a.handle_key(key(KeyCode::Char('t')));
    assert!(matches!(a.screen, Screen::Agenda(_)));
    assert!(render(&a).contains("visit"), "the agenda hides its error");
    a.quit().unwrap_or(());
}

/// A note about the Ĳsselmeer, written with the ligature Ĳ as Dutch keyboards and
/// autocorrect do.
fn ijsselmeer_note(a: &mut App, client: &str) -> String {
    a.session
        .as_mut()
        .unwrap()
        .change(|st| {
            st.add_note(&crate::model::NewNote {
                client_id: client.to_owned(),
                kind: crate::model::NoteKind::Overig,
                occurred_at: NaiveDate::from_ymd_opt(2026, 11, 2)
                    .unwrap()
                    .and_hms_opt(9, 0, 0)
                    .unwrap(),
                body: "Gewandeld langs het Ĳsselmeer.".into(),
                supersedes: None,
                special: false,
            })
        })
        .unwrap()
}

/// Searches in the caseload and opens the first hit; the note it landed on.
fn search_and_open(a: &mut App, query: &str) -> Option<String> {
    a.handle_key(key(KeyCode::Char('/')));
    typed(a, query);
    a.idle();
    a.handle_key(key(KeyCode::Enter));
    let Screen::Dossier(d) = &a.screen else {
        return None;
    };
    let at = d.cursor().map_or(0, |c| c.at);
    let id = d.data.notes[at].id.clone();
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(key(KeyCode::Esc));
    Some(id)
}

/// Issue 19: searching for the word as written finds the note and lands on it.
#[test]
fn a_word_with_a_ligature_is_found_as_written() {
    let _words = words(Lang::En);
    let (_dir, path, fatima) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    let note = ijsselmeer_note(&mut a, &fatima);
    assert_eq!(search_and_open(&mut a, "Ĳsselmeer"), Some(note));
}

/// Issue 19: `ijsselmeer` finds `Ĳsselmeer`: kluis's tokenizer folds the ligature
/// (src/store/search.rs, migration 0011).
#[test]
fn ijsselmeer_finds_the_ligature() {
    let _words = words(Lang::En);
    let (_dir, path, fatima) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    let note = ijsselmeer_note(&mut a, &fatima);
    assert_eq!(
        search_and_open(&mut a, "ijsselmeer"),
        Some(note),
        "ijsselmeer does not find Ĳsselmeer"
    );
}

/// Issue 15: a screen's key handler returns what should happen ([`super::nav::Nav`]) and
/// the app loads and switches; no screen reaches back into the app, so there is no import
/// cycle between `app` and the views. Read from the sources, as a new import would be
/// written.
#[test]
fn no_screen_reaches_back_into_the_app() {
    let tui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tui");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(tui.join("views"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.push(tui.join("nav.rs"));
    assert!(files.len() > 5, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let flat: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut offending = flat.contains("app::") || flat.contains("tui::App");
        // A grouped import of the app (`use crate::tui::{app, ...}`, `use super::super::{app}`).
        for group in ["crate::tui::{", "super::super::{"] {
            for (i, _) in flat.match_indices(group) {
                let inside = flat[i + group.len()..].split('}').next().unwrap_or("");
                offending |= inside
                    .split(|c: char| !c.is_alphanumeric() && c != '_')
                    .any(|w| w == "app" || w == "App");
            }
        }
        assert!(!offending, "{} imports the app", file.display());
    }
}

/// Issue 21: the agenda's "What" is never cut where it matters: at 80×24 each reminder is
/// whole on two lines, and at 40×10 the selected one is whole (the others shortened, "…").
#[test]
fn the_agendas_reminders_read_whole_at_80x24_and_when_selected_at_40x10() {
    let _words = words(Lang::En);
    let (_dir, path, _, _) = super::tests_practice::practice_fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    assert!(matches!(a.screen, Screen::Agenda(_)), "{}", render(&a));
    let flat = |s: String| -> String {
        s.lines()
            .map(|l| l.trim_matches('"').trim_matches('│').trim())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let review = "access review: closed, you are still assigned";
    let step = "meldcode: step 2, consult a colleague and/or Veilig Thuis";
    let wide = flat(render_at(&a, 80, 24));
    let squeeze = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    // Wrapped under itself: the second line holds the rest.
    let whole = |shown: &str, text: &str| text.split(' ').all(|w| shown.contains(w));
    assert!(
        whole(&wide, step) && whole(&wide, review),
        "{}",
        render_at(&a, 80, 24)
    );
    let narrow = render_at(&a, 40, 10);
    assert!(
        squeeze(&flat(narrow.clone())).contains(&squeeze(step)),
        "{narrow}"
    );
    assert!(
        !narrow.contains("assigned") && narrow.contains('…'),
        "{narrow}"
    );
    a.handle_key(key(KeyCode::Down));
    let narrow = render_at(&a, 40, 10);
    assert!(narrow.contains("assigned"), "selected, whole:\n{narrow}");
}
