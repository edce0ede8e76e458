//! Privacy by design: each rule has a test that fails when the rule is bypassed. Consent
//! gates disclosure; the access log is chained and tampering is found; purge leaves no byte
//! of the client in the vault or its previous generation (checked with stock `age` and the
//! recovery key); the client's report holds exactly what the vault holds; special notes and
//! the BSN stay masked until revealed, and reveals are logged; erasures travel with sync.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::sync::{Team, export};
use crate::{CANARY, PASS, TestVault, contains, require, stderr, stdout};

/// A recovery identity made with stock `age-keygen`: (key file, recipient).
fn age_key(dir: &Path, name: &str) -> (PathBuf, String) {
    require("age-keygen");
    let key = dir.join(name);
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    let public = Command::new("age-keygen")
        .arg("-y")
        .arg(&key)
        .output()
        .unwrap();
    (
        key,
        String::from_utf8(public.stdout).unwrap().trim().to_owned(),
    )
}

/// Decrypts a file with stock `age` and an identity file.
pub fn age_decrypt(key: &Path, file: &Path) -> Vec<u8> {
    require("age");
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(key)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "age -d {}: {}",
        file.display(),
        stderr(&out)
    );
    out.stdout
}

/// A vault whose saves are also encrypted to a recovery key made with age-keygen.
fn recoverable() -> (TestVault, PathBuf, String) {
    let v = TestVault::empty();
    let (key, recipient) = age_key(v.dir.path(), "recovery.key");
    v.init(&["--recovery-recipient", &recipient]).success();
    (v, key, recipient)
}

fn add(v: &TestVault, args: &[&str]) -> String {
    let out = v.cmd().args(args).assert().success();
    stdout(out.get_output()).trim().to_owned()
}

fn entries(v: &TestVault, client: &str) -> Vec<Value> {
    v.json(&["audit", "--client", client, "--json"])
        .as_array()
        .unwrap()
        .clone()
}

fn count(entries: &[Value], action: &str) -> usize {
    entries.iter().filter(|e| e["action"] == action).count()
}

