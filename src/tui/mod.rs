//! The caseworker's terminal app (`kluis` without a subcommand).
//!
//! Locking re-executes the binary, from a handle to it taken at start: the whole address
//! space is replaced, so no decrypted byte (freed SQLite pages, Rust strings, typed keys)
//! survives a lock, even when the binary on disk was replaced meanwhile. If re-executing
//! fails, kluis exits (everything is saved) rather than show a lock screen over memory
//! that still holds plaintext. The vault's lock file descriptor is kept open across the
//! exec, so no other process can take the vault meanwhile. On every way out (lock, quit,
//! a signal, a panic) what the terminal still sends is read and dropped first, so nothing
//! typed or pasted reaches the shell. See docs/threat-model.md.

pub mod app;
mod draw;
mod input;
pub mod nav;
mod term;
pub mod views;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_forms;
#[cfg(test)]
mod tests_group;
#[cfg(test)]
mod tests_meldcode;
#[cfg(test)]
mod tests_nav;
#[cfg(test)]
mod tests_practice;
#[cfg(test)]
mod tests_privacy;
#[cfg(test)]
mod tests_snap;

use std::ffi::OsString;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use ratatui::crossterm::event::{KeyCode, KeyModifiers};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGTSTP, SIGWINCH};

use self::app::{App, Options, Outcome, Resume};
pub use self::draw::draw;
use self::input::{Event, Reader};
use self::term::{SelfExe, Term};
use crate::error::Error;
use crate::i18n::t;
use crate::vault::VaultLock;

/// Set in the environment of the re-executed process: where to come back to.
const ENV_RESUME: &str = "KLUIS_TUI_RESUME";
/// Set in the environment of the re-executed process: the inherited lock descriptor.
const ENV_LOCK_FD: &str = "KLUIS_TUI_LOCK_FD";
/// Set in the environment of a re-executed demo: its passphrase, shown on the lock screen
/// (the demo's data is fictitious).
const ENV_DEMO: &str = "KLUIS_TUI_DEMO_PASSPHRASE";

/// Whether this process is the app coming back after a lock (`kluis demo` then opens the
/// demo vault it made before, instead of making one).
pub fn resuming() -> bool {
    std::env::var_os(ENV_RESUME).is_some()
}

/// The demo passphrase a locked demo handed on, if any (read once).
pub fn demo_passphrase() -> Option<String> {
    let p = std::env::var(ENV_DEMO).ok();
    crate::harden::scrub_env(ENV_DEMO);
    p
}

/// Runs the app until the user quits or the terminal goes away.
pub fn run(opts: Options) -> anyhow::Result<()> {
    run_with(opts, None)
}

/// Runs the app on a session that is already open (`kluis demo`).
pub fn run_unlocked(opts: Options, session: crate::session::Session) -> anyhow::Result<()> {
    run_with(opts, Some(session))
}

/// What the main loop hears about.
enum Msg {
    Input(Event),
    Signal(i32),
}

impl From<Event> for Msg {
    fn from(e: Event) -> Msg {
        Msg::Input(e)
    }
}

fn run_with(opts: Options, session: Option<crate::session::Session>) -> anyhow::Result<()> {
    // Taken first: whatever happens to the file on disk later, a lock can re-execute this.
    let exe = SelfExe::open().ok();
    let inherited = std::env::var(ENV_LOCK_FD)
        .ok()
        .and_then(|fd| fd.parse().ok());
    let resumed = std::env::var(ENV_RESUME).ok();
    // SAFETY: no other thread exists yet.
    unsafe {
        std::env::remove_var(ENV_LOCK_FD);
        std::env::remove_var(ENV_RESUME);
    }
    let resume = resumed.as_deref().map(Resume::decode).unwrap_or_default();
    let mut held = inherited.and_then(|fd| VaultLock::from_inherited_fd(&opts.path, fd));
    if held.is_none() && session.is_none() && opts.path.exists() {
        // Hold the vault from the first screen on: another kluis gets "in use" (exit 5).
        held = Some(VaultLock::acquire(&opts.path, true)?);
    }
    let tty = |fd: i32| {
        // SAFETY: isatty on a descriptor number only reads.
        unsafe { libc::isatty(fd) == 1 }
    };
    if !tty(0) || !tty(1) {
        return Err(Error::invalid("kluis", t!("tui.needs_terminal")).into());
    }
    if resumed.is_some() {
        // What was typed or pasted before the lock, still arriving, is not the passphrase.
        input::drain_now();
    }
    let (tx, inbox) = mpsc::channel();
    let mut signals =
        signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT, SIGTSTP, SIGWINCH])
            .map_err(term::failed)?;
    let signal_tx = tx.clone();
    std::thread::spawn(move || {
        for sig in signals.forever() {
            if signal_tx.send(Msg::Signal(sig)).is_err() {
                break;
            }
        }
    });
    let reader = input::spawn(tx);

    let mut app = App::new(opts, held, resume);
    if let Some(session) = session {
        app.screen = app.enter(session);
    }
    let mut terminal = term::enter()?;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        event_loop(&mut app, &mut terminal, &inbox, &reader, exe.as_ref())
    }));
    // Save first: if the terminal is gone, restoring it may fail, and that must not cost data.
    let saved = app.quit();
    term::wipe();
    reader.drain();
    term::leave();
    match result {
        Ok(r) => r?,
        Err(panic) => std::panic::resume_unwind(panic),
    }
    Ok(saved?)
}

