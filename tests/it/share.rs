//! Issue 17, robust reading: what `sync` does with what else is in a shared folder. A
//! half-written bundle is held and merged once whole; special files, links and unreadable
//! entries are skipped with a warning and never block (a watchdog turns a hang into a
//! failure); junk costs the vault nothing lasting; the report says per category what
//! happened, in both languages and in `--json`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::sync::{Team, sync};
use crate::{CANARY, PASS, TestVault, stderr, with_suffix};

/// Runs a command with a watchdog: one that blocks (on a FIFO, say) is killed after 60 s
/// and the test fails, instead of hanging the suite.
fn watched(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read while it runs: a report larger than a pipe's buffer must not look like a hang.
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            r.read_to_end(&mut buf).unwrap();
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            let err = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
            panic!("blocked for 60 s: {cmd:?}: {err}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn json(out: &Output) -> Value {
    crate::json(out)
}

/// `sync DIR --json` under the watchdog, with its exit code.
pub fn sync_watched(v: &TestVault, dir: &Path) -> (Option<i32>, Value, String) {
    let mut cmd = v.std_cmd();
    cmd.args(["sync", dir.to_str().unwrap(), "--json"]);
    let out = watched(cmd);
    (out.status.code(), json(&out), stderr(&out))
}

fn hex_name(seed: &[u8]) -> String {
    let h = Sha256::digest(seed);
    let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.kluisb")
}

fn client_there(v: &TestVault, id: &str) -> bool {
    v.cmd()
        .args(["client", "show", id, "--json"])
        .output()
        .unwrap()
        .status
        .success()
}

fn note_bodies(v: &TestVault, id: &str) -> Vec<String> {
    v.json(&["note", "list", id, "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"].as_str().unwrap().to_owned())
        .collect()
}

/// The vault's lasting footprint: the image and its journal.
fn footprint(v: &TestVault) -> u64 {
    [v.path.clone(), with_suffix(&v.path, ".journal")]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// A colleague's dossier, assigned to w002, sent into the share: the bundle written.
fn dossier_for_b(team: &Team, name: &str, note: &str) -> (String, PathBuf) {
    let a = team.v("w001");
    let id = a.add_client(name);
    a.add_note(&id, note);
    a.cmd()
        .args(["client", "assign", &id, "w002"])
        .assert()
        .success();
    // The share may hold junk (then exit 4): the bundle is written all the same.
    let out = a
        .cmd()
        .args(["sync", team.dir().to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 4)), "{}", stderr(&out));
    let out = json(&out);
    let written = out["exported"].as_array().unwrap();
    assert_eq!(written.len(), 1, "{out}");
    (id, PathBuf::from(written[0]["file"].as_str().unwrap()))
}

/// Regression (issue 17, 1): a bundle met half-written (a share without hard links, a sync
/// engine mid-transfer) was remembered as refused for good while its writer had recorded it
/// as sent, and the later sync exited 0: the colleague's edits were lost without a word. Now
/// it is held, said so, and merged at the first sync after it is whole.
#[test]
fn a_half_written_bundle_is_held_and_merged_once_whole() {
    let team = Team::new(&["w001", "w002"]);
    let (a, b) = (team.v("w001"), team.v("w002"));
    let note = format!("Huisbezoek gepland {CANARY}");
    let (id, file) = dossier_for_b(&team, "Half Geschreven", &note);
    let whole = std::fs::read(&file).unwrap();
    let header_end = whole.iter().position(|c| *c == b'\n').unwrap() + 20;
    for cut in [0, 7, header_end, whole.len() / 2, whole.len() - 1] {
        std::fs::write(&file, &whole[..cut]).unwrap();
        let out = b
            .cmd()
            .args(["sync", team.dir().to_str().unwrap()])
            .assert()
            .success();
        let err = stderr(out.get_output());
        assert!(err.contains("not whole yet"), "cut {cut}: {err}");
        assert!(
            err.contains("Held: 0 bundle(s) waiting for a newer roster, 1 file(s) not whole yet"),
            "cut {cut}: {err}"
        );
        let out = sync(b, team.dir());
        assert_eq!(out["held"][0]["result"]["outcome"], "incomplete", "{out}");
        assert_eq!(out["held"][0]["result"]["size"], cut);
        assert_eq!(out["summary"]["held"]["incomplete"], 1, "{out}");
        assert_eq!(out["summary"]["refused"]["now"], 0, "{out}");
        assert_eq!(out["imported"], serde_json::json!([]));
        assert!(!client_there(b, &id), "cut {cut}: merged from a half file");
    }
    // Past the header the report knows how large the whole file will be.
    std::fs::write(&file, &whole[..whole.len() / 2]).unwrap();
    let out = sync(b, team.dir());
    assert_eq!(out["held"][0]["result"]["expected"], whole.len(), "{out}");
    // In Dutch too.
    let out = b
        .cmd()
        .env("LANG", "nl_NL.UTF-8")
        .args(["sync", team.dir().to_str().unwrap()])
        .assert()
        .success();
    let err = stderr(out.get_output());
    assert!(err.contains("nog niet compleet"), "{err}");
    assert!(err.contains("Vastgehouden:"), "{err}");

    // The writer recorded it as sent when it was whole in its own folder: it sends nothing
    // again, and nothing is lost by that, since the reader reads the file again.
    let out = sync(a, team.dir());
    assert_eq!(out["exported"], serde_json::json!([]), "{out}");
    assert_eq!(out["held"], serde_json::json!([]), "its own file is known");

    // Longer than its header says: not something that completes by waiting. Refused, and
    // not remembered (the name may yet get its bytes).
    let mut longer = whole.clone();
    longer.extend_from_slice(b"rommel");
    std::fs::write(&file, &longer).unwrap();
    let out = b
        .cmd()
        .args(["sync", team.dir().to_str().unwrap(), "--json"])
        .assert()
        .code(4);
    let out = json(out.get_output());
    assert_eq!(out["summary"]["refused"]["now"], 1, "{out}");
    assert_eq!(out["held"], serde_json::json!([]), "{out}");

    std::fs::write(&file, &whole).unwrap();
    let out = sync(b, team.dir());
    assert_eq!(out["imported"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(out["held"], serde_json::json!([]), "{out}");
    assert_eq!(out["summary"]["merged"]["bundles"], 1, "{out}");
    assert_eq!(out["summary"]["merged"]["clients_new"], 1, "{out}");
    assert_eq!(out["summary"]["merged"]["notes_new"], 1, "{out}");
    assert_eq!(note_bodies(b, &id), [note]);
    // And from then on it is a known file.
    let out = sync(b, team.dir());
    assert_eq!(out["imported"], serde_json::json!([]), "{out}");
    assert!(out["known"].as_u64().unwrap() >= 1, "{out}");
}

/// Regression (issue 17, 3): one unreadable entry in the share aborted the whole sync
/// (exit 1), and special files where a bundle should be were refused (exit 4) and
/// remembered. Now each is skipped with a warning, never opened when the listing shows what
/// it is, never waited on, and the genuine bundle beside them merges; the exit code stays 0.
#[test]
fn special_and_unreadable_entries_are_skipped_with_a_warning_and_never_block() {
    let team = Team::new(&["w001", "w002"]);
    let b = team.v("w002");
    let (id, file) = dossier_for_b(&team, "Naast Rommel", "Gewone notitie");
    let dir = team.dir();
    std::os::unix::fs::symlink(dir.join("gone"), dir.join(hex_name(b"dangling"))).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join(hex_name(b"zero"))).unwrap();
    std::os::unix::fs::symlink(&file, dir.join(hex_name(b"link to a bundle"))).unwrap();
    std::fs::create_dir(dir.join(hex_name(b"a directory"))).unwrap();
    let fifo = dir.join(hex_name(b"fifo"));
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let roster_fifo = dir.join(format!("{}.kluisroster", "0".repeat(64)));
    assert!(
        Command::new("mkfifo")
            .arg(&roster_fifo)
            .status()
            .unwrap()
            .success()
    );
    let _socket = std::os::unix::net::UnixListener::bind(dir.join(hex_name(b"socket"))).unwrap();
    let mut special = 7;
    if kluis::fsx::our_uid() == 0 {
        // A character device (the same as /dev/null): never opened.
        let dev = dir.join(hex_name(b"device"));
        assert!(
            Command::new("mknod")
                .arg(&dev)
                .args(["c", "1", "3"])
                .status()
                .unwrap()
                .success()
        );
        special += 1;
    }
    let (code, out, err) = sync_watched(b, dir);
    assert_eq!(code, Some(0), "{out} {err}");
    let skipped = out["unreadable"].as_array().unwrap();
    assert_eq!(skipped.len(), special, "{out}");
    assert_eq!(out["summary"]["unreadable"], special);
    assert_eq!(out["refused"], serde_json::json!([]), "{out}");
    assert_eq!(out["imported"].as_array().unwrap().len(), 1, "{out}");
    assert!(client_there(b, &id));
    // For people: a warning each, and the summary line.
    let mut cmd = b.std_cmd();
    cmd.args(["sync", dir.to_str().unwrap()]);
    let out = watched(cmd);
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert_eq!(err.matches("Warning:").count(), special, "{err}");
    assert!(err.contains("named pipe") || err.contains("FIFO"), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert!(
        err.contains(&format!(
            "Skipped with a warning: {special} entr(y/ies) that are no readable file."
        )),
        "{err}"
    );
}

/// A file nobody may read (as root, the sync runs as `nobody` to meet one): skipped with a
/// warning, not an abort (it was exit 1), and read once it can be.
#[test]
fn an_unreadable_file_in_the_share_is_a_warning_not_an_abort() {
    let team = Team::new(&["w001", "w002"]);
    let b = team.v("w002");
    let (id, file) = dossier_for_b(&team, "Niet Leesbaar", "Notitie");
    use std::os::unix::fs::PermissionsExt;
    let closed = team.dir().join(hex_name(b"closed"));
    std::fs::write(&closed, b"kluis-bundle/v2\n").unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o000)).unwrap();
    // The genuine bundle is closed too at first: it must not be remembered as refused.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
    let root = kluis::fsx::our_uid() == 0;
    let run = |b: &TestVault| -> (Option<i32>, Value) {
        let mut cmd = b.std_cmd();
        cmd.args(["sync", team.dir().to_str().unwrap(), "--json"]);
        if root {
            // Root reads everything: run this sync as `nobody`, owning the vault for it.
            chown_all(b.dir.path(), 65534);
            std::fs::set_permissions(team.dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(cmd.get_program())
                .args(cmd.get_args())
                .env("KLUIS_PASSPHRASE", PASS)
                .env("XDG_CONFIG_HOME", b.dir.path().join("no-config"))
                .env("LANG", "C");
            let out = watched(c);
            chown_all(b.dir.path(), 0);
            assert!(!out.stdout.is_empty(), "{}", stderr(&out));
            (out.status.code(), json(&out))
        } else {
            let out = watched(cmd);
            (out.status.code(), json(&out))
        }
    };
    let (code, out) = run(b);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out["unreadable"].as_array().unwrap().len(), 2, "{out}");
    assert_eq!(out["summary"]["refused"]["now"], 0, "{out}");
    assert!(!client_there(b, &id));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, out) = run(b);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out["unreadable"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(out["imported"].as_array().unwrap().len(), 1, "{out}");
    assert!(client_there(b, &id));
}

fn chown_all(dir: &Path, uid: u32) {
    std::os::unix::fs::chown(dir, Some(uid), Some(uid)).unwrap();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if std::fs::symlink_metadata(&p).unwrap().is_dir() {
            chown_all(&p, uid);
        } else {
            std::os::unix::fs::lchown(&p, Some(uid), Some(uid)).unwrap();
        }
    }
}

