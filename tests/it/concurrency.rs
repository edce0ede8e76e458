//! One writer at a time, and no silent overwrite of a file someone else replaced.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::{PASS, TestVault, stderr};

/// Starts `note add CLIENT` reading its text from a pipe we hold: it keeps the vault
/// unlocked and locked until we write and close.
pub fn holder(v: &TestVault, client: &str) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("kluis"))
        .arg("--vault")
        .arg(&v.path)
        .args(["note", "add", client])
        .env("KLUIS_PASSPHRASE", PASS)
        .env("LANG", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the holder has its exclusive flock (read from /proc/locks, which disturbs
/// nothing), then checks that a reader is refused with exit 5.
pub fn wait_until_busy(v: &TestVault, holder: &mut Child) {
    let start = Instant::now();
    let pid = holder.id().to_string();
    loop {
        if let Some(status) = holder.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(holder.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!("holder exited early with {status}: {err}");
        }
        let locks = std::fs::read_to_string("/proc/locks").unwrap();
        if locks.lines().any(|l| {
            l.contains("FLOCK")
                && l.contains("WRITE")
                && l.split_whitespace().nth(4) == Some(pid.as_str())
        }) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "holder never took the lock"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = v.cmd().args(["client", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("in use"), "{}", stderr(&out));
}

#[test]
fn a_second_process_gets_exit_5_and_the_first_finishes() {
    let v = TestVault::created();
    let id = v.add_client("A");
    let mut first = holder(&v, &id);
    wait_until_busy(&v, &mut first);
    v.cmd()
        .args(["client", "add", "--name", "B"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("in use"));
    first
        .stdin
        .take()
        .unwrap()
        .write_all(b"tekst van de eerste")
        .unwrap();
    let out = first.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Lock released: both readers and writers get in again.
    v.cmd()
        .args(["note", "list", &id])
        .assert()
        .success()
        .stdout(predicate::str::contains("tekst van de eerste"));
    v.add_client("B");
}

/// Four copies of one command started at once; their exit codes.
fn at_once(v: &TestVault, args: &'static [&'static str]) -> Vec<Option<i32>> {
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let path = v.path.clone();
            std::thread::spawn(move || {
                let mut c = crate::kluis();
                c.arg("--vault")
                    .arg(&path)
                    .env("KLUIS_PASSPHRASE", PASS)
                    .args(args);
                c.output().unwrap().status.code()
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn readers_share_the_vault() {
    let v = TestVault::created();
    v.add_client("A");
    // `whoami` reads no dossier data, so it logs nothing and takes the shared lock: a reader
    // meets other readers only, and all succeed however long each takes.
    assert_eq!(at_once(&v, &["whoami"]), vec![Some(0); 4]);
}

#[test]
fn commands_that_log_a_view_take_turns() {
    let v = TestVault::created();
    v.add_client("A");
    // `client list` logs the view, so it writes (a journal record) and takes the lock alone.
    // The others wait for it up to `LOCK_PATIENCE`; on a slow machine one may give up with
    // "in use" (5). Nothing else may happen, and at least one gets through.
    let entries = || v.json(&["audit", "--json"]).as_array().unwrap().len();
    let before = entries();
    let codes = at_once(&v, &["client", "list"]);
    assert!(
        codes.iter().all(|c| matches!(c, Some(0) | Some(5))),
        "{codes:?}"
    );
    assert!(codes.contains(&Some(0)), "{codes:?}");
    // Each list that got through logged its view (the audit read between adds its own).
    let logged = entries() - before;
    let succeeded = codes.iter().filter(|c| **c == Some(0)).count();
    assert!(
        logged >= succeeded,
        "{logged} views logged for {succeeded} lists"
    );
}

#[test]
fn a_vault_replaced_on_disk_is_not_overwritten() {
    let v = TestVault::created();
    let id = v.add_client("A");
    v.add_note(&id, "tweede generatie");
    v.compact();
    let mut first = holder(&v, &id);
    wait_until_busy(&v, &mut first);
    // A sync tool puts another version in place (a new file renamed over the vault).
    let foreign = v.dir.path().join("from-sync");
    std::fs::copy(v.prev(), &foreign).unwrap();
    std::fs::rename(&foreign, &v.path).unwrap();
    let placed = std::fs::read(&v.path).unwrap();
    first
        .stdin
        .take()
        .unwrap()
        .write_all(b"deze mag niet over de andere heen")
        .unwrap();
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("replaced on disk"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(&v.path).unwrap(),
        placed,
        "the replaced vault was overwritten"
    );
}
