//! Group sessions (a copy in each participant's dossier, without the others' names; sync and
//! erasure per dossier) and the access review (never a dossier left with no one).

use serde_json::Value;

use crate::sync::Team;
use crate::{CANARY, TestVault, contains, stderr, stdout};

fn add(v: &TestVault, args: &[&str]) -> String {
    let out = v.cmd().args(args).assert().success();
    stdout(out.get_output()).trim().to_owned()
}

fn report(v: &TestVault, client: &str) -> String {
    let file = v.dir.path().join(format!("inzage-{}.md", &client[..8]));
    let _ = std::fs::remove_file(&file);
    v.cmd()
        .args(["report", client, "--format", "md", "--out"])
        .arg(&file)
        .assert()
        .success();
    std::fs::read_to_string(&file).unwrap()
}

#[test]
fn a_group_session_is_in_each_dossier_without_the_other_participants() {
    let v = TestVault::created();
    let a = v.add_client("Fatima el Amrani");
    let b = v.add_client("Youssef Bouzid");
    let c = v.add_client("Marieke Postma");
    let out = v
        .cmd()
        .args([
            "group",
            "add",
            "--theme",
            "Werk zoeken",
            "--at",
            "2026-03-02",
        ])
        .args([
            "--participant",
            &a,
            "--participant",
            &b[..b.len() - 4],
            "--participant",
            &c,
        ])
        .arg("--summary")
        .arg(
            "We oefenden sollicitatiegesprekken. Youssef vertelde over zijn diploma's; \
             Fatima en Postma over kinderopvang. Iemand noemde zijn depressie.",
        )
        .assert()
        .success();
    let session = stdout(out.get_output()).trim().to_owned();
    let err = stderr(out.get_output());
    for must in [
        "the name of a participant: \"Youssef\"",
        "the name of a participant: \"Fatima\"",
        "the name of a participant: \"Postma\"",
        "health: \"depressie\"",
        "Mark it special",
        "leaves out the names of the other participants",
        "recorded in the dossier of each of the 3 participant(s)",
    ] {
        assert!(err.contains(must), "missing {must:?}:\n{err}");
    }

    // Each dossier: "took part in", its own copy, no one else's name.
    let names = [("Fatima", &a), ("Youssef", &b), ("Postma", &c)];
    for (own, id) in names {
        let copies = v.json(&["record", "list", "group_session", id, "--json"]);
        assert_eq!(copies.as_array().unwrap().len(), 1);
        let summary = copies[0]["summary"].as_str().unwrap();
        assert_eq!(copies[0]["session_id"], session.as_str());
        assert_eq!(copies[0]["held_on"], "2026-03-02");
        for (other, _) in names.iter().filter(|(n, _)| *n != own) {
            assert!(
                !summary.contains(other),
                "{own}'s copy names {other}: {summary}"
            );
        }
        let text = report(&v, id);
        assert!(text.contains("## Took part in group sessions"), "{text}");
        assert!(text.contains("Werk zoeken"), "{text}");
        for (other, other_id) in names.iter().filter(|(n, _)| *n != own) {
            assert!(!text.contains(other), "{own}'s report names {other}");
            assert!(
                !text.contains(other_id.as_str()),
                "{own}'s report has {other}'s id"
            );
        }
    }

    // The worker sees every participant; the shared summary names none of them.
    let shown = v.json(&["group", "show", &session[..session.len() - 4], "--json"]);
    let who: Vec<&str> = shown["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        who,
        ["Fatima el Amrani", "Marieke Postma", "Youssef Bouzid"]
    );
    let summary = shown["summary"].as_str().unwrap();
    for (n, _) in names {
        assert!(!summary.contains(n), "{summary}");
    }
    assert!(summary.contains("diploma's"));
    let listed = v.json(&["group", "list", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);

    // An observation about one participant is a note in their dossier only.
    let note = add(
        &v,
        &[
            "group",
            "note",
            &session,
            &b,
            "--text",
            &format!("Stil, wil 1-op-1 {CANARY}"),
        ],
    );
    let notes_b = v.json(&["note", "list", &b, "--json"]);
    assert_eq!(notes_b[0]["id"], note.as_str());
    assert_eq!(notes_b[0]["kind"], "observatie");
    assert!(
        notes_b[0]["occurred_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-03-02")
    );
    for other in [&a, &c] {
        let notes = v.json(&["note", "list", other, "--json"]);
        assert!(!notes.to_string().contains(CANARY));
    }
    let out = v
        .cmd()
        .args([
            "group",
            "note",
            &session,
            &v.add_client("Buiten Staand"),
            "--text",
            "x",
        ])
        .assert()
        .code(2);
    assert!(stderr(out.get_output()).contains("did not take part"));

    // A special summary is masked in lists until revealed, and the reveal is logged.
    let s2 = add(
        &v,
        &[
            "group",
            "add",
            "--theme",
            "Gezondheid",
            "--special",
            "--participant",
            &a,
            "--summary",
            "Over slapen en stress.",
        ],
    );
    let masked = v.json(&["group", "show", &s2, "--json"]);
    assert_eq!(masked["summary"], Value::Null);
    let revealed = v.json(&["group", "show", &s2, "--json", "--reveal"]);
    assert_eq!(revealed["summary"], "Over slapen en stress.");
    let log = v.json(&["audit", "--client", &a, "--json"]);
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "reveal_special")
    );

    // A copy is made by `group add` only: the generic entry cannot tie copies together.
    let out = v
        .cmd()
        .args([
            "record",
            "add",
            "group_session",
            &a,
            "--set",
            "held_on=2026-01-01",
        ])
        .args([
            "--set",
            "theme=x",
            "--set",
            "summary=y",
            "--set",
            "special=nee",
        ])
        .assert()
        .code(2);
    assert!(
        stderr(out.get_output()).contains("own command"),
        "{}",
        stderr(out.get_output())
    );

    // Refused like any input.
    for (args, flag) in [
        (
            vec!["--participant", &a, "--participant", &a],
            "--participant",
        ),
        (vec!["--participant", &a, "--at", "2999-01-01"], "--at"),
    ] {
        let out = v
            .cmd()
            .args(["group", "add", "--theme", "x", "--summary", "y"])
            .args(args)
            .assert()
            .code(2);
        assert!(stderr(out.get_output()).contains(flag), "{flag}");
    }
}

