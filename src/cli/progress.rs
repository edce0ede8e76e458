//! A spinner for work that takes a moment (deriving a key, erasing, syncing), on a terminal
//! only: scripts and pipes see nothing.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Clears itself when dropped.
pub struct Busy(ProgressBar);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

impl Busy {
    /// Shows how far a counted job is (`done` of the length set with `counted`).
    pub fn set(&self, done: u64, message: &str) {
        self.0.set_position(done);
        self.0.set_message(message.to_owned());
    }

    /// Prints a line to stdout without the bar drawn through it.
    pub fn println(&self, line: &str) {
        self.0.suspend(|| println!("{line}"));
    }

    /// Prints a line to stderr without the bar drawn through it.
    pub fn eprintln(&self, line: &str) {
        self.0.suspend(|| eprintln!("{line}"));
    }
}

fn target() -> ProgressDrawTarget {
    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// A spinner with a message, ticking on its own.
pub fn spinner(message: &str) -> Busy {
    let bar = ProgressBar::with_draw_target(None, target());
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    Busy(bar)
}

/// A bar for `len` steps.
pub fn counted(len: u64, message: &str) -> Busy {
    let bar = ProgressBar::with_draw_target(Some(len), target());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(message.to_owned());
    Busy(bar)
}
