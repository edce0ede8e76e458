//! The terminal app end to end, through tmux: unlock, open a dossier, add a note, auto-lock;
//! then nothing of the dossier on the screen, in the scrollback or in the process's memory;
//! another kluis gets exit 5; SIGTERM leaves an intact vault and a restored terminal.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::{CANARY, PASS, TestVault, WEAK_KDF, contains, require};

mod input;
mod lock;
mod practice;
mod screens;

struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(cmd: &str) -> Tmux {
        Tmux::start_sized(cmd, 120, 35)
    }

    fn start_sized(cmd: &str, width: u16, height: u16) -> Tmux {
        let socket = format!("kluis-test-{}-{}", std::process::id(), rand_suffix());
        let status = Command::new(require("tmux"))
            .args([
                "-L",
                &socket,
                "new-session",
                "-d",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                cmd,
            ])
            .env("LANG", "en_US.UTF-8")
            .status()
            .unwrap();
        assert!(status.success());
        Tmux { socket }
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The visible screen and the whole scrollback.
    fn everything(&self) -> String {
        self.run(&["capture-pane", "-p", "-S", "-", "-E", "-"])
    }

    /// The visible screen.
    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p"])
    }

    /// Pastes `text` as a terminal does: bracketed (the app knows it is a paste) or as if
    /// typed very fast.
    fn paste(&self, text: &str, bracketed: bool) {
        let file =
            std::env::temp_dir().join(format!("kluis-paste-{}-{}", self.socket, rand_suffix()));
        std::fs::write(&file, text).unwrap();
        self.run(&["load-buffer", "-b", "p", &file.display().to_string()]);
        let _ = std::fs::remove_file(&file);
        let mut args = vec!["paste-buffer", "-d", "-b", "p", "-t", "0"];
        if bracketed {
            args.push("-p");
        }
        self.run(&args);
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.run(&["capture-pane", "-p"]);
            if screen.contains(text) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "never saw {text:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends Ctrl-Q and waits until kluis has written the vault and left, for a pane that
    /// runs kluis alone (it closes with it). A command run right after Ctrl-Q waits only a
    /// moment for the vault (exit 5 after that), while kluis still saves and drains the
    /// terminal.
    fn quit(&self) {
        self.keys(&["C-q"]);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self
            .run(&["list-panes", "-F", "#{pane_pid}"])
            .trim()
            .is_empty()
        {
            assert!(Instant::now() < deadline, "kluis never closed");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The pid of the process the pane's shell started.
    fn kluis_pid(&self) -> u32 {
        let shell: u32 = self
            .run(&["list-panes", "-F", "#{pane_pid}"])
            .trim()
            .parse()
            .unwrap();
        // tmux runs a simple command itself, a compound one through a shell.
        if std::fs::read_to_string(format!("/proc/{shell}/comm"))
            .unwrap_or_default()
            .trim()
            == "kluis"
        {
            return shell;
        }
        let children =
            std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap();
        children
            .split_whitespace()
            .next()
            .expect("kluis is running")
            .parse()
            .unwrap()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
}

/// Sends `sig` (e.g. "TERM") to a process.
fn signal(pid: u32, sig: &str) {
    let sent = Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{sig} {pid} failed");
}

/// Counts `needle` in every readable mapping of a process (tests run as root).
fn memory_hits(pid: u32, needle: &[u8]) -> usize {
    use std::io::{Read, Seek, SeekFrom};
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem =
        std::fs::File::open(format!("/proc/{pid}/mem")).expect("reading /proc/PID/mem needs root");
    let mut hits = 0;
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (range, perms) = (f.next().unwrap(), f.next().unwrap());
        if !perms.starts_with('r') {
            continue;
        }
        let (a, b) = range.split_once('-').unwrap();
        let (a, b) = (
            u64::from_str_radix(a, 16).unwrap(),
            u64::from_str_radix(b, 16).unwrap(),
        );
        let mut buf = vec![0u8; (b - a) as usize];
        if mem.seek(SeekFrom::Start(a)).is_err() || mem.read_exact(&mut buf).is_err() {
            continue;
        }
        hits += buf.windows(needle.len()).filter(|w| *w == needle).count();
    }
    hits
}

#[test]
fn unlock_work_auto_lock_leaves_nothing_and_sigterm_saves() {
    let v = TestVault::created();
    let id = v.add_client(&format!("Fatima {CANARY}"));
    v.add_note(&id, &format!("Huisbezoek {CANARY}"));
    let stty = v.dir.path().join("stty.txt");
    let cmd = format!(
        "{} --vault {} --lock-after 8s; stty -a > {}; sleep 120",
        assert_cmd::cargo::cargo_bin("kluis").display(),
        v.path.display(),
        stty.display()
    );
    let t = Tmux::start(&cmd);
    t.wait_for("kluis is locked");
    // Even on the lock screen the vault is held.
    v.cmd().args(["client", "list"]).assert().code(5);

    t.keys(&[PASS, "Enter"]);
    t.wait_for(CANARY);
    t.keys(&["Enter"]);
    t.wait_for("Contacts per month");
    t.keys(&["n"]);
    t.wait_for("New note");
    t.keys(&["-l", "Nieuw via de terminal"]);
    t.keys(&["C-s"]);
    t.wait_for("note saved");
    v.cmd().args(["client", "list"]).assert().code(5);

    // The scan finds the canary while the dossier is open (so its zero below means something).
    let pid = t.kluis_pid();
    assert!(
        memory_hits(pid, CANARY.as_bytes()) > 0,
        "the memory scan does not see the open dossier"
    );

    // Idle: the app locks itself and comes back on the lock screen.
    t.wait_for("kluis is locked");
    std::thread::sleep(Duration::from_millis(300));
    let shown = t.everything();
    assert!(
        !shown.contains(CANARY),
        "the canary survived on screen or in scrollback:\n{shown}"
    );
    assert_eq!(t.kluis_pid(), pid, "re-executed in place");
    assert_eq!(
        memory_hits(pid, CANARY.as_bytes()),
        0,
        "the canary survived in memory after the lock"
    );
    assert_eq!(
        memory_hits(pid, PASS.as_bytes()),
        0,
        "the passphrase survived in memory after the lock"
    );

    // Unlock again: back in the same dossier, with the new note.
    t.keys(&[PASS, "Enter"]);
    t.wait_for("Nieuw via de terminal");

    // SIGTSTP (a suspend request) locks too.
    signal(pid, "TSTP");
    t.wait_for("kluis is locked");
    assert_eq!(
        memory_hits(pid, CANARY.as_bytes()),
        0,
        "the canary survived a SIGTSTP lock"
    );
    t.keys(&[PASS, "Enter"]);
    t.wait_for("Nieuw via de terminal");

    // SIGTERM: saves, restores the terminal, exits.
    signal(pid, "TERM");
    let start = Instant::now();
    while !stty.exists() || std::fs::read_to_string(&stty).unwrap().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "kluis did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let modes = std::fs::read_to_string(&stty).unwrap();
    assert!(
        modes.contains(" icanon") && modes.contains(" echo "),
        "terminal left in raw mode: {modes}"
    );
    assert!(!t.everything().contains(CANARY));
    let out = v.cmd().args(["note", "list", &id]).assert().success();
    assert!(contains(&out.get_output().stdout, b"Nieuw via de terminal"));
    v.cmd().arg("check").assert().success();
    assert!(Path::new(&v.path).exists());
}

#[test]
fn a_terminal_that_goes_away_saves_and_exits_without_spinning() {
    let v = TestVault::created();
    v.add_client("Bestaand");
    let cmd = format!(
        "{} --vault {}",
        assert_cmd::cargo::cargo_bin("kluis").display(),
        v.path.display()
    );
    let t = Tmux::start(&cmd);
    t.wait_for("kluis is locked");
    t.keys(&[PASS, "Enter"]);
    t.wait_for("Bestaand");
    t.keys(&["n"]);
    t.wait_for("New client");
    t.keys(&["-l", "Toegevoegd voor het wegvallen"]);
    t.keys(&["C-s"]);
    t.wait_for("client saved");
    let pid = t.kluis_pid();
    // The whole tmux server goes: the pane's terminal is gone (SIGHUP).
    let _ = Command::new("tmux")
        .args(["-L", &t.socket, "kill-server"])
        .output();
    let start = Instant::now();
    while Path::new(&format!("/proc/{pid}")).exists() {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.split_whitespace().nth(2) == Some("Z") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "kluis kept running after its terminal went away"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        v.json(&["check", "--json"])["journal_records"],
        0,
        "not compacted before exiting"
    );
    let out = v.cmd().args(["client", "list"]).assert().success();
    assert!(contains(
        &out.get_output().stdout,
        b"Toegevoegd voor het wegvallen"
    ));
}

#[test]
fn demo_creates_a_fictitious_vault() {
    let v = TestVault::empty();
    v.cmd()
        .env("KLUIS_NEW_PASSPHRASE", PASS)
        .args([
            "demo",
            "--clients",
            "7",
            "--notes-per-client",
            "3",
            "--no-open",
        ])
        .args(WEAK_KDF)
        .assert()
        .success();
    let list = v.json(&["client", "list", "--json"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 7);
    assert!(
        list.iter()
            .all(|c| c["name"].as_str().unwrap().ends_with("(demo)")
                && c["bsn"].is_null()
                && c["note_count"] == 3)
    );
    // Never over an existing file.
    v.cmd()
        .env("KLUIS_NEW_PASSPHRASE", PASS)
        .args(["demo", "--no-open"])
        .assert()
        .code(1);
}

/// Lock and unlock again and again with a canary dossier on screen; after every lock the
/// process's memory holds neither the canary nor the passphrase. 15 cycles here;
/// `KLUIS_LOCK_CYCLES=1000 cargo test --test it lock_unlock_cycles` for the long run
/// (docs/security-testing.md has its figures).
#[test]
fn lock_unlock_cycles_leave_nothing_in_memory() {
    let cycles: usize = std::env::var("KLUIS_LOCK_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(15);
    let v = TestVault::created();
    let id = v.add_client(&format!("Fatima {CANARY}"));
    v.add_note(&id, &format!("Huisbezoek {CANARY}"));
    let cmd = format!(
        "{} --vault {} --lock-after 10m",
        assert_cmd::cargo::cargo_bin("kluis").display(),
        v.path.display(),
    );
    let t = Tmux::start(&cmd);
    t.wait_for("kluis is locked");
    t.keys(&[PASS, "Enter"]);
    t.wait_for(CANARY);
    t.keys(&["Enter"]);
    t.wait_for("Contacts per month");
    let pid = t.kluis_pid();
    let started = Instant::now();
    for cycle in 0..cycles {
        assert!(
            memory_hits(pid, CANARY.as_bytes()) > 0,
            "cycle {cycle}: scan sees nothing"
        );
        t.keys(&["C-l"]);
        t.wait_for("kluis is locked");
        assert_eq!(t.kluis_pid(), pid);
        assert_eq!(
            memory_hits(pid, CANARY.as_bytes()),
            0,
            "cycle {cycle}: canary after lock"
        );
        assert_eq!(
            memory_hits(pid, PASS.as_bytes()),
            0,
            "cycle {cycle}: passphrase after lock"
        );
        t.keys(&[PASS, "Enter"]);
        t.wait_for("Contacts per month");
    }
    eprintln!(
        "{cycles} lock/unlock cycles with memory scans in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(!t.everything().is_empty());
    signal(pid, "TERM");
}
