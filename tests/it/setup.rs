//! Fitting the ecosystem: the config file and its layering under environment variables and
//! flags, shell completions, the man page, Dutch help, and quiet scripts.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::{PASS, TestVault, kluis, require, stderr, stdout};

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn the_config_file_is_found_layered_and_strict() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    // Default place: $XDG_CONFIG_HOME/kluis/config.toml, absent is fine.
    let out = kluis()
        .env("XDG_CONFIG_HOME", &xdg)
        .args(["config", "path"])
        .assert()
        .success();
    assert_eq!(
        stdout(out.get_output()).trim(),
        xdg.join("kluis/config.toml").to_str().unwrap()
    );
    assert!(stderr(out.get_output()).contains("no file there yet"));

    // The built-in default is a valid config that changes nothing.
    let out = kluis().args(["config", "default"]).assert().success();
    let default = stdout(out.get_output());
    assert!(default.contains("# lock_after = \"5m\"") && default.contains("[retention]"));
    let file = tmp.path().join("default.toml");
    write(&file, &default);
    let shown: Value = serde_json::from_slice(
        &kluis()
            .arg("--config")
            .arg(&file)
            .args(["config", "show", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .unwrap();
    assert_eq!(shown["lock_after"]["value"], "5m");
    assert_eq!(shown["lock_after"]["source"], "default");
    assert_eq!(shown["retention"]["jeugd"]["value"], 20);

    // File under environment under flag.
    let file = tmp.path().join("config.toml");
    let vault = tmp.path().join("from-config.kluis");
    write(
        &file,
        &format!(
            "vault = \"{}\"\nlang = \"nl\"\nlock_after = \"10m\"\nprivacy = true\n\
             export_dir = \"/mnt/gedeeld\"\n[retention]\nwmo = 3\n",
            vault.display()
        ),
    );
    let show = |envs: &[(&str, &str)], args: &[&str]| -> Value {
        let mut c = kluis();
        c.env("KLUIS_CONFIG", &file);
        for (k, v) in envs {
            c.env(k, v);
        }
        let out = c
            .args(args)
            .args(["config", "show", "--json"])
            .assert()
            .success();
        serde_json::from_slice(&out.get_output().stdout).unwrap()
    };
    let s = show(&[], &[]);
    assert_eq!(s["config_file"], file.to_str().unwrap());
    assert_eq!(s["vault"]["value"], vault.to_str().unwrap());
    assert_eq!(s["lang"]["value"], "nl");
    assert_eq!(s["lang"]["source"], "file");
    assert_eq!(s["lock_after"]["value"], "10m");
    assert_eq!(s["privacy"]["value"], true);
    assert_eq!(s["export_dir"]["value"], "/mnt/gedeeld");
    assert_eq!(s["retention"]["wmo"]["value"], 3);
    assert_eq!(s["retention"]["wmo"]["source"], "file");
    let s = show(&[("KLUIS_LANG", "en"), ("KLUIS_LOCK_AFTER", "30s")], &[]);
    assert_eq!(s["lang"]["value"], "en");
    assert_eq!(s["lang"]["source"], "env");
    assert_eq!(s["lock_after"]["value"], "30s");
    let s = show(
        &[("KLUIS_LANG", "en")],
        &["--lang", "nl", "--lock-after", "1h"],
    );
    assert_eq!(s["lang"]["value"], "nl");
    assert_eq!(s["lang"]["source"], "flag");
    assert_eq!(s["lock_after"]["source"], "flag");
    // Messages follow the configured language.
    let out = kluis()
        .env("KLUIS_CONFIG", &file)
        .args(["client", "list"])
        .env("KLUIS_PASSPHRASE", PASS)
        .assert()
        .code(1);
    assert!(stderr(out.get_output()).contains("er is geen kluis op"));
    assert!(stderr(out.get_output()).contains("from-config.kluis"));

    // An unknown key is an error that names it (exit 2); `config path` still answers.
    write(&file, "vault = \"x\"\nlock_afer = \"5m\"\n");
    let out = kluis()
        .env("KLUIS_CONFIG", &file)
        .args(["client", "list"])
        .assert()
        .code(2);
    let err = stderr(out.get_output());
    assert!(
        err.contains("lock_afer") && err.contains(file.to_str().unwrap()),
        "{err}"
    );
    kluis()
        .env("KLUIS_CONFIG", &file)
        .args(["config", "path"])
        .assert()
        .success();
    write(&file, "lang = \"fr\"\n");
    kluis()
        .env("KLUIS_CONFIG", &file)
        .args(["config", "show"])
        .assert()
        .code(2);
    // A named file must exist.
    kluis()
        .arg("--config")
        .arg(tmp.path().join("missing.toml"))
        .args(["config", "show"])
        .assert()
        .code(1);
}

#[test]
fn configured_vault_folder_and_retention_are_used() {
    let v = TestVault::created();
    let tmp = tempfile::tempdir().unwrap();
    let shared = tmp.path().join("gedeeld");
    std::fs::create_dir(&shared).unwrap();
    let file = tmp.path().join("config.toml");
    write(
        &file,
        &format!(
            "vault = \"{}\"\nexport_dir = \"{}\"\n[retention]\nwmo = 3\n",
            v.path.display(),
            shared.display()
        ),
    );
    let run = |args: &[&str]| {
        kluis()
            .env("KLUIS_CONFIG", &file)
            .env("KLUIS_PASSPHRASE", PASS)
            .args(args)
            .assert()
    };
    let out = run(&[
        "client",
        "add",
        "--name",
        "Via Config",
        "--domain",
        "wmo",
        "--opened-on",
        "2020-01-01",
    ])
    .success();
    let id = stdout(out.get_output()).trim().to_owned();
    run(&["client", "close", &id, "--at", "2024-03-01"]).success();
    let shown: Value = serde_json::from_slice(
        &run(&["client", "show", &id, "--json"])
            .success()
            .get_output()
            .stdout,
    )
    .unwrap();
    assert_eq!(
        shown["retention_until"], "2027-03-01",
        "wmo = 3 from the config"
    );
    // The vault's own policy beats the config.
    run(&["retention", "policy", "--domain", "wmo", "--years", "5"]).success();
    let out = run(&["retention", "policy", "--json"]).success();
    let policy: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let wmo = policy
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["domain"] == "wmo")
        .unwrap();
    assert_eq!(wmo["years"], 5);
    // `sync` and `export` without a folder use export_dir; a vault outside an organisation
    // then says why it cannot sync (exit 2), after the folder was accepted.
    let out = run(&["sync"]).code(2);
    assert!(stderr(out.get_output()).contains("not part of an organisation"));
    // Without any folder configured: exit 2, naming both ways to give one.
    let out = kluis()
        .arg("--vault")
        .arg(&v.path)
        .env("KLUIS_CONFIG", tmp.path().join("none.toml"))
        .env("KLUIS_PASSPHRASE", PASS)
        .args(["sync"])
        .assert()
        .code(1);
    assert!(stderr(out.get_output()).contains("none.toml"));
    let out = kluis()
        .arg("--vault")
        .arg(&v.path)
        .env("XDG_CONFIG_HOME", tmp.path().join("empty"))
        .env("KLUIS_PASSPHRASE", PASS)
        .args(["sync"])
        .assert()
        .code(2);
    assert!(stderr(out.get_output()).contains("export_dir"));
}

#[test]
fn completions_man_page_and_help_in_both_languages() {
    for (shell, marker) in [
        ("bash", "_kluis"),
        ("zsh", "#compdef kluis"),
        ("fish", "complete -c kluis"),
    ] {
        let out = kluis().args(["completions", shell]).assert().success();
        let script = stdout(out.get_output());
        assert!(script.contains(marker), "{shell}");
        assert!(
            script.contains("retention") && script.contains("disclose"),
            "{shell}"
        );
        if shell == "bash" {
            let dir = tempfile::tempdir().unwrap();
            let f = dir.path().join("kluis.bash");
            write(&f, &script);
            let ok = Command::new(require("bash"))
                .arg("-n")
                .arg(&f)
                .status()
                .unwrap();
            assert!(ok.success(), "bash -n rejects the completion script");
        }
    }
    let out = kluis().arg("man").assert().success();
    let page = stdout(out.get_output());
    assert!(
        page.starts_with(".ie") || page.contains(".TH kluis 1"),
        "{}",
        &page[..200.min(page.len())]
    );
    assert!(page.contains("retention"));
    let dir = tempfile::tempdir().unwrap();
    kluis()
        .args(["man", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    assert!(dir.path().join("kluis.1").is_file());
    kluis()
        .args(["man", "--out"])
        .arg(dir.path())
        .assert()
        .code(1);
    let nl = kluis().args(["--lang", "nl", "man"]).assert().success();
    assert!(stdout(nl.get_output()).contains("Maak een nieuwe kluis"));

    let en = kluis().args(["client", "add", "--help"]).assert().success();
    let en = stdout(en.get_output());
    assert!(en.contains("Usage:") && en.contains("Full name"));
    let nl = kluis()
        .env("LANG", "nl_NL.UTF-8")
        .args(["client", "add", "--help"])
        .assert()
        .success();
    let nl = stdout(nl.get_output());
    assert!(
        nl.contains("Gebruik:") && nl.contains("Volledige naam"),
        "{nl}"
    );
    assert!(
        nl.contains("[standaard: overig]") && !nl.contains("[default:"),
        "{nl}"
    );
    let nl = kluis().args(["--lang", "nl", "--help"]).assert().success();
    assert!(stdout(nl.get_output()).contains("Opdrachten"));
}
