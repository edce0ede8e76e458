//! Round trips through the command line, and every exit code.

use std::os::unix::fs::PermissionsExt;

use predicates::prelude::*;
use serde_json::Value;

use crate::{PASS, TestVault, WEAK_KDF, kluis, stderr, stdout};

#[test]
fn clients_and_notes_round_trip() {
    let v = TestVault::created();
    let out = v
        .cmd()
        .args([
            "client",
            "add",
            "--name",
            "Fatima el Amrani",
            "--bsn",
            "111222333",
            "--birth-date",
            "1984-02-29",
        ])
        .args([
            "--domain",
            "schuldhulp",
            "--address",
            "Dorpsstraat 1, Zwolle",
            "--phone",
            "06-12345678",
            "--opened-on",
            "2026-01-15",
        ])
        .assert()
        .success();
    let id = stdout(out.get_output()).trim().to_owned();
    assert_eq!(id.len(), 36, "prints the new id alone: {id:?}");

    let c = v.json(&["client", "show", &id, "--json"]);
    assert_eq!(c["id"], id.as_str());
    assert_eq!(c["name"], "Fatima el Amrani");
    assert_eq!(c["bsn"], "******333");
    assert_eq!(c["birth_date"], "1984-02-29");
    assert_eq!(c["domain"], "schuldhulp");
    assert_eq!(c["status"], "open");
    assert_eq!(
        v.json(&["client", "show", &id, "--json", "--show-bsn"])["bsn"],
        "111222333"
    );
    v.cmd()
        .args(["client", "show", &id])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("******333").and(predicate::str::contains("111222333").not()),
        );

    // Note from stdin, note from --text, and a correction.
    let out = v
        .cmd()
        .args([
            "note",
            "add",
            &id,
            "--kind",
            "visit",
            "--at",
            "2026-03-04 09:30",
        ])
        .write_stdin("Keukentafelgesprek.\nTweede regel.\n")
        .assert()
        .success();
    let first = stdout(out.get_output()).trim().to_owned();
    let out = v
        .cmd()
        .args([
            "note",
            "add",
            &id,
            "--kind",
            "telefoon",
            "--text",
            "Gebeld over huur",
            "--supersedes",
            &first[..30],
        ])
        .assert()
        .success();
    let second = stdout(out.get_output()).trim().to_owned();

    let notes = v.json(&["note", "list", &id, "--json"]);
    let notes = notes.as_array().unwrap();
    assert_eq!(notes.len(), 2);
    let old = notes.iter().find(|n| n["id"] == first.as_str()).unwrap();
    assert_eq!(old["body"], "Keukentafelgesprek.\nTweede regel.");
    assert_eq!(old["kind"], "huisbezoek");
    assert_eq!(old["occurred_at"], "2026-03-04T09:30:00");
    assert_eq!(old["superseded_by"], second.as_str());
    let new = notes.iter().find(|n| n["id"] == second.as_str()).unwrap();
    assert_eq!(new["supersedes"], first.as_str());
    assert_eq!(new["kind"], "telefoon");

    // Edit, close, list with and without --all.
    v.cmd()
        .args([
            "client",
            "edit",
            &id,
            "--name",
            "Fatima El Amrani",
            "--phone",
            "",
        ])
        .assert()
        .success();
    let c = v.json(&["client", "show", &id, "--json"]);
    assert_eq!(c["name"], "Fatima El Amrani");
    assert_eq!(c["phone"], Value::Null);
    let list = v.json(&["client", "list", "--json"]);
    assert_eq!(list[0]["note_count"], 2);
    assert_eq!(list[0]["last_contact"], new["occurred_at"]);
    // Not before its last note (written today); `--on` is the older spelling of `--at`.
    let today = chrono::Local::now().date_naive().to_string();
    v.cmd()
        .args(["client", "close", &id, "--on", &today])
        .assert()
        .success();
    assert_eq!(
        v.json(&["client", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let all = v.json(&["client", "list", "--all", "--json"]);
    assert_eq!(all[0]["status"], "closed");
    assert_eq!(all[0]["closed_on"], today.as_str());

    // Search finds names and note text, with a snippet.
    let hits = v.json(&["search", "huur", "--json"]);
    assert_eq!(hits[0]["kind"], "note");
    assert_eq!(hits[0]["id"], second.as_str());
    assert!(hits[0]["snippet"].as_str().unwrap().contains("[huur]"));
    let out = v.cmd().args(["search", "amra"]).assert().success();
    assert!(stdout(out.get_output()).contains(&id));

    v.cmd()
        .arg("check")
        .assert()
        .success()
        .stdout(predicate::str::contains("ok"));
    let report = v.json(&["check", "--json"]);
    assert_eq!(report["ok"], true);
    assert_eq!(report["clients"], 1);
    assert_eq!(report["notes"], 2);
    assert_eq!(report["schema_version"], kluis::store::SCHEMA_VERSION);
}

/// Dates as people write them (issue 19): DD-MM-YYYY and D-M-YYYY beside ISO, in every date
/// option; `vandaag` is today.
#[test]
fn date_options_take_dutch_and_iso_dates() {
    let v = TestVault::created();
    let add = |birth: &str, opened: &str| {
        let out = v
            .cmd()
            .args(["client", "add", "--name", "Datum Test"])
            .args(["--birth-date", birth, "--opened-on", opened])
            .assert()
            .success();
        stdout(out.get_output()).trim().to_owned()
    };
    for (birth, opened, want_birth, want_opened) in [
        ("14-03-1980", "2-1-2026", "1980-03-14", "2026-01-02"),
        ("1980-03-14", "2026-01-02", "1980-03-14", "2026-01-02"),
        ("4-3-1980", "15/01/2026", "1980-03-04", "2026-01-15"),
    ] {
        let id = add(birth, opened);
        let c = v.json(&["client", "show", &id, "--json"]);
        assert_eq!(c["birth_date"], want_birth, "{birth}");
        assert_eq!(c["opened_on"], want_opened, "{opened}");
    }
    let id = add("14-03-1980", "vandaag");
    let today = chrono::Local::now().date_naive().to_string();
    assert_eq!(
        v.json(&["client", "show", &id, "--json"])["opened_on"],
        today.as_str()
    );
    v.cmd()
        .args(["client", "add", "--name", "X", "--birth-date", "14-03-80"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("DD-MM-YYYY"));
}

#[test]
fn passphrase_file_works_like_the_environment() {
    let v = TestVault::created();
    let file = v.dir.path().join("pass.txt");
    std::fs::write(&file, format!("{PASS}\n")).unwrap();
    kluis()
        .arg("--vault")
        .arg(&v.path)
        .arg("--passphrase-file")
        .arg(&file)
        .args(["client", "list"])
        .assert()
        .success();
}

#[test]
fn files_and_folders_are_private() {
    let v = TestVault::empty();
    let nested = v.dir.path().join("a/b/vault.kluis");
    kluis()
        .arg("--vault")
        .arg(&nested)
        .env("KLUIS_NEW_PASSPHRASE", PASS)
        .arg("init")
        .args(WEAK_KDF)
        .assert()
        .success();
    kluis()
        .arg("--vault")
        .arg(&nested)
        .env("KLUIS_PASSPHRASE", PASS)
        .args(["client", "add", "--name", "X"])
        .assert()
        .success();
    kluis()
        .arg("--vault")
        .arg(&nested)
        .env("KLUIS_PASSPHRASE", PASS)
        .arg("compact")
        .assert()
        .success();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&v.dir.path().join("a")), 0o700);
    assert_eq!(mode(&v.dir.path().join("a/b")), 0o700);
    for name in ["vault.kluis", "vault.kluis.prev", "vault.kluis.lock"] {
        assert_eq!(mode(&v.dir.path().join("a/b").join(name)), 0o600, "{name}");
    }
}

#[test]
fn default_vault_follows_kluis_vault_then_xdg_data_home() {
    let v = TestVault::empty();
    let xdg = v.dir.path().join("data");
    kluis()
        .env("XDG_DATA_HOME", &xdg)
        .env("KLUIS_NEW_PASSPHRASE", PASS)
        .arg("init")
        .args(WEAK_KDF)
        .assert()
        .success();
    assert!(xdg.join("kluis/vault.kluis").is_file());
    let other = v.dir.path().join("other.kluis");
    kluis()
        .env("XDG_DATA_HOME", &xdg)
        .env("KLUIS_VAULT", &other)
        .env("KLUIS_NEW_PASSPHRASE", PASS)
        .arg("init")
        .args(WEAK_KDF)
        .assert()
        .success();
    assert!(other.is_file());
}

#[test]
fn init_warns_about_test_strength_and_refuses_over_caps() {
    let v = TestVault::empty();
    v.init(&[])
        .success()
        .stderr(predicate::str::contains("testing only"));
    let w = TestVault::empty();
    w.init(&["--kdf-memory", "5000"])
        .code(2)
        .stderr(predicate::str::contains("--kdf-memory"));
    assert!(!w.path.exists());
    w.init(&["--kdf-iterations", "33"]).code(2);
    w.init(&["--kdf-parallelism", "17"]).code(2);
    assert!(!w.path.exists());
}

#[test]
fn init_never_overwrites() {
    let v = TestVault::empty();
    std::fs::write(&v.path, "mijn eigen bestand").unwrap();
    v.init(&[])
        .code(1)
        .stderr(predicate::str::contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(&v.path).unwrap(),
        "mijn eigen bestand"
    );
    let v = TestVault::created();
    let before = std::fs::read(&v.path).unwrap();
    v.init(&[]).code(1);
    assert_eq!(std::fs::read(&v.path).unwrap(), before);
}

#[test]
fn weak_new_passphrases_are_refused_with_advice() {
    let v = TestVault::empty();
    v.cmd()
        .env("KLUIS_NEW_PASSPHRASE", "welkom123")
        .arg("init")
        .args(WEAK_KDF)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("too easy to guess").and(predicate::str::contains("  - ")),
        );
    assert!(!v.path.exists());
    v.cmd()
        .env("KLUIS_NEW_PASSPHRASE", "welkom123")
        .env("LANG", "nl_NL.UTF-8")
        .arg("init")
        .args(WEAK_KDF)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("te makkelijk te raden"));
}

