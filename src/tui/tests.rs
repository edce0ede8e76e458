//! The app's state machine (key → outcome → state), through ratatui's TestBackend, and the
//! fixtures the other test modules share (`tests_snap`, `tests_privacy`, `tests_forms`).

use std::time::{Duration, Instant, SystemTime};

use chrono::{NaiveDate, NaiveDateTime};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{App, Options, Outcome, Resume, Screen};
use crate::i18n::Lang;
use crate::model::{Bsn, Domain, NewClient, NewNote, NoteKind};
use crate::secret::SecretString;
use crate::session::Session;
use crate::vault::KdfParams;

pub(super) const PASS: &str = "Zonnebloem-Kraanwater-47-Lantaarn";
pub(super) const WEAK: KdfParams = KdfParams {
    memory_kib: 8 * 1024,
    iterations: 1,
    parallelism: 1,
};
pub(super) const CANARY: &str = "KANARIE-5e1f";
/// The text of a special-category note: never on screen until `s` shows it.
pub(super) const SPECIAL: &str = "slaapmedicatie-9c2d";

static WORDS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Holds the catalog's language for a test that reads words on the screen: the language is
/// global, and the snapshot test switches it.
pub(super) fn words(lang: Lang) -> std::sync::MutexGuard<'static, ()> {
    let guard = WORDS.lock().unwrap_or_else(|e| e.into_inner());
    crate::i18n::set_lang(lang);
    guard
}

pub(super) fn clock() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 20)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap()
}

/// A new vault of "mvries" with the weak test KDF.
pub(super) fn new_session(path: &std::path::Path) -> Session {
    Session::create(
        path,
        &SecretString::from(PASS.to_owned()),
        WEAK,
        &[],
        "mvries",
    )
    .unwrap()
}

