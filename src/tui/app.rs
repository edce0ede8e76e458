//! The terminal app's state: which screen, the unlocked session (or none), the idle timer.
//! Keys become actions here; drawing only reads this state (see `views`).

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::views::{
    caseload::Caseload, client_form::ClientForm, conflicts::Conflicts, dossier::Dossier,
    editor::NoteEditor, first_run::FirstRun, unlock::Unlock,
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
}

impl Options {
    /// The current local time, or the fixed one.
    pub fn now(&self) -> chrono::NaiveDateTime {
        self.clock
            .unwrap_or_else(|| chrono::Local::now().naive_local())
    }
}

/// The screens.
pub enum Screen {
    /// No vault yet: explain and create one.
    FirstRun(FirstRun),
    /// Locked.
    Unlock(Unlock),
    /// The open clients.
    Caseload(Caseload),
    /// One client's file (boxed: by far the largest screen).
    Dossier(Box<Dossier>),
    /// Writing a note.
    Editor(Box<NoteEditor>),
    /// Adding or editing a client.
    ClientForm(ClientForm),
    /// Fields two colleagues changed at once.
    Conflicts(Conflicts),
    /// Today: visits and what is due.
    Agenda(crate::tui::views::agenda::Agenda),
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
    /// Whether the note editor was open (its text is in the vault's draft table).
    pub editor: bool,
    /// Privacy mode.
    pub privacy: bool,
}

