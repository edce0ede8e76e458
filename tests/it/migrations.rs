//! Vaults made by the code of earlier commits of main open, upgrade and keep everything
//! (migrations 0005 and 0006 were edited after they landed; 0007 repairs what that left).

use std::path::Path;

use crate::{CANARY, TestVault, require, stdout};

const OLD: &[&str] = &["old_56916a3", "old_2187ad2", "old_17d4321"];

fn copy_of(name: &str) -> TestVault {
    let v = TestVault::empty();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(format!("{name}.kluis"));
    std::fs::copy(src, &v.path).unwrap();
    v
}

/// The schema version stored in the vault file, read with stock age and sqlite3 through the
/// test recovery key the old vaults were also encrypted to.
fn version_on_disk(v: &TestVault) -> i64 {
    let key = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/recovery.key");
    let image = v.dir.path().join("image.db");
    let out = std::process::Command::new(require("age"))
        .args(["-d", "-i"])
        .arg(&key)
        .arg("-o")
        .arg(&image)
        .arg(&v.path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(require("sqlite3"))
        .arg(&image)
        .arg("PRAGMA user_version")
        .output()
        .unwrap();
    std::fs::remove_file(&image).unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn vaults_made_by_earlier_commits_upgrade_and_keep_everything() {
    for name in OLD {
        let v = copy_of(name);
        let report = v.json(&["check", "--json"]);
        assert_eq!(report["ok"], true, "{name}: {report}");
        assert_eq!(
            report["schema_version"],
            kluis::store::SCHEMA_VERSION,
            "{name}"
        );
        let clients = v.json(&["client", "list", "--json"]);
        let c = &clients[0];
        assert!(c["name"].as_str().unwrap().contains(CANARY), "{name}");
        let id = c["id"].as_str().unwrap().to_owned();
        let notes = v.json(&["note", "list", &id, "--json", "--reveal"]);
        assert_eq!(notes.as_array().unwrap().len(), 2, "{name}");
        assert!(
            notes
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["special"] == true),
            "{name}: the special note is still special"
        );
        // What the tables and columns that were missing hold now works: visits, files,
        // consents with their special flag, the agenda and the report.
        v.cmd()
            .args(["visit", "add", &id, "--at", "2026-12-01 10:00"])
            .assert()
            .success();
        let listed = v.json(&["visit", "list", &id, "--json"]);
        assert_eq!(listed.as_array().unwrap().len(), 1, "{name}");
        let file = v.dir.path().join("brief.txt");
        std::fs::write(&file, "brief").unwrap();
        v.cmd()
            .args(["attach", "add", &id])
            .arg(&file)
            .assert()
            .success();
        let consents = v.json(&["consent", "list", &id, "--json"]);
        assert_eq!(consents.as_array().unwrap().len(), 1, "{name}");
        v.cmd().args(["agenda", "--days", "30"]).assert().success();
        let report = v.dir.path().join("inzage.md");
        v.cmd()
            .args(["report", &id, "--format", "md", "--out"])
            .arg(&report)
            .assert()
            .success();
        assert!(std::fs::read_to_string(&report).unwrap().contains(CANARY));
        v.cmd()
            .args(["client", "edit", &id, "--phone", "06-12345678"])
            .assert()
            .success();
        v.compact();
        let out = v.cmd().arg("check").assert().success();
        assert!(stdout(out.get_output()).contains("ok"), "{name}");
        v.cmd().args(["audit", "verify"]).assert().success();
        assert_eq!(
            version_on_disk(&v),
            i64::from(kluis::store::SCHEMA_VERSION),
            "{name}: saved at the current version"
        );
    }
}
