//! Sync you can trust (issue 16), through the real binary: a dossier is never nobody's, IT
//! reassigns one with the organisation's key and a recovered vault hands it over, rosters
//! travel through the shared folder (newer ones first, bundles under a roster not here yet
//! held, what a revoked worker wrote afterwards taken out), an enrollment file works once
//! in effect and an id can be issued again, and entries cut from the end of the access log
//! are found against the shared folder.
use serde_json::Value;

use crate::org::{Org, enroll, it};
use crate::share::rosters;
use crate::sync::{Team, bundles, sync};
use crate::{CANARY, PASS, TestVault, WEAK_KDF, stderr, stdout};

fn show(v: &TestVault, id: &str) -> Value {
    v.json(&["client", "show", id, "--json"])
}

fn notes(v: &TestVault, id: &str) -> Vec<String> {
    v.json(&["note", "list", id, "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"].as_str().unwrap().to_owned())
        .collect()
}

/// The dossier's row in `client list --json`.
fn listed(v: &TestVault, id: &str) -> Value {
    v.json(&["client", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap()
        .clone()
}

fn revoke(org: &Org, id: &str) {
    it().args(["org", "revoke", "--dir"])
        .arg(&org.dir)
        .args([id, "--reason", "uit dienst"])
        .assert()
        .success();
}

fn orphaned(report: &Value) -> Vec<String> {
    report["orphaned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["client_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_dossier_is_never_nobodys_and_it_reassigns_one_whose_worker_left() {
    let team = Team::new(&["w001", "w002", "w003"]);
    let (a, b, c) = (team.v("w001"), team.v("w002"), team.v("w003"));
    let x = b.add_client(&format!("Wees Dossier {CANARY}"));
    b.add_note(&x, "Eerste gesprek");
    // The only assignee cannot leave the dossier (issue 16, item 3).
    let out = b
        .cmd()
        .args(["client", "unassign", &x, "w002"])
        .assert()
        .code(2);
    assert!(
        stderr(out.get_output()).contains("never nobody's"),
        "{}",
        stderr(out.get_output())
    );
    // With a colleague on it, either may step back: w001, who keeps what it received.
    b.cmd()
        .args(["client", "assign", &x, "w001"])
        .assert()
        .success();
    sync(b, team.dir());
    sync(a, team.dir());
    a.cmd()
        .args(["client", "unassign", &x, "w001"])
        .assert()
        .success();
    sync(a, team.dir());
    sync(b, team.dir());
    assert_eq!(show(a, &x)["assigned"], serde_json::json!(["w002"]));
    assert_eq!(show(b, &x)["assigned"], serde_json::json!(["w002"]));

    // w002 leaves and is revoked: nobody who can receive the dossier is assigned. Every
    // vault that holds it says so, in sync and in the agenda. (Revocations count in whole
    // seconds: what w002 did this second would count as after it.)
    std::thread::sleep(std::time::Duration::from_millis(1100));
    revoke(&team.org, "w002");
    team.org.publish(team.dir());
    let report = sync(a, team.dir());
    assert_eq!(orphaned(&report), std::slice::from_ref(&x), "{report}");
    let agenda = a.json(&["agenda", "--json"]);
    assert!(
        agenda
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "orphaned" && i["client_id"] == x.as_str()),
        "{agenda}"
    );
    let out = a
        .cmd()
        .args(["sync", team.dir().to_str().unwrap()])
        .assert()
        .success();
    assert!(
        stderr(out.get_output()).contains("kluis org reassign"),
        "{}",
        stderr(out.get_output())
    );

    // IT reassigns it to w003 with the organisation's key and publishes the roster.
    it().args(["org", "reassign", "--dir"])
        .arg(&team.org.dir)
        .args([&x, "--to", "w003", "--reason", "overname"])
        .assert()
        .success();
    team.org.publish(team.dir());
    // The departed worker's vault, recovered by IT, hands the dossier over: its sync takes
    // the roster and sends w003 the whole history, which w003 accepts although w002 is
    // revoked (everything in it was written before the revocation).
    let out = it()
        .arg("--vault")
        .arg(&b.path)
        .args(["org", "recover", "--dir"])
        .arg(&team.org.dir)
        .args(["--by", "helpdesk"])
        .args(WEAK_KDF)
        .assert()
        .success();
    let temporary = stdout(out.get_output()).lines().last().unwrap().to_owned();
    b.cmd()
        .env("KLUIS_PASSPHRASE", &temporary)
        .env("KLUIS_NEW_PASSPHRASE", PASS)
        .arg("passwd")
        .assert()
        .success();
    let handed = sync(b, team.dir());
    assert_eq!(
        handed["exported"][0]["recipients"],
        serde_json::json!(["w003"]),
        "{handed}"
    );
    let got = sync(c, team.dir());
    let from_b = got["imported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["result"]["author"] == "w002" && i["result"]["clients_new"] == 1);
    assert!(from_b, "{got}");
    assert_eq!(
        show(c, &x)["assigned"],
        serde_json::json!(["w002", "w003"]),
        "w003 assigned by IT; w002 stays listed, revoked"
    );
    assert_eq!(notes(c, &x), ["Eerste gesprek"]);
    // w003 can now work on it, and close it; the orphan report is gone for everyone.
    c.cmd()
        .args(["client", "edit", &x, "--phone", "06-33333333"])
        .assert()
        .success();
    c.cmd().args(["client", "close", &x]).assert().success();
    sync(c, team.dir());
    let report = sync(a, team.dir());
    assert!(orphaned(&report).is_empty(), "{report}");
    assert_eq!(show(c, &x)["status"], "closed");
    // w001 stepped back: it keeps what it had and is sent nothing new.
    assert_eq!(show(a, &x)["status"], "open");
}

#[test]
fn rosters_travel_through_the_share_and_a_revocation_takes_effect() {
    let team = Team::new(&["w001", "w002", "w003"]);
    let (a, b, c) = (team.v("w001"), team.v("w002"), team.v("w003"));
    let x = a.add_client("Gedeeld Dossier");
    a.cmd()
        .args(["client", "assign", &x, "w002", "w003"])
        .assert()
        .success();
    for v in [a, b, c] {
        sync(v, team.dir());
    }
    // IT revokes w003; the new roster reaches w001 by hand, not yet the share.
    revoke(&team.org, "w003");
    let by_hand = a.dir.path().join("roster-new.json");
    team.org.roster(&by_hand);
    a.cmd()
        .args(["roster", "import"])
        .arg(&by_hand)
        .assert()
        .success();
    // Nor can a dossier be handed over to the revoked worker.
    let out = a
        .cmd()
        .args([
            "client",
            "handover",
            &x,
            "--to",
            "w003",
            "--note",
            "overdracht",
        ])
        .assert()
        .code(2);
    assert!(
        stderr(out.get_output()).contains("revoked"),
        "{}",
        stderr(out.get_output())
    );
    // w003, not told, writes on: a phone number and a note.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    c.cmd()
        .args(["client", "edit", &x, "--phone", "06-66666666"])
        .assert()
        .success();
    c.add_note(&x, "Na de intrekking geschreven");
    sync(c, team.dir());
    // w002 still has the old roster: it merges w003's changes.
    sync(b, team.dir());
    assert_eq!(listed(b, &x)["note_count"], 1);
    assert_eq!(show(b, &x)["phone"], "06-66666666");
    assert_eq!(notes(b, &x).len(), 1);
    // w001 writes under the new roster; w002 holds that bundle (it needs the new roster)
    // and sends nothing until it has it: the new roster may revoke a recipient.
    a.cmd()
        .args(["client", "edit", &x, "--address", "Dorpsstraat 9"])
        .assert()
        .success();
    // w001 has the roster: it refuses w003's bundle outright (exit 4, nothing taken in)
    // and sends nothing to w003.
    let out = a
        .cmd()
        .args(["sync", team.dir().to_str().unwrap(), "--json"])
        .assert()
        .code(4);
    let out: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert!(
        out["refused"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    assert_eq!(
        out["exported"][0]["recipients"],
        serde_json::json!(["w001", "w002"]),
        "nothing goes to a revoked worker"
    );
    assert_eq!(show(a, &x)["phone"], Value::Null);
    b.cmd()
        .args(["client", "edit", &x, "--domain", "jeugd"])
        .assert()
        .success();
    let out = sync(b, team.dir());
    assert_eq!(out["held"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(
        out["export_held"],
        out["held"][0]["result"]["roster_version"]
    );
    assert_eq!(out["exported"], serde_json::json!([]), "{out}");
    assert_ne!(show(b, &x)["address"], "Dorpsstraat 9");
    // IT publishes the roster into the share: w002's next sync takes it first, takes out
    // what w003 wrote after the revocation, merges the held bundle and sends again, to
    // w001 only. The roster it supersedes leaves the share; a file that only looks like a
    // roster is not IT's to judge, and stays.
    let before = rosters(team.dir());
    assert_eq!(before.len(), 1, "{before:?}");
    let old = a.dir.path().join("roster-old.json");
    std::fs::copy(&before[0], &old).unwrap();
    let lookalike = team.dir().join(format!("{}.kluisroster", "0".repeat(64)));
    std::fs::write(&lookalike, b"{\"body\":\"\",\"signature\":\"\"}").unwrap();
    team.org.publish(team.dir());
    let after = rosters(team.dir());
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(after.contains(&lookalike) && !after.contains(&before[0]));
    std::fs::remove_file(&lookalike).unwrap();
    let out = sync(b, team.dir());
    assert!(out["roster"].is_u64(), "{out}");
    assert!(out["withdrawn"].as_u64().unwrap() >= 2, "{out}");
    assert_eq!(
        show(b, &x)["phone"],
        Value::Null,
        "w003's late change is gone"
    );
    assert!(notes(b, &x).is_empty(), "w003's late note is gone");
    // The caseload's count follows the note out (its tally, migration 0015), and `check`
    // counts the notes again.
    let row = listed(b, &x);
    assert_eq!(row["note_count"], 0, "{row}");
    assert_eq!(row["last_contact"], Value::Null, "{row}");
    b.cmd().arg("check").assert().success();
    assert_eq!(show(b, &x)["address"], "Dorpsstraat 9");
    assert_eq!(
        out["exported"][0]["recipients"],
        serde_json::json!(["w001", "w002"]),
        "{out}"
    );
    let out = sync(a, team.dir());
    assert_eq!(out["refused_before"], 1, "{out}");
    assert_eq!(show(a, &x)["domain"], "jeugd");
    assert_eq!(show(a, &x)["phone"], Value::Null);
    // An older roster by hand is a rollback: refused.
    let v = a.json(&["whoami", "--json"])["roster_version"]
        .as_u64()
        .unwrap();
    let out = a
        .cmd()
        .args(["roster", "import"])
        .arg(&old)
        .assert()
        .code(4);
    assert!(stderr(out.get_output()).contains(&format!("already has version {v}")));
}

fn whoami(v: &TestVault) -> Value {
    v.json(&["whoami", "--json"])
}

#[test]
fn an_enrollment_file_works_once_in_effect_and_an_id_can_be_issued_again() {
    let org = Org::new("Gemeente Test");
    let share = tempfile::tempdir().unwrap();
    let share = share.path();
    let tmp = tempfile::tempdir().unwrap();
    let (file, code) = org.issue("w001", tmp.path());
    let (file2, code2) = org.issue("w002", tmp.path());
    let laptop = TestVault::empty();
    let copy = TestVault::empty();
    let colleague = TestVault::empty();
    enroll(&laptop, &file, &code).success();
    // The same file and code, a second time: a vault is made, with other keys.
    enroll(&copy, &file, &code).success();
    enroll(&colleague, &file2, &code2).success();
    let (fp, fp_copy) = (
        whoami(&laptop)["device"]["fingerprint"]
            .as_str()
            .unwrap()
            .to_owned(),
        whoami(&copy)["device"]["fingerprint"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    assert_ne!(fp, fp_copy);
    assert_eq!(whoami(&laptop)["device"]["admitted"], false);
    for v in [&laptop, &copy, &colleague] {
        let out = sync(v, share);
        assert_eq!(out["admitted"], false);
        assert!(out["request"].is_string(), "{out}");
        // Nothing is sent or read before IT admits the device.
        v.cmd()
            .args(["export", "--out", share.to_str().unwrap()])
            .assert()
            .code(2);
    }
    // Two devices used w001's file: IT admits neither until it chooses, with the worker.
    let out = org.admit(share).code(2);
    let text = stderr(out.get_output());
    assert!(text.contains(&fp) && text.contains(&fp_copy), "{text}");
    assert!(
        stdout(out.get_output()).contains("w002"),
        "w002 was admitted"
    );
    it().args(["org", "admit", "--dir"])
        .arg(&org.dir)
        .arg(share)
        .args(["--fingerprint", &fp])
        .assert()
        .success();
    // Asking again: the copy is a second device of an enrollment already used.
    let out = org.admit(share).success();
    assert!(
        stderr(out.get_output()).contains("admitted already"),
        "{}",
        stderr(out.get_output())
    );
    for v in [&laptop, &colleague] {
        assert_eq!(sync(v, share)["admitted"], true);
    }
    let out = sync(&copy, share);
    assert_eq!(out["admitted"], false, "the copy's keys are on no roster");
    // The copy cannot receive anything either: w002's bundles go to the laptop's key.
    let id = colleague.add_client("Voor W001");
    colleague
        .cmd()
        .args(["client", "assign", &id, "w001"])
        .assert()
        .success();
    sync(&colleague, share);
    sync(&laptop, share);
    assert_eq!(show(&laptop, &id)["name"], "Voor W001");
    let n = bundles(share).len();
    sync(&copy, share);
    assert_eq!(bundles(share).len(), n, "the copy wrote nothing");

    // The laptop is lost: IT issues w001 again. The old device's key is retired from now
    // on; the new device is admitted like the first.
    let file3 = tmp.path().join("w001-nieuw.enroll");
    let out = it()
        .args(["org", "reissue", "--dir"])
        .arg(&org.dir)
        .args(["--id", "w001", "--out"])
        .arg(&file3)
        .args(WEAK_KDF)
        .assert()
        .success();
    let code3 = stdout(out.get_output()).lines().last().unwrap().to_owned();
    let new_laptop = TestVault::empty();
    enroll(&new_laptop, &file3, &code3).success();
    sync(&new_laptop, share);
    org.admit(share).success();
    let out = sync(&new_laptop, share);
    assert_eq!(out["admitted"], true, "{out}");
    // ... and the dossier reaches it (w002 sends the whole history to the new key).
    sync(&colleague, share);
    sync(&new_laptop, share);
    assert_eq!(show(&new_laptop, &id)["name"], "Voor W001");
    // The old laptop, found by someone, is no longer admitted, and what it writes now is
    // refused by w002 (its key was retired before it wrote).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    laptop
        .cmd()
        .args(["client", "edit", &id, "--phone", "06-99999999"])
        .assert()
        .success();
    let old = tempfile::tempdir().unwrap();
    laptop
        .cmd()
        .args(["export", "--out", old.path().to_str().unwrap()])
        .assert()
        .success();
    let out = colleague
        .cmd()
        .arg("import")
        .args(bundles(old.path()))
        .assert()
        .code(4);
    assert!(stderr(out.get_output()).contains("retired"));
    assert_ne!(show(&colleague, &id)["phone"], "06-99999999");
    let out = sync(&laptop, share);
    assert_eq!(out["admitted"], false, "{out}");
}

/// An attacker with the vault's passphrase cuts entries from the end of the access log
/// (the chain cannot show that: what is left is a valid chain); the heads the worker's
/// own bundles carry in the shared folder show it.
#[test]
fn entries_cut_from_the_end_of_the_access_log_are_found_against_the_share() {
    let team = Team::new(&["w001", "w002"]);
    let a = team.v("w001");
    let x = a.add_client("Logboek Test");
    a.cmd()
        .args(["client", "assign", &x, "w002"])
        .assert()
        .success();
    for _ in 0..3 {
        a.cmd().args(["client", "show", &x]).assert().success();
    }
    sync(a, team.dir());
    let share = team.dir().to_str().unwrap();
    let out = a
        .cmd()
        .args(["audit", "verify", "--share", share])
        .assert()
        .success();
    assert!(stdout(out.get_output()).contains("agree"));
    let head = a.json(&["audit", "verify", "--share", share, "--json"]);
    let highest = head["share"]["highest"].as_u64().unwrap();
    assert!(highest > 3, "{head}");
    cut_log(a, highest - 2);
    // The chain alone still verifies.
    a.cmd().args(["audit", "verify"]).assert().success();
    let out = a
        .cmd()
        .args(["audit", "verify", "--share", share])
        .assert()
        .code(4);
    assert!(
        stderr(out.get_output()).contains("removed from the end"),
        "{}",
        stderr(out.get_output())
    );
}

/// Deletes the access log's entries from `from` on, as someone who knows the passphrase
/// could: the append-only trigger dropped and put back, the image re-sealed.
pub fn cut_log(v: &TestVault, from: u64) {
    // What the runs above appended to the journal goes into the vault file first.
    v.cmd().arg("compact").assert().success();
    let pass = kluis::secret::SecretString::from(PASS.to_owned());
    let opened = kluis::internals::read(&v.path, Some(&pass), None).unwrap();
    let kluis::vault::Opened {
        mut store,
        key,
        stamp,
    } = opened;
    let conn = kluis::internals::connection(&store);
    let trigger: String = conn
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE name = 'access_log_no_delete'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute_batch(&format!(
        "DROP TRIGGER access_log_no_delete; DELETE FROM access_log WHERE seq >= {from}; {trigger};"
    ))
    .unwrap();
    let recipients: Vec<String> = conn
        .prepare("SELECT recipient FROM recovery_recipient")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let recipients = kluis::session::parse_recipients(&recipients).unwrap();
    kluis::internals::write(
        &v.path,
        &mut store,
        &key,
        &recipients,
        kluis::vault::Place::Replace(stamp),
    )
    .unwrap();
}

/// A roster file in the shared folder that does not verify (here: its body changed after IT
/// signed it) is refused and reported; the vault keeps the roster it had.
#[test]
fn a_roster_in_the_share_that_does_not_verify_is_refused() {
    use sha2::Digest;
    let team = Team::new(&["w001", "w002"]);
    let a = team.v("w001");
    let before = whoami(a)["roster_version"].as_u64().unwrap();
    revoke(&team.org, "w002");
    let file = a.dir.path().join("roster-new.json");
    team.org.roster(&file);
    let text = std::fs::read_to_string(&file).unwrap();
    // The revocation taken out of the signed body: the signature no longer matches.
    let forged = text.replacen("uit dienst", "uit diensT", 1);
    assert_ne!(forged, text);
    let name = format!(
        "{}.kluisroster",
        kluis::model::hex(&sha2::Sha256::digest(&forged))
    );
    std::fs::write(team.dir().join(name), &forged).unwrap();
    let out = a
        .cmd()
        .args(["sync", team.dir().to_str().unwrap(), "--json"])
        .assert()
        .code(4);
    let out: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(out["refused"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(out["roster"], Value::Null, "{out}");
    assert_eq!(whoami(a)["roster_version"].as_u64().unwrap(), before);
}