/// Regression (issue 17, 3): 10,000 junk files named like bundles grew the vault by 1.9 MB
/// for good (every refusal was remembered). Files that are no bundle by their first line
/// are refused (exit 4) and never remembered: the vault's image and journal grow by no more
/// than a sync without them, and a genuine bundle still merges among them.
#[test]
fn ten_thousand_junk_files_cost_the_vault_nothing_lasting() {
    let team = Team::new(&["w001", "w002"]);
    let b = team.v("w002");
    // A sync with nothing new, for the baseline growth of a sync.
    let before = footprint(b);
    sync(b, team.dir());
    let baseline = footprint(b) - before;
    for i in 0..10_000u32 {
        let name = hex_name(&i.to_le_bytes());
        std::fs::write(team.dir().join(name), format!("rommel {i}")).unwrap();
    }
    let before = footprint(b);
    for _ in 0..2 {
        let (code, out, err) = sync_watched(b, team.dir());
        assert_eq!(code, Some(4), "{err}");
        assert_eq!(out["summary"]["refused"]["now"], 10_000);
        assert_eq!(out["summary"]["refused"]["before"], 0);
    }
    let grown = footprint(b) - before;
    eprintln!(
        "junk: a sync alone grew the vault by {baseline} bytes, two syncs among 10,000 junk files by {grown}"
    );
    assert!(
        grown <= 2 * baseline,
        "10,000 junk files grew the vault by {grown} bytes (a sync alone: {baseline})"
    );
    // For people: a few lines, not 10,000.
    let out = b
        .cmd()
        .args(["sync", team.dir().to_str().unwrap()])
        .assert()
        .code(4);
    let err = stderr(out.get_output());
    assert!(err.lines().count() < 40, "{} lines", err.lines().count());
    assert!(err.contains("… and 9980 more"), "{err}");
    assert!(
        err.contains("Refused: 10000 file(s) now, 0 at an earlier sync"),
        "{err}"
    );
    // A genuine bundle among them merges.
    let (id, _) = dossier_for_b(&team, "Tussen Rommel", "Echte notitie");
    let (code, out, _) = sync_watched(b, team.dir());
    assert_eq!(code, Some(4));
    assert_eq!(out["imported"].as_array().unwrap().len(), 1, "{out}");
    assert!(client_there(b, &id));
}

