//! The peer tools the tests drive (stock `age`, `sqlite3`, `strace`, `tmux`, `git`, `setsid`,
//! and `chromium` with poppler's `pdftotext`/`pdfinfo` to print the documents for residents),
//! checked once per test process before the first test uses kluis or a peer. On a fresh
//! machine `cargo test --locked` installs the missing ones with the system's package manager
//! when it may (root, or `sudo -n` without a password prompt; `KLUIS_TEST_INSTALL=0` forbids
//! it), and otherwise stops the whole run with one message that says what to install and how.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Each tool with the package that brings it, per package manager: apt-get (Debian, Ubuntu),
/// dnf (Fedora, RHEL), pacman (Arch).
const PEERS: [(&str, [&str; 3]); 10] = [
    ("age", ["age", "age", "age"]),
    ("age-keygen", ["age", "age", "age"]),
    ("sqlite3", ["sqlite3", "sqlite", "sqlite"]),
    ("strace", ["strace", "strace", "strace"]),
    ("tmux", ["tmux", "tmux", "tmux"]),
    ("git", ["git", "git", "git"]),
    ("setsid", ["util-linux", "util-linux", "util-linux"]),
    // The printable documents are checked by printing them (tests/it/documents.rs).
    ("chromium", ["chromium", "chromium", "chromium"]),
    ("pdftotext", ["poppler-utils", "poppler-utils", "poppler"]),
    ("pdfinfo", ["poppler-utils", "poppler-utils", "poppler"]),
];

const MANAGERS: [&str; 3] = ["apt-get", "dnf", "pacman"];

/// Makes sure every peer is on PATH, once per process; exits the process when one is missing
/// and cannot be installed.
pub fn ensure() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        if let Err(message) = check_and_install() {
            // Straight to the file descriptor: the test harness captures eprintln! of a test
            // and would drop it when the process exits.
            let mut err = std::io::stderr();
            let _ = writeln!(err, "\n{message}\n");
            let _ = err.flush();
            std::process::exit(1);
        }
    });
}

fn missing() -> Vec<&'static str> {
    PEERS
        .iter()
        .map(|(tool, _)| *tool)
        .filter(|t| crate::which(t).is_none())
        .collect()
}

/// The packages that bring `tools`, for manager number `m` of `MANAGERS`, each once.
fn packages(tools: &[&str], m: usize) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for (tool, pkgs) in PEERS {
        if tools.contains(&tool) && !out.contains(&pkgs[m]) {
            out.push(pkgs[m]);
        }
    }
    out
}

/// The commands that install `pkgs` with manager number `m` (without sudo).
fn install_commands(m: usize, pkgs: &[&str]) -> Vec<Vec<String>> {
    let own = |args: &[&str]| {
        args.iter()
            .map(|s| (*s).to_owned())
            .chain(pkgs.iter().map(|p| (*p).to_owned()))
            .collect::<Vec<_>>()
    };
    match MANAGERS[m] {
        "apt-get" => vec![
            vec!["apt-get".into(), "update".into(), "-qq".into()],
            own(&["apt-get", "install", "-y", "-qq"]),
        ],
        "dnf" => vec![own(&["dnf", "install", "-y"])],
        _ => vec![own(&["pacman", "-S", "--noconfirm", "--needed"])],
    }
}

fn check_and_install() -> Result<(), String> {
    let tools = missing();
    if tools.is_empty() {
        return Ok(());
    }
    let manager = MANAGERS
        .iter()
        .enumerate()
        .find_map(|(m, name)| crate::which(name).map(|path| (m, path)));
    let allowed = std::env::var("KLUIS_TEST_INSTALL").map_or(true, |v| v != "0");
    let why_not = match (&manager, allowed) {
        (None, _) => None,
        (Some(_), false) => Some("not tried, KLUIS_TEST_INSTALL=0 is set".to_owned()),
        (Some((m, path)), true) => match privilege() {
            Some(sudo) => {
                let pkgs = packages(&tools, *m);
                let _ = writeln!(
                    std::io::stderr(),
                    "kluis tests: installing {} with {} (tests/it/peers.rs)",
                    pkgs.join(" "),
                    MANAGERS[*m]
                );
                match install(path, sudo, &install_commands(*m, &pkgs)) {
                    Ok(()) if missing().is_empty() => return Ok(()),
                    Ok(()) => Some(format!(
                        "{} ran, but {} still cannot be found on PATH",
                        MANAGERS[*m],
                        missing().join(", ")
                    )),
                    Err(e) => Some(e),
                }
            }
            None => Some(
                "not tried, this is not root and `sudo -n` would ask for a password".to_owned(),
            ),
        },
    };
    Err(message(&tools, manager.map(|(m, _)| m), why_not.as_deref()))
}

