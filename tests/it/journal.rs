//! The journal: an edit is durable after one append, survives a crash before compaction,
//! and is folded into the vault file at the end of the command (or on lock).

use std::process::{Command, Output};

use kluis::journal;

use crate::{CANARY, PASS, TestVault, contains, require, stderr};

/// Runs kluis: the change is acknowledged on stdout and stays in the journal (a command-line
/// run leaves the vault file as it was; `compact`, a day, or the threshold fold it in).
fn killed_before_compaction(v: &TestVault, args: &[&str]) -> String {
    let out: Output = v.cmd().args(args).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(id.len(), 36, "the change was not acknowledged");
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

    // The next writer replays and appends; `compact` folds everything into the vault file.
    v.cmd()
        .args(["client", "edit", &id, "--phone", "0612345678"])
        .assert()
        .success();
    assert!(pending(&v) >= 2, "{}", pending(&v));
    v.compact();
    assert_eq!(pending(&v), 0);
    assert!(contains(&stock_age_payload(&v, &key), CANARY.as_bytes()));
}

/// Where a journal's records end (docs/journal-format.md): zeros follow, up to the file's
/// end.
fn records_end(journal: &[u8]) -> usize {
    let mut pos = 24;
    while pos + 4 <= journal.len() {
        let len = u32::from_le_bytes(journal[pos..pos + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        pos += 4 + len;
    }
    pos
}

#[test]
fn a_torn_final_record_is_dropped_and_earlier_ones_survive() {
    let v = TestVault::created();
    let lock = crate::with_suffix(&v.path, ".lock");
    let first = killed_before_compaction(&v, &["client", "add", "--name", "Eerste"]);
    // What a crash in the middle of the next append leaves: the record half written, and the
    // witness in the lock file not yet counting it (it is written after the fsync).
    let witness_of_one = std::fs::read(&lock).unwrap();
    let second = killed_before_compaction(&v, &["client", "add", "--name", "Tweede"]);
    assert_eq!(pending(&v), 2);
    let jpath = journal::path_for(&v.path);
    // The append wrote into the space the journal grew by: its last bytes never landed.
    let mut full = std::fs::read(&jpath).unwrap();
    let end = records_end(&full);
    assert!(full[end..].iter().all(|b| *b == 0) && full.len() > end);
    full[end - 7..end].fill(0);
    std::fs::write(&jpath, &full).unwrap();
    std::fs::write(&lock, &witness_of_one).unwrap();
    assert_eq!(pending(&v), 1);
    v.cmd().args(["client", "show", &first]).assert().success();
    v.cmd().args(["client", "show", &second]).assert().code(2);
    // A writer cuts the torn tail off and appends after it; a compaction folds it all in.
    let third = v.add_client("Derde");
    for id in [&first, &third] {
        v.cmd().args(["client", "show", id]).assert().success();
    }
    v.compact();
    assert_eq!(pending(&v), 0);
    for id in [&first, &third] {
        v.cmd().args(["client", "show", id]).assert().success();
    }
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

/// Issue 18: a command-line read or edit costs a journal append, not a rewrite of the vault
/// (a 123 MB vault was rewritten by every `client list`), and `.prev` is not rotated by it.
#[test]
fn a_command_line_read_or_edit_is_one_journal_append_and_the_vault_file_stays() {
    let v = TestVault::created();
    let id = v.add_client("A");
    v.compact();
    v.compact();
    let (vault, prev) = (
        std::fs::read(&v.path).unwrap(),
        std::fs::read(v.prev()).unwrap(),
    );
    v.add_note(&id, "tekst");
    v.cmd().args(["client", "list"]).assert().success();
    v.cmd().args(["note", "list", &id]).assert().success();
    assert_eq!(
        std::fs::read(&v.path).unwrap(),
        vault,
        "the vault file was rewritten"
    );
    assert_eq!(std::fs::read(v.prev()).unwrap(), prev, ".prev was rotated");
    // An edit and the two views (with the unlocks they log) are in the journal.
    assert!(pending(&v) >= 3, "{}", pending(&v));
    let journal = std::fs::metadata(journal::path_for(&v.path)).unwrap().len();
    assert!(journal < vault.len() as u64, "{journal} bytes of journal");
    v.compact();
    assert_eq!(pending(&v), 0);
    assert_ne!(std::fs::read(&v.path).unwrap(), vault);
    assert_eq!(
        std::fs::read(v.prev()).unwrap(),
        vault,
        ".prev is the generation before"
    );
}

/// A journal whose oldest record is a day old is folded in by the next session that ends,
/// even one that would keep it (its begin is the vault's `saved_at`).
#[test]
fn a_journal_a_day_old_is_folded_in_when_a_session_ends() {
    use kluis::session::{Access, Session, Setup};
    let v = TestVault::created();
    let id = v.add_client("A");
    assert!(pending(&v) > 0);
    let pass = kluis::secret::SecretString::from(PASS.to_owned());
    let keep = |days: i64| Setup {
        via: "cli",
        keep_journal: true,
        clock: Some(chrono::Local::now().naive_local() + chrono::Duration::days(days)),
        ..Default::default()
    };
    let s = Session::unlock(&v.path, &pass, Access::Write, &keep(0)).unwrap();
    s.close().unwrap();
    assert!(pending(&v) > 0, "kept: younger than a day");
    let mut s = Session::unlock(&v.path, &pass, Access::Write, &keep(2)).unwrap();
    s.notes(&id, false).unwrap();
    s.close().unwrap();
    assert_eq!(pending(&v), 0, "folded: the oldest record is two days old");
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
fn a_change_whose_record_would_pass_the_threshold_is_saved_whole_without_the_journal() {
    use kluis::session::{Access, COMPACT_THRESHOLD, Session};
    let v = TestVault::created();
    let id = v.add_client("Groot");
    let pass = kluis::secret::SecretString::from(PASS.to_owned());
    let mut s = Session::open(&v.path, &pass, Access::Write).unwrap();
    let generation_before = std::fs::metadata(&v.path).unwrap().modified().unwrap();
    let body = "lange notitie ".repeat(70_000); // ~1 MB per note
    let notes = COMPACT_THRESHOLD / 900_000 + 2;
    s.change(|st| {
        for i in 0..notes {
            st.add_note(&kluis::model::NewNote {
                client_id: id.clone(),
                kind: kluis::model::NoteKind::Observatie,
                occurred_at: chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap(),
                body: format!("{i} {body}"),
                supersedes: None,
                special: false,
            })?;
        }
        Ok(())
    })
    .unwrap();
    // A new generation at once (the record would have been compacted right after its
    // append), with everything in it.
    assert_eq!(s.pending_records(), 0);
    assert_ne!(
        std::fs::metadata(&v.path).unwrap().modified().unwrap(),
        generation_before
    );
    assert!(std::fs::metadata(journal::path_for(&v.path)).unwrap().len() < 1024);
    drop(s);
    let mut s = Session::open(&v.path, &pass, Access::Write).unwrap();
    assert_eq!(s.notes(&id, false).unwrap().len() as u64, notes);
}

/// Regression (issue 20): a journal cut at a record boundary, deleted, or replaced by its
/// bare header opened with exit 0 and `check` healthy, losing acknowledged edits. The witness
/// in the lock file counts them: each is refused (exit 4), no file changes, and moving the
/// journal and the lock file aside (the advice) opens the vault without the lost edits.
#[test]
fn a_journal_that_lost_acknowledged_records_is_refused() {
    let header_len = 24;
    for case in [
        "cut at a record boundary",
        "deleted",
        "replaced by its header",
    ] {
        let v = TestVault::created();
        let first = killed_before_compaction(&v, &["client", "add", "--name", "Eerste"]);
        killed_before_compaction(&v, &["client", "add", "--name", "Tweede"]);
        let jpath = journal::path_for(&v.path);
        let full = std::fs::read(&jpath).unwrap();
        match case {
            "cut at a record boundary" => {
                let first_len = u32::from_le_bytes(full[24..28].try_into().unwrap()) as usize;
                std::fs::write(&jpath, &full[..header_len + 4 + first_len]).unwrap();
            }
            "deleted" => std::fs::remove_file(&jpath).unwrap(),
            _ => std::fs::write(&jpath, &full[..header_len]).unwrap(),
        }
        let listing = crate::dir_snapshot(v.dir.path());
        for args in [
            &["client", "list"][..],
            &["check"],
            &["client", "add", "--name", "X"],
        ] {
            let out = v.cmd().args(args).output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(4),
                "{case}, {args:?}: {}",
                stderr(&out)
            );
            let err = stderr(&out);
            assert!(
                err.contains("acknowledged edits were lost"),
                "{case}: {err}"
            );
            assert!(err.contains(".lock aside"), "{case}: {err}");
        }
        assert_eq!(
            crate::dir_snapshot(v.dir.path()),
            listing,
            "{case}: files changed"
        );
        // Moving both aside is saying: open it without them.
        let aside = v.dir.path().join("aside");
        std::fs::create_dir(&aside).unwrap();
        for p in [jpath.clone(), crate::with_suffix(&v.path, ".lock")] {
            if p.exists() {
                std::fs::rename(&p, aside.join(p.file_name().unwrap())).unwrap();
            }
        }
        v.cmd().arg("check").assert().success();
        v.cmd().args(["client", "show", &first]).assert().code(2);
    }
}

/// `kluis backup` writes everything (the journal folded in) as one encrypted file that opens
/// on its own; it never replaces a file, and into a folder it puts a dated copy.
#[test]
fn a_backup_holds_everything_and_restores() {
    let v = TestVault::created();
    let id = v.add_client(&format!("Reserve {CANARY}"));
    v.add_note(&id, &format!("In het journaal {CANARY}"));
    assert!(pending(&v) > 0);
    let dest = v.dir.path().join("kopie.kluis");
    let out = v.cmd().arg("backup").arg(&dest).assert().success();
    assert_eq!(
        crate::stdout(out.get_output()).trim(),
        dest.to_str().unwrap()
    );
    assert!(!contains(&std::fs::read(&dest).unwrap(), CANARY.as_bytes()));
    // Never over a file.
    v.cmd().arg("backup").arg(&dest).assert().code(1);
    // Into a folder: a dated copy.
    let folder = v.dir.path().join("usb");
    std::fs::create_dir(&folder).unwrap();
    let out = v.cmd().arg("backup").arg(&folder).assert().success();
    let dated = std::path::PathBuf::from(crate::stdout(out.get_output()).trim());
    assert_eq!(dated.parent(), Some(folder.as_path()));
    // Restored elsewhere, alone (no journal beside it), it holds the note.
    let restored = TestVault::empty();
    std::fs::copy(&dest, &restored.path).unwrap();
    let notes = restored.json(&["note", "list", &id, "--json"]);
    assert!(
        notes[0]["body"].as_str().unwrap().contains(CANARY),
        "{notes}"
    );
    restored.cmd().arg("check").assert().success();
}

/// Issue 18: separate commands each got fresh headroom, so the vault grew past what kluis
/// can load (1.125 × the image above SQLite's 2 GiB allocation limit) and kluis saved a vault
/// it then refused to open. A change that would cross the limit is refused, nothing changes,
/// and the vault opens as it was. The limit is lowered here so that reaching it is cheap.
#[test]
fn a_change_that_would_make_a_vault_kluis_cannot_open_is_refused() {
    use kluis::session::{Access, Session};
    let v = TestVault::created();
    let id = v.add_client("Schuldhulp");
    let pass = kluis::secret::SecretString::from(PASS.to_owned());
    let mut s = Session::open(&v.path, &pass, Access::Write).unwrap();
    let limit = kluis::internals::image_size(&s) + 400_000;
    kluis::internals::set_max_image(&s, limit);
    // Notes that do not compress (files kept in dossiers live outside the image).
    let mut added = 0;
    let refused = loop {
        let body: String = (0..100_000u32)
            .map(|i| char::from(b'a' + ((i * 7919 + added * 31) % 26) as u8))
            .collect();
        let note = kluis::model::NewNote {
            client_id: id.clone(),
            kind: kluis::model::NoteKind::Observatie,
            occurred_at: chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
            body,
            supersedes: None,
            special: false,
        };
        match s.change(|st| st.add_note(&note)) {
            Ok(_) => added += 1,
            Err(e) => break e,
        }
        let size = kluis::internals::image_size(&s);
        assert!(size <= limit, "{size} > {limit} after {added}");
        assert!(added < 20, "never refused");
    };
    assert!(
        matches!(refused, kluis::Error::VaultTooLarge { .. }),
        "{refused:?}"
    );
    assert!(added >= 2, "{added}");
    s.close().unwrap();
    // It opens, with the notes that fit and not the refused one.
    let listed = v.json(&["note", "list", &id, "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), added as usize);
    v.cmd().arg("check").assert().success();
}

/// An image of an older schema is migrated in memory (a rebuild of the search indexes takes
/// seconds at 200,000 notes): the first session that may write saves it migrated, once, even
/// when it changes nothing; later ones find the current schema.
#[test]
fn a_vault_of_an_older_schema_is_saved_migrated_by_its_first_session() {
    use kluis::session::{Access, Session};
    let v = TestVault::empty();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/old_17d4321.kluis");
    std::fs::copy(src, &v.path).unwrap();
    let pass = kluis::secret::SecretString::from(PASS.to_owned());
    let s = Session::open(&v.path, &pass, Access::Write).unwrap();
    assert!(kluis::internals::migrated_from(&s).is_some());
    s.close().unwrap();
    let s = Session::open(&v.path, &pass, Access::Write).unwrap();
    assert_eq!(kluis::internals::migrated_from(&s), None);
    let hits = kluis::internals::search(
        kluis::internals::store(&s),
        &kluis::model::fts_query("kanarie").unwrap(),
        10,
    )
    .unwrap();
    assert!(!hits.is_empty());
}

/// The note ids a `search --json` finds.
fn found(v: &TestVault, words: &str) -> Vec<String> {
    v.json(&["search", words, "--json"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] == "note")
        .map(|h| h["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Issue 18 (migration 0014): a note is indexed for search when something reads the index,
/// not when it is written. Notes left in the journal by command-line runs are replayed
/// unindexed and found by the next search all the same; `check` passes on a vault whose
/// notes wait; a special note is never found; the vault file a compaction writes holds
/// whole indexes (its image has every non-special note in `note_fts`).
#[test]
fn notes_in_the_journal_are_found_by_the_next_search_and_check_passes() {
    let v = TestVault::created();
    let c = v.add_client("Fatima el Amrani");
    v.compact();
    let first = v.add_note(&c, "Eerste gesprek over de huurachterstand");
    let second = v.add_note(&c, "Tweede gesprek: huurachterstand betaald");
    v.cmd()
        .args(["note", "add", &c, "--special", "--text"])
        .arg(format!("Huurachterstand door ziekte {CANARY}"))
        .assert()
        .success();
    assert!(pending(&v) >= 3);
    let mut hits = found(&v, "huurachterstand");
    hits.sort();
    let mut want = vec![first.clone(), second];
    want.sort();
    assert_eq!(hits, want);
    assert!(found(&v, CANARY).is_empty(), "a special note was found");
    // Another command replays the journal again, its notes unindexed again: found again.
    let third = v.add_note(&c, "Derde gesprek, huurachterstand geregeld");
    assert_eq!(found(&v, "geregeld"), vec![third]);
    v.cmd().arg("check").assert().success();
    // Folded into the vault file, with its indexes whole.
    v.compact();
    assert_eq!(pending(&v), 0);
    let pass = kluis::secret::SecretString::from(PASS.to_owned());
    let opened = kluis::internals::read(&v.path, Some(&pass), None).unwrap();
    let conn = kluis::internals::connection(&opened.store);
    let (indexed, notes): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM note_fts_docsize),
                    (SELECT count(*) FROM note WHERE NOT special)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((indexed, notes), (3, 3));
    assert_eq!(found(&v, "eerste"), vec![first]);
}

/// A note that arrives through team sync is found by the receiver's next search (the merge
/// writes notes without indexing them); a special one never is.
#[test]
fn a_synced_note_is_found_by_the_receivers_search() {
    let team = crate::sync::Team::new(&["w001", "w002"]);
    let (a, b) = (team.v("w001"), team.v("w002"));
    let id = a.add_client("Fenna de Vries");
    a.cmd()
        .args(["client", "assign", &id, "w002"])
        .assert()
        .success();
    let note = a.add_note(&id, "Keukentafelgesprek over de schuldeisers");
    a.cmd()
        .args(["note", "add", &id, "--special", "--text"])
        .arg(format!("Schuldeisers en {CANARY}"))
        .assert()
        .success();
    crate::sync::sync(a, team.dir());
    let out = crate::sync::sync(b, team.dir());
    assert_eq!(out["imported"][0]["result"]["clients_new"], 1, "{out}");
    assert_eq!(found(b, "schuldeisers"), vec![note]);
    assert!(found(b, CANARY).is_empty(), "a special note was found");
    b.cmd().arg("check").assert().success();
}
