//! Issue 20, hardening second round: hostile text, hostile files, honest recovery claims.
//! Each test is named after what it regresses. Special files and links are watched by a
//! generous watchdog: a hang shows as a failure, not as a stuck test run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use kluis::secret::SecretString;
use kluis::session::{Access, Session};
use kluis::vault::{self, KdfParams};
use predicates::prelude::*;

use crate::{PASS, TestVault, dir_contents, dir_snapshot, require, stderr, stdout, with_suffix};

/// The issue's note: OSC 52 writes the reader's clipboard, BEL, then CSI 2J clears the screen.
const OSC52: &str = "x\u{1b}]52;c;SGVsbG8=\u{7}\u{1b}[2J";

const WEAK: KdfParams = KdfParams {
    memory_kib: 8 * 1024,
    iterations: 1,
    parallelism: 1,
};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Runs a command with a watchdog: a process that blocks (on a FIFO, say) is killed after
/// ten seconds and the test fails, instead of hanging the suite.
fn watched(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("blocked for 10 s: {:?}: {}", cmd, stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

fn recovery_recipient() -> String {
    let out = Command::new(require("age-keygen"))
        .arg("-y")
        .arg(data_dir().join("recovery.key"))
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A vault that is also encrypted to tests/data/recovery.key, so stock `age` can open it.
fn recoverable() -> TestVault {
    let v = TestVault::empty();
    v.init(&["--recovery-recipient", &recovery_recipient()])
        .success();
    v
}

/// What someone with IT's recovery key and stock tools can make: the vault's image taken
/// out with `age -d`, changed with `sqlite3` running `sql`, and sealed again in the vault
/// format under the test passphrase (`vault::seal`, what a kluis before issue 20 did for
/// `org recover`). Returns the new vault's bytes.
fn tampered_image(v: &TestVault, sql: &str) -> Vec<u8> {
    // The attacker works on the vault file: everything is folded into it first.
    v.compact();
    let image = v.dir.path().join("image.sqlite");
    let out = Command::new(require("age"))
        .arg("-d")
        .arg("-i")
        .arg(data_dir().join("recovery.key"))
        .arg("-o")
        .arg(&image)
        .arg(&v.path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Stock sqlite3 has no kluis tokenizer, so the triggers that index notes and names fail
    // in it: the attacker sets them aside around the change and puts them back as they were.
    let out = Command::new(require("sqlite3"))
        .arg("-json")
        .arg(&image)
        .arg("SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND (sql LIKE '%_fts%' OR sql LIKE '%note_impact%')")
        .output()
        .unwrap();
    assert!(out.status.success(), "sqlite3: {}", stderr(&out));
    let triggers: Vec<serde_json::Value> = if out.stdout.trim_ascii().is_empty() {
        Vec::new()
    } else {
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let mut script = String::from("BEGIN;\n");
    for t in &triggers {
        script += &format!("DROP TRIGGER {};\n", t["name"].as_str().unwrap());
    }
    script += sql;
    script += "\n";
    for t in &triggers {
        script += &format!("{};\n", t["sql"].as_str().unwrap());
    }
    script += "COMMIT;\n";
    let out = Command::new(require("sqlite3"))
        .arg(&image)
        .arg(&script)
        .output()
        .unwrap();
    assert!(out.status.success(), "sqlite3: {}", stderr(&out));
    let mut bytes = std::fs::read(&image).unwrap();
    // And indexes what it added with kluis's own code, so a search meets it too (an image
    // kluis refuses is left as it is).
    if let Ok(mut store) = kluis::store::Store::from_image(&bytes[..], bytes.len()) {
        kluis::internals::connection(&store)
            .execute_batch(
                "INSERT INTO note_fts (note_fts) VALUES ('rebuild');
                 INSERT INTO note_impact (note_impact) VALUES ('rebuild');
                 INSERT INTO client_fts (client_fts) VALUES ('rebuild');",
            )
            .unwrap();
        bytes = kluis::internals::image(&mut store).unwrap();
    }
    std::fs::remove_file(&image).unwrap();
    let sealed = vault::seal(&SecretString::from(PASS.to_owned()), WEAK, &bytes).unwrap();
    std::fs::write(&v.path, &sealed).unwrap();
    sealed
}

// 1. Text is data, never terminal control.

/// Regression (issue 20, 1): `note add ID --text $'x\e]52;c;SGVsbG8=\a\e[2J'` was kept and
/// `note list` printed it raw. Every text field of every kind now refuses C0/C1 controls
/// other than newline and tab (exit 2, naming the field), and nothing changes on disk.
#[test]
fn control_characters_are_refused_in_every_text_field() {
    let v = TestVault::created();
    let c = v.add_client("Fatima el Amrani");
    let goal = stdout(
        v.cmd()
            .args([
                "plan",
                "goal",
                "add",
                &c,
                "--domain",
                "financiën",
                "--text",
                "Rust",
            ])
            .assert()
            .success()
            .get_output(),
    )
    .trim()
    .to_owned();
    let before = dir_snapshot(v.dir.path());
    let c1 = "a\u{9b}2J";
    let cases: Vec<Vec<&str>> = vec![
        vec!["note", "add", &c, "--text", OSC52],
        vec!["note", "add", &c, "--text", "over\rwrite"],
        vec!["client", "add", "--name", OSC52],
        vec!["client", "add", "--name", "B", "--address", c1],
        vec!["client", "edit", &c, "--phone", "06\u{7}"],
        vec!["client", "handover", &c, "--to", "w002", "--note", OSC52],
        vec!["household", "add", &c, "--name", c1, "--relation", "kind"],
        vec!["contact", "add", &c, "--name", "Dr.\u{1b}[2J"],
        vec!["contact", "add", &c, "--name", "Dr. J", "--org", c1],
        vec![
            "plan",
            "goal",
            "add",
            &c,
            "--domain",
            "financiën",
            "--text",
            OSC52,
        ],
        vec!["plan", "action", "add", &goal, "--text", OSC52],
        vec![
            "plan", "action", "add", &goal, "--text", "Bellen", "--owner", c1,
        ],
        vec!["plan", "goal", "evaluate", &goal, "--text", OSC52],
        vec![
            "assess",
            &c,
            "--domain",
            "huisvesting",
            "--score",
            "2",
            "--reason",
            OSC52,
        ],
        vec![
            "visit",
            "add",
            &c,
            "--at",
            "2026-12-01 10:00",
            "--purpose",
            c1,
        ],
        vec![
            "consent",
            "add",
            &c,
            "--org",
            OSC52,
            "--purpose",
            "zorg",
            "--scope",
            "all",
        ],
    ];
    for args in cases {
        let out = v.cmd().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("control characters"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(!stderr(&out).contains('\u{1b}'), "raw ESC in the message");
    }
    assert_eq!(
        dir_snapshot(v.dir.path()),
        before,
        "a refused edit changed files"
    );
    // Line breaks and tabs are text; so is a Windows line break.
    v.add_note(&c, "regel een\r\nregel\ttwee\n");
}

/// Text that got into a vault before kluis refused it (or through anything else) is
/// printed with its control characters made visible, on a terminal and through a pipe;
/// `--json` keeps it exact (JSON escapes it).
#[test]
fn vault_text_is_printed_with_control_characters_made_visible() {
    let v = recoverable();
    let c = v.add_client("Legacy Cliënt");
    v.add_note(&c, "gewone notitie over huur");
    tampered_image(
        &v,
        &format!(
            "INSERT INTO note (id, client_id, kind, occurred_at, body, author, created_at)
             SELECT '01a204d1-0000-7000-8000-00000000e5c0', client_id, kind, occurred_at,
                    'huur ' || char(27) || ']52;c;SGVsbG8=' || char(7) || char(27) || '[2J'
                    || char(155) || 'x', author, created_at FROM note LIMIT 1;
             UPDATE client SET address = 'Straat' || char(27) || '[31m 1' WHERE id = '{c}';"
        ),
    );
    for args in [
        vec!["note", "list", c.as_str()],
        vec!["search", "huur"],
        vec!["client", "show", c.as_str()],
    ] {
        let out = v.cmd().args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let text = stdout(&out);
        for raw in ['\u{1b}', '\u{7}', '\u{9b}'] {
            assert!(
                !text.contains(raw),
                "{args:?} printed {raw:?} raw: {text:?}"
            );
        }
        assert!(text.contains("\\e"), "{args:?}: {text}");
    }
    let out = v.cmd().args(["note", "list", &c]).output().unwrap();
    assert!(stdout(&out).contains("huur \\e]52;c;SGVsbG8=\\x07\\e[2J\\u{9b}x"));
    let notes = v.json(&["note", "list", &c, "--json"]);
    let bodies: Vec<&str> = notes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"].as_str().unwrap())
        .collect();
    assert!(
        bodies.contains(&"huur \u{1b}]52;c;SGVsbG8=\u{7}\u{1b}[2J\u{9b}x"),
        "{bodies:?}"
    );
}

// 2. Files are opened as what they must be.

/// Regression (issue 20, 2): `mkfifo vault.kluis.journal` (or the vault, `.prev`, the lock)
/// hung every command; a link to /dev/zero as the journal read until memory ran out. Each is
/// now refused with exit 4 at once, and nothing is created through a link.
#[test]
fn special_files_beside_the_vault_are_refused_without_blocking() {
    for (what, make) in [
        ("journal fifo", 0),
        ("journal -> /dev/zero", 1),
        ("vault fifo", 2),
        ("lock fifo", 3),
        ("lock -> missing", 4),
        ("prev fifo", 5),
    ] {
        let v = TestVault::created();
        v.add_client("A");
        let journal = with_suffix(&v.path, ".journal");
        let lock = with_suffix(&v.path, ".lock");
        let target = v.dir.path().join("nowhere-target");
        match make {
            0 => {
                std::fs::remove_file(&journal).unwrap();
                mkfifo(&journal);
            }
            1 => {
                std::fs::remove_file(&journal).unwrap();
                std::os::unix::fs::symlink("/dev/zero", &journal).unwrap();
            }
            2 => {
                std::fs::remove_file(&v.path).unwrap();
                mkfifo(&v.path);
            }
            3 => {
                std::fs::remove_file(&lock).unwrap();
                mkfifo(&lock);
            }
            4 => {
                std::fs::remove_file(&lock).unwrap();
                std::os::unix::fs::symlink(&target, &lock).unwrap();
            }
            _ => {
                let prev = v.prev();
                let _ = std::fs::remove_file(&prev);
                mkfifo(&prev);
            }
        }
        let before = dir_snapshot(v.dir.path());
        if make == 5 {
            // Only `check` reads the previous generation: it reports it, it does not hang.
            let mut cmd = v.std_cmd();
            cmd.arg("check");
            let out = watched(cmd);
            assert_eq!(out.status.code(), Some(4), "{what}: {}", stderr(&out));
            assert!(stdout(&out).contains("FIFO"), "{what}: {}", stdout(&out));
        } else {
            for args in [
                &["client", "list"][..],
                &["check"],
                &["client", "add", "--name", "B"],
            ] {
                let mut cmd = v.std_cmd();
                cmd.args(args);
                let out = watched(cmd);
                assert_eq!(
                    out.status.code(),
                    Some(4),
                    "{what} {args:?}: {}",
                    stderr(&out)
                );
                let err = stderr(&out);
                assert!(
                    err.contains("FIFO") || err.contains("symbolic link"),
                    "{what}: {err}"
                );
            }
        }
        assert_eq!(dir_snapshot(v.dir.path()), before, "{what}: files changed");
        assert!(
            !target.exists(),
            "{what}: a file was created through the link"
        );
    }
}

/// Paths the user names (a bundle to import, a file to attach, an enrollment, a roster, the
/// config) are followed if they are links, but a FIFO or a device
/// there is a usage error (exit 2) at once; in a shared folder `sync` skips one with a warning
/// (tests/it/share.rs).
#[test]
fn special_files_the_user_names_are_usage_errors_and_never_block() {
    // Enrolled, so that `roster import` gets as far as reading its file.
    let v = crate::vectors::bundle_recipient();
    let c = v.add_client("A");
    let fifo = v.dir.path().join("pipe");
    mkfifo(&fifo);
    let zero = v.dir.path().join("zero");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    for input in [&fifo, &zero] {
        let p = input.to_str().unwrap();
        for args in [
            vec!["import", p],
            vec!["attach", "add", &c, p],
            vec!["roster", "import", p],
        ] {
            let mut cmd = v.std_cmd();
            cmd.args(&args);
            let out = watched(cmd);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        }
        let mut cmd = v.std_cmd();
        cmd.env("KLUIS_CONFIG", input).args(["client", "list"]);
        let out = watched(cmd);
        assert_eq!(out.status.code(), Some(2), "config {p}: {}", stderr(&out));
        let other = TestVault::empty();
        let mut cmd = other.std_cmd();
        cmd.env("KLUIS_NEW_PASSPHRASE", PASS)
            .env("KLUIS_ENROLL_CODE", "AAAA")
            .args(["init", "--enroll", p]);
        let out = watched(cmd);
        assert_eq!(out.status.code(), Some(2), "enroll {p}: {}", stderr(&out));
        assert!(!other.path.exists());
    }
}

/// Decision (docs/vault-format.md): a vault path that is a symbolic link is followed once,
/// when the vault is opened; kluis saves, locks and journals beside the real file, so the
/// target is updated and the link stays a link. Regression (issue 20, 2): the link was
/// replaced by a regular file at the next save, leaving the target stale.
#[test]
fn a_symlinked_vault_updates_its_target_and_stays_a_link() {
    let real = TestVault::created();
    let c = real.add_client("Echt");
    let elsewhere = tempfile::tempdir().unwrap();
    let link = elsewhere.path().join("via-link.kluis");
    std::os::unix::fs::symlink(&real.path, &link).unwrap();
    let via = |args: &[&str]| {
        crate::kluis()
            .arg("--vault")
            .arg(&link)
            .env("KLUIS_PASSPHRASE", PASS)
            .args(args)
            .assert()
    };
    let before = std::fs::read(&real.path).unwrap();
    via(&["note", "add", &c, "--text", "via de link"]).success();
    via(&["compact"]).success();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_ne!(
        std::fs::read(&real.path).unwrap(),
        before,
        "target not updated"
    );
    // Nothing beside the link; everything beside the real file.
    let beside_link: Vec<_> = std::fs::read_dir(elsewhere.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside_link, ["via-link.kluis"]);
    for suffix in [".lock", ".journal", ".prev"] {
        assert!(with_suffix(&real.path, suffix).exists(), "{suffix}");
    }
    // Both paths see the same vault and the same lock.
    let notes = real.json(&["note", "list", &c, "--json"]);
    assert_eq!(notes[0]["body"], "via de link");
    via(&["check"]).success();
    // A dangling link is no vault (exit 1), and init refuses to write through it.
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(elsewhere.path().join("gone.kluis"), &link).unwrap();
    via(&["client", "list"]).code(1);
    crate::kluis()
        .arg("--vault")
        .arg(&link)
        .env("KLUIS_NEW_PASSPHRASE", PASS)
        .arg("init")
        .args(crate::WEAK_KDF)
        .assert()
        .code(1);
    assert!(!elsewhere.path().join("gone.kluis").exists());
}

// 3. Nothing expensive before authenticity.

/// Regression (issue 20, 3): a crafted enrollment file asking for Argon2id at the caps
/// (4 GiB, 32 passes, 16 lanes) was worked through before "wrong code". The MAC on its first
/// line is checked first, so it is refused without running the KDF: kluis runs here under
/// a 1 GiB address-space limit, which that KDF could never fit in.
#[test]
fn a_crafted_enrollment_is_refused_before_any_key_derivation() {
    let org = crate::org::Org::new("Gemeente Test");
    let v = TestVault::empty();
    let (file, code) = org.issue("w001", v.dir.path());
    let bytes = std::fs::read(&file).unwrap();
    let text = String::from_utf8_lossy(&bytes[..400]).into_owned();
    let line = text
        .lines()
        .find(|l| l.starts_with("-> kluis-argon2id "))
        .unwrap()
        .to_owned();
    let parts: Vec<&str> = line.split(' ').collect();
    let crafted_line = format!("-> kluis-argon2id {} 4194304 32 16", parts[2]);
    let at = bytes
        .windows(line.len())
        .position(|w| w == line.as_bytes())
        .unwrap();
    let crafted = [
        &bytes[..at],
        crafted_line.as_bytes(),
        &bytes[at + line.len()..],
    ]
    .concat();
    std::fs::write(&file, &crafted).unwrap();
    // With the right code (the attacker does not have it) and a wrong one: exit 3 both.
    for typed in [code.as_str(), "AAAA-BBBB-CCCC-DDDD-EEEE"] {
        let out = Command::new("sh")
            .arg("-c")
            .arg("ulimit -v 1048576; exec \"$@\"")
            .arg("sh")
            .arg(assert_cmd::cargo::cargo_bin("kluis"))
            .arg("--vault")
            .arg(&v.path)
            .args(["init", "--enroll"])
            .arg(&file)
            .args(crate::WEAK_KDF)
            .env("KLUIS_ENROLL_CODE", typed)
            .env("KLUIS_NEW_PASSPHRASE", PASS)
            .env("LANG", "C")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("wrong enrollment code"),
            "{}",
            stderr(&out)
        );
    }
    assert!(!v.path.exists());
    // An enrollment file from before the MAC (a bare age file) is refused, not worked through.
    let sealed_start = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
    std::fs::write(&file, &bytes[sealed_start..]).unwrap();
    crate::org::enroll(&v, &file, &code)
        .code(4)
        .stderr(predicate::str::contains("older kluis"));
}

// 4. Exit codes tell the truth about durability.

/// A 2 MiB tmpfs, mounted for one test and unmounted when dropped; None (with the reason
/// printed) where mounting is not allowed.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(SmallDisk { dir }),
            Ok(o) => {
                eprintln!(
                    "SKIPPED: cannot mount a 2 MiB tmpfs here (not root, or no CAP_SYS_ADMIN): {}",
                    stderr(&o)
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run mount: {e}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// A vault of about 1.2 MB on the small disk: an append fits, a second copy for a
/// compaction does not. Returns it and its client.
fn vault_on_small_disk(disk: &SmallDisk) -> (TestVault, String) {
    let v = TestVault::created();
    let c = v.add_client("Vol");
    for i in 0..2 {
        let text = format!("Notitie {i}: ") + &"Lange notitie over het huisbezoek. ".repeat(10_000);
        v.cmd()
            .args(["note", "add", &c])
            .write_stdin(text)
            .assert()
            .success();
    }
    let on_disk = TestVault {
        dir: tempfile::tempdir_in(disk.path()).unwrap(),
        path: PathBuf::new(),
    };
    let path = on_disk.dir.path().join("vault.kluis");
    v.compact();
    std::fs::copy(&v.path, &path).unwrap();
    let on_disk = TestVault {
        path,
        dir: on_disk.dir,
    };
    let size = std::fs::metadata(&on_disk.path).unwrap().len();
    assert!(
        (1_100_000..2_000_000).contains(&size),
        "vault of {size} bytes does not fit the test"
    );
    // Creates the lock file and the journal while there is room.
    on_disk.cmd().args(["client", "list"]).assert().success();
    (on_disk, c)
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect()
}

/// Regression (issue 20, 4): the journal append succeeded, the compaction at exit failed,
/// and `note add` printed the id and exited 1: the user retried and had the note twice.
/// A durable edit exits 0 with a warning; the compaction happens next time there is room.
#[test]
fn a_durable_edit_exits_0_when_only_the_compaction_fails() {
    let Some(disk) = SmallDisk::mount() else {
        return;
    };
    let (v, c) = vault_on_small_disk(&disk);
    // A command-line run folds its journal in at its end when the journal is a day old:
    // here, a session whose clock says so. The journal append fits, the compaction does not.
    let pass = kluis::secret::SecretString::from(PASS.to_owned());
    let setup = kluis::session::Setup {
        via: "cli",
        keep_journal: true,
        clock: Some(chrono::Local::now().naive_local() + chrono::Duration::days(2)),
        ..Default::default()
    };
    let mut s =
        kluis::session::Session::unlock(&v.path, &pass, kluis::session::Access::Write, &setup)
            .unwrap();
    let note = kluis::model::NewNote {
        client_id: c.clone(),
        kind: kluis::model::NoteKind::Overig,
        occurred_at: chrono::Local::now().naive_local(),
        body: "past nog".into(),
        supersedes: None,
        special: false,
    };
    let id = s.change(|st| st.add_note(&note)).unwrap();
    assert_eq!(id.len(), 36);
    // The session ends well (the command exits 0), with a warning that says what happened.
    s.close().unwrap();
    let warnings = kluis::session::take_warnings().join("\n");
    assert!(warnings.contains("No space left on device"), "{warnings}");
    assert!(temp_files(v.dir.path()).is_empty());
    // The note is there (replayed from the journal), once.
    let notes = v.json(&["note", "list", &c, "--json"]);
    assert_eq!(notes.as_array().unwrap().len(), 3);
    // Its record (and the access log's entries of these reads) wait in the journal.
    let check = v.json(&["check", "--json"]);
    assert_eq!(check["ok"], true);
    assert!(check["journal_records"].as_u64().unwrap() >= 1, "{check}");
    // With room again, the next compaction folds it in.
    let grown = Command::new("mount")
        .args(["-o", "remount,size=8m"])
        .arg(disk.path())
        .status()
        .unwrap();
    assert!(grown.success());
    v.cmd().args(["compact"]).assert().success();
    assert_eq!(v.json(&["check", "--json"])["journal_records"], 0);
    assert_eq!(
        v.json(&["note", "list", &c, "--json"])
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

/// Regression (issue 20, 4): when the append itself failed, the message said "the change is
/// made ... keep kluis open" to a command that had already exited. A change that is not
/// durable exits 1, prints no id, says it was not saved, and is not saved later behind the
/// user's back: a retry adds it once.
#[test]
fn an_edit_that_is_not_durable_exits_1_and_says_it_was_not_saved() {
    let Some(disk) = SmallDisk::mount() else {
        return;
    };
    let (v, c) = vault_on_small_disk(&disk);
    let filler = disk.path().join("filler");
    let _ = Command::new("dd")
        .arg("if=/dev/zero")
        .arg(format!("of={}", filler.display()))
        .args(["bs=4096", "status=none"])
        .status();
    // A note that fits in the space the journal grew by (journal::GROWTH) needs no new
    // blocks: saved, full disk or not.
    v.add_note(&c, "past nog");
    let before = dir_contents(v.dir.path());
    // One longer than that space needs new blocks.
    let text = "past niet ".repeat(7_000);
    let out = v
        .cmd()
        .args(["note", "add", &c, "--text", &text])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "",
        "an id was printed for a note that was not saved"
    );
    let err = stderr(&out);
    assert!(err.contains("was not saved"), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!err.contains("keep kluis open"), "{err}");
    // The failed append was cut off again: the same files with the same contents.
    assert_eq!(dir_contents(v.dir.path()), before, "files changed");
    std::fs::remove_file(&filler).unwrap();
    let notes = v.json(&["note", "list", &c, "--json"]);
    assert_eq!(notes.as_array().unwrap().len(), 3, "saved after all");
    v.cmd().arg("check").assert().success();
    v.add_note(&c, "past weer");
    assert_eq!(
        v.json(&["note", "list", &c, "--json"])
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

// 5. Open only what kluis wrote.

/// Regression (issue 20, 5): a vault whose image carried an extra trigger (made with IT's
/// recovery key and stock tools) opened, kept the trigger, and `check` said healthy. Any
/// object kluis did not make, or a changed one, is refused with exit 4 naming it, by every
/// command, `check` included, and IT's `org recover` will not re-seal it either.
#[test]
fn an_image_with_an_object_kluis_did_not_make_is_refused_and_named() {
    for (sql, named) in [
        (
            "CREATE TRIGGER stiekem AFTER INSERT ON note BEGIN \
             INSERT INTO meta (key, value) VALUES ('leak', NEW.body); END;",
            "trigger 'stiekem'",
        ),
        (
            "CREATE VIEW kijkje AS SELECT * FROM client;",
            "view 'kijkje'",
        ),
        ("CREATE INDEX verstopt ON note (body);", "index 'verstopt'"),
        ("CREATE TABLE buit (x);", "table 'buit'"),
        (
            "DROP TRIGGER note_append_only_update;",
            "note_append_only_update",
        ),
    ] {
        let v = recoverable();
        v.add_client("A");
        let sealed = tampered_image(&v, sql);
        for args in [
            &["check"][..],
            &["client", "list"],
            &["client", "add", "--name", "B"],
        ] {
            let out = v.cmd().args(args).output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(4),
                "{sql} {args:?}: {}",
                stderr(&out)
            );
            assert!(stderr(&out).contains(named), "{sql}: {}", stderr(&out));
        }
        assert_eq!(
            std::fs::read(&v.path).unwrap(),
            sealed,
            "{sql}: vault changed"
        );
    }
}

/// The same image sealed the way an attacker with only the recovery key can (stock `age` to
/// IT's recipient) and handed to IT's `org recover`: refused, nothing re-sealed.
#[test]
fn org_recover_refuses_an_image_with_a_foreign_trigger() {
    let org = crate::org::Org::new("Gemeente Test");
    let v = TestVault::empty();
    let (file, code) = org.issue("w001", v.dir.path());
    crate::org::enroll(&v, &file, &code).success();
    v.add_client("A");
    let key = org.recovery_key_file(v.dir.path());
    let image = v.dir.path().join("image.sqlite");
    let out = Command::new(require("age"))
        .arg("-d")
        .arg("-i")
        .arg(&key)
        .arg("-o")
        .arg(&image)
        .arg(&v.path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = Command::new(require("sqlite3"))
        .arg(&image)
        .arg("CREATE TRIGGER stiekem AFTER INSERT ON note BEGIN DELETE FROM note; END;")
        .output()
        .unwrap();
    assert!(out.status.success());
    let recipient = std::fs::read_to_string(org.dir.join("recovery-recipient.txt")).unwrap();
    let out = Command::new(require("age"))
        .arg("-r")
        .arg(recipient.trim())
        .arg("-o")
        .arg(&v.path)
        .arg(&image)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let before = std::fs::read(&v.path).unwrap();
    crate::org::it()
        .arg("--vault")
        .arg(&v.path)
        .args(["org", "recover", "--dir"])
        .arg(&org.dir)
        .args(crate::WEAK_KDF)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("trigger 'stiekem'"));
    assert_eq!(std::fs::read(&v.path).unwrap(), before);
}

/// Regression (issue 20, 5): text that is not UTF-8 in the image exited 1 ("database
/// error"). It is tampering: exit 4, and `check` names the column.
#[test]
fn text_that_is_not_utf8_is_exit_4_and_check_names_the_column() {
    let v = recoverable();
    let c = v.add_client("A");
    tampered_image(
        &v,
        &format!("UPDATE client SET name = CAST(X'4aff4b' AS TEXT) WHERE id = '{c}';"),
    );
    let out = v.cmd().args(["client", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("UTF-8"), "{}", stderr(&out));
    let out = v.cmd().args(["check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("table client, column name"),
        "{}",
        stdout(&out)
    );
}

// 6. Recovery claims match behaviour.

/// README: a wrong passphrase or a damaged file never changes any file, except that it
/// creates the empty lock file when there is none. Regression (issue 20, 6): it deleted
/// stale `.vault.kluis.tmp-*` files.
#[test]
fn a_wrong_passphrase_changes_no_file_not_even_stale_temps() {
    let v = TestVault::created();
    let c = v.add_client("A");
    v.add_note(&c, "iets");
    let stale = v.dir.path().join(".vault.kluis.tmp-00112233aabbccdd");
    std::fs::write(&stale, b"half a save").unwrap();
    let before = dir_snapshot(v.dir.path());
    for args in [
        &["client", "list"][..],
        &["client", "add", "--name", "B"],
        &["check"],
    ] {
        v.cmd()
            .env("KLUIS_PASSPHRASE", "Verkeerd-Wachtwoord-Helemaal-99")
            .args(args)
            .assert()
            .code(3);
    }
    assert_eq!(dir_snapshot(v.dir.path()), before);
    // Without a lock file the only change is the new, empty lock file.
    let lock = with_suffix(&v.path, ".lock");
    std::fs::remove_file(&lock).unwrap();
    let before = dir_snapshot(v.dir.path());
    v.cmd()
        .env("KLUIS_PASSPHRASE", "Verkeerd-Wachtwoord-Helemaal-99")
        .args(["client", "list"])
        .assert()
        .code(3);
    let mut after = dir_snapshot(v.dir.path());
    let created = after
        .iter()
        .position(|(n, ..)| n == "vault.kluis.lock")
        .unwrap();
    let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert_eq!(after.remove(created).1, empty);
    assert_eq!(after, before);
}

/// Every file an error names exists, or the message says "if there is one" / "if you have
/// one". Regression (issue 20, 6): advice named `X.journal.prev` and `X.prev.prev`.
#[test]
fn advice_names_only_files_that_exist_or_says_if() {
    let v = TestVault::created();
    v.add_client("A");
    v.add_client("B");
    // A damaged journal.
    let journal = with_suffix(&v.path, ".journal");
    std::fs::write(&journal, b"geen journaal").unwrap();
    let err = stderr(&v.cmd().args(["client", "list"]).output().unwrap());
    assert!(!err.contains(".journal.prev"), "{err}");
    assert!(err.contains("if you have one"), "{err}");
    std::fs::remove_file(&journal).unwrap();
    // A damaged previous generation, seen by `check`.
    std::fs::write(v.prev(), b"geen kluis").unwrap();
    let out = v.cmd().args(["check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    let text = stdout(&out) + &stderr(&out);
    assert!(!text.contains(".prev.prev"), "{text}");
    // A damaged vault: its .prev, "if there is one".
    std::fs::write(&v.path, b"geen kluis").unwrap();
    let err = stderr(&v.cmd().args(["client", "list"]).output().unwrap());
    assert!(err.contains("vault.kluis.prev, if there is one"), "{err}");
}

// 7. The suspected races, closed.

fn open(path: &Path) -> Session {
    Session::open(path, &SecretString::from(PASS.to_owned()), Access::Write).unwrap()
}

fn add_client(s: &mut Session, name: &str) -> kluis::Result<String> {
    let new = kluis::model::NewClient {
        name: name.to_owned(),
        bsn: None,
        birth_date: None,
        address: None,
        phone: None,
        domain: kluis::model::Domain::Wmo,
        opened_on: chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
    };
    s.change(|st| st.add_client(&new))
}

/// Race 1: the lock file deleted while one kluis writes lets a second one in. The first
/// notices before its next write (exit 5, nothing written); the second's cleanup of stale
/// temp files never removes a temp file that is in use.
#[test]
fn a_deleted_lock_file_stops_the_first_writer_before_it_writes() {
    let v = TestVault::created();
    let mut first = open(&v.path);
    add_client(&mut first, "Eerste").unwrap();
    std::fs::remove_file(with_suffix(&v.path, ".lock")).unwrap();
    let mut second = open(&v.path);
    let err = add_client(&mut first, "Nog een").unwrap_err();
    assert!(matches!(err, kluis::Error::LockLost { .. }), "{err}");
    assert_eq!(err.exit_code(), 5);
    add_client(&mut second, "Tweede").unwrap();
    second.close().unwrap();
    drop(first);
    let names: Vec<String> = v
        .json(&["client", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Eerste", "Tweede"]);
    v.cmd().arg("check").assert().success();
}

/// Race 2: a journal replaced during a session. An append would have gone to the orphaned
/// file; it is refused instead (exit 5), before anything is written to it.
#[test]
fn a_journal_replaced_during_a_session_is_never_appended_to() {
    let v = TestVault::created();
    let mut s = open(&v.path);
    add_client(&mut s, "Eerste").unwrap();
    let journal = with_suffix(&v.path, ".journal");
    let copy = v.dir.path().join("copy");
    std::fs::copy(&journal, &copy).unwrap();
    std::fs::rename(&copy, &journal).unwrap();
    let orphan_len = std::fs::metadata(&journal).unwrap().len();
    let err = add_client(&mut s, "Tweede").unwrap_err();
    assert!(matches!(err, kluis::Error::ChangedOnDisk { .. }), "{err}");
    assert_eq!(err.exit_code(), 5);
    assert_eq!(std::fs::metadata(&journal).unwrap().len(), orphan_len);
}

/// Race 3: an overwrite of the vault in place that keeps its size and modification time
/// passed the "replaced on disk" check. The change time and the header's hash are compared
/// too: the session refuses to save over it (exit 5).
#[test]
fn an_in_place_overwrite_keeping_size_and_mtime_is_noticed() {
    use std::io::{Seek, SeekFrom, Write};
    let v = TestVault::created();
    let mut s = open(&v.path);
    add_client(&mut s, "Eerste").unwrap();
    let meta = std::fs::metadata(&v.path).unwrap();
    let mtime = meta.modified().unwrap();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&v.path)
        .unwrap();
    f.seek(SeekFrom::Start(meta.len() - 100)).unwrap();
    f.write_all(&[0x55; 10]).unwrap();
    f.set_times(std::fs::FileTimes::new().set_modified(mtime))
        .unwrap();
    drop(f);
    let now = std::fs::metadata(&v.path).unwrap();
    assert_eq!((now.len(), now.modified().unwrap()), (meta.len(), mtime));
    let err = add_client(&mut s, "Tweede").unwrap_err();
    assert!(matches!(err, kluis::Error::ChangedOnDisk { .. }), "{err}");
    let err = s.close().unwrap_err();
    assert_eq!(err.exit_code(), 5, "{err}");
}

// Test vectors.

/// Writes the vault vectors of images kluis did not make into tests/data (run by hand after
/// a deliberate change: `cargo test --test it -- --ignored make_foreign_image_vectors`).
/// Each is good_recovery.kluis's image changed with stock sqlite3 and sealed again under
/// passphrase.txt; `vectors::fail_vectors_are_refused_with_their_exit_code_and_left_untouched`
/// then checks them with the rest.
#[test]
#[ignore]
fn make_foreign_image_vectors() {
    for (name, sql) in [
        (
            "fail_4_foreign_trigger",
            "CREATE TRIGGER stiekem AFTER INSERT ON note BEGIN \
             INSERT INTO meta (key, value) VALUES ('leak', NEW.body); END;",
        ),
        (
            "fail_4_foreign_view",
            "CREATE VIEW kijkje AS SELECT * FROM client;",
        ),
        ("fail_4_foreign_table", "CREATE TABLE buit (x);"),
        (
            "fail_4_dropped_trigger",
            "DROP TRIGGER note_append_only_update;",
        ),
        // Read at every unlock before anything is written (a vault as new as the build).
        (
            "fail_4_not_utf8",
            "UPDATE meta SET value = CAST(X'ff' AS TEXT) WHERE key = 'journal_previous_id';",
        ),
    ] {
        let v = if name == "fail_4_not_utf8" {
            recoverable()
        } else {
            let v = TestVault::empty();
            std::fs::copy(data_dir().join("good_recovery.kluis"), &v.path).unwrap();
            v
        };
        let sealed = tampered_image(&v, sql);
        std::fs::write(data_dir().join(format!("{name}.kluis")), sealed).unwrap();
    }
}
