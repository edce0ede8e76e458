//! Stock `age` (Debian's) and `sqlite3` read what kluis writes: IT can recover a vault
//! with no kluis at all.

use std::process::Command;

use crate::{CANARY, TestVault, contains, require};

fn keygen(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, String) {
    let key = dir.join(name);
    let out = Command::new(require("age-keygen"))
        .arg("-o")
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = Command::new("age-keygen")
        .arg("-y")
        .arg(&key)
        .output()
        .unwrap();
    (
        key,
        String::from_utf8(out.stdout).unwrap().trim().to_owned(),
    )
}

#[test]
fn stock_age_and_sqlite3_recover_a_vault() {
    let age = require("age");
    let sqlite3 = require("sqlite3");
    let v = TestVault::empty();
    let (key1, rec1) = keygen(v.dir.path(), "it.key");
    let (key2, rec2) = keygen(v.dir.path(), "backup.key");
    v.init(&["--recovery-recipient", &rec1, "--recovery-recipient", &rec2])
        .success();
    let id = v.add_client(&format!("Client {CANARY}"));
    v.add_note(&id, &format!("Notitie {CANARY}"));
    // Stock age reads the vault file: the command-line edits are folded into it first.
    v.compact();
    assert!(!contains(
        &std::fs::read(&v.path).unwrap(),
        CANARY.as_bytes()
    ));

    for key in [&key1, &key2] {
        let db = v.dir.path().join("recovered.sqlite");
        let _ = std::fs::remove_file(&db);
        let out = Command::new(&age)
            .arg("-d")
            .arg("-i")
            .arg(key)
            .arg("-o")
            .arg(&db)
            .arg(&v.path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "age: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new(&sqlite3)
            .arg(&db)
            .arg("PRAGMA integrity_check; SELECT name FROM client; SELECT body FROM note;")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "sqlite3: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(text, format!("ok\nClient {CANARY}\nNotitie {CANARY}\n"));
    }

    // The recovery recipients stay in every later save, and the previous generation too.
    v.add_client("Later");
    for file in [v.path.clone(), v.prev()] {
        let out = Command::new(&age)
            .arg("-d")
            .arg("-i")
            .arg(&key1)
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.starts_with(b"SQLite format 3\0"));
    }
}

#[test]
fn stock_age_sees_a_valid_age_file_it_cannot_open_without_a_key() {
    let age = require("age");
    let v = TestVault::created();
    let (other, _) = keygen(v.dir.path(), "other.key");
    let out = Command::new(&age)
        .arg("-d")
        .arg("-i")
        .arg(&other)
        .arg(&v.path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // Header parsed fine: the complaint is about keys, not the format.
    assert!(err.contains("no identity matched"), "{err}");
}

#[test]
fn a_file_encrypted_by_stock_age_is_refused_as_not_a_vault() {
    let age = require("age");
    let v = TestVault::empty();
    let (_, rec) = keygen(v.dir.path(), "k");
    let plain = v.dir.path().join("plain.txt");
    std::fs::write(&plain, "hallo").unwrap();
    let out = Command::new(&age)
        .arg("-r")
        .arg(&rec)
        .arg("-o")
        .arg(&v.path)
        .arg(&plain)
        .output()
        .unwrap();
    assert!(out.status.success());
    v.cmd().args(["client", "list"]).assert().code(4);
}
