//! The caseworker's terminal app (`kluis` without a subcommand).
//!
//! Locking re-executes the binary: the whole address space is replaced, so no decrypted
//! byte (freed SQLite pages, Rust strings, crossterm's input buffer with typed keystrokes)
//! survives a lock. The vault's lock file descriptor is kept open across the exec, so no
//! other process can take the vault meanwhile. See docs/threat-model.md.

pub mod app;
pub mod views;

#[cfg(test)]
mod tests;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGTSTP};

use self::app::{App, Options, Outcome, Resume};
use crate::error::Error;
use crate::i18n::t;
use crate::vault::VaultLock;

/// Set in the environment of the re-executed process: where to come back to.
const ENV_RESUME: &str = "KLUIS_TUI_RESUME";
/// Set in the environment of the re-executed process: the inherited lock descriptor.
const ENV_LOCK_FD: &str = "KLUIS_TUI_LOCK_FD";

/// Clears the screen and the terminal's scrollback (CSI 3 J), so nothing shown before a
/// lock can be scrolled back to.
fn wipe_terminal() {
    let mut out = std::io::stdout();
    let _ = out.write_all(b"\x1b[H\x1b[2J\x1b[3J");
    let _ = out.flush();
}

/// Runs the app until the user quits or the terminal goes away.
pub fn run(opts: Options) -> anyhow::Result<()> {
    run_with(opts, None)
}

/// Runs the app on a session that is already open (`kluis demo`).
pub fn run_unlocked(opts: Options, session: crate::session::Session) -> anyhow::Result<()> {
    run_with(opts, Some(session))
}

fn run_with(opts: Options, session: Option<crate::session::Session>) -> anyhow::Result<()> {
    let inherited = std::env::var(ENV_LOCK_FD)
        .ok()
        .and_then(|fd| fd.parse().ok());
    let resume = std::env::var(ENV_RESUME)
        .map(|r| Resume::decode(&r))
        .unwrap_or_default();
    // SAFETY: no other thread exists yet.
    unsafe {
        std::env::remove_var(ENV_LOCK_FD);
        std::env::remove_var(ENV_RESUME);
    }
    let mut held = inherited.and_then(|fd| VaultLock::from_inherited_fd(&opts.path, fd));
    if held.is_none() && session.is_none() && opts.path.exists() {
        // Hold the vault from the first screen on: another kluis gets "in use" (exit 5).
        held = Some(VaultLock::acquire(&opts.path, true)?);
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return Err(Error::invalid("kluis", t!("tui.needs_terminal")).into());
    }
    let (tx, inbox) = mpsc::channel();
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT, SIGTSTP])?;
    let signal_tx = tx.clone();
    std::thread::spawn(move || {
        for sig in signals.forever() {
            if signal_tx.send(Msg::Signal(sig)).is_err() {
                break;
            }
        }
    });
    // Input is read on its own thread: if crossterm ever spins on a closed terminal (its
    // issue #793), the main loop still sees SIGHUP, saves and exits.
    std::thread::spawn(move || read_input(&tx));

    let mut app = App::new(opts, held, resume);
    if let Some(session) = session {
        app.screen = app.enter(session);
    }
    let mut terminal = ratatui::try_init()?;
    let result = event_loop(&mut app, &mut terminal, &inbox);
    // Save first: if the terminal is gone, restoring it may fail, and that must not cost data.
    let saved = app.quit();
    wipe_terminal();
    ratatui::restore();
    wipe_terminal();
    result?;
    Ok(saved?)
}

/// What the main loop hears about.
enum Msg {
    Key(KeyEvent),
    Signal(i32),
    /// The terminal hung up or could not be read.
    Gone,
}

/// Whether the terminal on stdin hung up (a closed window, a killed tmux session).
fn hung_up() -> bool {
    let mut fds = libc::pollfd {
        fd: 0,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one valid pollfd with a zero timeout.
    let n = unsafe { libc::poll(&mut fds, 1, 0) };
    n > 0 && fds.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
}

fn read_input(tx: &mpsc::Sender<Msg>) {
    loop {
        if hung_up() {
            let _ = tx.send(Msg::Gone);
            return;
        }
        let msg = match event::poll(Duration::from_millis(100)) {
            Ok(false) => continue,
            Ok(true) if hung_up() => Msg::Gone,
            Ok(true) => match event::read() {
                Ok(Event::Key(key)) if key.kind == KeyEventKind::Press => Msg::Key(key),
                Ok(_) => continue,
                Err(_) => Msg::Gone,
            },
            Err(_) => Msg::Gone,
        };
        let gone = matches!(msg, Msg::Gone);
        if tx.send(msg).is_err() || gone {
            return;
        }
    }
}

fn event_loop(
    app: &mut App,
    terminal: &mut ratatui::DefaultTerminal,
    inbox: &mpsc::Receiver<Msg>,
) -> anyhow::Result<()> {
    loop {
        terminal.draw(|f| views::draw(app, f, Instant::now()))?;
        // A pending search runs once typing pauses for a moment.
        let wait = if app.wants_idle() { 80 } else { 250 };
        let outcome = match inbox.recv_timeout(Duration::from_millis(wait)) {
            Ok(Msg::Signal(SIGTSTP)) => Outcome::Lock,
            Ok(Msg::Signal(_) | Msg::Gone) => Outcome::Quit,
            Ok(Msg::Key(key))
                if key.code == KeyCode::Char('c')
                    && key.modifiers.contains(KeyModifiers::CONTROL) =>
            {
                Outcome::Quit
            }
            Ok(Msg::Key(key)) => app.handle_key(key),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                app.idle();
                app.tick(Instant::now(), SystemTime::now())
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Outcome::Quit,
        };
        match outcome {
            Outcome::None => {}
            Outcome::Busy => {
                terminal.draw(|f| views::draw(app, f, Instant::now()))?;
                if app.finish_busy() == Outcome::Quit {
                    return Ok(());
                }
            }
            Outcome::Lock => lock(app, terminal)?,
            Outcome::Quit => return Ok(()),
        }
    }
}

fn lock(app: &mut App, terminal: &mut ratatui::DefaultTerminal) -> anyhow::Result<()> {
    let resume = app.lock()?;
    terminal.clear()?;
    wipe_terminal();
    ratatui::restore();
    wipe_terminal();
    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(std::env::args_os().skip(1))
        .env(ENV_RESUME, resume.encode());
    if let Some(lock) = app.held_lock.take() {
        cmd.env(ENV_LOCK_FD, lock.into_inheritable_fd().to_string());
    }
    // Only returns on failure. Then carry on in this process: the session is already closed
    // and the unlock screen shown, though freed memory may still hold plaintext.
    let err = cmd.exec();
    *terminal = ratatui::try_init()?;
    app.message = Some(format!("{}: {err}", t!("tui.reexec_failed")));
    Ok(())
}