/// Files that look like bundles and are named after their bytes, but are refused, are
/// remembered (not read again under the same roster) up to `REFUSALS_KEPT`; past that they
/// are read again at every sync and cost no space.
#[test]
fn refusals_are_remembered_up_to_a_cap() {
    let team = Team::new(&["w001", "w002"]);
    let b = team.v("w002");
    let n = kluis::sync::REFUSALS_KEPT + 5;
    for i in 0..n {
        let bytes = format!("kluis-bundle/v2\n{{\"kapot\": {i}}}\nAAAA\n");
        let name = hex_name(bytes.as_bytes());
        // hex_name hashes its argument: the name is the hash of the bytes.
        std::fs::write(team.dir().join(name), bytes).unwrap();
    }
    let (code, out, _) = sync_watched(b, team.dir());
    assert_eq!(code, Some(4));
    assert_eq!(out["summary"]["refused"]["now"], n, "{}", out["summary"]);
    let after_first = footprint(b);
    let (code, out, _) = sync_watched(b, team.dir());
    assert_eq!(code, Some(4));
    assert_eq!(
        out["summary"]["refused"]["before"],
        kluis::sync::REFUSALS_KEPT,
        "{}",
        out["summary"]
    );
    assert_eq!(out["summary"]["refused"]["now"], 5, "{}", out["summary"]);
    // Past the cap nothing more is written, however often it syncs.
    let (_, _, _) = sync_watched(b, team.dir());
    assert!(footprint(b) <= after_first + 2048);
}

