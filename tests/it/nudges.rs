//! Nudges toward less data: the command line warns on stderr about details and
//! special-category words in free text, never blocks, and an organisation extends the words.

use crate::{TestVault, stderr, stdout};

fn warned(v: &TestVault, args: &[&str]) -> String {
    let out = v.cmd().args(args).assert().success();
    stderr(out.get_output())
}

#[test]
fn free_text_gets_a_warning_on_stderr_and_is_saved_as_written() {
    let v = TestVault::created();
    let c = v.add_client("Sanne Mulder");
    let text = "BSN 111222333, rekening NL91 ABNA 0417 1643 00, bel 06-12345678 of mail \
                sanne@example.nl. Ze heeft diabetes.";
    let err = warned(&v, &["note", "add", &c, "--text", text]);
    for must in [
        "may hold more than the dossier needs",
        "line 1, column 5: a BSN (******333)",
        "a bank account number (NL…4300)",
        "a phone number (…78)",
        "an e-mail address (s…@example.nl)",
        "health: \"diabetes\"",
        "Mark it special (--special)",
        "Remove the detail",
        "It has been saved as you wrote it.",
    ] {
        assert!(err.contains(must), "missing {must:?}:\n{err}");
    }
    // The warning repeats no number in full (stderr may end up in a script's log).
    for full in ["111222333", "0417 1643", "12345678", "sanne@"] {
        assert!(!err.contains(full), "{full} in {err}");
    }
    let notes = v.json(&["note", "list", &c, "--json"]);
    assert_eq!(notes[0]["body"], text, "saved as written");

    // Marked special: the words need no warning, the details still do.
    let err = warned(
        &v,
        &[
            "note",
            "add",
            &c,
            "--special",
            "--text",
            "Diabetes; BSN 111222333.",
        ],
    );
    assert!(err.contains("a BSN"), "{err}");
    assert!(
        !err.contains("health") && !err.contains("Mark it special"),
        "{err}"
    );
    // Nothing to say: nothing said.
    let err = warned(
        &v,
        &["note", "add", &c, "--text", "Samen de post doorgenomen."],
    );
    assert!(!err.contains("note:"), "{err}");

    // Goals, actions, scores and any record's text are free text too; Dutch messages.
    let goal = v
        .cmd()
        .env("LANG", "nl_NL.UTF-8")
        .args(["plan", "goal", "add", &c, "--domain", "financiën"])
        .args([
            "--text",
            "Schulden op een rij; de zoon zit in de gevangenis",
        ])
        .assert()
        .success();
    let err = stderr(goal.get_output());
    assert!(
        err.contains("dit doel bevat misschien meer dan het dossier nodig heeft")
            && err.contains("strafrechtelijke gegevens: \"gevangenis\""),
        "{err}"
    );
    let err = warned(
        &v,
        &[
            "assess",
            &c,
            "--domain",
            "huisvesting",
            "--score",
            "2",
            "--reason",
            "Depressief sinds de huisuitzetting",
        ],
    );
    assert!(err.contains("health: \"Depressief\""), "{err}");
    let err = warned(
        &v,
        &[
            "record",
            "add",
            "signal",
            &c,
            "--set",
            "observed_on=2026-01-05",
            "--set",
            "text=Belde vanaf 0612345678",
            "--set",
            "special=ja",
        ],
    );
    assert!(err.contains("a phone number"), "{err}");
}

#[test]
fn the_organisation_adds_its_own_words_and_a_bad_one_is_named() {
    let v = TestVault::created();
    let c = v.add_client("Kees Bakker");
    let cfg = v.dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[special_words]\nhealth = [\"mantelzorg*\", \"!huisarts\"]\ncriminal = [\"halt-traject\"]\n",
    )
    .unwrap();
    let out = v
        .cmd()
        .arg("--config")
        .arg(&cfg)
        .args(["note", "add", &c, "--text"])
        .arg("Mantelzorger belde; huisarts weet ervan; Halt-traject loopt.")
        .assert()
        .success();
    let err = stderr(out.get_output());
    assert!(err.contains("health: \"Mantelzorger\""), "{err}");
    assert!(err.contains("criminal record: \"Halt-traject\""), "{err}");
    assert!(!err.contains("huisarts"), "{err}");
    let shown = v.json(&[
        "--config",
        cfg.to_str().unwrap(),
        "config",
        "show",
        "--json",
    ]);
    assert_eq!(shown["special_words"]["value"]["health"][0], "mantelzorg*");

    for (bad, key) in [
        (
            "[special_words]\nhealth = [\"a*\"]\n",
            "special_words.health",
        ),
        ("[special_words]\nreligie = [\"kerk\"]\n", "religie"),
    ] {
        std::fs::write(&cfg, bad).unwrap();
        let out = v
            .cmd()
            .arg("--config")
            .arg(&cfg)
            .args(["note", "add", &c, "--text", "x"])
            .assert()
            .code(2);
        assert!(stderr(out.get_output()).contains(key), "{bad}");
    }
}

#[test]
fn nudge_check_measures_a_corpus_as_the_guide_says() {
    let corpus = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/nudge/ordinary_nl.txt"
    );
    let out = crate::kluis()
        .args(["nudge", "check", "--lines", corpus, "--json"])
        .assert()
        .success();
    let v = crate::json(out.get_output());
    let (units, flagged) = (v["units"].as_u64().unwrap(), v["flagged"].as_u64().unwrap());
    assert_eq!(units, 350);
    // docs/user-guide.md: at most 3% of ordinary sentences get a warning.
    assert!(flagged * 100 <= units * 3, "{flagged} of {units}");
    let out = crate::kluis()
        .args(["nudge", "check", "--lines", corpus])
        .assert()
        .success();
    assert!(
        stdout(out.get_output())
            .contains(&format!("{flagged} of {units} lines would get a warning")),
        "{}",
        stdout(out.get_output())
    );
    // Standard input, one text; no vault needed.
    let out = crate::kluis()
        .args(["nudge", "check", "--json"])
        .write_stdin("Heeft een strafblad.\nBel 020-1234567.")
        .assert()
        .success();
    let v = crate::json(out.get_output());
    let found: Vec<(&str, u64)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["what"].as_str().unwrap(), f["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(found, [("special", 1), ("phone", 2)]);
}
