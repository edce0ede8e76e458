//! Every screen at 120×36, 80×24 and 40×10, in Dutch and English (insta snapshots, one file
//! per screen with the three sizes), and what must hold at each size: every tab's name at
//! 80 columns, every column's heading, whole messages, names at 40 columns.

use ratatui::crossterm::event::KeyCode;

use super::app::{App, Screen};
use super::nav::Tab;
use super::tests::{
    PASS, app, clock, conflict_fixture, ctrl, fixture, key, render_at, typed, unlock,
};
use crate::i18n::{Lang, set_lang, t};
use crate::secret::SecretString;

const SIZES: [(u16, u16); 3] = [(120, 36), (80, 24), (40, 10)];

/// The three sizes of a screen as one text, with the temporary folder's random name
/// replaced (it has the same length, so nothing moves).
fn sizes(a: &App) -> String {
    let dir = a
        .opts
        .path
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    SIZES
        .iter()
        .map(|(w, h)| {
            let screen = render_at(a, *w, *h).replace(&dir, "kluis-snapXXXXXX");
            format!("── {w}×{h} ──\n{screen}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every line of the message is on the screen at 80×24.
fn message_whole(a: &App) {
    let Some(m) = &a.message else {
        return;
    };
    let screen = render_at(a, 80, 24);
    let flat: String = screen.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat = flat.replace("\" \"", " ");
    for word in m.split_whitespace() {
        assert!(flat.contains(word), "{word:?} of {m:?} is cut:\n{screen}");
    }
}

pub(super) fn snap(name: &str, a: &App) {
    insta::assert_snapshot!(name.to_owned(), sizes(a));
    message_whole(a);
}

pub(super) fn dir_filters() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    // The access log's times are real (the app's clock is fixed, the store's is not).
    let today = chrono::Local::now().date_naive();
    for d in [today, today.succ_opt().unwrap()] {
        for lang in [Lang::Nl, Lang::En] {
            let shown = crate::tui::views::date(lang, &d.to_string());
            settings.add_filter(&format!(r"{shown} \d\d:\d\d"), "[now]           ");
        }
    }
    settings.set_snapshot_path("snapshots");
    settings
}

/// Every screen, in Dutch and English, at three sizes. One test, because the catalog's
/// language is global.
#[test]
fn every_screen_at_three_sizes_in_both_languages() {
    let _words = super::tests::words(Lang::En);
    let settings = dir_filters();
    let _guard = settings.bind_to_scope();
    for lang in [Lang::Nl, Lang::En] {
        set_lang(lang);
        let l = lang.code();
        let (_dir, path, _) = fixture();
        let mut first = app(&path.with_file_name("nieuw.kluis"), lang, false);
        snap(&format!("first_run_{l}"), &first);
        first.handle_key(key(KeyCode::Down));
        first.handle_key(key(KeyCode::Enter));
        typed(&mut first, "~/Downloads/w001.kluis-enroll");
        snap(&format!("first_run_enroll_{l}"), &first);

        let mut a = app(&path, lang, false);
        typed(&mut a, "fout");
        a.handle_key(key(KeyCode::Enter));
        a.finish_busy();
        snap(&format!("unlock_wrong_{l}"), &a);
        for _ in 0..4 {
            a.handle_key(key(KeyCode::Backspace));
        }
        unlock(&mut a);
        snap(&format!("caseload_{l}"), &a);
        // At 40 columns the names stay; the other columns went.
        let narrow = render_at(&a, 40, 10);
        assert!(
            narrow.contains("Jan de Vries") && narrow.contains("Fatima"),
            "{narrow}"
        );
        a.handle_key(key(KeyCode::Char('/')));
        typed(&mut a, "huur");
        a.idle();
        snap(&format!("search_{l}"), &a);
        a.handle_key(key(KeyCode::Enter));
        snap(&format!("dossier_{l}"), &a);
        // Every tab's name at 80 columns.
        let wide = render_at(&a, 80, 24);
        for tab in Tab::all() {
            assert!(
                wide.contains(&tab.label()),
                "{} is cut:\n{wide}",
                tab.label()
            );
        }
        a.handle_key(key(KeyCode::Char('?')));
        snap(&format!("help_{l}"), &a);
        a.handle_key(key(KeyCode::Esc));
        a.handle_key(key(KeyCode::Down));
        a.handle_key(key(KeyCode::Char('c')));
        snap(&format!("editor_correction_{l}"), &a);
        a.handle_key(key(KeyCode::Esc));
        a.handle_key(key(KeyCode::Esc));
        // A special note cannot be corrected unseen: the message says so, whole.
        for _ in 0..3 {
            a.handle_key(key(KeyCode::Down));
        }
        a.handle_key(key(KeyCode::Char('c')));
        assert_eq!(a.message.as_deref(), Some(&*t!("tui.special_show_first")));
        snap(&format!("dossier_special_message_{l}"), &a);
        a.handle_key(key(KeyCode::Home));
        a.handle_key(key(KeyCode::Char('e')));
        for _ in 0..30 {
            a.handle_key(key(KeyCode::Backspace));
        }
        a.handle_key(key(KeyCode::Down));
        a.handle_key(key(KeyCode::Down));
        typed(&mut a, "31-02");
        a.handle_key(ctrl('s'));
        snap(&format!("client_form_error_{l}"), &a);
        a.handle_key(key(KeyCode::Esc));
        a.handle_key(key(KeyCode::Esc));
        for (n, name) in [
            ('2', "plan"),
            ('3', "people"),
            ('4', "scores"),
            ('5', "files"),
            ('6', "sharing"),
            ('7', "more"),
            ('8', "log"),
        ] {
            a.handle_key(key(KeyCode::Char(n)));
            snap(&format!("dossier_{name}_{l}"), &a);
        }
        self::forms(&mut a, l);
        a.handle_key(key(KeyCode::Char('1')));
        a.handle_key(key(KeyCode::F(2)));
        snap(&format!("dossier_privacy_{l}"), &a);
        a.handle_key(key(KeyCode::Char('e')));
        snap(&format!("client_form_privacy_{l}"), &a);
        a.handle_key(key(KeyCode::Esc));
        a.handle_key(key(KeyCode::Esc));
        snap(&format!("caseload_privacy_{l}"), &a);
        a.handle_key(key(KeyCode::F(2)));
        a.quit().unwrap();

        // A visit planned for today: the app opens on the day's agenda.
        let (_adir, apath, afatima) = fixture();
        let mut s = crate::session::Session::open(
            &apath,
            &SecretString::from(PASS.to_owned()),
            crate::session::Access::Write,
        )
        .unwrap();
        let today = clock().date().and_hms_opt(15, 30, 0).unwrap();
        s.change(|st| {
            st.add_visit(&afatima, today, Some("Huisbezoek met tolk"))
                .map(|_| ())
        })
        .unwrap();
        s.close().unwrap();
        let mut a = app(&apath, lang, false);
        unlock(&mut a);
        assert!(matches!(a.screen, Screen::Agenda(_)));
        snap(&format!("agenda_{l}"), &a);
        let wide = render_at(&a, 80, 24);
        assert!(
            wide.contains(&*t!("tui.agenda_what")) && wide.contains("Huisbezoek met tolk"),
            "what it is must show at 80 columns:\n{wide}"
        );
        a.quit().unwrap();

        let (_cdir, cpath, _) = conflict_fixture();
        let mut a = app(&cpath, lang, false);
        unlock(&mut a);
        snap(&format!("caseload_with_conflict_{l}"), &a);
        a.handle_key(key(KeyCode::Char('c')));
        snap(&format!("conflicts_{l}"), &a);
        a.handle_key(key(KeyCode::F(2)));
        snap(&format!("conflicts_privacy_{l}"), &a);
        a.quit().unwrap();

        let mut demo = app(&path, lang, false);
        demo.opts.demo = Some("groen-tafel-vijf-lamp".into());
        demo.screen = Screen::Unlock(super::views::unlock::Unlock::new(demo.opts.demo.clone()));
        snap(&format!("unlock_demo_{l}"), &demo);
    }
    set_lang(Lang::En);
}

/// The forms of the dossier's tabs, as they open and with a refusal on a field.
fn forms(a: &mut App, l: &str) {
    a.handle_key(key(KeyCode::Char('2')));
    a.handle_key(key(KeyCode::Char('a')));
    snap(&format!("add_on_plan_{l}"), a);
    a.handle_key(key(KeyCode::Enter));
    a.handle_key(ctrl('s'));
    snap(&format!("form_goal_empty_{l}"), a);
    a.handle_key(key(KeyCode::Enter));
    snap(&format!("form_goal_domains_{l}"), a);
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(key(KeyCode::Esc));
    assert!(
        matches!(a.screen, Screen::Dossier(_)),
        "a form without typing leaves at once"
    );
    a.handle_key(key(KeyCode::Char('a')));
    a.handle_key(key(KeyCode::Down));
    a.handle_key(key(KeyCode::Enter));
    snap(&format!("form_action_{l}"), a);
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(key(KeyCode::Char('3')));
    a.handle_key(key(KeyCode::Char('a')));
    a.handle_key(key(KeyCode::Enter));
    typed(a, "Noor");
    a.handle_key(key(KeyCode::Tab));
    a.handle_key(key(KeyCode::Right));
    a.handle_key(key(KeyCode::Tab));
    typed(a, "30-02-2015");
    a.handle_key(ctrl('s'));
    snap(&format!("form_household_error_{l}"), a);
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(key(KeyCode::Char('4')));
    a.handle_key(key(KeyCode::Char('a')));
    a.handle_key(key(KeyCode::Char('f')));
    a.handle_key(key(KeyCode::Tab));
    typed(a, "2");
    a.handle_key(ctrl('s'));
    snap(&format!("form_score_no_reason_{l}"), a);
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(key(KeyCode::Char('5')));
    a.handle_key(key(KeyCode::Char('o')));
    snap(&format!("form_export_{l}"), a);
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(key(KeyCode::Char('6')));
    a.handle_key(key(KeyCode::Char('x')));
    snap(&format!("form_withdraw_{l}"), a);
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(key(KeyCode::Char('a')));
    snap(&format!("form_consent_{l}"), a);
    a.handle_key(key(KeyCode::Esc));
}
