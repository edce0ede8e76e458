//! The meldcode huiselijk geweld en kindermishandeling: five steps on a signal, each dated
//! and attributed, special-category data by default, reminders in the agenda, and what goes
//! into the client's own report (docs/privacy.md).

use serde_json::Value;

use crate::{CANARY, TestVault, stderr, stdout};

fn run(v: &TestVault, args: &[&str]) -> String {
    let out = v.cmd().args(args).assert().success();
    stdout(out.get_output()).trim().to_owned()
}

fn days_ago(n: u64) -> String {
    (chrono::Local::now().date_naive() - chrono::Days::new(n)).to_string()
}

#[test]
fn the_meldcode_runs_five_dated_attributed_steps_with_reminders() {
    let v = TestVault::created();
    let c = v.add_client("Lotte de Jong");
    let signal = run(
        &v,
        &[
            "meldcode",
            "signal",
            &c,
            "--at",
            &days_ago(20),
            "--text",
            &format!("Blauwe plekken op de armen {CANARY}"),
        ],
    );
    // Special by default: masked in every list until revealed.
    let shown = v.json(&["meldcode", "show", &c, "--json"]);
    assert_eq!(shown[0]["signal"]["id"], signal.as_str());
    assert_eq!(shown[0]["signal"]["text"], Value::Null);
    assert_eq!(shown[0]["signal"]["special"], true);
    assert_eq!(shown[0]["next_step"], "consult");
    assert_eq!(shown[0]["overdue"], true);
    let listed = v.json(&["record", "list", "signal", &c, "--json"]);
    assert_eq!(listed[0]["text"], Value::Null);
    let out = v.cmd().args(["meldcode", "show", &c]).assert().success();
    assert!(!stdout(out.get_output()).contains(CANARY));

    // A week after the signal the agenda reminds of step 2 (overdue: always shown).
    let agenda = v.json(&["agenda", "--json"]);
    let reminder = agenda
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "meldcode")
        .expect("a meldcode reminder");
    assert_eq!(reminder["date"], days_ago(13));
    assert_eq!(reminder["id"], signal.as_str());
    let out = v.cmd().arg("agenda").assert().success();
    assert!(
        stdout(out.get_output()).contains("meldcode: step 2, consult a colleague"),
        "{}",
        stdout(out.get_output())
    );

    // The generic entry does not go around the order of the steps.
    let out = v
        .cmd()
        .args(["record", "add", "meldcode_step", &c, "--set"])
        .arg(format!("signal_id={signal}"))
        .args([
            "--set",
            "step=decide",
            "--set",
            "taken_on=2026-01-01",
            "--set",
            "text=x",
        ])
        .args(["--set", "decision=help", "--set", "special=ja"])
        .assert()
        .code(2);
    assert!(stderr(out.get_output()).contains("kluis meldcode"));

    // Step 5 needs the weighing of step 4 first.
    let out = v
        .cmd()
        .args([
            "meldcode",
            "decide",
            &signal,
            "--decision",
            "help",
            "--text",
            "x",
        ])
        .assert()
        .code(2);
    assert!(stderr(out.get_output()).contains("weigh first"));
    // Not before the signal.
    let out = v
        .cmd()
        .args([
            "meldcode",
            "talk",
            &signal,
            "--text",
            "x",
            "--at",
            &days_ago(30),
        ])
        .assert()
        .code(2);
    assert!(stderr(out.get_output()).contains("--at"));

    run(
        &v,
        &[
            "meldcode",
            "consult",
            &signal[..signal.len() - 4],
            "--with",
            "veilig_thuis",
            "--at",
            &days_ago(18),
            "--text",
            "Advies gevraagd bij Veilig Thuis",
        ],
    );
    let next_by = (chrono::Local::now().date_naive() + chrono::Days::new(3)).to_string();
    run(
        &v,
        &[
            "meldcode",
            "talk",
            &signal,
            "--at",
            &days_ago(15),
            "--next-by",
            &next_by,
            "--text",
            "Met moeder gesproken over de signalen",
        ],
    );
    let agenda = v.json(&["agenda", "--days", "7", "--json"]);
    let reminder = agenda
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "meldcode")
        .unwrap();
    assert_eq!(reminder["date"], next_by.as_str(), "the step's own day");
    assert_eq!(reminder["what"], "weigh");
    run(
        &v,
        &[
            "meldcode",
            "weigh",
            &signal,
            "--report-needed",
            "ja",
            "--help-possible",
            "nee",
            "--at",
            &days_ago(10),
            "--text",
            "Structurele onveiligheid",
        ],
    );
    // Deciding against the weighing is the worker's call: said, not refused.
    let out = v
        .cmd()
        .args(["meldcode", "decide", &signal, "--decision", "help", "--at"])
        .arg(days_ago(9))
        .args(["--text", "Hulp via het wijkteam"])
        .assert()
        .success();
    assert!(stderr(out.get_output()).contains("expects a report to Veilig Thuis"));
    // Decided: no reminder, no further step.
    let agenda = v.json(&["agenda", "--days", "30", "--json"]);
    assert!(!agenda.to_string().contains("\"meldcode\""), "{agenda}");
    let out = v
        .cmd()
        .args(["meldcode", "talk", &signal, "--text", "nog een gesprek"])
        .assert()
        .code(2);
    assert!(stderr(out.get_output()).contains("is decided"));

    // Each step dated and attributed, in order.
    let shown = v.json(&["meldcode", "show", &c, "--json", "--reveal"]);
    let steps = shown[0]["steps"].as_array().unwrap();
    let order: Vec<(&str, &str)> = steps
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["taken_on"].as_str().unwrap()))
        .collect();
    assert_eq!(
        order,
        [
            ("consult", days_ago(18).as_str()),
            ("talk", days_ago(15).as_str()),
            ("weigh", days_ago(10).as_str()),
            ("decide", days_ago(9).as_str()),
        ]
    );
    let me = v.json(&["whoami", "--json"])["owner"].clone();
    assert!(
        steps
            .iter()
            .all(|s| s["author"] == me && s["special"] == true)
    );
    assert_eq!(steps[0]["consulted"], "veilig_thuis");
    assert_eq!(steps[2]["report_needed"], true);
    assert_eq!(steps[2]["help_possible"], false);
    assert_eq!(steps[3]["decision"], "help");
    assert_eq!(shown[0]["next_step"], Value::Null);
    assert!(
        shown[0]["signal"]["text"]
            .as_str()
            .unwrap()
            .contains(CANARY)
    );
    // Every reveal is in the log: the signal and the four steps.
    let log = v.json(&["audit", "--client", &c, "--json"]);
    let reveals = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "reveal_special")
        .count();
    assert_eq!(reveals, 5, "{log}");
}

