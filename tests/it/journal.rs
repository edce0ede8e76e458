//! The journal: an edit is durable after one append, survives a crash before compaction,
//! and is folded into the vault file at the end of the command (or on lock).

use std::process::{Command, Output};

use kluis::journal;

use crate::{CANARY, PASS, TestVault, contains, require, stderr};

/// Runs kluis and kills it at its first rename: after the journal append (the change is
/// acknowledged on stdout), inside the compaction that follows.
fn killed_before_compaction(v: &TestVault, args: &[&str]) -> String {
    let out: Output = Command::new(require("strace"))
        .args([
            "-f",
            "-o",
            "/dev/null",
            "-e",
            "inject=rename,renameat,renameat2:signal=SIGKILL:when=1",
        ])
        .arg(assert_cmd::cargo::cargo_bin("kluis"))
        .arg("--vault")
        .arg(&v.path)
        .args(args)
        .env("KLUIS_PASSPHRASE", PASS)
        .output()
        .unwrap();
    assert!(!out.status.success(), "not killed: {}", stderr(&out));
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(
        id.len(),
        36,
        "the change was not acknowledged before the kill"
    );
    id
}

fn pending(v: &TestVault) -> u64 {
    v.json(&["check", "--json"])["journal_records"]
        .as_u64()
        .unwrap()
}