#[test]
fn disclosure_needs_an_active_consent_for_that_organisation_and_purpose() {
    let v = TestVault::created();
    let (key, recipient) = age_key(v.dir.path(), "ggd.key");
    let c = add(
        &v,
        &[
            "client",
            "add",
            "--name",
            "Noor Bakker",
            "--address",
            &format!("Adres {CANARY}"),
        ],
    );
    v.add_note(&c, "Afspraak met school over verzuim.");
    add(
        &v,
        &[
            "note",
            "add",
            &c,
            "--special",
            "--text",
            "Medisch: astma-7f3a",
        ],
    );
    let out = |name: &str| v.dir.path().join(name);
    let disclose = |file: &str, extra: &[&str]| {
        let mut cmd = v.cmd();
        cmd.args([
            "disclose",
            &c,
            "--org",
            "GGD Noord",
            "--purpose",
            "schoolverzuim",
        ])
        .args(["--recipient", &recipient, "--out"])
        .arg(out(file))
        .args(extra);
        cmd.assert()
    };
    // No consent at all.
    let res = disclose("none.age", &[]).failure().code(1);
    assert!(stderr(res.get_output()).contains("no consent"));
    assert!(!out("none.age").exists(), "nothing written when refused");
    // Consent for another organisation, and for another purpose.
    add(
        &v,
        &[
            "consent",
            "add",
            &c,
            "--org",
            "Schuldhulp",
            "--purpose",
            "schoolverzuim",
        ],
    );
    add(
        &v,
        &[
            "consent",
            "add",
            &c,
            "--org",
            "GGD Noord",
            "--purpose",
            "vaccinaties",
        ],
    );
    disclose("other.age", &[]).failure().code(1);
    assert!(!out("other.age").exists());
    // Expired.
    add(
        &v,
        &[
            "consent",
            "add",
            &c,
            "--org",
            "GGD Noord",
            "--purpose",
            "schoolverzuim",
            "--given",
            "2020-01-01",
            "--until",
            "2020-12-31",
        ],
    );
    let res = disclose("expired.age", &[]).failure().code(1);
    assert!(stderr(res.get_output()).contains("expired"));
    // Active, then withdrawn.
    let consent = add(
        &v,
        &[
            "consent",
            "add",
            &c,
            "--org",
            "ggd noord",
            "--purpose",
            " Schoolverzuim ",
            "--scope",
            "notes",
            "--evidence",
            "getekend formulier",
        ],
    );
    let res = disclose("ok.age", &[]).success();
    let disclosure = stdout(res.get_output()).trim().to_owned();
    assert_eq!(disclosure.len(), 36, "prints the disclosure id");
    // The receiver needs only stock age; exactly the consented scope is in it.
    let text = String::from_utf8(age_decrypt(&key, &out("ok.age"))).unwrap();
    assert!(text.contains("Afspraak met school"), "{text}");
    assert!(
        !text.contains(CANARY),
        "details are not in a notes-only consent"
    );
    assert!(
        !text.contains("astma-7f3a"),
        "special notes need --include-special"
    );
    v.cmd()
        .args(["consent", "withdraw", &consent])
        .assert()
        .success();
    let res = disclose("withdrawn.age", &[]).failure().code(1);
    assert!(stderr(res.get_output()).contains("withdrawn"));
    assert!(!out("withdrawn.age").exists());
    // A legal ground instead of consent is allowed and recorded.
    disclose(
        "legal.age",
        &[
            "--legal-ground",
            "melding Veilig Thuis (Wmo 2015 art. 5.2.6)",
            "--scope",
            "all",
        ],
    )
    .success();
    let text = String::from_utf8(age_decrypt(&key, &out("legal.age"))).unwrap();
    assert!(text.contains(CANARY) && text.contains("Veilig Thuis"));
    // Special-category notes need a consent that explicitly covers them.
    add(
        &v,
        &[
            "consent",
            "add",
            &c,
            "--org",
            "GGD Noord",
            "--purpose",
            "astma",
            "--scope",
            "notes",
        ],
    );
    let res = v
        .cmd()
        .args(["disclose", &c, "--org", "GGD Noord", "--purpose", "astma"])
        .args(["--recipient", &recipient, "--include-special", "--out"])
        .arg(out("special.age"))
        .assert()
        .failure()
        .code(1);
    assert!(stderr(res.get_output()).contains("--special"));
    assert!(!out("special.age").exists());
    add(
        &v,
        &[
            "consent",
            "add",
            &c,
            "--org",
            "GGD Noord",
            "--purpose",
            "astma zorg",
            "--scope",
            "notes",
            "--special",
        ],
    );
    v.cmd()
        .args([
            "disclose",
            &c,
            "--org",
            "GGD Noord",
            "--purpose",
            "astma zorg",
        ])
        .args(["--recipient", &recipient, "--include-special", "--out"])
        .arg(out("special.age"))
        .assert()
        .success();
    let text = String::from_utf8(age_decrypt(&key, &out("special.age"))).unwrap();
    assert!(text.contains("astma-7f3a"));
    assert_eq!(
        count(&entries(&v, &c), "reveal_special"),
        1,
        "the note shared is logged"
    );
    let log = entries(&v, &c);
    assert_eq!(count(&log, "disclose"), 3, "every disclosure is recorded");
    assert!(
        log.iter().all(|e| !e.to_string().contains("GGD")),
        "the log names no organisation"
    );
    let list = v.json(&["consent", "list", &c, "--json"]);
    let states: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["state"].as_str().unwrap())
        .collect();
    assert!(states.contains(&"withdrawn") && states.contains(&"expired"));
    // An existing file is never overwritten.
    disclose("ok.age", &["--legal-ground", "x"])
        .failure()
        .code(1);
}

