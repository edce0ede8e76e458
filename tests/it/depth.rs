//! The dossier beyond notes: household, network, support plan and assessments. Each record
//! type round-trips through the CLI, converges through sync, appears in the client's report
//! and goes completely on erasure.

use serde_json::Value;

use crate::sync::Team;
use crate::{CANARY, TestVault, contains, stderr, stdout};

fn add(v: &TestVault, args: &[&str]) -> String {
    let out = v.cmd().args(args).assert().success();
    let id = stdout(out.get_output()).trim().to_owned();
    assert_eq!(id.len(), 36, "prints the new id: {id}");
    id
}

#[test]
fn household_network_plan_and_assessments_round_trip() {
    let v = TestVault::created();
    let c = v.add_client("Sanne Mulder");
    add(
        &v,
        &[
            "household",
            "add",
            &c,
            "--name",
            "Piet",
            "--relation",
            "partner",
        ],
    );
    add(
        &v,
        &[
            "household",
            "add",
            &c,
            "--name",
            "Lotte",
            "--relation",
            "kind",
            "--birth-date",
            "2015-04-01",
        ],
    );
    v.cmd()
        .args([
            "household",
            "add",
            &c,
            "--name",
            "X",
            "--relation",
            "buurman",
        ])
        .assert()
        .code(2);
    let h = v.json(&["household", "list", &c, "--json"]);
    assert_eq!(h[0]["name"], "Lotte", "children first");
    assert_eq!(h[0]["relation"], "kind");
    add(
        &v,
        &[
            "contact",
            "add",
            &c,
            "--name",
            "Dr. Jansen",
            "--role",
            "huisarts",
            "--phone",
            "010-1234567",
        ],
    );
    assert_eq!(
        v.json(&["contact", "list", &c, "--json"])[0]["role"],
        "huisarts"
    );

    v.cmd()
        .args(["plan", "goal", "add", &c, "--domain", "werk", "--text", "x"])
        .assert()
        .code(2);
    let goal = add(
        &v,
        &[
            "plan",
            "goal",
            "add",
            &c,
            "--domain",
            "Financiën",
            "--text",
            "Schulden op een rij",
        ],
    );
    let a1 = add(
        &v,
        &[
            "plan",
            "action",
            "add",
            &goal[..8],
            "--text",
            "Brieven sorteren",
            "--due",
            "2026-12-01",
        ],
    );
    add(
        &v,
        &[
            "plan",
            "action",
            "add",
            &goal,
            "--text",
            "Budgetcursus",
            "--owner",
            "Kredietbank",
        ],
    );
    v.cmd()
        .args(["plan", "action", "done", &a1])
        .assert()
        .success();
    let eval = add(
        &v,
        &[
            "plan",
            "goal",
            "evaluate",
            &goal,
            "--text",
            "Brieven liggen op stapels per schuldeiser",
        ],
    );
    let plan = v.json(&["plan", "show", &c, "--json"]);
    assert_eq!(plan[0]["domain"], "financiën");
    let actions = plan[0]["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2);
    let done = actions.iter().find(|a| a["id"] == a1.as_str()).unwrap();
    assert_eq!(done["status"], "done");
    assert_eq!(
        actions.iter().find(|a| a["id"] != a1.as_str()).unwrap()["owner"],
        "Kredietbank"
    );
    let evals = plan[0]["evaluations"].as_array().unwrap();
    assert_eq!(evals.len(), 1);
    assert_eq!(
        evals[0]["note_id"],
        eval.as_str(),
        "the evaluation is a note"
    );
    assert_eq!(
        evals[0]["text"],
        "Brieven liggen op stapels per schuldeiser"
    );

    // A score needs a reason (record a domain only when it matters) and lies in 1..5.
    let res = v
        .cmd()
        .args(["assess", &c, "--domain", "huisvesting", "--score", "2"])
        .assert()
        .code(2);
    assert!(stderr(res.get_output()).contains("--reason"));
    v.cmd()
        .args([
            "assess",
            &c,
            "--domain",
            "huisvesting",
            "--score",
            "6",
            "--reason",
            "x",
        ])
        .assert()
        .code(2);
    add(
        &v,
        &[
            "assess",
            &c,
            "--domain",
            "huisvesting",
            "--score",
            "2",
            "--reason",
            "Huurachterstand",
            "--at",
            "2026-01-10",
        ],
    );
    add(
        &v,
        &[
            "assess",
            &c,
            "--domain",
            "huisvesting",
            "--score",
            "4",
            "--reason",
            "Regeling getroffen",
            "--at",
            "2026-06-10",
        ],
    );
    let scores = v.json(&["assess", "list", &c, "--json"]);
    let s: Vec<u64> = scores
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["score"].as_u64().unwrap())
        .collect();
    assert_eq!(s, [2, 4], "oldest first");
    let log = v.json(&["audit", "--client", &c, "--json"]);
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "create")
            .count()
            >= 7
    );
}