/// A vault with two clients and three notes (one corrected), at a fixed-length path.
pub(super) fn fixture() -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::Builder::new()
        .prefix("kluis-snap")
        .tempdir_in("/tmp")
        .unwrap();
    let path = dir.path().join("vault.kluis");
    let mut s = new_session(&path);
    let at = |d: u32, h: u32| {
        NaiveDate::from_ymd_opt(2026, 10, d)
            .unwrap()
            .and_hms_opt(h, 30, 0)
            .unwrap()
    };
    let fatima = s
        .change(|st| {
            st.add_client(&NewClient {
                name: format!("Fatima {CANARY} el Amrani"),
                bsn: Some(Bsn::parse("111222333").unwrap()),
                birth_date: NaiveDate::from_ymd_opt(1984, 2, 29),
                address: Some("Dorpsstraat 1, Zwolle".into()),
                phone: Some("06-12345678".into()),
                domain: Domain::Schuldhulp,
                opened_on: NaiveDate::from_ymd_opt(2026, 1, 15).unwrap(),
            })
        })
        .unwrap();
    s.change(|st| {
        st.add_client(&NewClient {
            name: "Jan de Vries".into(),
            bsn: None,
            birth_date: None,
            address: None,
            phone: None,
            domain: Domain::Wmo,
            opened_on: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        })
    })
    .unwrap();
    let note = |body: &str, d: u32, supersedes: Option<String>| NewNote {
        client_id: fatima.clone(),
        kind: NoteKind::Huisbezoek,
        occurred_at: at(d, 9),
        body: body.into(),
        supersedes,
        special: false,
    };
    let first = s
        .change(|st| st.add_note(&note("Eerste huisbezoek, schulden besproken.", 3, None)))
        .unwrap();
    s.change(|st| {
        st.add_note(&note(
            "Eerste huisbezoek, schulden en huurachterstand besproken.",
            3,
            Some(first.clone()),
        ))
    })
    .unwrap();
    s.change(|st| {
        st.add_note(&note(
            &format!("Gebeld met deurwaarder {CANARY}."),
            17,
            None,
        ))
    })
    .unwrap();
    s.change(|st| {
        st.add_note(&NewNote {
            special: true,
            ..note(&format!("Slaapt slecht, {SPECIAL}."), 1, None)
        })
    })
    .unwrap();
    s.change(|st| {
        st.add_household(
            &fatima,
            "Yara",
            crate::model::Relation::Kind,
            NaiveDate::from_ymd_opt(2016, 5, 1),
        )?;
        st.add_household(&fatima, "Karim", crate::model::Relation::Partner, None)?;
        st.add_contact(&crate::model::Contact {
            id: String::new(),
            client_id: fatima.clone(),
            name: "Dr. Visser".into(),
            org: Some("Huisartsenpraktijk Zwolle".into()),
            role: Some("huisarts".into()),
            phone: Some("038-1234567".into()),
            email: None,
            author: String::new(),
            created_at: String::new(),
        })?;
        let g = st.add_goal(&fatima, "financiën", "Schulden op een rij")?;
        let a = st.add_action(
            &g,
            "Brieven sorteren",
            "client",
            NaiveDate::from_ymd_opt(2026, 11, 1),
        )?;
        st.action_done(&a, NaiveDate::from_ymd_opt(2026, 10, 30).unwrap())?;
        // The oldest note, so the timeline's order (and the keys the tests press) stays.
        st.evaluate_goal(
            &g,
            "Overzicht is er, nu de aflossing",
            NaiveDate::from_ymd_opt(2026, 9, 30)
                .unwrap()
                .and_hms_opt(11, 0, 0)
                .unwrap(),
        )?;
        st.add_action(
            &g,
            "Budgetcursus",
            "Kredietbank",
            NaiveDate::from_ymd_opt(2026, 11, 27),
        )?;
        for (score, reason, day) in [(1, "Beslag op loon", 3), (2, "Regeling in zicht", 17)] {
            st.add_assessment(
                &fatima,
                "financiën",
                score,
                reason,
                NaiveDate::from_ymd_opt(2026, 10, day).unwrap(),
            )?;
        }
        // Not today (the app's clock): a visit today would open the app on the agenda.
        st.add_attachment(
            &fatima,
            "Brief van de deurwaarder",
            "brief.pdf",
            b"%PDF-1.4 brief",
        )?;
        st.add_visit(
            &fatima,
            // Far from any real day the snapshot filter would turn into "[now]".
            NaiveDate::from_ymd_opt(2026, 10, 28)
                .unwrap()
                .and_hms_opt(14, 0, 0)
                .unwrap(),
            Some("Keukentafelgesprek"),
        )?;
        Ok(())
    })
    .unwrap();
    s.change(|st| {
        st.add_consent(&crate::model::NewConsent {
            client_id: fatima.clone(),
            org: "Schuldhulp Zwolle".into(),
            purpose: "schuldregeling".into(),
            scope: crate::model::Scope::All,
            special: false,
            given_on: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
            until: NaiveDate::from_ymd_opt(2026, 12, 5),
            evidence: None,
        })
    })
    .unwrap();
    s.close().unwrap();
    (dir, path, fatima)
}

/// A vault of worker w001 whose phone edit of a client crossed one by colleague w002.
pub(super) fn conflict_fixture() -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::Builder::new()
        .prefix("kluis-snap")
        .tempdir_in("/tmp")
        .unwrap();
    let path = dir.path().join("vault.kluis");
    let mut s = new_session(&path);
    s.change(|st| crate::internals::set_meta(st, "worker_id", "w001"))
        .unwrap();
    let id = s
        .change(|st| {
            st.add_client(&NewClient {
                name: "Sanne Mulder".into(),
                bsn: None,
                birth_date: None,
                address: None,
                phone: Some("06-11111111".into()),
                domain: Domain::Jeugd,
                opened_on: NaiveDate::from_ymd_opt(2026, 2, 1).unwrap(),
            })
        })
        .unwrap();
    s.change(|st| st.assign(&id, "w002", true).map(|_| ()))
        .unwrap();
    // The colleague set the phone without having seen ours, a moment later.
    let later = chrono::Utc::now().timestamp_millis() as u64 + 60_000;
    let theirs = crate::merge::Op {
        id: "0190aaaa-0000-7000-8000-000000000001".into(),
        client: id.clone(),
        field: "phone".into(),
        value: Some("06-22222222".into()),
        prev: None,
        hlc: crate::merge::format_hlc(later, 0, "w002"),
        author: "w002".into(),
    };
    s.change(|st| crate::internals::merge_ops(st, &[theirs], &[], "w001,w002"))
        .unwrap();
    s.close().unwrap();
    (dir, path, id)
}

