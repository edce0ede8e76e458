//! Integration tests: they drive the built `kluis` binary and the real peers (stock `age`,
//! `sqlite3`, `strace`, `tmux`, `git`, `setsid`, `chromium`, `pdftotext`, `pdfinfo`; `peers`
//! installs missing ones once per process). One test binary, one module per area (faster builds on 2 cores).

mod cctv;
mod cli;
mod concurrency;
mod crash;
mod depth;
mod documents;
mod door;
mod files;
mod firsthour;
mod forget;
mod golden;
mod hostile;
mod interop;
mod journal;
mod leaks;
mod meldcode;
mod migrations;
mod nudges;
mod org;
mod peers;
mod practice;
mod privacy;
mod records;
mod setup;
mod share;
mod simulation;
mod sync;
mod tamper;
mod trust;
mod tui;
mod vectors;

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// The test KDF: weak on purpose, set explicitly (defaults stay strong).
pub const WEAK_KDF: [&str; 6] = [
    "--kdf-memory",
    "8",
    "--kdf-iterations",
    "1",
    "--kdf-parallelism",
    "1",
];

/// The passphrase of every test vault.
pub const PASS: &str = "Zonnebloem-Kraanwater-47-Lantaarn";
/// A string that must never appear where plaintext may not be.
pub const CANARY: &str = "KANARIE-9d41c7e2";

/// A vault in a fresh temporary directory, made with a weak KDF (tests only).
pub struct TestVault {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl TestVault {
    /// An empty directory; `init` not yet run.
    pub fn empty() -> TestVault {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.kluis");
        TestVault { dir, path }
    }

    /// A vault created with `init` and the weak test KDF.
    pub fn created() -> TestVault {
        let v = TestVault::empty();
        v.init(&[]).success();
        v
    }

    /// `kluis` with this vault, English messages and the test passphrase in the environment.
    pub fn cmd(&self) -> Command {
        let mut c = kluis();
        c.arg("--vault")
            .arg(&self.path)
            .env("KLUIS_PASSPHRASE", PASS);
        c
    }

    /// The same as a plain `std::process::Command`, for spawning and killing.
    pub fn std_cmd(&self) -> std::process::Command {
        peers::ensure();
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("kluis"));
        c.arg("--vault")
            .arg(&self.path)
            .env("KLUIS_PASSPHRASE", PASS)
            .env("LANG", "C");
        c
    }

    /// Runs `init` with the weak KDF and `extra` flags.
    pub fn init(&self, extra: &[&str]) -> assert_cmd::assert::Assert {
        self.cmd()
            .env("KLUIS_NEW_PASSPHRASE", PASS)
            .arg("init")
            .args(WEAK_KDF)
            .args(extra)
            .assert()
    }

    /// Adds a client and returns its id.
    pub fn add_client(&self, name: &str) -> String {
        let out = self
            .cmd()
            .args(["client", "add", "--name", name])
            .assert()
            .success();
        stdout(out.get_output()).trim().to_owned()
    }

    /// Adds a note and returns its id.
    pub fn add_note(&self, client: &str, text: &str) -> String {
        let out = self
            .cmd()
            .args(["note", "add", client, "--text", text])
            .assert()
            .success();
        stdout(out.get_output()).trim().to_owned()
    }

    /// Runs a `--json` command that must succeed and returns its output parsed.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        json(self.cmd().args(args).assert().success().get_output())
    }

    /// The previous generation's path.
    pub fn prev(&self) -> PathBuf {
        with_suffix(&self.path, ".prev")
    }

    /// `kluis compact`: the journal folded into the vault file, which stock `age` and a
    /// copy of the file then hold (a command-line run leaves its edits in the journal).
    pub fn compact(&self) {
        self.cmd().arg("compact").assert().success();
    }
}

/// `kluis` with a clean environment: no KLUIS_* variables, English.
pub fn kluis() -> Command {
    peers::ensure();
    let mut c = Command::cargo_bin("kluis").unwrap();
    for var in [
        "KLUIS_VAULT",
        "KLUIS_PASSPHRASE",
        "KLUIS_NEW_PASSPHRASE",
        "KLUIS_CONFIG",
        "KLUIS_LANG",
        "KLUIS_LOCK_AFTER",
        "KLUIS_PRIVACY",
        "KLUIS_EXPORT_DIR",
        "LC_ALL",
        "LC_MESSAGES",
    ] {
        c.env_remove(var);
    }
    c.env("LANG", "en_US.UTF-8");
    // A developer's own ~/.config/kluis/config.toml must not change what tests see.
    c.env("XDG_CONFIG_HOME", "/nonexistent/kluis-tests-config");
    c
}

pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Parses a command's stdout as JSON, showing it when it is not.
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The path of a peer tool; `peers::ensure` installs missing ones or names them.
pub fn require(tool: &str) -> PathBuf {
    peers::ensure();
    which(tool).unwrap_or_else(|| {
        panic!("{tool} is not installed; .ci/run installs it (apt-get install {tool})")
    })
}

pub fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file())
}

/// True when `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Every file in `dir` (not recursing): name, SHA-256 of its contents and modification
/// time, sorted by name. Two equal snapshots mean no file was created, removed, written or
/// touched.
pub fn dir_snapshot(dir: &Path) -> Vec<(String, String, std::time::SystemTime)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            use sha2::Digest;
            let hash = sha2::Sha256::digest(std::fs::read(&p).unwrap());
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                hash.iter().map(|b| format!("{b:02x}")).collect(),
                std::fs::metadata(&p).unwrap().modified().unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// [`dir_snapshot`] without the times: the same files with the same contents.
pub fn dir_contents(dir: &Path) -> Vec<(String, String)> {
    dir_snapshot(dir)
        .into_iter()
        .map(|(name, hash, _)| (name, hash))
        .collect()
}
