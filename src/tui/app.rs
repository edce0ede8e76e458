//! The terminal app's state: which screen, the unlocked session (or none), the idle timer.
//! A key goes to the screen, which returns what should happen ([`Nav`]); the app performs
//! it through the session (`go`, in `app/go.rs`; saving in `app/save.rs`) and switches.
//! Drawing only reads this state (`tui::draw`).

mod go;
mod practice;
mod save;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::nav::{Ctx, Nav, Tab};
use super::views::{
    agenda::Agenda, caseload::Caseload, conflicts::Conflicts, dossier::Dossier, editor::NoteEditor,
    first_run::FirstRun, form::Form, unlock::Unlock,
};
use crate::i18n::{Lang, t};
use crate::session::Session;
use crate::vault::{KdfParams, VaultLock};

/// How the app was started.
pub struct Options {
    /// The vault.
    pub path: PathBuf,
    /// Idle time before locking.
    pub lock_after: Duration,
    /// Start in privacy ("aquarium") mode.
    pub privacy: bool,
    /// KDF parameters for a vault made on the first-run screen.
    pub kdf: KdfParams,
    /// Language (for dates; messages follow the global catalog setting).
    pub lang: Lang,
    /// A fixed "now" (tests and screenshots); None is the real clock.
    pub clock: Option<chrono::NaiveDateTime>,
    /// What every session applies from the settings (retention periods); the same as the
    /// command line's.
    pub setup: crate::session::Setup,
    /// The life domains of plans and scores (config `life_domains`).
    pub life_domains: Vec<String>,
    /// The demo vault's passphrase, shown on its lock screen (its data is fictitious).
    pub demo: Option<String>,
    /// What daily practice takes from the settings (issue 21).
    pub practice: Practice,
}

/// What daily practice takes from the settings: the same as the command line's.
#[derive(Clone, Debug)]
pub struct Practice {
    /// The words the nudges look for (kluis's list and the config's `[special_words]`).
    pub lexicon: crate::model::nudge::Lexicon,
    /// Months without activity before a dossier is in the access review.
    pub review_months: u32,
    /// Whom residents contact about privacy (the consent form and the leaflet say it).
    pub privacy_officer: Option<String>,
}

impl Default for Practice {
    fn default() -> Practice {
        Practice {
            lexicon: crate::model::nudge::Lexicon::builtin(),
            review_months: crate::model::DEFAULT_REVIEW_MONTHS,
            privacy_officer: None,
        }
    }
}

impl Options {
    /// The current local time, or the fixed one.
    pub fn now(&self) -> chrono::NaiveDateTime {
        self.clock
            .unwrap_or_else(|| chrono::Local::now().naive_local())
    }

    /// The default life domains (the ZRM's).
    pub fn default_life_domains() -> Vec<String> {
        crate::model::LIFE_DOMAINS
            .iter()
            .map(|d| (*d).to_owned())
            .collect()
    }
}

/// The screens.
pub enum Screen {
    /// No vault yet: explain and create one.
    FirstRun(FirstRun),
    /// Locked.
    Unlock(Unlock),
    /// The open clients.
    Caseload(Box<Caseload>),
    /// One client's file.
    Dossier(Box<Dossier>),
    /// Writing a note.
    Editor(Box<NoteEditor>),
    /// A form: a client's details or any record.
    Form(Box<Form>),
    /// Fields two colleagues changed at once.
    Conflicts(Conflicts),
    /// Today: visits and what is due.
    Agenda(Agenda),
}

/// What the runner must do after a key or a tick.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing beyond redrawing.
    None,
    /// Lock now (the runner wipes memory by re-executing).
    Lock,
    /// Save and leave.
    Quit,
    /// Draw a "working" frame, then call [`App::finish_busy`] (the KDF takes a moment).
    Busy,
}

/// Where to come back to after unlocking: ids only, never content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resume {
    /// The client whose dossier was open.
    pub client: Option<String>,
    /// The dossier's tab (its place in the tab bar).
    pub tab: usize,
    /// Whether the note editor was open (its text is in the vault's draft table).
    pub editor: bool,
    /// Privacy mode.
    pub privacy: bool,
}

impl Resume {
    /// Encodes for the environment of the re-executed process.
    pub fn encode(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.client.as_deref().unwrap_or(""),
            u8::from(self.editor),
            u8::from(self.privacy),
            self.tab
        )
    }

    /// Decodes what `encode` made; anything odd gives the caseload.
    pub fn decode(s: &str) -> Resume {
        let mut parts = s.split('|');
        let client = parts.next().filter(|c| {
            !c.is_empty()
                && c.len() <= 36
                && c.chars().all(|ch| ch.is_ascii_hexdigit() || ch == '-')
        });
        Resume {
            client: client.map(str::to_owned),
            editor: parts.next() == Some("1"),
            privacy: parts.next() == Some("1"),
            tab: parts
                .next()
                .and_then(|t| t.parse().ok())
                .filter(|t| *t < Tab::all().len())
                .unwrap_or(0),
        }
    }
}