pub(super) fn app(path: &std::path::Path, lang: Lang, privacy: bool) -> App {
    let opts = Options {
        path: path.to_owned(),
        lock_after: Duration::from_secs(300),
        privacy,
        kdf: WEAK,
        lang,
        clock: Some(clock()),
        setup: Default::default(),
        life_domains: Options::default_life_domains(),
        demo: None,
        practice: Default::default(),
    };
    App::new(opts, None, Resume::default())
}

pub(super) fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

pub(super) fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

pub(super) fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        app.handle_key(key(KeyCode::Char(c)));
    }
}

pub(super) fn unlock(app: &mut App) {
    typed(app, PASS);
    assert_eq!(app.handle_key(key(KeyCode::Enter)), Outcome::Busy);
    app.finish_busy();
    assert!(app.unlocked(), "{:?}", app.message);
}

pub(super) fn render(app: &App) -> String {
    render_at(app, 100, 30)
}

/// The screen at a size, as text.
pub(super) fn render_at(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|f| super::draw(app, f, app.last_input()))
        .unwrap();
    format!("{}", terminal.backend())
}

/// The session's raw database, to break it on purpose.
pub(super) fn break_table(app: &App, sql: &str) {
    let s = crate::internals::store(app.session.as_ref().unwrap());
    crate::internals::connection(s).execute_batch(sql).unwrap();
}

#[test]
fn conflicts_are_settled_from_their_screen() {
    let _words = words(Lang::En);
    let (_dir, path, id) = conflict_fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    a.handle_key(key(KeyCode::Char('c')));
    assert!(matches!(a.screen, Screen::Conflicts(_)));
    let open = |a: &App| a.session.as_ref().unwrap().conflict_count().unwrap();
    assert_eq!(open(&a), 1);
    let phone = |a: &mut App| {
        a.session
            .as_mut()
            .unwrap()
            .client(&id, false)
            .unwrap()
            .client
            .phone
    };
    assert_eq!(phone(&mut a).as_deref(), Some("06-22222222"));
    // "o": our value instead; the conflict is settled and the dossier shows it.
    a.handle_key(key(KeyCode::Char('o')));
    assert_eq!(open(&a), 0);
    assert_eq!(phone(&mut a).as_deref(), Some("06-11111111"));
    a.handle_key(key(KeyCode::Esc));
    assert!(matches!(a.screen, Screen::Caseload(_)));
    a.quit().unwrap();
    // It was saved: a new session sees it settled.
    let s = Session::open(
        &path,
        &SecretString::from(PASS.to_owned()),
        crate::session::Access::Read,
    )
    .unwrap();
    assert_eq!(s.conflict_count().unwrap(), 0);
}