#[test]
fn a_group_session_travels_per_dossier_and_one_erasure_leaves_the_others() {
    let team = Team::new(&["w001", "w002"]);
    let (w1, w2) = (team.v("w001"), team.v("w002"));
    let a = add(
        w1,
        &[
            "client",
            "add",
            "--name",
            "Anna Visser",
            "--opened-on",
            "2000-01-01",
        ],
    );
    let b = add(
        w1,
        &[
            "client",
            "add",
            "--name",
            &format!("Bram {CANARY}"),
            "--opened-on",
            "2000-01-01",
        ],
    );
    w1.cmd()
        .args(["client", "assign", &a, "w002"])
        .assert()
        .success();
    let summary = format!("Bram {CANARY} en Anna deden mee. Samen het cv bijgewerkt.");
    let session = add(
        w1,
        &[
            "group",
            "add",
            "--theme",
            "Cv",
            "--at",
            "2020-05-04",
            "--participant",
            &a,
            "--participant",
            &b,
            "--summary",
            &summary,
        ],
    );
    let dir = team.dir().to_str().unwrap().to_owned();
    for v in [w1, w2] {
        v.cmd().args(["sync", &dir]).assert().success();
    }
    // w002 has Anna's copy, which names no one else; Bram's dossier never went to w002.
    let there = w2.json(&["record", "list", "group_session", &a, "--json"]);
    assert_eq!(there[0]["session_id"], session.as_str());
    assert!(!there.to_string().contains(CANARY), "{there}");
    let key = team.org.recovery_key_file(w2.dir.path());
    let image = crate::privacy::age_decrypt(&key, &w2.path);
    assert!(
        !contains(&image, CANARY.as_bytes()),
        "Bram travelled to w002"
    );
    w2.cmd().args(["client", "show", &b]).assert().code(2);

    // Bram's erasure takes his copy and nothing of Anna's.
    w1.cmd()
        .args(["client", "close", &b, "--at", "2001-01-01"])
        .assert()
        .success();
    w1.cmd()
        .args(["retention", "purge", "--client", &b, "--yes"])
        .assert()
        .success();
    let left = w1.json(&["record", "list", "group_session", &a, "--json"]);
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["session_id"], session.as_str());
    let shown = w1.json(&["group", "show", &session, "--json"]);
    assert_eq!(shown["participants"].as_array().unwrap().len(), 1);
    for v in [w1, w2] {
        v.cmd().args(["sync", &dir]).assert().success();
    }
    let key = team.org.recovery_key_file(w1.dir.path());
    for v in [w1, w2] {
        // Every generation kluis keeps (a vault never compacted since has no `.prev`).
        v.compact();
        for file in [v.path.clone(), v.prev()] {
            let image = crate::privacy::age_decrypt(&key, &file);
            assert!(!contains(&image, CANARY.as_bytes()), "{}", file.display());
        }
    }
    assert_eq!(
        w2.json(&["record", "list", "group_session", &a, "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn the_access_review_lists_offers_to_unassign_and_never_orphans_a_dossier() {
    let team = Team::new(&["w001", "w002"]);
    let (w1, w2) = (team.v("w001"), team.v("w002"));
    let shared = add(
        w1,
        &[
            "client",
            "add",
            "--name",
            "Gedeeld Oud",
            "--opened-on",
            "2024-01-01",
        ],
    );
    add(
        w1,
        &[
            "note",
            "add",
            &shared,
            "--at",
            "2024-02-01",
            "--text",
            "laatste contact",
        ],
    );
    w1.cmd()
        .args(["client", "assign", &shared, "w002"])
        .assert()
        .success();
    let alone = add(
        w1,
        &[
            "client",
            "add",
            "--name",
            "Alleen Oud",
            "--opened-on",
            "2024-01-01",
        ],
    );
    let closed = add(
        w1,
        &[
            "client",
            "add",
            "--name",
            "Dicht Gedaan",
            "--opened-on",
            "2024-01-01",
        ],
    );
    w1.cmd()
        .args(["client", "close", &closed, "--at", "2024-03-01"])
        .assert()
        .success();
    let fresh = w1.add_client("Net Begonnen");
    let soon = (chrono::Local::now().date_naive() + chrono::Days::new(10)).to_string();
    add(
        w1,
        &[
            "consent",
            "add",
            &fresh,
            "--org",
            "GGD",
            "--purpose",
            "zorg",
            "--until",
            &soon,
        ],
    );

    let review = w1.json(&["access", "review", "--json"]);
    let ids: Vec<&str> = review
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{review}");
    for id in [&shared, &alone, &closed] {
        assert!(ids.contains(&id.as_str()), "{id} not in {review}");
    }
    let item = |id: &str| {
        review
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["client_id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(item(&shared)["reason"], "inactive");
    assert_eq!(item(&shared)["last_activity"], "2024-02-01");
    assert_eq!(item(&shared)["others"], serde_json::json!(["w002"]));
    assert_eq!(item(&alone)["others"], serde_json::json!([]));
    assert_eq!(item(&closed)["reason"], "closed");
    // A longer period leaves the inactive ones out; the closed one stays.
    let long = w1.json(&["access", "review", "--months", "120", "--json"]);
    assert_eq!(long.as_array().unwrap().len(), 1);

    // The agenda lists the same.
    let agenda = w1.json(&["agenda", "--json"]);
    let reviewed: Vec<&str> = agenda
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "review")
        .map(|i| i["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(reviewed.len(), 3, "{agenda}");

    // The last one assigned cannot leave: exit 2, nothing changes.
    let out = w1
        .cmd()
        .args(["access", "review", "--unassign", &alone])
        .assert()
        .code(2);
    let err = stderr(out.get_output());
    assert!(
        err.contains("leave it with no one") && err.contains("handover"),
        "{err}"
    );
    let show = w1.json(&["client", "show", &alone, "--json"]);
    assert_eq!(show["assigned"], serde_json::json!(["w001"]));
    // With a colleague staying, it goes.
    let out = w1
        .cmd()
        .args([
            "access",
            "review",
            "--unassign",
            &shared[..shared.len() - 4],
        ])
        .assert()
        .success();
    assert!(stderr(out.get_output()).contains("no longer assigned"));
    let show = w1.json(&["client", "show", &shared, "--json"]);
    assert_eq!(show["assigned"], serde_json::json!(["w002"]));
    // A colleague who left the roster does not count as staying.
    let gone = add(
        w1,
        &[
            "client",
            "add",
            "--name",
            "Bij Vertrokken",
            "--opened-on",
            "2024-01-01",
        ],
    );
    w1.cmd()
        .args(["client", "assign", &gone, "w002"])
        .assert()
        .success();
    crate::org::it()
        .args(["org", "revoke", "--dir"])
        .arg(&team.org.dir)
        .args(["w002", "--reason", "andere functie"])
        .assert()
        .success();
    let roster = team.dir().join("roster-after.json");
    team.org.roster(&roster);
    w1.cmd()
        .args(["roster", "import"])
        .arg(&roster)
        .assert()
        .success();
    w1.cmd()
        .args(["access", "review", "--unassign", &gone])
        .assert()
        .code(2);

    // The team overview: numbers per worker, no names, no ids.
    let overview = w1.json(&["access", "overview", "--json"]);
    let text = overview.to_string();
    for id in [&shared, &alone, &closed, &fresh, &gone] {
        assert!(
            !text.contains(id.as_str()) && !text.contains(&id[..8]),
            "{text}"
        );
    }
    for name in ["Gedeeld", "Alleen", "Dicht", "Begonnen", "Vertrokken"] {
        assert!(!text.contains(name), "{text}");
    }
    let row = |o: &Value, w: &str| {
        o["workers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["worker"] == w)
            .unwrap()
            .clone()
    };
    let me = row(&overview, "w001");
    assert_eq!(me["complete"], true);
    assert_eq!(me["dossiers"], 3, "{me}"); // alone, fresh, gone (shared was left)
    assert_eq!(me["untouched"], 2, "{me}"); // alone, gone
    assert_eq!(me["closed_assigned"], 1, "{me}");
    assert_eq!(me["consents_expiring"], 1, "{me}");
    assert_eq!(row(&overview, "w002")["complete"], false);

    // Each worker's own overview, combined by the team lead.
    let files: Vec<std::path::PathBuf> = [("w001", w1), ("w002", w2)]
        .iter()
        .map(|(w, v)| {
            let f = v.dir.path().join(format!("overview-{w}.json"));
            let out = v
                .cmd()
                .args(["access", "overview", "--json"])
                .assert()
                .success();
            std::fs::write(&f, &out.get_output().stdout).unwrap();
            f
        })
        .collect();
    let out = crate::kluis()
        .args(["access", "overview", "--json", "--combine"])
        .args(&files)
        .assert()
        .success();
    let all = crate::json(out.get_output());
    assert_eq!(row(&all, "w001")["dossiers"], 3);
    assert_eq!(row(&all, "w002")["complete"], true);
}

#[test]
fn in_a_personal_vault_the_review_lists_and_explains() {
    let v = TestVault::created();
    let old = add(
        &v,
        &[
            "client",
            "add",
            "--name",
            "Oud",
            "--opened-on",
            "2020-01-01",
        ],
    );
    v.add_client("Nieuw");
    let review = v.json(&["access", "review", "--json"]);
    assert_eq!(review.as_array().unwrap().len(), 1);
    assert_eq!(review[0]["client_id"], old.as_str());
    assert_eq!(review[0]["others"], serde_json::json!([]));
    let out = v.cmd().args(["access", "review"]).assert().success();
    assert!(stderr(out.get_output()).contains("personal vault"));
    v.cmd()
        .args(["access", "review", "--unassign", &old])
        .assert()
        .code(2);
    // The period comes from the config.
    let cfg = v.dir.path().join("config.toml");
    std::fs::write(&cfg, "access_review_months = 120\n").unwrap();
    let review = v.json(&[
        "--config",
        cfg.to_str().unwrap(),
        "access",
        "review",
        "--json",
    ]);
    assert_eq!(review.as_array().unwrap().len(), 0);
}