/// The roster files in a shared folder, sorted.
pub fn rosters(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kluisroster"))
        .collect();
    out.sort();
    out
}

/// A roster IT published is met half-written: held (exit 0, said so), not remembered, and
/// taken at the first sync after it is whole.
#[test]
fn a_half_written_roster_is_held_and_taken_once_whole() {
    let team = Team::new(&["w001", "w002", "w003"]);
    let b = team.v("w002");
    crate::org::it()
        .args(["org", "revoke", "--dir"])
        .arg(&team.org.dir)
        .args(["w003", "--reason", "andere functie"])
        .assert()
        .success();
    let before = rosters(team.dir());
    team.org.publish(team.dir());
    let file = rosters(team.dir())
        .into_iter()
        .find(|p| !before.contains(p))
        .unwrap();
    let whole = std::fs::read(&file).unwrap();
    std::fs::write(&file, &whole[..whole.len() / 2]).unwrap();
    let out = sync(b, team.dir());
    assert_eq!(out["roster"], Value::Null, "{out}");
    assert_eq!(out["held"][0]["result"]["outcome"], "incomplete", "{out}");
    assert_eq!(out["summary"]["refused"]["now"], 0, "{out}");
    std::fs::write(&file, &whole).unwrap();
    let out = sync(b, team.dir());
    assert!(out["roster"].is_u64(), "{out}");
    assert_eq!(out["held"], serde_json::json!([]), "{out}");
}

/// A file over the 256 MiB cap (sparse here: nothing is written) is refused from its size
/// alone, and since nothing about it is remembered, again at the next sync.
#[test]
fn a_file_over_the_cap_is_refused_from_its_size_and_not_remembered() {
    let team = Team::new(&["w001", "w002"]);
    let b = team.v("w002");
    let big = team.dir().join(hex_name(b"big"));
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(kluis::sync::MAX_BUNDLE_BYTES + 1).unwrap();
    for _ in 0..2 {
        let (code, out, _) = sync_watched(b, team.dir());
        assert_eq!(code, Some(4), "{out}");
        assert_eq!(out["summary"]["refused"]["now"], 1, "{out}");
        assert_eq!(out["summary"]["refused"]["before"], 0, "{out}");
    }
}