#[test]
fn passwd_leaves_no_file_that_opens_with_the_old_passphrase() {
    let v = TestVault::created();
    v.add_client("Voor de wijziging");
    let new = "Fietsbel-Regenjas-Tulpenveld-81";
    v.cmd()
        .env("KLUIS_NEW_PASSPHRASE", new)
        .arg("passwd")
        .assert()
        .success();
    v.cmd().args(["client", "list"]).assert().code(3);
    let prev = v.prev().to_string_lossy().into_owned();
    kluis()
        .args(["--vault", &prev])
        .env("KLUIS_PASSPHRASE", PASS)
        .args(["client", "list"])
        .assert()
        .code(3);
    kluis()
        .args(["--vault", &prev])
        .env("KLUIS_PASSPHRASE", new)
        .args(["client", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Voor de wijziging"));
    v.cmd()
        .env("KLUIS_PASSPHRASE", new)
        .arg("check")
        .assert()
        .success();
}

#[test]
fn exit_code_2_names_the_field() {
    let v = TestVault::created();
    v.cmd()
        .args(["client", "add", "--name", "X", "--bsn", "123456789"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--bsn").and(predicate::str::contains("elfproef")));
    v.cmd()
        .args(["client", "add", "--name", "X", "--birth-date", "1984-13-01"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--birth-date"));
    v.cmd()
        .args(["client", "add", "--name", "X", "--domain", "zorg"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--domain").and(predicate::str::contains("jeugd")));
    v.cmd()
        .args(["client", "add", "--name", "  "])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--name"));
    v.cmd()
        .args(["client", "show", "abc"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("at least 8"));
    v.cmd()
        .args(["client", "show", "ffffffff"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no client"));
    v.cmd().args(["client", "bogus"]).assert().code(2);
    let a = v.add_client("A");
    let b = v.add_client("B");
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    if common >= 8 {
        v.cmd()
            .args(["client", "show", &a[..common]])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("more than one"));
    }
    v.cmd()
        .args(["note", "add", &a])
        .write_stdin("   \n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--text"));
    // Nothing above reached the disk.
    assert_eq!(
        v.json(&["client", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn exit_code_2_without_any_way_to_ask_for_a_passphrase() {
    let v = TestVault::created();
    // No KLUIS_PASSPHRASE and no terminal (setsid detaches from any controlling tty).
    let out = std::process::Command::new("setsid")
        .arg("-w")
        .arg(assert_cmd::cargo::cargo_bin("kluis"))
        .arg("--vault")
        .arg(&v.path)
        .args(["client", "list"])
        .env_remove("KLUIS_PASSPHRASE")
        .env("LANG", "C")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("KLUIS_PASSPHRASE"));
}

#[test]
fn exit_code_1_without_a_vault() {
    let v = TestVault::empty();
    v.cmd()
        .args(["client", "list"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("kluis init"));
    assert!(!v.path.exists());
}

#[test]
fn exit_code_3_for_a_wrong_passphrase_changes_nothing() {
    let v = TestVault::created();
    v.add_client("A");
    v.compact();
    let listing = |dir: &std::path::Path| {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let before = (
        std::fs::read(&v.path).unwrap(),
        std::fs::read(v.prev()).unwrap(),
        listing(v.dir.path()),
    );
    for args in [
        &["client", "list"][..],
        &["client", "add", "--name", "B"],
        &["check"],
        &["passwd"],
    ] {
        v.cmd()
            .env("KLUIS_PASSPHRASE", "Verkeerd-Wachtwoord-Helemaal-99")
            .env("KLUIS_NEW_PASSPHRASE", "Nieuw-Wachtwoord-Zeer-Lang-12")
            .args(args)
            .assert()
            .code(3)
            .stderr(predicate::str::contains("wrong passphrase"));
    }
    let after = (
        std::fs::read(&v.path).unwrap(),
        std::fs::read(v.prev()).unwrap(),
        listing(v.dir.path()),
    );
    assert!(before == after, "a wrong passphrase changed files");
}

#[test]
fn messages_follow_lang_and_the_environment() {
    let v = TestVault::created();
    v.cmd()
        .env("KLUIS_PASSPHRASE", "fout-fout-fout-fout")
        .args(["--lang", "nl", "client", "list"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("verkeerde wachtwoordzin"));
    v.cmd()
        .env("KLUIS_PASSPHRASE", "fout-fout-fout-fout")
        .env("LANG", "nl_NL.UTF-8")
        .args(["client", "list"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("verkeerde wachtwoordzin"));
    v.cmd()
        .env("KLUIS_PASSPHRASE", "fout-fout-fout-fout")
        .env("LANG", "nl_NL.UTF-8")
        .args(["--lang", "en", "client", "list"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("wrong passphrase"));
}

#[test]
fn core_dumps_are_disabled() {
    let v = TestVault::created();
    let id = v.add_client("A");
    // `note add` without --text waits on stdin with the vault unlocked: inspect it then.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kluis"))
        .arg("--vault")
        .arg(&v.path)
        .args(["note", "add", &id])
        .env("KLUIS_PASSPHRASE", PASS)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let limits_path = format!("/proc/{}/limits", child.id());
    let mut limits = String::new();
    for _ in 0..200 {
        limits = std::fs::read_to_string(&limits_path).unwrap_or_default();
        if limits.lines().any(|l| {
            l.starts_with("Max core file size") && l.split_whitespace().nth(5) == Some("0")
        }) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"klaar").unwrap();
    assert!(child.wait().unwrap().success());
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&fields[4..6], &["0", "0"], "{line}");
}