#[test]
fn what_the_clients_report_shows_of_the_meldcode() {
    let v = TestVault::created();
    let c = v.add_client("Noor Bakker");
    let told = "Buurvrouw Els vertelde over geschreeuw";
    let signal = run(
        &v,
        &[
            "meldcode",
            "signal",
            &c,
            "--withhold",
            "third_party",
            "--text",
            &format!("{told} {CANARY}"),
        ],
    );
    let talk = run(
        &v,
        &[
            "meldcode",
            "talk",
            &signal,
            "--text",
            "Gesprek met Noor over thuis",
        ],
    );
    let report = |name: &str| {
        let file = v.dir.path().join(name);
        v.cmd()
            .args(["report", &c, "--format", "md", "--out"])
            .arg(&file)
            .assert()
            .success();
        std::fs::read_to_string(&file).unwrap()
    };
    let text = report("inzage1.md");
    // In the report by default (AVG art. 15), special data included; a withheld record's
    // text is left out, its existence and ground are not.
    assert!(text.contains("## Meldcode domestic violence and child abuse: signals (step 1)"));
    assert!(!text.contains(CANARY) && !text.contains(told), "{text}");
    assert!(
        text.contains("not shown: it is about someone else"),
        "{text}"
    );
    assert!(text.contains("UAVG art. 41"), "{text}");
    assert!(text.contains("Gesprek met Noor over thuis"), "{text}");
    assert!(text.contains("conversation with the client"), "{text}");
    // The step's reveal in the report is logged, the withheld signal's is not.
    let log = v.json(&["audit", "--client", &c, "--json"]);
    let details: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "reveal_special")
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert_eq!(details, [format!("meldcode_step {talk} in report")]);

    // Put back in: then the report has it.
    let out = v
        .cmd()
        .args(["meldcode", "withhold", &signal, "--ground", "none"])
        .assert()
        .success();
    assert!(stderr(out.get_output()).contains("back in the client's own report"));
    let text = report("inzage2.md");
    assert!(text.contains(CANARY), "{text}");
    assert!(!text.contains("UAVG art. 41"));
    // And out again on a ground, for a step too; an unknown ground is refused.
    v.cmd()
        .args([
            "meldcode",
            "withhold",
            &talk[..talk.len() - 4],
            "--ground",
            "safety",
        ])
        .assert()
        .success();
    let text = report("inzage3.md");
    assert!(!text.contains("Gesprek met Noor over thuis"), "{text}");
    assert!(
        text.contains("for the safety of the client or someone else"),
        "{text}"
    );
    v.cmd()
        .args(["meldcode", "withhold", &talk, "--ground", "geheim"])
        .assert()
        .code(2);
}