#[test]
fn records_converge_through_sync_and_go_with_erasure() {
    let team = Team::new(&["w001", "w002"]);
    let (a, b) = (team.v("w001"), team.v("w002"));
    let c = add(
        a,
        &[
            "client",
            "add",
            "--name",
            "Gezin Bakker",
            "--domain",
            "jeugd",
            "--opened-on",
            "2000-01-01",
        ],
    );
    a.cmd()
        .args(["client", "assign", &c, "w002"])
        .assert()
        .success();
    let goal = add(
        a,
        &[
            "plan",
            "goal",
            "add",
            &c,
            "--domain",
            "tijdsbesteding",
            "--text",
            &format!("Naar school {CANARY}"),
        ],
    );
    let act = add(
        a,
        &[
            "plan",
            "action",
            "add",
            &goal,
            "--text",
            "Gesprek met mentor",
        ],
    );
    let letter = a.dir.path().join("brief.txt");
    std::fs::write(&letter, format!("Brief van school {CANARY}")).unwrap();
    let att = add(a, &["attach", "add", &c, letter.to_str().unwrap()]);
    let dir = team.dir().to_str().unwrap().to_owned();
    let sync = |v: &TestVault| v.json(&["sync", &dir, "--json"]);
    sync(a);
    sync(b);
    // The file arrived with its record: B can write it out, byte for byte.
    let copy = b.dir.path().join("brief-kopie.txt");
    b.cmd()
        .args(["attach", "export", &att, "--out"])
        .arg(&copy)
        .assert()
        .success();
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        std::fs::read(&letter).unwrap()
    );
    std::fs::remove_file(&copy).unwrap();
    // Offline, both add to the household and the plan; B marks A's action done.
    add(
        a,
        &[
            "household",
            "add",
            &c,
            "--name",
            &format!("Kind {CANARY}"),
            "--relation",
            "kind",
        ],
    );
    add(
        b,
        &[
            "household",
            "add",
            &c,
            "--name",
            "Moeder",
            "--relation",
            "ouder",
        ],
    );
    add(
        b,
        &[
            "contact",
            "add",
            &c,
            "--name",
            &format!("Mentor {CANARY}"),
            "--org",
            "School",
        ],
    );
    add(
        a,
        &[
            "visit",
            "add",
            &c,
            "--at",
            "2026-12-01 10:00",
            "--purpose",
            &format!("Bezoek {CANARY}"),
        ],
    );
    add(
        b,
        &[
            "assess",
            &c,
            "--domain",
            "tijdsbesteding",
            "--score",
            "2",
            "--reason",
            &format!("Verzuim {CANARY}"),
        ],
    );
    b.cmd()
        .args(["plan", "action", "done", &act])
        .assert()
        .success();
    add(
        a,
        &[
            "plan",
            "action",
            "add",
            &goal,
            "--text",
            "Leerplicht bellen",
        ],
    );
    add(
        b,
        &[
            "plan",
            "goal",
            "evaluate",
            &goal,
            "--at",
            "2000-03-01",
            "--text",
            &format!("Gaat beter {CANARY}"),
        ],
    );
    for v in [a, b, a] {
        sync(v);
    }
    for what in [
        ["household", "list"],
        ["contact", "list"],
        ["assess", "list"],
        ["plan", "show"],
        ["visit", "list"],
        ["attach", "list"],
    ] {
        let (ja, jb): (Value, Value) = (
            a.json(&[what[0], what[1], &c, "--json"]),
            b.json(&[what[0], what[1], &c, "--json"]),
        );
        assert_eq!(ja, jb, "{what:?} differs");
    }
    assert_eq!(
        a.json(&["household", "list", &c, "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let plan = a.json(&["plan", "show", &c, "--json"]);
    let actions = plan[0]["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2, "nothing lost");
    assert_eq!(
        actions.iter().find(|x| x["id"] == act.as_str()).unwrap()["status"],
        "done"
    );

    // The client's report holds them.
    let report = a.dir.path().join("inzage.md");
    a.cmd()
        .args(["report", &c, "--format", "md", "--out"])
        .arg(&report)
        .assert()
        .success();
    let text = std::fs::read_to_string(&report).unwrap();
    for s in [
        "Kind",
        "Moeder",
        "Mentor",
        "Naar school",
        "Verzuim",
        "Leerplicht bellen",
    ] {
        assert!(text.contains(s), "{s} missing from the report");
    }

    // Erasure takes all of it, in both vaults (closed on paper in 2001: jeugd, 20 years).
    a.cmd()
        .args(["client", "close", &c, "--at", "2001-01-01"])
        .assert()
        .success();
    a.cmd()
        .args(["retention", "purge", "--yes"])
        .assert()
        .success();
    sync(a);
    sync(b);
    let key = team.org.recovery_key_file(b.dir.path());
    for v in [a, b] {
        for file in [v.path.clone(), v.prev()] {
            let image = crate::privacy::age_decrypt(&key, &file);
            assert!(
                !contains(&image, CANARY.as_bytes()),
                "a record survived erasure in {}",
                file.display()
            );
        }
        v.cmd().args(["plan", "show", &c]).assert().code(2);
    }
}

#[test]
fn the_agenda_shows_visits_actions_consents_and_retention_for_a_field_day() {
    let v = TestVault::created();
    let c = v.add_client("Agenda Client");
    v.cmd()
        .args(["client", "edit", &c, "--address", "Dorpsstraat 1"])
        .assert()
        .success();
    let today = chrono::Local::now().date_naive();
    let day = |n: u64| (today + chrono::Days::new(n)).to_string();
    let visit = add(
        &v,
        &[
            "visit",
            "add",
            &c,
            "--at",
            &format!("{} 10:30", day(1)),
            "--purpose",
            "Keukentafelgesprek",
        ],
    );
    let goal = add(
        &v,
        &[
            "plan",
            "goal",
            "add",
            &c,
            "--domain",
            "basale adl",
            "--text",
            "Zelf boodschappen doen",
        ],
    );
    add(
        &v,
        &[
            "plan",
            "action",
            "add",
            &goal,
            "--text",
            "Boodschappenlijst maken",
            "--due",
            &day(3),
        ],
    );
    add(
        &v,
        &[
            "plan",
            "action",
            "add",
            &goal,
            "--text",
            "Later",
            "--due",
            &day(30),
        ],
    );
    add(
        &v,
        &[
            "consent",
            "add",
            &c,
            "--org",
            "GGD",
            "--purpose",
            "zorg",
            "--until",
            &day(5),
        ],
    );
    let items = v.json(&["agenda", "--json"]);
    let kinds: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["visit", "action", "consent"], "{items}");
    assert_eq!(items[0]["id"], visit.as_str());
    assert_eq!(items[0]["time"], "10:30");
    assert_eq!(items[0]["address"], "Dorpsstraat 1", "where");
    let all = v.json(&["agenda", "--days", "60", "--json"]);
    assert_eq!(all.as_array().unwrap().len(), 4);
    let text = v.cmd().args(["agenda"]).assert().success();
    assert!(stdout(text.get_output()).contains("Keukentafelgesprek"));
    let visits = v.json(&["visit", "list", &c, "--json"]);
    assert_eq!(visits[0]["purpose"], "Keukentafelgesprek");
    // A moment as people write it ("morgen 14:00") is taken; one that is not, refused.
    v.cmd()
        .args(["visit", "add", &c, "--at", "morgenochtend"])
        .assert()
        .code(2);
}

#[test]
fn a_warm_handover_unassigns_the_sender_once_the_colleague_has_the_dossier() {
    let team = Team::new(&["w001", "w002"]);
    let (a, b) = (team.v("w001"), team.v("w002"));
    let c = add(a, &["client", "add", "--name", "Overdracht Test"]);
    let dir = team.dir().to_str().unwrap().to_owned();
    let sync = |v: &TestVault| v.json(&["sync", &dir, "--json"]);
    let assigned = |v: &TestVault| v.json(&["client", "show", &c, "--json"])["assigned"].clone();
    a.cmd()
        .args(["client", "handover", &c, "--to", "w001", "--note", "x"])
        .assert()
        .code(2);
    add(
        a,
        &[
            "client",
            "handover",
            &c,
            "--to",
            "w002",
            "--note",
            "Let op: schuldeiser belt vaak",
        ],
    );
    assert_eq!(
        assigned(a),
        serde_json::json!(["w001", "w002"]),
        "both, until it arrived"
    );
    sync(a);
    // A stays assigned until it hears that B's vault has the dossier.
    sync(a);
    assert_eq!(assigned(a), serde_json::json!(["w001", "w002"]));
    // B's vault receives the dossier and says so in the same sync (a sync imports first,
    // then exports); A unassigns itself when that arrives.
    sync(b);
    sync(a);
    assert_eq!(
        assigned(a),
        serde_json::json!(["w002"]),
        "A unassigned itself"
    );
    // ... which B learns with A's next export.
    sync(a);
    sync(b);
    assert_eq!(assigned(b), serde_json::json!(["w002"]));
    // The handover note is in the dossier, and A can no longer change it.
    let notes = b.json(&["note", "list", &c, "--json"]);
    assert!(notes.to_string().contains("Let op: schuldeiser belt vaak"));
    a.cmd()
        .args(["client", "edit", &c, "--phone", "06-1"])
        .assert()
        .code(2);
}

#[test]
fn attachments_stay_in_the_vault_until_written_out_on_purpose() {
    let v = TestVault::created();
    let c = v.add_client("Bijlage Test");
    let dir = v.dir.path();
    let scan = dir.join("toestemming.pdf");
    let bytes: Vec<u8> = format!("%PDF-1.4 {CANARY} getekend\n")
        .into_bytes()
        .into_iter()
        .chain((0..=255u8).cycle().take(100_000))
        .collect();
    std::fs::write(&scan, &bytes).unwrap();
    let id = add(
        &v,
        &[
            "attach",
            "add",
            &c,
            scan.to_str().unwrap(),
            "--title",
            "Getekende toestemming",
        ],
    );
    assert!(scan.exists(), "the original is not deleted by kluis");
    let list = v.json(&["attach", "list", &c, "--json"]);
    assert_eq!(list[0]["title"], "Getekende toestemming");
    assert_eq!(list[0]["filename"], "toestemming.pdf");
    assert_eq!(list[0]["size"], bytes.len());
    // Not readable in the vault file.
    assert!(!contains(
        &std::fs::read(&v.path).unwrap(),
        CANARY.as_bytes()
    ));
    // Written out only on purpose: plain (with a warning), or encrypted for a recipient.
    let plain = dir.join("uit.pdf");
    let res = v
        .cmd()
        .args(["attach", "export", &id[..8], "--out"])
        .arg(&plain)
        .assert()
        .success();
    assert!(stderr(res.get_output()).contains("OUTSIDE the vault"));
    assert_eq!(std::fs::read(&plain).unwrap(), bytes);
    v.cmd()
        .args(["attach", "export", &id, "--out"])
        .arg(&plain)
        .assert()
        .code(1);
    let key = dir.join("k.txt");
    assert!(
        std::process::Command::new(crate::require("age-keygen"))
            .arg("-o")
            .arg(&key)
            .output()
            .unwrap()
            .status
            .success()
    );
    let recipient = String::from_utf8(
        std::process::Command::new("age-keygen")
            .arg("-y")
            .arg(&key)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let sealed = dir.join("uit.pdf.age");
    v.cmd()
        .args([
            "attach",
            "export",
            &id,
            "--recipient",
            recipient.trim(),
            "--out",
        ])
        .arg(&sealed)
        .assert()
        .success();
    assert!(!contains(
        &std::fs::read(&sealed).unwrap(),
        CANARY.as_bytes()
    ));
    assert_eq!(crate::privacy::age_decrypt(&key, &sealed), bytes);
    // Over the cap: refused before anything is read into the vault.
    let big = dir.join("groot.bin");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(21 * 1024 * 1024).unwrap();
    v.cmd()
        .args(["attach", "add", &c])
        .arg(&big)
        .assert()
        .code(2);
    // In the client's report, and in the log.
    let report = dir.join("r.md");
    v.cmd()
        .args(["report", &c, "--format", "md", "--out"])
        .arg(&report)
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&report)
            .unwrap()
            .contains("Getekende toestemming")
    );
    let log = v.json(&["audit", "--client", &c, "--json"]);
    assert!(
        log.to_string()
            .contains(&format!("attachment {id} written out (plain)"))
    );
}
