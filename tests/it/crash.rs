//! A kill -9 at any moment of a save leaves a vault that opens as exactly the old or the
//! new version.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::{PASS, TestVault, require, stderr};

fn note_count(v: &TestVault, client: &str) -> usize {
    let out = v
        .cmd()
        .args(["note", "list", client, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "vault does not open after a kill: {}",
        stderr(&out)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .len()
}

/// `kluis --vault V ARGS` under strace with one fault injection (`inject=…`), in English.
fn injected(v: &TestVault, inject: &str, args: &[&str]) -> std::process::Output {
    Command::new(require("strace"))
        .args(["-f", "-o", "/dev/null", "-e", &format!("inject={inject}")])
        .arg(assert_cmd::cargo::cargo_bin("kluis"))
        .arg("--vault")
        .arg(&v.path)
        .args(args)
        .env("KLUIS_PASSPHRASE", PASS)
        .env("LANG", "C")
        .output()
        .unwrap()
}

/// A vault big enough that a save spans many chunks and takes a few milliseconds.
fn big_vault() -> (TestVault, String) {
    let v = TestVault::created();
    let id = v.add_client("Groot dossier");
    let text = "Lange notitie over het huisbezoek. ".repeat(20_000);
    v.cmd()
        .args(["note", "add", &id])
        .write_stdin(text)
        .assert()
        .success();
    (v, id)
}

#[test]
fn kill_9_during_save_in_a_loop() {
    let (v, id) = big_vault();
    let mut expected = note_count(&v, &id);
    for i in 0..40u64 {
        let mut child = v
            .std_cmd()
            .args(["note", "add", &id, "--text", &format!("notitie {i}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Spread kills over the whole run: unlock, encrypt, write, fsync, rename.
        std::thread::sleep(Duration::from_micros(500 * (i % 20) + 200));
        let _ = child.kill();
        let status = child.wait().unwrap();
        let now = note_count(&v, &id);
        if status.success() {
            expected += 1;
            assert_eq!(now, expected, "a saved note was lost");
        } else {
            assert!(
                now == expected || now == expected + 1,
                "neither old nor new: {now} vs {expected}"
            );
            expected = now;
        }
        v.cmd().arg("check").assert().success();
    }
}

/// strace kills the process at the N-th call of each syscall a change makes (the journal
/// append of `note add`) and of each a compaction makes (`compact`: the vault written,
/// fsynced, linked and renamed, a fresh journal); every N from the first call until the
/// command completes without being hit.
#[test]
fn kill_at_every_write_fsync_link_and_rename() {
    require("strace");
    let (v, id) = big_vault();
    let mut expected = note_count(&v, &id);
    let mut killed = 0;
    for syscall in [
        "fsync,fdatasync",
        "link,linkat",
        "rename,renameat,renameat2",
        "write,pwrite64",
    ] {
        for compacting in [false, true] {
            for n in 1..=60 {
                let text = format!("{syscall} {n}");
                let args: &[&str] = if compacting {
                    &["compact"]
                } else {
                    &["note", "add", &id, "--text", &text]
                };
                let out = injected(&v, &format!("{syscall}:signal=SIGKILL:when={n}"), args);
                let now = note_count(&v, &id);
                let grew = if compacting { 0 } else { 1 };
                assert!(
                    now == expected || now == expected + grew,
                    "{syscall} #{n} {args:?}: {now} vs {expected}"
                );
                // An id on stdout acknowledges the note: it must survive whatever came after.
                let acknowledged = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                if !acknowledged.is_empty() {
                    assert_eq!(
                        now,
                        expected + 1,
                        "{syscall} #{n}: acknowledged note {acknowledged} lost"
                    );
                }
                v.cmd().arg("check").assert().success();
                let completed = out.status.success();
                if !completed {
                    killed += 1;
                }
                expected = now;
                if completed {
                    break;
                }
            }
        }
    }
    // Journal append (write, fdatasync), then compaction (vault: write, fsync, link, 2 renames,
    // folder fsync; fresh journal: write, fsync, rename, folder fsync): each was hit.
    assert!(killed >= 10, "strace injected only {killed} kills");
}

/// A disk that fills up at the N-th write of a change, for every N until the change fits: the
/// vault opens with the old or the new version, a note is acknowledged only if it is on disk,
/// the message says the disk is full, and no temporary file is left behind.
#[test]
fn a_full_disk_at_every_write_loses_nothing_and_leaves_no_temp_file() {
    require("strace");
    let (v, id) = big_vault();
    let mut expected = note_count(&v, &id);
    let mut failed = 0;
    let mut told = false;
    // "N+": the disk is full from the N-th write on (stderr too, so no message can come out);
    // "N": only the N-th write fails (the message must say why).
    for (n, rest) in (1..=40).flat_map(|n| [(n, "+"), (n, "")]) {
        let text = format!("vol {n}");
        let out = injected(
            &v,
            &format!("write,pwrite64:error=ENOSPC:when={n}{rest}"),
            &["note", "add", &id, "--text", &text],
        );
        let now = note_count(&v, &id);
        assert!(
            now == expected || now == expected + 1,
            "#{n}: {now} vs {expected}"
        );
        if !String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            assert_eq!(now, expected + 1, "#{n}: acknowledged note lost");
        }
        if !out.status.success() {
            failed += 1;
            // Unless the full disk also swallowed the message itself (stderr is a write too).
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "#{n}: {err}");
            assert!(
                err.is_empty() || err.contains("No space left on device"),
                "#{n}: {err}"
            );
            told |= !err.is_empty();
        }
        let leftovers: Vec<String> = std::fs::read_dir(v.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "#{n}: left {leftovers:?}");
        v.cmd().arg("check").assert().success();
        expected = now;
        if out.status.success() && !rest.is_empty() {
            break;
        }
    }
    // The first append grows the journal (journal::GROWTH): when that write fails the record
    // is written alone, and the ones after it go into the grown space, so the full disk is
    // met twice before a change fits (a plain append met it three times).
    assert!(failed >= 2, "the disk filled up only {failed} times");
    assert!(told, "no run said the disk was full");
}

/// A kill at every write, fsync and rename of an import: the vault then holds all of the
/// bundle or nothing of it, never half.
#[test]
fn a_killed_import_is_all_or_nothing() {
    require("strace");
    let bundle = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sync/good_1_basic.kluisb");
    let mut killed = 0;
    for syscall in [
        "write,pwrite64",
        "fsync,fdatasync",
        "rename,renameat,renameat2",
    ] {
        // From a fresh, empty vault for every N until the import runs to its end: a vault
        // that already holds the bundle would only say "imported before".
        for n in 1..=60 {
            let v = crate::vectors::bundle_recipient();
            let out = injected(
                &v,
                &format!("{syscall}:signal=SIGKILL:when={n}"),
                &["import", bundle.to_str().unwrap()],
            );
            let list = v.json(&["client", "list", "--json"]);
            let clients = list.as_array().unwrap();
            match clients.len() {
                0 => {}
                1 => {
                    let id = clients[0]["id"].as_str().unwrap();
                    assert_eq!(note_count(&v, id), 1, "{syscall} #{n}: half an import");
                }
                k => panic!("{syscall} #{n}: {k} clients"),
            }
            v.cmd().arg("check").assert().success();
            if out.status.success() {
                assert_eq!(
                    clients.len(),
                    1,
                    "{syscall} #{n}: import reported but not there"
                );
                break;
            }
            killed += 1;
        }
    }
    // An import is one journal record (its write and fdatasync, the witness's pwrite); the
    // compaction's renames come with a later `compact` (tested above).
    assert!(killed >= 3, "strace injected only {killed} kills");
}
