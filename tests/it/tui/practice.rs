//! Privacy in daily practice in the terminal app, end to end (issue 21): a group session
//! with one participant's own observation, the meldcode's five steps, and the access review
//! from the agenda, each driven with keys only in tmux; what landed is then read with
//! `--json`, and the screen said so.

use super::Tmux;
use crate::sync::Team;
use crate::{PASS, TestVault};

fn start(v: &TestVault) -> Tmux {
    let t = Tmux::start(&format!(
        "{} --vault {} --lock-after 10m",
        assert_cmd::cargo::cargo_bin("kluis").display(),
        v.path.display()
    ));
    t.wait_for("kluis is locked");
    t.keys(&[PASS, "Enter"]);
    t
}

#[test]
fn a_group_session_with_one_participants_own_note_lands_in_that_dossier_only() {
    let v = TestVault::created();
    let anna = v.add_client("Anna Jansen");
    let bram = v.add_client("Bram de Wit");
    let t = start(&v);
    t.wait_for("Bram de Wit");
    t.wait_for("Anna Jansen");
    t.keys(&["Enter"]);
    t.wait_for("Overview");
    t.keys(&["7", "g"]);
    t.wait_for("New group session");
    t.keys(&["Tab"]);
    t.keys(&["-l", "Budgetcursus"]);
    // The other participant, from the list (this dossier's client is chosen already).
    t.keys(&["Tab", "Enter"]);
    t.wait_for("[x]");
    let s = t.wait_for("[ ] ");
    // Up or down to the one not chosen yet.
    t.keys(&[if s.contains("[ ] Anna") { "Up" } else { "Down" }, "Enter"]);
    t.wait_for("[x] Anna Jansen");
    t.wait_for("[x] Bram de Wit");
    t.keys(&["Escape"]);
    // The list closed (Esc and the next key must not arrive as one).
    wait_gone(&t, "[x]");
    let s = t.wait_for("About Anna");
    assert!(s.contains("About Bram"), "{s}");
    // The observation goes under the first participant: this dossier's client.
    let first_is_anna = s.find("About Anna") < s.find("About Bram");
    t.keys(&["Tab"]);
    t.keys(&["-l", "We spraken over budgetteren."]);
    t.keys(&["Tab", "Tab"]);
    t.keys(&["-l", "Stelde vragen over toeslagen."]);
    t.keys(&["C-s"]);
    let s = t.wait_for("group session saved in 2 dossiers; own notes: 1");
    // Back on the More tab, the session in this dossier.
    assert!(
        s.contains("Group sessions") && s.contains("Budgetcursus"),
        "{s}"
    );
    t.quit();

    let groups = v.json(&["group", "list", "--json"]);
    assert_eq!(groups.as_array().unwrap().len(), 1, "{groups}");
    assert_eq!(groups[0]["theme"], "Budgetcursus");
    assert_eq!(groups[0]["summary"], "We spraken over budgetteren.");
    assert_eq!(groups[0]["participants"].as_array().unwrap().len(), 2);
    let has = |id: &str, text: &str| {
        let notes = v.json(&["note", "list", id, "--json"]);
        notes
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["body"].as_str().unwrap_or_default().contains(text))
    };
    let (own, other) = if first_is_anna {
        (&anna, &bram)
    } else {
        (&bram, &anna)
    };
    assert!(has(own, "toeslagen"), "the participant's own note");
    assert!(!has(other, "toeslagen"), "in that dossier only");
}

