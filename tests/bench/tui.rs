//! The terminal app at 2,000 clients × 100 notes (`kluis demo` data): keypress to frame
//! (handling the key and drawing the frame into ratatui's TestBackend) for moving through
//! the caseload, searching as you type, opening dossiers, switching tabs, typing a note and
//! saving one, typing into a note of 100,000 characters, pasting 100,000 characters, and
//! filling in a form.
//!
//! `cargo bench --bench tui`; `KLUIS_BENCH_CLIENTS=200` for a quick run.

use std::time::{Duration, Instant};

use kluis::i18n::Lang;
use kluis::secret::SecretString;
use kluis::session::Session;
use kluis::tui::app::{App, Options, Outcome, Resume};
use kluis::vault::KdfParams;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

const PASS: &str = "Zonnebloem-Kraanwater-47-Lantaarn";
const WEAK: KdfParams = KdfParams {
    memory_kib: 8 * 1024,
    iterations: 1,
    parallelism: 1,
};

fn pct(mut v: Vec<Duration>, p: f64) -> f64 {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

struct Bench {
    app: App,
    terminal: Terminal<TestBackend>,
}

impl Bench {
    /// A pause in typing: the pending search runs and the frame is drawn.
    fn idle(&mut self) -> Duration {
        let t = Instant::now();
        self.app.idle();
        let app = &self.app;
        self.terminal
            .draw(|f| kluis::tui::draw(app, f, Instant::now()))
            .unwrap();
        t.elapsed()
    }

    /// One key: handle it, then draw the next frame. Returns the time for both.
    /// One paste: handle it, then draw the next frame.
    fn paste(&mut self, text: &str) -> Duration {
        let t = Instant::now();
        self.app.handle_paste(text, false);
        let app = &self.app;
        self.terminal
            .draw(|f| kluis::tui::draw(app, f, Instant::now()))
            .unwrap();
        t.elapsed()
    }

    fn press(&mut self, key: KeyEvent) -> Duration {
        let t = Instant::now();
        if self.app.handle_key(key) == Outcome::Busy {
            self.app.finish_busy();
        }
        let app = &self.app;
        self.terminal
            .draw(|f| kluis::tui::draw(app, f, Instant::now()))
            .unwrap();
        t.elapsed()
    }
}

#[path = "commit.rs"]
mod commit;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    commit::print("TUI");
    let clients: usize = std::env::var("KLUIS_BENCH_CLIENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let per_client = 100;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.kluis");
    let t = Instant::now();
    let today = chrono::Local::now().date_naive();
    let pass = SecretString::from(PASS.to_owned());
    Session::create_with(&path, &pass, WEAK, &[], "demo", |s| {
        kluis::demo::populate(s, clients, per_client, today, 1)
    })
    .unwrap()
    .close()
    .unwrap();
    println!(
        "kluis TUI benchmark: {clients} clients × {per_client} notes (generated in {:.1} s)",
        t.elapsed().as_secs_f64()
    );

    let opts = Options {
        path: path.clone(),
        lock_after: Duration::from_secs(3600),
        privacy: false,
        kdf: WEAK,
        lang: Lang::Nl,
        clock: None,
        setup: Default::default(),
        life_domains: Options::default_life_domains(),
        demo: None,
        practice: Default::default(),
    };
    let mut b = Bench {
        app: App::new(opts, None, Resume::default()),
        terminal: Terminal::new(TestBackend::new(120, 40)).unwrap(),
    };
    for c in PASS.chars() {
        b.press(key(KeyCode::Char(c)));
    }
    let unlock = b.press(key(KeyCode::Enter));
    assert!(b.app.unlocked());

    let mut rows: Vec<(&str, Vec<Duration>)> = Vec::new();
    let moves: Vec<Duration> = (0..300)
        .map(|i| {
            b.press(key(if i % 50 < 40 {
                KeyCode::Down
            } else {
                KeyCode::Up
            }))
        })
        .collect();
    rows.push(("caseload: move", moves));

    let (mut typing, mut results) = (Vec::new(), Vec::new());
    for word in [
        "huurachterstand",
        "deurwaarder",
        "scootmobiel",
        "voedselbank",
        "de vries",
        "mantelzorg",
        "energierekening",
    ] {
        b.press(key(KeyCode::Char('/')));
        for (i, c) in word.chars().enumerate() {
            typing.push(b.press(key(KeyCode::Char(c))));
            // Every third key the typist pauses: the search runs and its results are drawn.
            if i % 3 == 2 {
                results.push(b.idle());
            }
        }
        b.press(key(KeyCode::Esc));
    }
    rows.push(("caseload: type a search", typing));
    rows.push(("  search results after a pause", results));

    let (mut open, mut back) = (Vec::new(), Vec::new());
    for _ in 0..40 {
        b.press(key(KeyCode::Down));
        open.push(b.press(key(KeyCode::Enter)));
        back.push(b.press(key(KeyCode::Esc)));
    }
    rows.push(("open a dossier (100 notes)", open));
    rows.push(("back to the caseload", back));

    let (mut chars, mut saves) = (Vec::new(), Vec::new());
    b.press(key(KeyCode::Enter));
    for i in 0..30 {
        b.press(key(KeyCode::Char('n')));
        for c in
            format!("Notitie {i}: gesprek aan de keukentafel over de huur en de kinderen.").chars()
        {
            chars.push(b.press(key(KeyCode::Char(c))));
        }
        saves.push(b.press(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL)));
    }
    rows.push(("note editor: type", chars));
    rows.push(("note editor: save (journal + fsync)", saves.clone()));

    // The dossier's tabs, back and forth.
    let tabs: Vec<Duration> = (0..70)
        .map(|i| b.press(key(KeyCode::Char(char::from(b'1' + (i % 7) as u8)))))
        .collect();
    rows.push(("dossier: switch tabs", tabs));
    b.press(key(KeyCode::Char('1')));

    // 100,000 characters pasted into a note, then typing at its end and in its middle.
    let long: String = "Gesprek over de huur, de school van de kinderen en de brieven. "
        .chars()
        .cycle()
        .take(100_000)
        .collect();
    let mut pastes = Vec::new();
    let mut long_typing = Vec::new();
    for _ in 0..10 {
        b.press(key(KeyCode::Char('n')));
        pastes.push(b.paste(&long));
        for c in "en nog een zin erbij. ".chars() {
            long_typing.push(b.press(key(KeyCode::Char(c))));
        }
        for _ in 0..20 {
            b.press(key(KeyCode::Up));
        }
        for c in "midden ".chars() {
            long_typing.push(b.press(key(KeyCode::Char(c))));
        }
        b.press(key(KeyCode::Esc));
        b.press(key(KeyCode::Esc));
    }
    rows.push(("paste 100,000 characters", pastes));
    rows.push(("type in a note of 100,000 characters", long_typing));
    // A dossier with that note in it, opened and moved through.
    b.press(key(KeyCode::Char('n')));
    b.paste(&long);
    b.press(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL));
    let big: Vec<Duration> = (0..40)
        .map(|i| {
            b.press(key(if i % 2 == 0 {
                KeyCode::Down
            } else {
                KeyCode::Up
            }))
        })
        .collect();
    rows.push(("dossier with a 100,000-character note: move", big));

    // A form: a household member typed in.
    let mut form = Vec::new();
    for _ in 0..10 {
        b.press(key(KeyCode::Char('3')));
        b.press(key(KeyCode::Char('a')));
        form.push(b.press(key(KeyCode::Enter)));
        for c in "Noor de Vries".chars() {
            form.push(b.press(key(KeyCode::Char(c))));
        }
        form.push(b.press(key(KeyCode::Tab)));
        form.push(b.press(key(KeyCode::Right)));
        b.press(key(KeyCode::Esc));
        b.press(key(KeyCode::Esc));
    }
    rows.push(("form: type and choose", form));

    println!();
    println!(
        "{:<38} {:>6} {:>9} {:>9} {:>9}",
        "keypress → frame", "keys", "p50 ms", "p99 ms", "max ms"
    );
    let mut all = Vec::new();
    for (label, v) in &rows {
        let is_key = !label.starts_with("  ");
        let max = v.iter().max().unwrap().as_secs_f64() * 1000.0;
        println!(
            "{label:<38} {:>6} {:>9.2} {:>9.2} {:>9.2}",
            v.len(),
            pct(v.clone(), 0.5),
            pct(v.clone(), 0.99),
            max
        );
        if is_key {
            all.extend(v.iter().copied());
        }
    }
    println!(
        "{:<38} {:>6} {:>9.2} {:>9.2}   (target p99 <= 16 ms)",
        "all keys",
        all.len(),
        pct(all.clone(), 0.5),
        pct(all, 0.99)
    );
    println!(
        "longest save: {:.2} ms (target <= 100 ms); unlock with a weak KDF: {:.0} ms",
        saves.iter().max().unwrap().as_secs_f64() * 1000.0,
        unlock.as_secs_f64() * 1000.0
    );
    b.app.quit().unwrap();
}
