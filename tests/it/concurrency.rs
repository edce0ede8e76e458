//! One writer at a time, and no silent overwrite of a file someone else replaced.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::{PASS, TestVault, stderr};

/// Starts `note add CLIENT` reading its text from a pipe we hold: it keeps the vault
/// unlocked and locked until we write and close.
fn holder(v: &TestVault, client: &str) -> Child {
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

/// Waits until a reader is refused with exit 5, which proves the holder has the lock.
fn wait_until_busy(v: &TestVault) {
    let start = Instant::now();
    loop {
        let out = v.cmd().args(["client", "list"]).output().unwrap();
        if out.status.code() == Some(5) {
            assert!(stderr(&out).contains("in use"), "{}", stderr(&out));
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "holder never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_second_process_gets_exit_5_and_the_first_finishes() {
    let v = TestVault::created();
    let id = v.add_client("A");
    let mut first = holder(&v, &id);
    wait_until_busy(&v);
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

#[test]
fn readers_share_the_vault() {
    let v = TestVault::created();
    v.add_client("A");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let path = v.path.clone();
            std::thread::spawn(move || {
                let mut c = crate::kluis();
                c.arg("--vault")
                    .arg(&path)
                    .env("KLUIS_PASSPHRASE", PASS)
                    .args(["client", "list"]);
                c.output().unwrap().status.code()
            })
        })
        .collect();
    for t in threads {
        // A reader may meet another reader only: all succeed.
        assert_eq!(t.join().unwrap(), Some(0));
    }
}

#[test]
fn a_vault_replaced_on_disk_is_not_overwritten() {
    let v = TestVault::created();
    let id = v.add_client("A");
    v.add_note(&id, "tweede generatie");
    let mut first = holder(&v, &id);
    wait_until_busy(&v);
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