impl Resume {
    /// Encodes for the environment of the re-executed process.
    pub fn encode(&self) -> String {
        format!(
            "{}|{}|{}",
            self.client.as_deref().unwrap_or(""),
            u8::from(self.editor),
            u8::from(self.privacy)
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
    /// Privacy mode: names, BSN, addresses and note bodies masked.
    pub privacy: bool,
    /// Last user input (monotonic and wall clock, to notice a suspended laptop).
    last_input: Instant,
    last_input_wall: SystemTime,
    /// Where to return after unlocking.
    pub resume: Resume,
    /// A message for the status bar.
    pub message: Option<String>,
    /// The caseload while a dossier is open, to go back to without reloading.
    pub parked: Option<Box<Caseload>>,
    /// Data changed since the caseload was parked.
    pub changed: bool,
}

impl App {
    /// A new app on the unlock (or first-run) screen.
    pub fn new(opts: Options, held_lock: Option<VaultLock>, resume: Resume) -> App {
        let screen = if opts.path.exists() {
            Screen::Unlock(Unlock::default())
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
        if self.unlocked() {
            match key.code {
                KeyCode::Char('l') if ctrl => return Outcome::Lock,
                KeyCode::F(2) => {
                    self.privacy = !self.privacy;
                    return Outcome::None;
                }
                KeyCode::F(1) => {
                    self.help = true;
                    return Outcome::None;
                }
                KeyCode::Char('?') if !self.typing() => {
                    self.help = true;
                    return Outcome::None;
                }
                _ => {}
            }
        } else if key.code == KeyCode::F(1) || (key.code == KeyCode::Char('?') && !self.typing()) {
            self.help = true;
            return Outcome::None;
        }
        self.message = None;
        let screen = std::mem::replace(&mut self.screen, Screen::Unlock(Unlock::default()));
        let (screen, outcome) = match screen {
            Screen::FirstRun(s) => s.handle(key, self),
            Screen::Unlock(s) => s.handle(key, self),
            Screen::Caseload(s) => s.handle(key, self),
            Screen::Dossier(s) => s.handle(key, self),
            Screen::Editor(s) => s.handle(key, self),
            Screen::ClientForm(s) => s.handle(key, self),
            Screen::Conflicts(s) => s.handle(key, self),
            Screen::Agenda(s) => s.handle(key, self),
        };
        self.screen = screen;
        outcome
    }

    /// Whether keys go into a text field (so `?` is a character, not help).
    fn typing(&self) -> bool {
        match &self.screen {
            Screen::Unlock(_) | Screen::FirstRun(_) | Screen::Editor(_) | Screen::ClientForm(_) => {
                true
            }
            Screen::Caseload(c) => c.searching(),
            Screen::Dossier(_) | Screen::Conflicts(_) | Screen::Agenda(_) => false,
        }
    }

    /// Work for a pause in typing (the search as you type).
    pub fn idle(&mut self) {
        let screen = std::mem::replace(&mut self.screen, Screen::Unlock(Unlock::default()));
        self.screen = match screen {
            Screen::Caseload(mut c) => {
                c.idle(self);
                Screen::Caseload(c)
            }
            other => other,
        };
    }

    /// Whether `idle` has work waiting (the runner then waits less for a key).
    pub fn wants_idle(&self) -> bool {
        matches!(&self.screen, Screen::Caseload(c) if c.search_pending())
    }

    /// Runs the slow part of an action after the runner drew the "working" frame.
    pub fn finish_busy(&mut self) -> Outcome {
        let screen = std::mem::replace(&mut self.screen, Screen::Unlock(Unlock::default()));
        let (screen, outcome) = match screen {
            Screen::Unlock(s) => s.finish(self),
            Screen::FirstRun(s) => s.finish(self),
            other => (other, Outcome::None),
        };
        self.screen = screen;
        self.touch();
        outcome
    }

    /// After a successful unlock: back to where the user was.
    pub fn enter(&mut self, session: Session) -> Screen {
        // Configured like every session (the unlock goes into the access log with the first
        // thing shown).
        let mut session = session;
        session.apply(&crate::session::Setup {
            via: "tui",
            clock: self.opts.clock,
            ..self.opts.setup.clone()
        });
        self.session = Some(session);
        let resume = std::mem::take(&mut self.resume);
        let draft = match self.session.as_mut().map(Session::draft).transpose() {
            Ok(d) => d.flatten(),
            Err(e) => {
                self.message = Some(e.to_string());
                None
            }
        };
        if let Some(draft) = draft {
            self.message = Some(t!("tui.draft_restored").into_owned());
            return Screen::Editor(Box::new(NoteEditor::from_draft(draft)));
        }
        if let Some(id) = resume.client
            && let Some(d) = Dossier::open(self, &id)
        {
            return Screen::Dossier(d);
        }
        // A field day starts on today: who, where, what is due.
        let today = crate::tui::views::agenda::Agenda::today(self);
        if !today.is_empty() {
            return Screen::Agenda(today);
        }
        Screen::Caseload(Caseload::new(self))
    }

    /// Locks: keeps unsaved editor text in the vault's draft table, folds the journal into
    /// the vault, drops every decrypted byte this process holds in Rust, and shows the
    /// unlock screen. Returns where to come back to.
    pub fn lock(&mut self) -> crate::Result<Resume> {
        let mut resume = Resume {
            privacy: self.privacy,
            ..Resume::default()
        };
        let screen = std::mem::replace(&mut self.screen, Screen::Unlock(Unlock::default()));
        match &screen {
            Screen::Dossier(d) => resume.client = Some(d.client_id().to_owned()),
            Screen::Editor(e) => {
                resume.client = Some(e.client_id().to_owned());
                resume.editor = true;
                if let Some(session) = self.session.as_mut() {
                    e.save_draft(session)?;
                }
            }
            _ => {}
        }
        drop(screen);
        self.parked = None;
        self.help = false;
        if let Some(session) = self.session.take() {
            self.held_lock = Some(session.close_keep_lock()?);
        }
        self.resume = resume.clone();
        Ok(resume)
    }

    /// Saves and ends: compacts the journal into the vault.
    pub fn quit(&mut self) -> crate::Result<()> {
        let screen = std::mem::replace(&mut self.screen, Screen::Unlock(Unlock::default()));
        if let (Screen::Editor(e), Some(session)) = (&screen, self.session.as_mut()) {
            e.save_draft(session)?;
        }
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
            editor: true,
            privacy: true,
        };
        assert_eq!(Resume::decode(&r.encode()), r);
        assert_eq!(Resume::decode("'; rm -rf /|1|0").client, None);
        assert_eq!(Resume::decode(""), Resume::default());
    }
}
