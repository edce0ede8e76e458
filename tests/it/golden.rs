//! Golden tests of what a person reads when something goes wrong: for each exit code, the
//! message in English and Dutch, which says what happened and what to do next. Snapshots in
//! tests/it/snapshots (insta); `cargo insta review` after a deliberate change.

use std::io::Write;
use std::process::Output;

use crate::concurrency::{holder, wait_until_busy};
use crate::{PASS, TestVault, kluis};

fn golden(out: &Output) -> String {
    format!(
        "exit: {}\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Each case: a name and the output of the command that produces it, in `lang`.
fn cases(lang: &str) -> Vec<(&'static str, Output)> {
    let mut out = Vec::new();
    let run = |v: &TestVault, args: &[&str]| v.cmd().env("LANG", lang).args(args).output().unwrap();
    let init = |v: &TestVault| {
        v.cmd()
            .env("LANG", lang)
            .env("KLUIS_NEW_PASSPHRASE", PASS)
            .arg("init")
            .args(crate::WEAK_KDF)
            .output()
            .unwrap()
    };
    // 0: success, with what was made.
    let v = TestVault::empty();
    out.push(("0_init", init(&v)));
    // 1: no vault; a file that would be overwritten; a privacy rule.
    let missing = TestVault::empty();
    out.push(("1_no_vault", run(&missing, &["client", "list"])));
    out.push(("1_vault_exists", init(&v)));
    let id = v.add_client("Golden Test");
    let recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
    let o = run(
        &v,
        &[
            "disclose",
            &id,
            "--org",
            "GGD",
            "--purpose",
            "zorg",
            "--recipient",
            recipient,
            "--out",
            "/nonexistent/x.age",
        ],
    );
    out.push(("1_no_consent", o));
    // 2: invalid input, an unknown id, a config error.
    out.push(("2_invalid", run(&v, &["client", "add", "--name", "  "])));
    out.push(("2_usage", run(&v, &["client", "add", "--naam", "x"])));
    out.push((
        "2_bad_date",
        run(&v, &["client", "close", &id, "--at", "2026-02-30"]),
    ));
    out.push(("2_not_found", run(&v, &["client", "show", "00000000-0000"])));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "lock_afer = \"5m\"\n").unwrap();
    let o = kluis()
        .env("LANG", lang)
        .env("KLUIS_CONFIG", &config)
        .args(["client", "list"])
        .output()
        .unwrap();
    out.push(("2_config", o));
    // 3: a wrong passphrase.
    let o = kluis()
        .env("LANG", lang)
        .arg("--vault")
        .arg(&v.path)
        .env("KLUIS_PASSPHRASE", "Verkeerd-Wachtwoord-Helemaal-11")
        .args(["client", "list"])
        .output()
        .unwrap();
    out.push(("3_wrong_passphrase", o));
    // 4: not a vault (damaged, or tampered with).
    let junk = TestVault::empty();
    std::fs::write(&junk.path, b"dit is geen kluis\n").unwrap();
    out.push(("4_damaged", run(&junk, &["client", "list"])));
    // 5: in use by another kluis.
    let mut h = holder(&v, &id);
    wait_until_busy(&v, &mut h);
    out.push(("5_in_use", run(&v, &["client", "list"])));
    h.stdin.take().unwrap().write_all(b"klaar").unwrap();
    assert!(h.wait().unwrap().success());
    out
}

#[test]
fn every_exit_code_says_what_happened_and_what_to_do_in_both_languages() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.add_filter(r"/tmp/\.tmp[A-Za-z0-9]+", "[DIR]");
    settings.add_filter(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[ID]",
    );
    let _guard = settings.bind_to_scope();
    for lang in ["en_US.UTF-8", "nl_NL.UTF-8"] {
        let l = &lang[..2];
        for (name, out) in cases(lang) {
            let code: i32 = name[..1].parse().unwrap();
            assert_eq!(
                out.status.code(),
                Some(code),
                "{name} ({l}): {}",
                golden(&out)
            );
            insta::assert_snapshot!(format!("golden_{name}_{l}"), golden(&out));
        }
    }
}