#[test]
fn the_access_log_is_chained_and_tampering_is_found() {
    let (v, key, recipient) = recoverable();
    let c = v.add_client("Lotte Visser");
    v.cmd()
        .args(["client", "edit", &c, "--bsn", "111222333"])
        .assert()
        .success();
    v.cmd()
        .args(["client", "show", &c, "--show-bsn"])
        .assert()
        .success();
    let log = entries(&v, &c);
    for action in ["create", "change", "view", "reveal_bsn"] {
        assert!(count(&log, action) >= 1, "{action} is logged: {log:?}");
    }
    let all = v.json(&["audit", "--json"]);
    // Each command that showed or changed something logged its unlock (add, edit, show).
    assert_eq!(count(all.as_array().unwrap(), "unlock"), 3);
    assert!(
        log.iter().all(|e| !e.to_string().contains("Lotte")),
        "the log holds no personal data"
    );
    v.cmd().args(["audit", "verify"]).assert().success();
    v.cmd().arg("check").assert().success();

    // Someone with the recovery key rewrites one entry and saves the vault again.
    let tamper = |sql: &str| {
        // The attacker works on the vault file: everything is folded into it first.
        v.compact();
        let identity: age::x25519::Identity = std::fs::read_to_string(&key)
            .unwrap()
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .unwrap()
            .parse()
            .unwrap();
        let (mut store, stamp) = kluis::internals::read_with_recovery(&v.path, &identity).unwrap();
        // A careful forger puts back the append-only triggers dropped for the edit: kluis
        // refuses an image without them before the chain is even looked at.
        let triggers: Vec<String> = kluis::internals::connection(&store)
            .prepare("SELECT sql FROM sqlite_schema WHERE type = 'trigger'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        kluis::internals::connection(&store)
            .execute_batch(sql)
            .unwrap();
        for t in triggers {
            let name = t.split_whitespace().nth(2).unwrap().to_owned();
            let exists: bool = kluis::internals::connection(&store)
                .query_row(
                    "SELECT count(*) > 0 FROM sqlite_schema WHERE name = ?1",
                    [&name],
                    |r| r.get(0),
                )
                .unwrap();
            if !exists {
                kluis::internals::connection(&store)
                    .execute_batch(&t)
                    .unwrap();
            }
        }
        let pass = kluis::secret::SecretString::from(PASS.to_owned());
        let params = kluis::vault::KdfParams {
            memory_kib: 8 * 1024,
            iterations: 1,
            parallelism: 1,
        };
        let sealing = kluis::vault::SealingKey::derive_new(&pass, params).unwrap();
        let recipients =
            kluis::session::parse_recipients(std::slice::from_ref(&recipient)).unwrap();
        kluis::internals::write(
            &v.path,
            &mut store,
            &sealing,
            &recipients,
            kluis::vault::Place::Replace(stamp),
        )
        .unwrap();
    };
    tamper(
        "DROP TRIGGER access_log_no_update;
         UPDATE access_log SET user = 'iemand-anders' WHERE seq = 3;",
    );
    let res = v.cmd().args(["audit", "verify"]).assert().failure().code(4);
    assert!(
        stderr(res.get_output()).contains("broken at entry 3"),
        "{}",
        stderr(res.get_output())
    );
    let res = v.cmd().arg("check").assert().failure().code(4);
    assert!(stdout(res.get_output()).contains("entry 3"));
    // Putting it back repairs it; deleting an entry is found too.
    tamper(
        "DROP TRIGGER access_log_no_update;
         UPDATE access_log SET user = (SELECT user FROM access_log WHERE seq = 4) WHERE seq = 3;",
    );
    v.cmd().args(["audit", "verify"]).assert().success();
    tamper("DROP TRIGGER access_log_no_delete; DELETE FROM access_log WHERE seq = 5;");
    let res = v
        .cmd()
        .args(["audit", "verify", "--json"])
        .assert()
        .failure()
        .code(4);
    let report: Value = serde_json::from_slice(&res.get_output().stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["broken_at"], 6);
}

#[test]
fn purge_leaves_no_byte_of_the_client_in_the_vault_or_its_previous_generation() {
    let (v, key, _) = recoverable();
    let (_, receiver) = age_key(v.dir.path(), "receiver.key");
    let gone = add(
        &v,
        &[
            "client",
            "add",
            "--name",
            &format!("Kees {CANARY}"),
            "--domain",
            "jeugd",
            "--bsn",
            "111222333",
            "--address",
            &format!("Straat {CANARY} 1"),
            "--opened-on",
            "1999-05-01",
        ],
    );
    let kept = v.add_client("Blijft Bewaard");
    v.add_note(&kept, "notitie die blijft");
    // Notes of long ago: a dossier cannot close before its last note.
    add(
        &v,
        &[
            "note",
            "add",
            &gone,
            "--at",
            "2000-06-01",
            "--text",
            &format!("huisbezoek {CANARY} keukentafel"),
        ],
    );
    add(
        &v,
        &[
            "note",
            "add",
            &gone,
            "--special",
            "--at",
            "2000-07-01",
            "--text",
            &format!("medisch {CANARY}"),
        ],
    );
    add(
        &v,
        &[
            "consent",
            "add",
            &gone,
            "--org",
            "School",
            "--purpose",
            &format!("doel {CANARY}"),
            "--evidence",
            &format!("bewijs {CANARY}"),
        ],
    );
    v.cmd()
        .args([
            "disclose",
            &gone,
            "--org",
            "School",
            "--purpose",
            &format!("doel {CANARY}"),
        ])
        .args(["--recipient", &receiver, "--out"])
        .arg(v.dir.path().join("d.age"))
        .assert()
        .success();
    v.cmd().args(["search", "keukentafel"]).assert().success();
    v.cmd()
        .args(["client", "show", &gone, "--show-bsn"])
        .assert()
        .success();
    // Control: before the purge the canary is in the decrypted image and in the previous
    // generation, so the greps below can fail.
    v.compact();
    v.compact();
    assert!(contains(&age_decrypt(&key, &v.path), CANARY.as_bytes()));
    assert!(contains(&age_decrypt(&key, &v.prev()), CANARY.as_bytes()));

    // An open dossier, or one whose retention has not ended, is not erased.
    let res = v
        .cmd()
        .args(["retention", "purge", "--client", &gone, "--yes"])
        .assert()
        .failure()
        .code(1);
    assert!(stderr(res.get_output()).contains("is open"));
    let recent = add(
        &v,
        &[
            "client",
            "add",
            "--name",
            "Recent",
            "--domain",
            "wmo",
            "--opened-on",
            "2010-01-01",
        ],
    );
    v.cmd()
        .args(["client", "close", &recent, "--at", "2020-01-01"])
        .assert()
        .success();
    let res = v
        .cmd()
        .args(["retention", "purge", "--client", &recent, "--yes"])
        .assert()
        .failure()
        .code(1);
    assert!(stderr(res.get_output()).contains("kept until 2035-01-01"));
    // Closed on paper in 2001: jeugd keeps 20 years, so it is due. A second dossier (wmo,
    // 15 years) is due too: both go in one purge.
    v.cmd()
        .args(["client", "close", &gone, "--at", "2001-01-01"])
        .assert()
        .success();
    let also = add(
        &v,
        &[
            "client",
            "add",
            "--name",
            &format!("Ook {CANARY}"),
            "--domain",
            "wmo",
            "--opened-on",
            "2000-01-01",
        ],
    );
    add(
        &v,
        &[
            "note",
            "add",
            &also,
            "--at",
            "2001-03-01",
            "--text",
            &format!("tweede {CANARY} dossier"),
        ],
    );
    v.cmd()
        .args(["client", "close", &also, "--at", "2002-01-01"])
        .assert()
        .success();
    assert_eq!(
        v.json(&["client", "show", &gone, "--json"])["retention_until"],
        "2021-01-01"
    );
    let listed = v.json(&["retention", "--json"]);
    let due: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["due"] == true)
        .map(|i| i["client_id"].as_str().unwrap())
        .collect();
    // Soonest end first: wmo 2002 + 15 = 2017, jeugd 2001 + 20 = 2021.
    assert_eq!(due, [also.as_str(), gone.as_str()]);
    // Without a terminal, purge wants --yes; nothing happens without it.
    v.cmd()
        .args(["retention", "purge"])
        .assert()
        .failure()
        .code(2);
    let res = v
        .cmd()
        .args(["retention", "purge", "--yes"])
        .assert()
        .success();
    assert_eq!(
        stdout(res.get_output()),
        format!("{also}\n{gone}\n"),
        "prints the erased ids"
    );

    for (what, file) in [("vault", v.path.clone()), ("previous generation", v.prev())] {
        let image = age_decrypt(&key, &file);
        assert!(
            !contains(&image, CANARY.as_bytes()),
            "a byte of the erased client is left in the {what}"
        );
        assert!(
            !contains(&image, b"111222333"),
            "the BSN is left in the {what}"
        );
        assert!(
            contains(&image, b"notitie die blijft"),
            "the other client stays"
        );
    }
    // The journal is a fresh one: nothing of the old generation's records.
    let journal = std::fs::read(crate::with_suffix(&v.path, ".journal")).unwrap();
    assert!(journal.len() < 200, "journal: {} bytes", journal.len());
    // The image is a plain SQLite database: the tombstone is there, the client is not.
    let image = v.dir.path().join("image.sqlite");
    std::fs::write(&image, age_decrypt(&key, &v.path)).unwrap();
    let q = |sql: &str| {
        let out = Command::new(require("sqlite3"))
            .arg(&image)
            .arg(sql)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().to_owned()
    };
    assert_eq!(
        q(&format!(
            "SELECT count(*) FROM erased WHERE client_id = '{gone}'"
        )),
        "1"
    );
    assert_eq!(
        q(&format!("SELECT count(*) FROM client WHERE id = '{gone}'")),
        "0"
    );
    assert_eq!(
        q(&format!(
            "SELECT count(*) FROM note WHERE client_id = '{gone}'"
        )),
        "0"
    );
    assert_eq!(
        q(&format!(
            "SELECT count(*) FROM access_log WHERE client_id = '{gone}' AND detail <> ''"
        )),
        "0"
    );
    assert_eq!(q("PRAGMA integrity_check"), "ok");
    // The log keeps the tombstone's history, its chain intact, without personal data.
    let log = entries(&v, &gone);
    assert_eq!(count(&log, "erase"), 1);
    assert!(count(&log, "disclose") == 1 && count(&log, "view") >= 1);
    v.cmd().args(["audit", "verify"]).assert().success();
    v.cmd().arg("check").assert().success();
    v.cmd()
        .args(["client", "show", &gone])
        .assert()
        .failure()
        .code(2);
}