/// The whole app.
pub struct App {
    /// Start options.
    pub opts: Options,
    /// The unlocked vault, or None while locked.
    pub session: Option<Session>,
    /// The vault's lock while no session holds it.
    pub held_lock: Option<VaultLock>,
    /// The current screen.
    pub screen: Screen,
    /// Help overlay shown.
    pub help: bool,
    /// Privacy mode: names, BSN, addresses and texts masked.
    pub privacy: bool,
    /// Last user input (monotonic and wall clock, to notice a suspended laptop).
    last_input: Instant,
    last_input_wall: SystemTime,
    /// Where to return after unlocking.
    pub resume: Resume,
    /// A message for the status bar.
    pub message: Option<String>,
    /// The caseload while another screen is open, to go back to without reloading.
    parked: Option<Box<Caseload>>,
    /// Data changed since the caseload was parked.
    changed: bool,
}

impl App {
    /// A new app on the unlock (or first-run) screen.
    pub fn new(opts: Options, held_lock: Option<VaultLock>, resume: Resume) -> App {
        let screen = if opts.path.exists() {
            Screen::Unlock(Unlock::new(opts.demo.clone()))
        } else {
            Screen::FirstRun(FirstRun::default())
        };
        App {
            privacy: opts.privacy || resume.privacy,
            opts,
            session: None,
            held_lock,
            screen,
            help: false,
            last_input: Instant::now(),
            last_input_wall: SystemTime::now(),
            resume,
            message: None,
            parked: None,
            changed: false,
        }
    }

    /// Whether a session is open.
    pub fn unlocked(&self) -> bool {
        self.session.is_some()
    }

    /// When the user last pressed a key (monotonic).
    pub fn last_input(&self) -> Instant {
        self.last_input
    }

    /// Time left before the idle lock.
    pub fn remaining(&self, now: Instant) -> Duration {
        self.opts
            .lock_after
            .saturating_sub(now.duration_since(self.last_input))
    }

