//! A kind declared only in the registry (the meldcode's `signal`: a model type, its registry
//! line, a migration, its words) is entered, listed, journaled, synced, reported and erased
//! by the code that handles every kind, without any code of its own.

use serde_json::Value;

use crate::sync::Team;
use crate::{CANARY, TestVault, contains, stdout};

fn add_signal(v: &TestVault, client: &str, text: &str) -> String {
    let out = v
        .cmd()
        .args(["record", "add", "signal", client])
        .args(["--set", "observed_on=2026-11-20", "--set"])
        .arg(format!("text={text}"))
        .args(["--set", "special=ja"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out).trim().to_owned()
}

#[test]
fn a_kind_declared_once_is_entered_listed_reported_and_journaled() {
    let v = TestVault::created();
    let c = v.add_client("Sanne Mulder");
    let kinds = v.json(&["record", "kinds", "--json"]);
    let signal = kinds
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "signal")
        .expect("signal is a generic kind");
    let fields: Vec<&str> = signal["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["observed_on", "text", "special", "withheld"],
        "entered fields only"
    );

    // Refused like any input: a missing field, a bad date, an unknown field.
    for (set, field) in [
        (vec!["observed_on=2026-11-20"], "--text"),
        (
            // Dates are taken as people write them (`gisteren`, `14-3-2026`), but a day
            // that does not exist is refused.
            vec!["observed_on=30-02-2026", "text=x", "special=nee"],
            "--observed-on",
        ),
        (
            vec![
                "observed_on=2026-11-20",
                "text=x",
                "special=nee",
                "kleur=rood",
            ],
            "--kleur",
        ),
    ] {
        let mut cmd = v.cmd();
        cmd.args(["record", "add", "signal", &c]);
        for s in set {
            cmd.args(["--set", s]);
        }
        let out = cmd.assert().code(2);
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(
            err.contains(field) || err.contains("kleur"),
            "{field}: {err}"
        );
    }

    let id = add_signal(&v, &c, &format!("Blauwe plek op de arm {CANARY}"));
    // Special-category: masked in lists and JSON until revealed, and the reveal is logged.
    let listed = v.json(&["record", "list", "signal", &c, "--json"]);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["text"], Value::Null);
    let out = v
        .cmd()
        .args(["record", "list", "signal", &c])
        .assert()
        .success();
    assert!(!stdout(out.get_output()).contains(CANARY));
    let shown = v.json(&["record", "list", "signal", &c, "--json", "--reveal"]);
    assert!(shown[0]["text"].as_str().unwrap().contains(CANARY));
    assert_eq!(shown[0]["special"], true);
    let log = v.json(&["audit", "--client", &c, "--json"]);
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "reveal_special" && e["detail"] == format!("signal {id}")),
        "{log}"
    );
    // The client's report has a section for it (the meldcode's own heading), with the text.
    let report = v.dir.path().join("inzage.md");
    v.cmd()
        .args(["report", &c, "--format", "md", "--out"])
        .arg(&report)
        .assert()
        .success();
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(
        text.contains("## Meldcode domestic violence and child abuse: signals (step 1)")
            && text.contains(CANARY),
        "{text}"
    );

    // Journaled: a command-line run leaves its change in the journal, not in the vault file
    // (stock age does not see it), and the next unlock replays it.
    let before = std::fs::read(&v.path).unwrap();
    let acknowledged = add_signal(&v, &c, "Tweede signaal");
    assert_eq!(
        std::fs::read(&v.path).unwrap(),
        before,
        "only the journal was written"
    );
    let listed = v.json(&["record", "list", "signal", &c, "--json"]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == acknowledged.as_str()),
        "{listed}"
    );
    v.cmd().arg("check").assert().success();
}

#[test]
fn a_kind_declared_once_travels_to_colleagues_and_is_erased_everywhere() {
    let team = Team::new(&["w001", "w002"]);
    let (a, b) = (team.v("w001"), team.v("w002"));
    let out = a
        .cmd()
        .args([
            "client",
            "add",
            "--name",
            "Jan de Boer",
            "--opened-on",
            "2000-01-01",
        ])
        .output()
        .unwrap();
    let c = stdout(&out).trim().to_owned();
    a.cmd()
        .args(["client", "assign", &c, "w002"])
        .assert()
        .success();
    let id = add_signal(a, &c, &format!("Zorgen over de kinderen {CANARY}"));
    let dir = team.dir().to_str().unwrap().to_owned();
    for v in [a, b] {
        v.cmd().args(["sync", &dir]).assert().success();
    }
    let there = b.json(&["record", "list", "signal", &c, "--json", "--reveal"]);
    assert_eq!(there[0]["id"], id.as_str());
    assert!(there[0]["text"].as_str().unwrap().contains(CANARY));

    // Erased with the dossier, in both vaults and their previous generations.
    a.cmd()
        .args(["client", "close", &c, "--at", "2001-01-01"])
        .assert()
        .success();
    a.cmd()
        .args(["retention", "purge", "--yes"])
        .assert()
        .success();
    for v in [a, b] {
        v.cmd().args(["sync", &dir]).assert().success();
    }
    let key = team.org.recovery_key_file(b.dir.path());
    for v in [a, b] {
        for file in [v.path.clone(), v.prev()] {
            let image = crate::privacy::age_decrypt(&key, &file);
            assert!(
                !contains(&image, CANARY.as_bytes()),
                "the signal survived erasure in {}",
                file.display()
            );
        }
    }
}