/// Handles one message; what the runner must do next.
fn handle(app: &mut App, msg: Result<Msg, mpsc::RecvTimeoutError>) -> Outcome {
    match msg {
        Ok(Msg::Signal(SIGTSTP)) => Outcome::Lock,
        Ok(Msg::Signal(SIGWINCH)) => Outcome::None,
        Ok(Msg::Signal(_) | Msg::Input(Event::Gone)) => Outcome::Quit,
        Ok(Msg::Input(Event::Key(key)))
            if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) =>
        {
            Outcome::Quit
        }
        Ok(Msg::Input(Event::Key(key))) => app.handle_key(key),
        Ok(Msg::Input(Event::Paste(text, cut))) => app.handle_paste(&text, cut),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            app.idle();
            app.tick(Instant::now(), SystemTime::now())
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Outcome::Quit,
    }
}

fn event_loop(
    app: &mut App,
    terminal: &mut Term,
    inbox: &mpsc::Receiver<Msg>,
    reader: &Reader,
    exe: Option<&SelfExe>,
) -> anyhow::Result<()> {
    loop {
        terminal
            .draw(|f| draw(app, f, Instant::now()))
            .map_err(term::failed)?;
        // A pending search runs once typing pauses for a moment.
        let wait = if app.wants_idle() { 80 } else { 250 };
        let mut outcome = handle(app, inbox.recv_timeout(Duration::from_millis(wait)));
        // Keys already waiting are handled before the next frame: a burst of them (a paste
        // from a terminal without bracketed paste) costs one frame, not one per key.
        let burst = Instant::now();
        while outcome == Outcome::None && burst.elapsed() < Duration::from_millis(30) {
            match inbox.try_recv() {
                Ok(msg) => outcome = handle(app, Ok(msg)),
                Err(_) => break,
            }
        }
        match outcome {
            Outcome::None => {}
            Outcome::Busy => {
                terminal
                    .draw(|f| draw(app, f, Instant::now()))
                    .map_err(term::failed)?;
                if app.finish_busy() == Outcome::Quit {
                    return Ok(());
                }
            }
            Outcome::Lock => return Err(lock(app, reader, exe)),
            Outcome::Quit => return Ok(()),
        }
    }
}

/// Locks by re-executing: saves and closes the session, wipes the screen, drains the
/// terminal, then replaces this process. Only returns when that failed: the caller exits.
fn lock(app: &mut App, reader: &Reader, exe: Option<&SelfExe>) -> anyhow::Error {
    let resume = match app.lock() {
        Ok(r) => r,
        Err(e) => return e.into(),
    };
    term::wipe();
    reader.drain();
    term::leave();
    let ours = [ENV_RESUME, ENV_LOCK_FD, ENV_DEMO];
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| !ours.iter().any(|o| k == o))
        .collect();
    env.push((ENV_RESUME.into(), resume.encode().into()));
    if let Some(lock) = app.held_lock.take() {
        env.push((
            ENV_LOCK_FD.into(),
            lock.into_inheritable_fd().to_string().into(),
        ));
    }
    if let Some(p) = &app.opts.demo {
        env.push((ENV_DEMO.into(), p.into()));
    }
    let args: Vec<OsString> = std::env::args_os().collect();
    let err = match exe {
        Some(exe) => exe.exec(&args, &env),
        None => std::io::Error::from(std::io::ErrorKind::NotFound),
    };
    // Never a lock screen over a process that may still hold plaintext: everything is
    // saved, so say why and exit.
    anyhow::anyhow!("{}", t!("tui.reexec_failed", error = err))
}