fn stock_age_payload(v: &TestVault, key: &std::path::Path) -> Vec<u8> {
    let out = Command::new(require("age"))
        .arg("-d")
        .arg("-i")
        .arg(key)
        .arg(&v.path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    out.stdout
}

#[test]
fn a_change_survives_a_crash_before_compaction() {
    let v = TestVault::empty();
    let key = v.dir.path().join("it.key");
    Command::new(require("age-keygen"))
        .arg("-o")
        .arg(&key)
        .output()
        .unwrap();
    let rec = String::from_utf8(
        Command::new("age-keygen")
            .arg("-y")
            .arg(&key)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    v.init(&["--recovery-recipient", rec.trim()]).success();
    let before = std::fs::read(&v.path).unwrap();

    let id = killed_before_compaction(
        &v,
        &["client", "add", "--name", &format!("Journaal {CANARY}")],
    );
    // The vault file was not rewritten; the journal holds the change, encrypted.
    assert_eq!(std::fs::read(&v.path).unwrap(), before);
    assert!(!contains(
        &std::fs::read(journal::path_for(&v.path)).unwrap(),
        CANARY.as_bytes()
    ));
    // Stock age sees the vault without it (documented); kluis replays it.
    assert!(!contains(&stock_age_payload(&v, &key), CANARY.as_bytes()));
    assert_eq!(pending(&v), 1);
    v.cmd()
        .args(["client", "show", &id])
        .assert()
        .success()
        .stdout(predicates::str::contains(CANARY));

    // The next writer replays, appends and folds everything into the vault file.
    v.cmd()
        .args(["client", "edit", &id, "--phone", "0612345678"])
        .assert()
        .success();
    assert_eq!(pending(&v), 0);
    assert!(contains(&stock_age_payload(&v, &key), CANARY.as_bytes()));
}

#[test]
fn a_torn_final_record_is_dropped_and_earlier_ones_survive() {
    let v = TestVault::created();
    let first = killed_before_compaction(&v, &["client", "add", "--name", "Eerste"]);
    let second = killed_before_compaction(&v, &["client", "add", "--name", "Tweede"]);
    assert_eq!(pending(&v), 2);
    let jpath = journal::path_for(&v.path);
    let full = std::fs::read(&jpath).unwrap();
    std::fs::write(&jpath, &full[..full.len() - 7]).unwrap();
    assert_eq!(pending(&v), 1);
    v.cmd().args(["client", "show", &first]).assert().success();
    v.cmd().args(["client", "show", &second]).assert().code(2);
    // A writer cuts the torn tail off, appends after it, and compacts.
    let third = v.add_client("Derde");
    for id in [&first, &third] {
        v.cmd().args(["client", "show", id]).assert().success();
    }
    assert_eq!(pending(&v), 0);
}

#[test]
fn a_journal_that_belongs_to_another_vault_is_refused() {
    let one = TestVault::created();
    let two = TestVault::created();
    killed_before_compaction(&two, &["client", "add", "--name", "Ander"]);
    std::fs::copy(journal::path_for(&two.path), journal::path_for(&one.path)).unwrap();
    let before = std::fs::read(&one.path).unwrap();
    one.cmd()
        .args(["client", "list"])
        .assert()
        .code(4)
        .stderr(predicates::str::contains("another version"));
    one.cmd()
        .args(["client", "add", "--name", "X"])
        .assert()
        .code(4);
    assert_eq!(std::fs::read(&one.path).unwrap(), before);
}

#[test]
fn the_cli_leaves_no_pending_records() {
    let v = TestVault::created();
    let id = v.add_client("A");
    v.add_note(&id, "tekst");
    assert_eq!(pending(&v), 0);
    // The journal file is just its 24-byte header.
    assert_eq!(
        std::fs::metadata(journal::path_for(&v.path)).unwrap().len(),
        24
    );
}

#[test]
fn a_journal_past_the_threshold_is_compacted_by_the_change_itself() {
    use kluis::session::{Access, COMPACT_THRESHOLD, Session};
    let v = TestVault::created();
    let id = v.add_client("Groot");
    let pass = kluis::secret::SecretString::from(PASS.to_owned());
    let mut s = Session::open(&v.path, &pass, Access::Write).unwrap();
    let generation_before = std::fs::metadata(&v.path).unwrap().modified().unwrap();
    let body = "lange notitie ".repeat(70_000); // ~1 MB per record
    let mut compacted = false;
    for i in 0..(COMPACT_THRESHOLD / 900_000 + 2) {
        let note = kluis::model::NewNote {
            client_id: id.clone(),
            kind: kluis::model::NoteKind::Observatie,
            occurred_at: chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
            body: format!("{i} {body}"),
            author: "test".into(),
            supersedes: None,
            special: false,
        };
        s.change(|st| st.add_note(&note)).unwrap();
        if s.pending_records() == 0 {
            compacted = true;
            break;
        }
    }
    assert!(
        compacted,
        "the journal grew past {COMPACT_THRESHOLD} bytes without a compaction"
    );
    assert_ne!(
        std::fs::metadata(&v.path).unwrap().modified().unwrap(),
        generation_before
    );
    assert!(std::fs::metadata(journal::path_for(&v.path)).unwrap().len() < 1024);
}

#[test]
fn a_vault_of_an_older_schema_is_saved_migrated_by_its_first_session() {
    use kluis::session::{Access, Session};
    let v = TestVault::created();
    let id = v.add_client("Oud Schema");
    v.add_note(&id, "Langs het Ĳsselmeer");
    let pass = kluis::secret::SecretString::from(PASS.to_owned());
    // Put the vault back to schema 6 as kluis 6 wrote it: unicode61 full-text tables.
    let mut opened = kluis::vault::read(&v.path, Some(&pass), None).unwrap();
    opened
        .store
        .connection()
        .execute_batch(
            "DROP TRIGGER note_search_insert; DROP TABLE note_impact; DROP TABLE note_fts;
             DROP VIEW note_searchable; DROP TRIGGER client_fts_insert;
             DROP TRIGGER client_fts_update; DROP TABLE client_fts;
             CREATE VIRTUAL TABLE client_fts USING fts5 (name, content = 'client',
                 content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2',
                 prefix = '2 3');
             CREATE VIRTUAL TABLE note_fts USING fts5 (body, content = 'note',
                 content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2',
                 prefix = '2 3');
             CREATE TRIGGER note_fts_insert AFTER INSERT ON note BEGIN
                 INSERT INTO note_fts (rowid, body) VALUES (new.rowid, new.body);
             END;
             INSERT INTO note_fts (note_fts) VALUES ('rebuild');
             INSERT INTO client_fts (client_fts) VALUES ('rebuild');
             PRAGMA user_version = 6;",
        )
        .unwrap();
    kluis::vault::write(
        &v.path,
        &mut opened.store,
        &opened.key,
        &[],
        kluis::vault::Place::Replace(opened.stamp),
    )
    .unwrap();
    drop(opened);
    // A session that changes nothing still saves the migrated schema, once.
    let s = Session::open(&v.path, &pass, Access::Write).unwrap();
    assert_eq!(s.store().migrated_from(), Some(6));
    s.close().unwrap();
    let s = Session::open(&v.path, &pass, Access::Write).unwrap();
    assert_eq!(s.store().migrated_from(), None);
    let hits = s
        .store()
        .search(&kluis::model::fts_query("ijsselmeer").unwrap(), 10)
        .unwrap();
    assert_eq!(hits.len(), 1);
}