#[test]
fn keys_drive_the_screens() {
    let _words = words(Lang::En);
    let (_dir, path, fatima) = fixture();
    let mut a = app(&path, Lang::En, false);
    assert!(matches!(a.screen, Screen::Unlock(_)));
    typed(&mut a, "verkeerd");
    a.handle_key(key(KeyCode::Enter));
    a.finish_busy();
    assert!(!a.unlocked());
    unlock(&mut a);
    assert!(matches!(a.screen, Screen::Caseload(_)));
    // Live search: typing narrows as you go.
    a.handle_key(key(KeyCode::Char('/')));
    typed(&mut a, "deurw");
    assert!(
        !render(&a).contains("[deurwaarder]"),
        "searching waits for a pause in typing"
    );
    a.idle();
    assert!(render(&a).contains("[deurwaarder]"));
    a.handle_key(key(KeyCode::Enter));
    let Screen::Dossier(d) = &a.screen else {
        panic!("not the dossier")
    };
    assert_eq!(d.client_id(), fatima);
    // A new note, saved with Ctrl-S, lands in the vault.
    a.handle_key(key(KeyCode::Char('n')));
    assert!(matches!(a.screen, Screen::Editor(_)));
    typed(&mut a, "Nieuwe notitie via de app");
    a.handle_key(ctrl('s'));
    assert!(matches!(a.screen, Screen::Dossier(_)), "{:?}", a.message);
    let notes = a.session.as_mut().unwrap().notes(&fatima, true).unwrap();
    assert!(
        notes.iter().any(
            |n| n.body == "Nieuwe notitie via de app" && n.occurred_at == "2026-11-20T10:00:00"
        )
    );
    // Help shows this screen's keys; any key closes it.
    a.handle_key(key(KeyCode::Char('?')));
    assert!(a.help && render(&a).contains("Ctrl-L"));
    a.handle_key(key(KeyCode::Char('x')));
    assert!(!a.help);
    assert_eq!(a.handle_key(ctrl('l')), Outcome::Lock);
    assert_eq!(a.handle_key(ctrl('q')), Outcome::Quit);
}

#[test]
fn client_form_validates_next_to_the_field() {
    let _words = words(Lang::En);
    let (_dir, path, _) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    a.handle_key(key(KeyCode::Char('n')));
    typed(&mut a, "Nieuwe Client");
    a.handle_key(key(KeyCode::Tab));
    typed(&mut a, "123456789");
    a.handle_key(ctrl('s'));
    assert!(matches!(a.screen, Screen::Form(_)));
    assert!(render(&a).contains("elfproef"));
    for _ in 0..9 {
        a.handle_key(key(KeyCode::Backspace));
    }
    typed(&mut a, "123456782");
    a.handle_key(ctrl('s'));
    assert!(matches!(a.screen, Screen::Dossier(_)), "{}", render(&a));
}

#[test]
fn idle_time_and_a_wall_clock_jump_lock_but_only_when_unlocked() {
    let _words = words(Lang::En);
    let (_dir, path, _) = fixture();
    let mut a = app(&path, Lang::En, false);
    let later = Instant::now() + Duration::from_secs(301);
    assert_eq!(
        a.tick(later, SystemTime::now()),
        Outcome::None,
        "nothing to lock"
    );
    unlock(&mut a);
    assert_eq!(a.tick(Instant::now(), SystemTime::now()), Outcome::None);
    assert_eq!(
        a.tick(Instant::now() + Duration::from_secs(301), SystemTime::now()),
        Outcome::Lock
    );
    // Suspended laptop: the monotonic clock stood still, the wall clock moved on.
    assert_eq!(
        a.tick(
            Instant::now(),
            SystemTime::now() + Duration::from_secs(3600)
        ),
        Outcome::Lock
    );
    // A key resets the timer.
    a.handle_key(key(KeyCode::Down));
    assert_eq!(
        a.tick(Instant::now() + Duration::from_secs(200), SystemTime::now()),
        Outcome::None
    );
}

#[test]
fn locking_keeps_the_draft_and_the_place_but_no_content() {
    let _words = words(Lang::En);
    let (_dir, path, fatima) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    a.handle_key(key(KeyCode::Enter)); // first client by name: Fatima
    a.handle_key(key(KeyCode::Char('n')));
    typed(&mut a, "Half geschreven");
    let resume = a.lock().unwrap();
    assert_eq!(
        resume,
        Resume {
            client: Some(fatima.clone()),
            tab: 0,
            editor: true,
            privacy: false
        }
    );
    assert!(!a.unlocked() && matches!(a.screen, Screen::Unlock(_)));
    assert!(a.held_lock.is_some(), "the vault stays ours while locked");
    assert!(!render(&a).contains(CANARY));
    // Another process cannot take the vault meanwhile.
    assert!(matches!(
        crate::vault::VaultLock::acquire(&path, false),
        Err(crate::Error::InUse { .. })
    ));
    unlock(&mut a);
    let Screen::Editor(e) = &a.screen else {
        panic!("draft not offered again")
    };
    assert_eq!(e.client_id(), fatima);
    assert!(render(&a).contains("Half geschreven"));
}

