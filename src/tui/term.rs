//! The terminal itself: raw mode and the alternate screen with bracketed paste, put back on
//! every way out; wiping the screen and scrollback; and the handle to the running binary
//! that a lock re-executes, taken at start so a binary replaced on disk (a package update)
//! cannot stop a lock from wiping memory.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use crate::i18n::t;

/// The terminal as the app draws on it.
pub type Term = Terminal<CrosstermBackend<std::io::Stdout>>;

/// Enter the alternate screen, ask for bracketed pastes, hide the cursor.
const ENTER: &[u8] = b"\x1b[?1049h\x1b[?2004h\x1b[?25l";
/// The reverse, in reverse.
const LEAVE: &[u8] = b"\x1b[?25h\x1b[?2004l\x1b[?1049l";
/// Clear the screen and the scrollback (CSI 3 J).
const WIPE: &[u8] = b"\x1b[H\x1b[2J\x1b[3J";

/// A terminal error for the person in front of it, in their language.
pub fn failed(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{}", t!("tui.terminal_failed", error = e))
}

/// Raw mode, the alternate screen and bracketed paste; the terminal to draw on.
pub fn enter() -> anyhow::Result<Term> {
    ratatui::crossterm::terminal::enable_raw_mode().map_err(failed)?;
    let mut out = std::io::stdout();
    out.write_all(ENTER)
        .and_then(|()| out.flush())
        .map_err(failed)?;
    Terminal::new(CrosstermBackend::new(std::io::stdout())).map_err(failed)
}

/// Clears the screen and the scrollback, so nothing shown before a lock or an exit can be
/// scrolled back to.
pub fn wipe() {
    let mut out = std::io::stdout();
    let _ = out.write_all(WIPE);
    let _ = out.flush();
}

/// Leaves the alternate screen and raw mode, wiping on both screens. Never fails: on the
/// way out there is nobody left to tell.
pub fn leave() {
    wipe();
    let mut out = std::io::stdout();
    let _ = out.write_all(LEAVE);
    let _ = out.flush();
    let _ = ratatui::crossterm::terminal::disable_raw_mode();
    wipe();
}

/// A handle to the binary that is running, opened at start.
pub struct SelfExe {
    file: File,
}

impl SelfExe {
    /// Opens `/proc/self/exe`: the running binary's file, even when it has been replaced or
    /// deleted on disk since. Where there is no /proc (macOS), the binary's path.
    pub fn open() -> std::io::Result<SelfExe> {
        // Close-on-exec: the re-executed process opens its own.
        File::open("/proc/self/exe")
            .or_else(|_| File::open(std::env::current_exe()?))
            .map(|file| SelfExe { file })
    }

    /// Replaces this process with a new run of the same binary, with `args` (argv[0]
    /// first) and `env`. Only returns on failure.
    pub fn exec(&self, args: &[OsString], env: &[(OsString, OsString)]) -> std::io::Error {
        let cstr = |b: &[u8]| CString::new(b).map_err(|_| std::io::ErrorKind::InvalidInput);
        let argv: Result<Vec<CString>, _> = args.iter().map(|a| cstr(a.as_bytes())).collect();
        let envp: Result<Vec<CString>, _> = env
            .iter()
            .map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                cstr(&kv)
            })
            .collect();
        let (argv, envp) = match (argv, envp) {
            (Ok(a), Ok(e)) => (a, e),
            _ => return std::io::ErrorKind::InvalidInput.into(),
        };
        let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        argv_p.push(std::ptr::null());
        let mut envp_p: Vec<*const libc::c_char> = envp.iter().map(|e| e.as_ptr()).collect();
        envp_p.push(std::ptr::null());
        #[cfg(target_os = "linux")]
        // SAFETY: argv and envp are NUL-terminated arrays of NUL-terminated strings that
        // live until the call returns; the descriptor is open. execveat with an empty path
        // and AT_EMPTY_PATH runs the file the descriptor refers to, whatever its name now.
        unsafe {
            libc::syscall(
                libc::SYS_execveat,
                self.file.as_raw_fd(),
                c"".as_ptr(),
                argv_p.as_ptr(),
                envp_p.as_ptr(),
                libc::AT_EMPTY_PATH,
            );
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::ENOSYS) {
                return err;
            }
            libc::fexecve(self.file.as_raw_fd(), argv_p.as_ptr(), envp_p.as_ptr());
        }
        #[cfg(not(target_os = "linux"))]
        {
            // No exec from a descriptor here: by path, which a replaced binary can defeat.
            let _ = self.file.as_raw_fd();
            if let Ok(path) = std::env::current_exe()
                .and_then(|p| cstr(p.as_os_str().as_bytes()).map_err(Into::into))
            {
                // SAFETY: as above, with a NUL-terminated path.
                unsafe {
                    libc::execve(path.as_ptr(), argv_p.as_ptr(), envp_p.as_ptr());
                }
            }
        }
        std::io::Error::last_os_error()
    }
}