#[test]
fn the_report_holds_exactly_what_the_vault_holds_on_that_client() {
    let v = TestVault::created();
    let (_, receiver) = age_key(v.dir.path(), "r.key");
    let a = add(
        &v,
        &[
            "client",
            "add",
            "--name",
            "Anna A-canary",
            "--bsn",
            "111222333",
            "--address",
            "Adres A-canary",
            "--phone",
            "0612 A-canary",
            "--birth-date",
            "1980-02-03",
            "--domain",
            "schuldhulp",
        ],
    );
    let b = add(
        &v,
        &[
            "client",
            "add",
            "--name",
            "Bert B-canary",
            "--address",
            "Adres B-canary",
        ],
    );
    let note_texts = [
        "eerste <b>notitie</b> A-canary & zo",
        "tweede notitie A-canary\nmet een tweede regel",
    ];
    for t in note_texts {
        v.add_note(&a, t);
    }
    add(
        &v,
        &["note", "add", &a, "--special", "--text", "medisch A-canary"],
    );
    v.add_note(&b, "notitie B-canary");
    add(
        &v,
        &[
            "consent",
            "add",
            &a,
            "--org",
            "Kredietbank",
            "--purpose",
            "schuldregeling A-canary",
        ],
    );
    add(
        &v,
        &[
            "consent",
            "add",
            &b,
            "--org",
            "School",
            "--purpose",
            "B-canary doel",
        ],
    );
    v.cmd()
        .args([
            "disclose",
            &a,
            "--org",
            "Kredietbank",
            "--purpose",
            "schuldregeling A-canary",
        ])
        .args(["--recipient", &receiver, "--out"])
        .arg(v.dir.path().join("a.age"))
        .assert()
        .success();
    for (format, file) in [("html", "a.html"), ("md", "a.md")] {
        let path = v.dir.path().join(file);
        let res = v
            .cmd()
            .args([
                "report",
                &a,
                "--format",
                format,
                "--report-lang",
                "en",
                "--out",
            ])
            .arg(&path)
            .assert()
            .success();
        assert_eq!(stdout(res.get_output()).trim(), path.to_str().unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        // What the vault holds, read back through the CLI.
        let shown = v.json(&["client", "show", &a, "--json"]);
        for field in [
            "name",
            "address",
            "phone",
            "birth_date",
            "domain",
            "status",
            "opened_on",
        ] {
            let value = shown[field].as_str().unwrap();
            let value = if format == "html" {
                value
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            } else {
                value.to_owned()
            };
            assert!(text.contains(&value), "{format}: {field} {value} missing");
        }
        let masked = if format == "md" {
            "\\*\\*\\*\\*\\*\\*333"
        } else {
            "******333"
        };
        assert!(
            text.contains(masked) && !text.contains("111222333"),
            "{format}"
        );
        let notes = v.json(&["note", "list", &a, "--reveal", "--json"]);
        assert_eq!(notes.as_array().unwrap().len(), 3);
        for n in notes.as_array().unwrap() {
            for line in n["body"].as_str().unwrap().lines() {
                let line = match format {
                    "html" => line
                        .replace('&', "&amp;")
                        .replace('<', "&lt;")
                        .replace('>', "&gt;"),
                    _ => line.replace('<', "\\<").replace('>', "\\>"),
                };
                assert!(text.contains(&line), "{format}: note line {line:?} missing");
            }
        }
        assert!(text.contains("Kredietbank") && text.contains("schuldregeling A-canary"));
        let log = entries(&v, &a);
        // The report lists its own making (the entry logged as it was made).
        let made = log
            .iter()
            .rev()
            .find(|e| e["action"] == "report")
            .expect("the report is logged");
        assert!(text.contains(made["at"].as_str().unwrap()) || format == "md");
        assert!(text.contains("made a report for the client") || text.contains("made a report"));
        assert!(
            !text.contains("B-canary"),
            "{format}: another client's data leaked"
        );
        if format == "html" {
            assert!(text.starts_with("<!DOCTYPE html>") && text.contains("@media print"));
            assert!(
                !text.contains("<script") && !text.contains("http"),
                "self-contained"
            );
            assert!(!text.contains("<b>notitie"), "note text is escaped");
        }
    }
    // Never overwrites, and the Dutch report speaks Dutch.
    v.cmd()
        .args(["report", &a, "--out"])
        .arg(v.dir.path().join("a.html"))
        .assert()
        .failure()
        .code(1);
    let nl = v.dir.path().join("nl.md");
    v.cmd()
        .args([
            "report",
            &a,
            "--format",
            "md",
            "--report-lang",
            "nl",
            "--out",
        ])
        .arg(&nl)
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&nl)
            .unwrap()
            .contains("Wat wij over jou bewaren")
    );
    assert_eq!(count(&entries(&v, &a), "report"), 3);
}