#[test]
fn a_note_marked_special_in_the_editor_stays_special_through_a_lock() {
    let _words = words(Lang::En);
    let (_dir, path, fatima) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    a.handle_key(key(KeyCode::Enter));
    a.handle_key(key(KeyCode::Char('n')));
    a.handle_key(ctrl('b'));
    typed(&mut a, "Heeft last van migraine");
    a.lock().unwrap();
    unlock(&mut a);
    a.handle_key(ctrl('s'));
    let notes = a.session.as_mut().unwrap().notes(&fatima, true).unwrap();
    let n = notes
        .iter()
        .find(|n| n.body.contains("migraine"))
        .expect("saved");
    assert!(n.special, "the mark survived the draft");
    assert!(!render(&a).contains("migraine"), "and the dossier masks it");
}

#[test]
fn special_notes_and_the_bsn_show_only_when_asked_and_every_reveal_is_logged() {
    let _words = words(Lang::En);
    let (_dir, path, fatima) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    let entries = |a: &App, action: crate::model::Action| {
        a.session
            .as_ref()
            .unwrap()
            .audit(Some(&fatima))
            .unwrap()
            .iter()
            .filter(|e| e.action == action)
            .count()
    };
    assert!(render(&a).contains("⚑"), "the expiring consent is flagged");
    a.handle_key(key(KeyCode::Enter));
    assert_eq!(entries(&a, crate::model::Action::View), 1);
    let screen = render(&a);
    assert!(screen.contains("******333") && !screen.contains("111222333"));
    // (Language-neutral checks: the snapshot test switches the global language meanwhile.)
    assert!(!screen.contains(SPECIAL), "{screen}");
    a.handle_key(key(KeyCode::Char('6')));
    assert!(
        render(&a).contains("Schuldhulp Zwolle"),
        "consents are shown"
    );
    a.handle_key(key(KeyCode::Char('1')));
    a.handle_key(key(KeyCode::Char('b')));
    assert!(render(&a).contains("111222333"));
    assert_eq!(entries(&a, crate::model::Action::RevealBsn), 1);
    // The special note is the oldest: last in the timeline.
    for _ in 0..3 {
        a.handle_key(key(KeyCode::Down));
    }
    a.handle_key(key(KeyCode::Char('s')));
    assert!(render(&a).contains(SPECIAL));
    assert_eq!(entries(&a, crate::model::Action::RevealSpecial), 1);
    a.handle_key(key(KeyCode::Char('s')));
    assert!(!render(&a).contains(SPECIAL), "hidden again");
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(key(KeyCode::Enter));
    assert!(!render(&a).contains(SPECIAL) && !render(&a).contains("111222333"));
    let s = a.session.as_ref().unwrap();
    assert!(s.verify_log().unwrap().is_ok());
}

#[test]
fn privacy_mode_masks_until_revealed() {
    let _words = words(Lang::En);
    let (_dir, path, _) = fixture();
    let mut a = app(&path, Lang::En, true);
    unlock(&mut a);
    let screen = render(&a);
    assert!(!screen.contains("Fatima") && screen.contains("F. K. e. A."));
    a.handle_key(key(KeyCode::Char('r')));
    assert!(render(&a).contains("Fatima"), "revealed in the list");
    a.handle_key(key(KeyCode::Down));
    assert!(
        !render(&a).contains("Fatima"),
        "re-masked when the selection moves"
    );
    a.handle_key(key(KeyCode::Up));
    a.handle_key(key(KeyCode::Enter));
    let screen = render(&a);
    assert!(
        !screen.contains("deurwaarder")
            && !screen.contains("Dorpsstraat")
            && !screen.contains("******333")
    );
    a.handle_key(key(KeyCode::Char('r')));
    assert!(render(&a).contains("deurwaarder"));
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(key(KeyCode::Enter));
    assert!(
        !render(&a).contains("deurwaarder"),
        "re-masked after leaving the dossier"
    );
    a.handle_key(key(KeyCode::F(2)));
    assert!(render(&a).contains("deurwaarder"));
}