#[test]
fn the_meldcodes_five_steps_are_taken_in_the_app_and_show_in_json() {
    let v = TestVault::created();
    let id = v.add_client("Sanne Mulder");
    v.cmd()
        .args(["meldcode", "signal", &id, "--text", "Blauwe plekken"])
        .assert()
        .success();
    let t = start(&v);
    t.wait_for("Sanne Mulder");
    t.keys(&["Enter"]);
    t.wait_for("Overview");
    t.keys(&["7", "Home", "m"]);
    t.wait_for("Meldcode: step 2");
    t.keys(&["Tab"]);
    t.keys(&["-l", "Overlegd met de aandachtsfunctionaris."]);
    // Kept out of the client's report, for safety.
    t.keys(&["Tab", "Tab", "Tab", "Tab", "Right"]);
    t.wait_for("for the safety");
    t.keys(&["C-s"]);
    t.wait_for("meldcode step saved");
    t.keys(&["m"]);
    t.wait_for("Meldcode: step 3");
    t.keys(&["Tab"]);
    t.keys(&["-l", "Gesprek met Sanne gehad."]);
    t.keys(&["C-s"]);
    t.wait_for("meldcode step saved");
    t.keys(&["m"]);
    t.wait_for("Meldcode: step 4");
    t.keys(&["Tab"]);
    t.keys(&["-l", "Gewogen met het afwegingskader."]);
    t.keys(&["Tab", "Space"]);
    t.keys(&["C-s"]);
    t.wait_for("meldcode step saved");
    t.keys(&["m"]);
    t.wait_for("Meldcode: step 5");
    t.keys(&["Tab"]);
    t.keys(&["-l", "Hulp via het wijkteam."]);
    t.keys(&["Tab", "Right"]);
    t.wait_for("offer or organise help");
    t.keys(&["C-s"]);
    // Saved, and against what step 4 weighed: said.
    t.wait_for("the afwegingskader expects a report");
    t.quit();

    let m = v.json(&["meldcode", "show", &id, "--json"]);
    let steps = m[0]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 4, "{m}");
    assert_eq!(steps[0]["step"], "consult");
    assert_eq!(steps[0]["withheld"], "safety");
    assert_eq!(steps[1]["withheld"], serde_json::Value::Null);
    assert_eq!(steps[2]["report_needed"], true);
    assert_eq!(steps[3]["decision"], "help");
    assert_eq!(m[0]["next_step"], serde_json::Value::Null);
    for s in steps {
        assert_eq!(s["special"], true, "special by default: {s}");
    }
}

#[test]
fn the_access_review_on_the_agenda_unassigns_and_never_leaves_a_dossier_with_no_one() {
    let team = Team::new(&["w001", "w002"]);
    let w1 = team.v("w001");
    let add = |name: &str| {
        let out = w1
            .cmd()
            .args(["client", "add", "--name", name, "--opened-on", "2024-01-01"])
            .assert()
            .success();
        String::from_utf8_lossy(&out.get_output().stdout)
            .trim()
            .to_owned()
    };
    let shared = add("Gedeeld Oud");
    let alone = add("Alleen Oud");
    w1.cmd()
        .args(["client", "assign", &shared, "w002"])
        .assert()
        .success();
    let t = start(w1);
    t.wait_for("Gedeeld Oud");
    t.keys(&["t"]);
    let s = t.wait_for("access review");
    assert!(s.contains("Gedeeld Oud") && s.contains("Alleen Oud"), "{s}");
    // The first row; whichever it is, the other follows.
    t.keys(&["Home", "u"]);
    let first = wait_either(&t, "no longer assigned", "leave it with no one");
    if first {
        // Gedeeld Oud went (a colleague stays); Alleen Oud is the one row left.
        let s = t.screen();
        assert!(!s.contains("Gedeeld Oud"), "{s}");
        t.keys(&["Home", "u"]);
        t.wait_for("leave it with no one");
    } else {
        t.keys(&["Down", "u"]);
        t.wait_for("no longer assigned");
    }
    t.quit();
    let show = w1.json(&["client", "show", &shared, "--json"]);
    assert_eq!(show["assigned"], serde_json::json!(["w002"]));
    let show = w1.json(&["client", "show", &alone, "--json"]);
    assert_eq!(show["assigned"], serde_json::json!(["w001"]));
}

/// Waits for one of two texts: true for the first.
fn wait_either(t: &Tmux, a: &str, b: &str) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let s = t.screen();
        if s.contains(a) {
            return true;
        }
        if s.contains(b) {
            return false;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "neither {a:?} nor {b:?}:\n{s}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Waits until `text` is no longer on the screen.
fn wait_gone(t: &Tmux, text: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while t.screen().contains(text) {
        assert!(
            std::time::Instant::now() < deadline,
            "{text:?} stayed:\n{}",
            t.screen()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