#[test]
fn special_notes_and_the_bsn_are_masked_until_revealed_and_reveals_are_logged() {
    let v = TestVault::created();
    let c = add(
        &v,
        &[
            "client",
            "add",
            "--name",
            "Sem de Jong",
            "--bsn",
            "111222333",
        ],
    );
    let note = add(
        &v,
        &[
            "note",
            "add",
            &c,
            "--special",
            "--text",
            &format!("diagnose {CANARY}"),
        ],
    );
    v.add_note(&c, "gewoon bezoek");
    let listed = v.cmd().args(["note", "list", &c]).assert().success();
    let text = stdout(listed.get_output());
    assert!(!text.contains(CANARY) && text.contains("special-category data hidden"));
    let json = v.json(&["note", "list", &c, "--json"]);
    assert!(!json.to_string().contains(CANARY));
    // Search does not look into special notes: even a hit would say which client has one
    // with that word.
    let found = v.json(&["search", "diagnose", "--json"]);
    assert_eq!(found, serde_json::json!([]));
    assert_eq!(
        v.json(&["search", "gewoon", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(count(&entries(&v, &c), "reveal_special"), 0);
    let shown = v
        .cmd()
        .args(["note", "list", &c, "--reveal"])
        .assert()
        .success();
    assert!(stdout(shown.get_output()).contains(CANARY));
    let log = entries(&v, &c);
    assert_eq!(count(&log, "reveal_special"), 1);
    assert!(log.iter().any(|e| e["detail"] == format!("note {note}")));
    assert_eq!(
        count(&log, "search"),
        1,
        "the search that found the plain note"
    );
    // A correction of a special note is special too, even without --special.
    let fixed = add(
        &v,
        &[
            "note",
            "add",
            &c,
            "--supersedes",
            &note,
            "--text",
            &format!("diagnose {CANARY} (bijgewerkt)"),
        ],
    );
    let notes = v.json(&["note", "list", &c, "--json"]);
    let corrected = notes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == fixed.as_str())
        .unwrap();
    assert_eq!(corrected["special"], true);
    assert!(corrected["body"].is_null());
    // The BSN: last three digits, unless revealed (logged).
    let shown = v.cmd().args(["client", "show", &c]).assert().success();
    assert!(!stdout(shown.get_output()).contains("111222333"));
    assert_eq!(v.json(&["client", "list", "--json"])[0]["bsn"], "******333");
    assert_eq!(count(&entries(&v, &c), "reveal_bsn"), 0);
    let shown = v.json(&["client", "show", &c, "--show-bsn", "--json"]);
    assert_eq!(shown["bsn"], "111222333");
    assert_eq!(count(&entries(&v, &c), "reveal_bsn"), 1);
}

#[test]
fn closing_back_dates_and_sets_retention_by_domain() {
    let v = TestVault::created();
    let jeugd = add(
        &v,
        &[
            "client",
            "add",
            "--name",
            "J",
            "--domain",
            "jeugd",
            "--opened-on",
            "1990-01-01",
        ],
    );
    let wmo = add(
        &v,
        &[
            "client",
            "add",
            "--name",
            "W",
            "--domain",
            "wmo",
            "--opened-on",
            "1990-01-01",
        ],
    );
    let werk = add(
        &v,
        &[
            "client",
            "add",
            "--name",
            "P",
            "--domain",
            "participatie",
            "--opened-on",
            "1990-01-01",
        ],
    );
    v.cmd()
        .args(["client", "close", &jeugd, "--at", "2024-02-29"])
        .assert()
        .success();
    v.cmd()
        .args(["client", "close", &wmo, "--on", "2024-02-29"])
        .assert()
        .success();
    v.cmd()
        .args(["client", "close", &werk, "--at", "2999-01-01"])
        .assert()
        .failure()
        .code(2);
    v.cmd()
        .args([
            "retention",
            "policy",
            "--domain",
            "participatie",
            "--years",
            "10",
        ])
        .assert()
        .success();
    v.cmd()
        .args(["client", "close", &werk, "--at", "2024-03-01"])
        .assert()
        .success();
    let until = |id: &str| v.json(&["client", "show", id, "--json"])["retention_until"].clone();
    assert_eq!(until(&jeugd), "2044-02-29");
    assert_eq!(until(&wmo), "2039-02-28");
    assert_eq!(until(&werk), "2034-03-01");
    // Not before the dossier's last note: the retention period runs from the close.
    let late = add(
        &v,
        &["client", "add", "--name", "L", "--opened-on", "2000-01-01"],
    );
    add(
        &v,
        &[
            "note",
            "add",
            &late,
            "--at",
            "2024-05-01",
            "--text",
            "laatste",
        ],
    );
    let res = v
        .cmd()
        .args(["client", "close", &late, "--at", "2024-04-30"])
        .assert()
        .failure()
        .code(2);
    assert!(stderr(res.get_output()).contains("2024-05-01"));
    let policy = v.json(&["retention", "policy", "--json"]);
    let years: Vec<(String, u64)> = policy
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["domain"].as_str().unwrap().to_owned(),
                p["years"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(years.contains(&("jeugd".into(), 20)) && years.contains(&("participatie".into(), 10)));
    v.cmd()
        .args(["retention", "policy", "--domain", "wmo", "--years", "0"])
        .assert()
        .failure()
        .code(2);
    let listed = v.json(&["retention", "--json"]);
    assert_eq!(
        listed.as_array().unwrap().len(),
        3,
        "the refused close left L open"
    );
    assert!(listed.as_array().unwrap().iter().all(|i| i["due"] == false));
}

#[test]
fn access_entries_and_erasures_travel_with_synced_dossiers() {
    let team = Team::new(&["w001", "w002"]);
    let (a, b) = (team.v("w001"), team.v("w002"));
    let c = add(
        a,
        &[
            "client",
            "add",
            "--name",
            &format!("Gedeeld {CANARY}"),
            "--domain",
            "jeugd",
            "--opened-on",
            "2000-01-01",
        ],
    );
    add(
        a,
        &[
            "note",
            "add",
            &c,
            "--at",
            "2000-02-01",
            "--text",
            &format!("notitie {CANARY}"),
        ],
    );
    a.cmd()
        .args(["client", "assign", &c, "w002"])
        .assert()
        .success();
    add(
        a,
        &["consent", "add", &c, "--org", "GGD", "--purpose", "zorg"],
    );
    let dir = team.dir();
    let sync = |v: &TestVault| v.json(&["sync", dir.to_str().unwrap(), "--json"]);
    sync(a);
    sync(b);
    // w002 looks at the dossier; the entry reaches w001's vault with the next sync.
    b.cmd().args(["client", "show", &c]).assert().success();
    let consents = b.json(&["consent", "list", &c, "--json"]);
    assert_eq!(
        consents[0]["org"], "GGD",
        "consents travel with the dossier"
    );
    sync(b);
    sync(a);
    let log = entries(a, &c);
    assert!(
        log.iter()
            .any(|e| e["user"] == "w002" && e["action"] == "view" && e["origin"] == "w002"),
        "{log:?}"
    );
    a.cmd().args(["audit", "verify"]).assert().success();
    // An older copy: w002 edits offline and writes a bundle before the erasure reaches them.
    b.cmd()
        .args(["client", "edit", &c, "--phone", &format!("06 {CANARY}")])
        .assert()
        .success();
    let old = tempfile::tempdir().unwrap();
    export(b, old.path());
    // w001 closes (on paper, long ago) and erases; then the older copy arrives.
    a.cmd()
        .args(["client", "close", &c, "--at", "2001-01-01"])
        .assert()
        .success();
    a.cmd()
        .args(["retention", "purge", "--yes"])
        .assert()
        .success();
    sync(a);
    a.cmd()
        .arg("import")
        .args(crate::sync::bundles(old.path()))
        .assert()
        .success();
    a.cmd()
        .args(["client", "show", &c])
        .assert()
        .failure()
        .code(2);
    // The tombstone reaches w002 and wins there too.
    let report = sync(b);
    let erased: u64 = report["imported"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["result"]["erased"].as_u64())
        .sum();
    assert_eq!(erased, 1, "{report}");
    b.cmd()
        .args(["client", "show", &c])
        .assert()
        .failure()
        .code(2);
    let key = team.org.recovery_key_file(b.dir.path());
    for v in [a, b] {
        for file in [v.path.clone(), v.prev()] {
            let image = age_decrypt(&key, &file);
            assert!(
                !contains(&image, CANARY.as_bytes()),
                "{} keeps the client",
                file.display()
            );
        }
        v.cmd().args(["audit", "verify"]).assert().success();
        assert_eq!(count(&entries(v, &c), "erase"), 1);
    }
}