/// `Some(false)` as root, `Some(true)` when sudo works without a prompt, else `None`.
fn privilege() -> Option<bool> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return Some(false);
    }
    let sudo_ok = crate::which("sudo").is_some_and(|sudo| {
        Command::new(sudo)
            .args(["-n", "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    sudo_ok.then_some(true)
}

fn install(manager: &Path, sudo: bool, commands: &[Vec<String>]) -> Result<(), String> {
    for args in commands {
        let mut c = if sudo {
            let mut c = Command::new("sudo");
            c.arg("-n").arg(manager);
            c
        } else {
            Command::new(manager)
        };
        // The installer's own output goes to the terminal (stdout would be captured).
        let status = c
            .args(&args[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .stdout(std::io::stderr())
            .status()
            .map_err(|e| format!("`{}` could not run: {e}", args.join(" ")))?;
        if !status.success() {
            return Err(format!("`{}` failed ({status}); see above", args.join(" ")));
        }
    }
    Ok(())
}

/// What to install and the command, for a person.
fn message(tools: &[&str], manager: Option<usize>, why_not: Option<&str>) -> String {
    let mut text = format!(
        "kluis tests: the integration tests drive these tools, which are not installed: {}.\n",
        tools.join(", ")
    );
    match manager {
        Some(m) => {
            text.push_str(&format!(
                "Install them, then run `cargo test --locked` again:\n\n    {}\n",
                by_hand(m, tools)
            ));
        }
        None => {
            let names: Vec<String> = (0..MANAGERS.len())
                .map(|m| format!("    {}", by_hand(m, tools)))
                .collect();
            text.push_str(&format!(
                "Install them with your system's package manager, then run `cargo test --locked` \
                 again; for example:\n\n{}\n",
                names.join("\n")
            ));
        }
    }
    if let Some(why) = why_not {
        text.push_str(&format!("\n(Installing them from the tests: {why}.)"));
    }
    text
}

/// The command a person types to install the packages that bring `tools`.
fn by_hand(m: usize, tools: &[&str]) -> String {
    let pkgs = packages(tools, m).join(" ");
    match MANAGERS[m] {
        "apt-get" => format!("sudo apt-get update && sudo apt-get install {pkgs}"),
        "dnf" => format!("sudo dnf install {pkgs}"),
        _ => format!("sudo pacman -S {pkgs}"),
    }
}

/// Runs this test binary again, with only the peers `keep` on PATH (plus what `setup` puts
/// in that folder), and only the probe test below.
fn run_probe(keep: &[&str], env: &[(&str, &str)], setup: impl Fn(&Path)) -> std::process::Output {
    ensure();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for tool in keep {
        let real: PathBuf = crate::which(tool).expect("the peers of this machine");
        std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
    }
    setup(&bin);
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "peers::probe",
        "--exact",
        "--ignored",
        "--test-threads",
        "1",
    ])
    .env("PATH", &bin)
    .env_remove("KLUIS_TEST_INSTALL");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// Not a test of its own: `run_probe` runs it in a child process with a PATH it controls.
#[test]
#[ignore = "run by the tests below in a child process"]
fn probe() {
    crate::kluis();
}

/// Every peer but `leave_out`.
fn all_but(leave_out: &[&str]) -> Vec<&'static str> {
    PEERS
        .iter()
        .map(|(t, _)| *t)
        .filter(|t| !leave_out.contains(t))
        .collect()
}

#[test]
fn missing_peers_stop_the_run_with_one_message_saying_what_to_install() {
    let keep = all_but(&["tmux", "strace"]);
    let out = run_probe(&keep, &[("KLUIS_TEST_INSTALL", "0")], |bin| {
        // A package manager the message can name (never run: installing is off).
        std::os::unix::fs::symlink("/bin/false", bin.join("apt-get")).unwrap();
    });
    let err = crate::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.matches("which are not installed").count(), 1, "{err}");
    assert!(err.contains("not installed: strace, tmux."), "{err}");
    assert!(
        err.contains("    sudo apt-get update && sudo apt-get install strace tmux\n"),
        "{err}"
    );
    assert!(
        err.contains("not tried, KLUIS_TEST_INSTALL=0 is set"),
        "{err}"
    );
    assert!(!crate::stdout(&out).contains("test result: ok"));

    // No package manager at all: the packages for each common one.
    let keep = all_but(&["sqlite3"]);
    let out = run_probe(&keep, &[], |_| {});
    let err = crate::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for line in [
        "sudo apt-get update && sudo apt-get install sqlite3\n",
        "sudo dnf install sqlite\n",
        "sudo pacman -S sqlite\n",
    ] {
        assert!(err.contains(line), "{line}: {err}");
    }
}

#[test]
fn missing_peers_are_installed_with_the_package_manager() {
    // A stand-in apt-get that records how it was called and "installs" tmux into the
    // child's PATH; the probe then passes. (Tests run as root; sudo is not exercised.)
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    let keep = all_but(&["tmux"]);
    let log = tempfile::NamedTempFile::new().unwrap();
    let out = run_probe(&keep, &[], |bin| {
        let script = bin.join("apt-get");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$DEBIAN_FRONTEND $*\" >> '{log}'\n\
                 case \"$1\" in install) printf '#!/bin/sh\\n' > '{bin}/tmux'; \
                 '{chmod}' 755 '{bin}/tmux';; esac\n",
                log = log.path().display(),
                bin = bin.display(),
                chmod = crate::which("chmod").unwrap().display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    });
    let err = crate::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        crate::stdout(&out).contains("1 passed"),
        "{}",
        crate::stdout(&out)
    );
    assert!(err.contains("installing tmux with apt-get"), "{err}");
    assert_eq!(
        std::fs::read_to_string(log.path()).unwrap(),
        "noninteractive update -qq\nnoninteractive install -y -qq tmux\n"
    );
}