    /// What screens read besides their own state.
    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            lang: self.opts.lang,
            privacy: self.privacy,
            now: self.opts.now(),
            life_domains: &self.opts.life_domains,
            lexicon: &self.opts.practice.lexicon,
        }
    }

    /// Checks the idle timer and the wall clock. Background work never calls
    /// `touch`, so only the user keeps the vault open.
    pub fn tick(&mut self, now: Instant, wall: SystemTime) -> Outcome {
        if !self.unlocked() {
            return Outcome::None;
        }
        let idle = now.duration_since(self.last_input);
        // A suspended laptop stops the monotonic clock but not the wall clock.
        let wall_idle = wall
            .duration_since(self.last_input_wall)
            .unwrap_or_default();
        if idle >= self.opts.lock_after || wall_idle >= self.opts.lock_after {
            return Outcome::Lock;
        }
        Outcome::None
    }

    fn touch(&mut self) {
        self.last_input = Instant::now();
        self.last_input_wall = SystemTime::now();
    }

    /// Handles one key.
    pub fn handle_key(&mut self, key: KeyEvent) -> Outcome {
        self.touch();
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('q') {
            return Outcome::Quit;
        }
        if self.help {
            self.help = false;
            return Outcome::None;
        }
        if key.code == KeyCode::F(1) || (key.code == KeyCode::Char('?') && !self.typing()) {
            self.help = true;
            return Outcome::None;
        }
        if self.unlocked() {
            match key.code {
                KeyCode::Char('l') if ctrl => return Outcome::Lock,
                KeyCode::F(2) => {
                    self.privacy = !self.privacy;
                    return Outcome::None;
                }
                _ => {}
            }
        }
        self.message = None;
        let ctx = Ctx {
            lang: self.opts.lang,
            privacy: self.privacy,
            now: self.opts.now(),
            life_domains: &self.opts.life_domains,
            lexicon: &self.opts.practice.lexicon,
        };
        let nav = match &mut self.screen {
            Screen::FirstRun(s) => s.handle(key),
            Screen::Unlock(s) => s.handle(key),
            Screen::Caseload(s) => s.handle(key, &ctx),
            Screen::Dossier(s) => s.handle(key, &ctx),
            Screen::Editor(s) => s.handle(key, &ctx),
            Screen::Form(s) => s.handle(key, &ctx),
            Screen::Conflicts(s) => s.handle(key, &ctx),
            Screen::Agenda(s) => s.handle(key, &ctx),
        };
        self.go(nav)
    }

    /// Handles a paste: it goes whole into the field that has the cursor.
    pub fn handle_paste(&mut self, text: &str, cut: bool) -> Outcome {
        self.touch();
        if self.help {
            return Outcome::None;
        }
        match &mut self.screen {
            Screen::FirstRun(s) => s.paste(text),
            Screen::Unlock(s) => s.paste(text),
            Screen::Caseload(s) => s.paste(text),
            Screen::Editor(s) => s.paste(text),
            Screen::Form(s) => s.paste(text),
            Screen::Dossier(_) | Screen::Conflicts(_) | Screen::Agenda(_) => return Outcome::None,
        }
        self.message =
            cut.then(|| t!("tui.paste_cut", mb = super::input::MAX_PASTE / (1 << 20)).into_owned());
        Outcome::None
    }

    /// Whether keys go into a text field (so `?` is a character, not help).
    fn typing(&self) -> bool {
        match &self.screen {
            Screen::Unlock(_) | Screen::FirstRun(_) | Screen::Editor(_) | Screen::Form(_) => true,
            Screen::Caseload(c) => c.searching(),
            Screen::Dossier(_) | Screen::Conflicts(_) | Screen::Agenda(_) => false,
        }
    }

    /// The keys of the screen shown, for help.
    pub fn keys(&self) -> Vec<(&'static str, &'static str)> {
        match &self.screen {
            Screen::FirstRun(s) => s.keys(),
            Screen::Unlock(s) => s.keys(),
            Screen::Caseload(s) => s.keys(),
            Screen::Dossier(s) => s.keys(),
            Screen::Editor(s) => s.keys(),
            Screen::Form(s) => s.keys(),
            Screen::Conflicts(s) => s.keys(),
            Screen::Agenda(s) => s.keys(),
        }
    }

    /// Work for a pause in typing (the search as you type).
    pub fn idle(&mut self) {
        let query = match &mut self.screen {
            Screen::Caseload(c) => c.idle(),
            _ => None,
        };
        if let Some(q) = query {
            self.go(Nav::Search(q));
        }
    }

    /// Whether `idle` has work waiting (the runner then waits less for a key).
    pub fn wants_idle(&self) -> bool {
        matches!(&self.screen, Screen::Caseload(c) if c.search_pending())
    }

    /// Runs the slow part of an action after the runner drew the "working" frame.
    pub fn finish_busy(&mut self) -> Outcome {
        let nav = match &mut self.screen {
            Screen::Unlock(s) => s.submit(),
            Screen::FirstRun(s) => s.submit(),
            _ => Nav::Stay,
        };
        let outcome = self.go(nav);
        self.touch();
        outcome
    }

    /// Locks: keeps an unsaved note or form in the vault's draft table, folds the journal
    /// into the vault, drops every decrypted byte this process holds in Rust, and shows the
    /// unlock screen. Returns where to come back to.
    pub fn lock(&mut self) -> crate::Result<Resume> {
        let resume = Resume {
            privacy: self.privacy,
            ..self.place()
        };
        self.keep_drafts()?;
        self.screen = Screen::Unlock(Unlock::new(self.opts.demo.clone()));
        self.parked = None;
        self.help = false;
        if let Some(session) = self.session.take() {
            self.held_lock = Some(session.close_keep_lock()?);
        }
        self.resume = resume.clone();
        Ok(resume)
    }

    /// Where the user is: the dossier (and tab) of the screen shown.
    fn place(&self) -> Resume {
        let (client, tab, editor) = match &self.screen {
            Screen::Dossier(d) => (Some(d.client_id().to_owned()), d.tab, false),
            Screen::Editor(e) => (Some(e.client_id().to_owned()), Tab::Overview, true),
            Screen::Form(f) => (f.client.clone(), f.kind.tab(), false),
            _ => (None, Tab::Overview, false),
        };
        Resume {
            client,
            tab: tab.index(),
            editor,
            privacy: false,
        }
    }

    /// Keeps what is being written in the vault (encrypted, like everything in it).
    fn keep_drafts(&mut self) -> crate::Result<()> {
        let Some(session) = self.session.as_mut() else {
            return Ok(());
        };
        match &self.screen {
            Screen::Editor(e) => match e.draft() {
                Some(d) => session.change(|s| s.save_draft(&d)),
                None => Ok(()),
            },
            Screen::Form(f) => match f.draft() {
                Some(d) => session.change(|s| s.save_form_draft(&d)),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// Saves and ends: keeps drafts, compacts the journal into the vault.
    pub fn quit(&mut self) -> crate::Result<()> {
        self.keep_drafts()?;
        self.screen = Screen::Unlock(Unlock::default());
        if let Some(session) = self.session.take() {
            session.close()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        use crate::config::parse_duration;
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("45"), Some(Duration::from_secs(45)));
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("5 minuten"), None);
    }

    #[test]
    fn resume_round_trips_ids_only() {
        let r = Resume {
            client: Some("01a2-beef".into()),
            tab: 3,
            editor: true,
            privacy: true,
        };
        assert_eq!(Resume::decode(&r.encode()), r);
        assert_eq!(Resume::decode("'; rm -rf /|1|0").client, None);
        assert_eq!(Resume::decode("abc|0|0|999").tab, 0);
        assert_eq!(Resume::decode(""), Resume::default());
    }
}
