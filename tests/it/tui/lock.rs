//! A lock that always wipes (issue 19): with the binary replaced on disk (as a package
//! update does) Ctrl-L still re-executes and the memory holds neither the canary nor the
//! passphrase; the demo vault locks and unlocks like any other.

use std::time::Duration;

use super::{Tmux, memory_hits};
use crate::{CANARY, PASS, TestVault, WEAK_KDF};

#[test]
fn a_binary_replaced_on_disk_still_locks_and_wipes() {
    let v = TestVault::created();
    let id = v.add_client(&format!("Fatima {CANARY}"));
    v.add_note(&id, &format!("Huisbezoek {CANARY}"));
    // A copy of the binary that the test replaces while it runs.
    let bin = v.dir.path().join("kluis");
    std::fs::copy(assert_cmd::cargo::cargo_bin("kluis"), &bin).unwrap();
    let t = Tmux::start(&format!(
        "{} --vault {} --lock-after 10m",
        bin.display(),
        v.path.display()
    ));
    t.wait_for("kluis is locked");
    t.keys(&[PASS, "Enter"]);
    t.wait_for(CANARY);
    t.keys(&["Enter"]);
    t.wait_for("Overview");
    let pid = t.kluis_pid();
    assert!(
        memory_hits(pid, CANARY.as_bytes()) > 0,
        "the scan sees nothing"
    );
    // The update: a new file renamed over the old one (the old inode stays only for the
    // running process).
    let new = v.dir.path().join("kluis.new");
    std::fs::write(&new, b"#!/bin/sh\necho not kluis\n").unwrap();
    std::fs::rename(&new, &bin).unwrap();
    t.keys(&["C-l"]);
    t.wait_for("kluis is locked");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(t.kluis_pid(), pid, "re-executed in place");
    assert_eq!(
        memory_hits(pid, CANARY.as_bytes()),
        0,
        "the canary survived the lock"
    );
    assert_eq!(
        memory_hits(pid, PASS.as_bytes()),
        0,
        "the passphrase survived the lock"
    );
    // And it opens again.
    t.keys(&[PASS, "Enter"]);
    t.wait_for("Overview");
    t.keys(&["C-q"]);
}

/// If re-executing fails anyway, kluis exits (everything saved) instead of showing a lock
/// screen over memory that still holds the dossier.
#[test]
fn a_lock_that_cannot_re_execute_exits_instead() {
    let v = TestVault::created();
    let id = v.add_client("Uitgang");
    let status = v.dir.path().join("status");
    // Re-executing is made to fail: the running copy loses its execute permission, which
    // the kernel checks at exec time (even for root, with no execute bit at all).
    let bin = v.dir.path().join("kluis");
    std::fs::copy(assert_cmd::cargo::cargo_bin("kluis"), &bin).unwrap();
    let t = Tmux::start(&format!(
        "{} --vault {} --lock-after 10m; echo \"exit $?\" > {}; sleep 60",
        bin.display(),
        v.path.display(),
        status.display()
    ));
    t.wait_for("kluis is locked");
    t.keys(&[PASS, "Enter"]);
    t.wait_for("Uitgang");
    t.keys(&["n"]);
    t.wait_for("New client");
    t.keys(&["-l", "Nog opgeslagen"]);
    t.keys(&["C-s"]);
    t.wait_for("saved");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o600)).unwrap();
    t.keys(&["C-l"]);
    let start = std::time::Instant::now();
    while !status.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "kluis did not exit:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(std::fs::read_to_string(&status).unwrap().trim(), "exit 1");
    let screen = t.everything();
    assert!(screen.contains("could not restart"), "{screen}");
    assert!(
        !screen.contains("kluis is locked\n"),
        "a lock screen was shown"
    );
    let list = v.json(&["client", "list", "--json"]);
    assert!(
        list.to_string().contains("Nog opgeslagen"),
        "not saved before exiting"
    );
    let _ = id;
}

#[test]
fn the_demo_vault_locks_and_unlocks_like_any_other() {
    let v = TestVault::empty();
    let cmd = format!(
        "{} --vault {} demo --clients 4 --notes-per-client 2 {}; sleep 60",
        assert_cmd::cargo::cargo_bin("kluis").display(),
        v.path.display(),
        WEAK_KDF.join(" ")
    );
    let t = Tmux::start(&cmd);
    t.wait_for("(demo)");
    t.keys(&["C-l"]);
    let locked = t.wait_for("Demo passphrase");
    let pass = locked
        .lines()
        .find_map(|l| l.split("data): ").nth(1))
        .map(|p| p.split_whitespace().next().unwrap_or_default().to_owned())
        .expect("the demo passphrase on the lock screen");
    assert!(!locked.contains("already exists"), "{locked}");
    t.keys(&[&pass, "Enter"]);
    t.wait_for("(demo)");
    t.keys(&["C-q"]);
    t.wait_for(&pass);
}
