//! The kitchen-table app end to end (issue 19): with the privacy screen on (F2), nothing of
//! a dossier shows until one item is revealed, by each way there is, and every reveal is in
//! the access log; a household member, a goal with an action, a score, a visit and a
//! consent entered with keys only are what `--json` then shows.

use super::Tmux;
use crate::{CANARY, PASS, TestVault};

fn start(v: &TestVault) -> Tmux {
    Tmux::start(&format!(
        "{} --vault {} --lock-after 10m",
        assert_cmd::cargo::cargo_bin("kluis").display(),
        v.path.display()
    ))
}

/// Waits until the screen has `text` and not `absent`. Both, not the first screen with
/// `text`: after a key that hides something, `text` is often already there (the tab bar
/// behind a form) before the app has drawn the key's effect; a screen that keeps `absent`
/// for 30 s fails.
fn shows(t: &Tmux, text: &str, absent: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let s = t.screen();
        if s.contains(text) && !s.contains(absent) {
            return s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{absent} on screen, or never {text}:\n{s}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn f2_then_every_reveal_path_is_one_item_and_logged() {
    let v = TestVault::created();
    let out = v
        .cmd()
        .args(["client", "add", "--name", &format!("Fatima {CANARY}")])
        .args([
            "--address",
            &format!("Dorpsstraat {CANARY}"),
            "--bsn",
            "111222333",
        ])
        .assert()
        .success();
    let id = String::from_utf8_lossy(&out.get_output().stdout)
        .trim()
        .to_owned();
    v.add_note(&id, &format!("Huisbezoek {CANARY}"));
    let t = start(&v);
    t.wait_for("kluis is locked");
    t.keys(&[PASS, "Enter"]);
    t.wait_for(CANARY);
    t.keys(&["F2"]);
    shows(&t, "privacy screen on", CANARY);
    // A row of the caseload.
    t.keys(&["r"]);
    t.wait_for(CANARY);
    t.keys(&["r"]);
    shows(&t, "F. K.", CANARY);
    // The dossier, its form, the note's correction.
    t.keys(&["Enter"]);
    shows(&t, "Overview", CANARY);
    t.keys(&["e"]);
    shows(&t, "Change client", CANARY);
    shows(&t, "Change client", "111222333");
    t.keys(&["C-r"]);
    t.wait_for("111222333");
    t.keys(&["Escape"]);
    shows(&t, "Overview", CANARY);
    t.keys(&["c"]);
    shows(&t, "Correction", CANARY);
    t.keys(&["C-r"]);
    t.wait_for(&format!("Huisbezoek {CANARY}"));
    t.keys(&["Escape", "Escape"]);
    shows(&t, "Overview", CANARY);
    t.keys(&["r"]);
    t.wait_for(&format!("Dorpsstraat {CANARY}"));
    t.keys(&["r"]);
    shows(&t, "Overview", CANARY);
    // The BSN on its own (logged as a BSN reveal).
    t.keys(&["b"]);
    let s = t.wait_for("111222333");
    assert!(!s.contains(CANARY), "b showed more than the BSN:\n{s}");
    t.quit();
    let log = v.json(&["audit", "--client", &id, "--json"]);
    let entries = log.as_array().unwrap();
    let lifted = entries
        .iter()
        .filter(|e| {
            e["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("privacy screen lifted"))
        })
        .count();
    assert_eq!(lifted, 4, "row, form, editor, dossier: {log:#}");
    assert!(entries.iter().any(|e| e["action"] == "reveal_bsn"));
}

#[test]
fn records_entered_in_the_app_are_what_json_shows() {
    let v = TestVault::created();
    let id = v.add_client("Jan de Vries");
    let t = start(&v);
    t.wait_for("kluis is locked");
    t.keys(&[PASS, "Enter"]);
    t.wait_for("Jan de Vries");
    t.keys(&["Enter"]);
    t.wait_for("Overview");
    // A household member.
    t.keys(&["3", "a", "Enter"]);
    t.wait_for("New household member");
    t.keys(&["-l", "Noor de Vries"]);
    t.keys(&["Tab", "Right", "Tab"]);
    t.keys(&["-l", "14-3-2015"]);
    t.keys(&["C-s"]);
    t.wait_for("Noor de Vries (2015-03-14)");
    // A goal with an action.
    t.keys(&["2", "a", "Enter"]);
    t.wait_for("New goal");
    t.keys(&["Enter", "Enter", "Tab"]);
    t.keys(&["-l", "Schulden op een rij"]);
    t.keys(&["C-s"]);
    t.wait_for("Schulden op een rij");
    t.keys(&["a", "Down", "Enter"]);
    t.wait_for("New action");
    t.keys(&["Tab"]);
    t.keys(&["-l", "Brieven sorteren"]);
    t.keys(&["Tab"]);
    t.keys(&["-l", "client"]);
    t.keys(&["Tab"]);
    t.keys(&["-l", "morgen"]);
    t.keys(&["C-s"]);
    t.wait_for("Brieven sorteren (client)");
    // A visit.
    t.keys(&["a", "End", "Enter"]);
    t.wait_for("New planned visit");
    t.keys(&["-l", "14-12-2026 10:00"]);
    t.keys(&["Tab"]);
    t.keys(&["-l", "Keukentafel"]);
    t.keys(&["C-s"]);
    t.wait_for("Keukentafel");
    // A score, refused without its reason first.
    t.keys(&["4", "a"]);
    t.wait_for("New score");
    t.keys(&["f", "Tab", "3", "C-s"]);
    t.wait_for("say why this domain matters");
    t.keys(&["-l", "Beslag op loon"]);
    t.keys(&["C-s"]);
    t.wait_for("Beslag op loon");
    // A consent.
    t.keys(&["6", "a"]);
    t.wait_for("New consent");
    t.keys(&["-l", "Schuldhulp Zwolle"]);
    t.keys(&["Tab"]);
    t.keys(&["-l", "schuldregeling"]);
    t.keys(&["C-s"]);
    t.wait_for("Schuldhulp Zwolle");
    t.quit();

    let household = v.json(&["household", "list", &id, "--json"]);
    assert_eq!(household[0]["name"], "Noor de Vries");
    assert_eq!(household[0]["relation"], "kind");
    assert_eq!(household[0]["birth_date"], "2015-03-14");
    let plan = v.json(&["plan", "show", &id, "--json"]);
    assert_eq!(plan[0]["domain"], "financiën");
    assert_eq!(plan[0]["text"], "Schulden op een rij");
    assert_eq!(plan[0]["actions"][0]["text"], "Brieven sorteren");
    assert_eq!(plan[0]["actions"][0]["owner"], "client");
    let tomorrow = chrono::Local::now().date_naive().succ_opt().unwrap();
    assert_eq!(plan[0]["actions"][0]["due"], tomorrow.to_string().as_str());
    let scores = v.json(&["assess", "list", &id, "--json"]);
    assert_eq!(scores[0]["score"], 3);
    assert_eq!(scores[0]["reason"], "Beslag op loon");
    let visits = v.json(&["visit", "list", &id, "--json"]);
    assert_eq!(visits[0]["at"], "2026-12-14T10:00:00");
    assert_eq!(visits[0]["purpose"], "Keukentafel");
    let consents = v.json(&["consent", "list", &id, "--json"]);
    assert_eq!(consents[0]["org"], "Schuldhulp Zwolle");
    assert_eq!(consents[0]["purpose"], "schuldregeling");
}

/// The first-run screen offers the enrollment file from IT beside a personal vault; a wrong
/// code leaves no vault behind, the right one makes the worker's team vault.
#[test]
fn the_first_run_makes_a_team_vault_from_an_enrollment_file() {
    let org = crate::org::Org::new("Gemeente Zwolle");
    let v = TestVault::empty();
    let (file, code) = org.issue("w001", v.dir.path());
    let t = start(&v);
    t.wait_for("Welcome to kluis");
    t.wait_for("I have an enrollment file from IT");
    t.keys(&["Down", "Enter"]);
    t.wait_for("Enrollment file from IT");
    t.keys(&["-l", &file.display().to_string()]);
    t.keys(&["Tab"]);
    t.keys(&["-l", "AAAA-BBBB-CCCC-DDDD-EEEE"]);
    t.keys(&["Tab", PASS, "Tab", PASS, "Enter"]);
    // Refused: still on this screen, the cursor on the code, and no vault was made.
    t.wait_for("wrong enrollment code");
    let s = t.wait_for("▶ Its code");
    assert!(!v.path.exists(), "a vault was made with a wrong code:\n{s}");
    for _ in 0..30 {
        t.keys(&["BSpace"]);
    }
    t.keys(&["-l", &code]);
    t.keys(&["Enter", "Enter", "Enter"]);
    t.wait_for("Caseload");
    t.keys(&["C-q"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = v.cmd().args(["whoami", "--json"]).output().unwrap();
        if out.status.success() {
            let me: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(me["enrolled"], true);
            assert_eq!(me["id"], "w001");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{out:?}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
