//! The first hour of a newcomer and of IT: the README renders and its quick start runs as
//! written, `man --out` into a folder a fresh home lacks, `whoami` on a personal vault,
//! `config show` and `client list --json` showing what the docs say they show.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::{PASS, TestVault, kluis, require, stderr, stdout};

fn repo_file(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap()
}

/// Regression: a paragraph began on the closing fence's line ("``` Every command…"), so
/// GitHub rendered the rest of the README as code. Every fence line is a fence alone (with at
/// most a language after the opening one), and fences pair up.
#[test]
fn every_code_fence_in_the_readme_and_docs_stands_alone() {
    let mut files = vec![PathBuf::from("README.md")];
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(Path::new("docs").join(path.file_name().unwrap()));
        }
    }
    for file in files {
        let text = repo_file(file.to_str().unwrap());
        let mut open = false;
        for (n, line) in text.lines().enumerate() {
            let Some(pos) = line.find("```") else {
                continue;
            };
            let rest = line[pos + 3..].trim();
            // A fence inside a line (inline code) is not one.
            if line[..pos].trim().is_empty() {
                let ok = if open {
                    rest.is_empty()
                } else {
                    rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                };
                assert!(
                    ok,
                    "{}:{}: text on a fence line: {line}",
                    file.display(),
                    n + 1
                );
                open = !open;
            }
        }
        assert!(!open, "{}: a code fence is never closed", file.display());
    }
}

/// The `sh` block that follows the line starting with `after`, in README.md.
fn readme_block(after: &str) -> String {
    let readme = repo_file("README.md");
    let start = readme
        .lines()
        .position(|l| l.starts_with(after))
        .unwrap_or_else(|| panic!("README.md has no line starting with {after:?}"));
    let mut lines = readme.lines().skip(start + 1).skip_while(|l| *l != "```sh");
    assert_eq!(lines.next(), Some("```sh"), "no sh block after {after:?}");
    let block: Vec<&str> = lines.take_while(|l| *l != "```").collect();
    block.join("\n") + "\n"
}

/// bash -e running `script` in `home` as a newcomer would: a fresh home, nothing configured,
/// the built kluis first on PATH and the passphrases in the environment.
fn newcomer(home: &Path, script: &str, env: &[(&str, &str)]) -> std::process::Output {
    let bin = assert_cmd::cargo::cargo_bin("kluis");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap()
    );
    let mut c = Command::new(require("bash"));
    c.arg("-e")
        .arg("-c")
        .arg(script)
        .current_dir(home)
        .env_clear()
        .env("HOME", home)
        .env("PATH", path)
        .env("LANG", "en_US.UTF-8")
        .env("KLUIS_NEW_PASSPHRASE", PASS)
        .env("KLUIS_PASSPHRASE", PASS);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// The README's quick start and privacy blocks, run as written in one shell, with kluis's
/// default (strong) KDF as a newcomer gets it. The privacy block's `--recipient age1...` is
/// the one thing a reader must fill in (the other organisation's key): the test fills in the
/// test recovery key there and nowhere else. The team block cannot run outside an
/// organisation (the quick start makes a personal vault): it must stop at its first line with
/// the documented exit code 2 and say why.
#[test]
fn the_readme_quick_start_runs_as_written() {
    let home = tempfile::tempdir().unwrap();
    let quick = readme_block("## Quick start");
    let privacy = readme_block("Privacy rules are features");
    assert_eq!(privacy.matches("age1...").count(), 1, "{privacy}");
    let recipient = String::from_utf8(
        Command::new(require("age-keygen"))
            .arg("-y")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/recovery.key"))
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let privacy = privacy.replace("age1...", recipient.trim());
    // Standard input is empty (Command::output): a command that waited for typing fails.
    let out = newcomer(home.path(), &format!("{quick}{privacy}"), &[]);
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "stdout:\n{so}\nstderr:\n{se}");
    // `kluis search schuld` finds the note ("schulden"), highlighted.
    let hit = so
        .lines()
        .find(|l| l.starts_with("note ") && l.contains("Fatima el Amrani"))
        .unwrap_or_else(|| panic!("search found nothing:\n{so}"));
    assert!(hit.contains("[schulden]"), "{hit}");
    assert!(so.contains("Brieven sorteren"), "agenda:\n{so}");
    assert!(so.contains("chain intact"), "check:\n{so}");
    // The disclosure opens with stock age and the recipient's key, as the message says.
    let opened = Command::new(require("age"))
        .arg("-d")
        .arg("-i")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/recovery.key"))
        .arg(home.path().join("ggd.age"))
        .output()
        .unwrap();
    assert!(opened.status.success(), "{}", stderr(&opened));
    assert!(String::from_utf8_lossy(&opened.stdout).contains("Fatima el Amrani"));
    assert!(home.path().join("inzage.html").is_file());

    let vault = home.path().join(".local/share/kluis/vault.kluis");
    let clients = crate::json(
        kluis()
            .arg("--vault")
            .arg(&vault)
            .env("KLUIS_PASSPHRASE", PASS)
            .args(["client", "list", "--all", "--json"])
            .assert()
            .success()
            .get_output(),
    );
    let id = clients[0]["id"].as_str().unwrap().to_owned();
    let team = readme_block("In an organisation, IT issues");
    let out = newcomer(home.path(), &team, &[("id", &id)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not part of an organisation"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn man_out_creates_the_folder_a_fresh_home_lacks() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".local/share/man/man1");
    let out = kluis()
        .env("HOME", home.path())
        .args(["man", "--out"])
        .arg(&dir)
        .assert()
        .success();
    let page = dir.join("kluis.1");
    assert_eq!(stdout(out.get_output()).trim(), page.to_str().unwrap());
    use std::os::unix::fs::PermissionsExt;
    for (path, mode) in [
        (page.clone(), 0o644),
        (dir.clone(), 0o755),
        (home.path().join(".local/share/man"), 0o755),
    ] {
        let m = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        // The umask may take bits away, never add them.
        assert_eq!(m & !mode, 0, "{} is {m:o}", path.display());
        assert!(m & 0o700 == 0o700 || path == page, "{}", path.display());
    }
    // man(1) reads it as one page with every command in it.
    let text = std::fs::read_to_string(&page).unwrap();
    assert!(text.contains(".SS \"kluis retention purge\""), "{text}");

    // A folder that cannot be made: one message, the OS error once, nothing written.
    let file = home.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out = kluis()
        .args(["man", "--out"])
        .arg(file.join("man1"))
        .assert()
        .code(1);
    let err = stderr(out.get_output());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot create folder"), "{err}");
    assert_eq!(err.matches("os error").count(), 1, "{err}");
    assert!(!err.contains("vault"), "{err}");
}

/// Regression: clap_mangen pointed to kluis-init(1) and 40 other pages kluis does not install,
/// and the Dutch page kept clap's "Print this message or the help of the given subcommand(s)".
#[test]
fn the_man_page_names_no_other_page_and_the_dutch_one_is_dutch() {
    let en = stdout(kluis().arg("man").assert().success().get_output());
    let nl = stdout(
        kluis()
            .args(["--lang", "nl", "man"])
            .assert()
            .success()
            .get_output(),
    );
    for page in [&en, &nl] {
        // A reference to another page looks like `name(1)`; only `kluis 1` in the title.
        let refs: Vec<&str> = page
            .split(|c: char| c.is_whitespace())
            .filter(|w| w.contains("(1)") || w.contains("(8)"))
            .collect();
        assert!(refs.is_empty(), "{refs:?}");
        assert!(!page.contains("kluis\\-init"), "no per-command pages");
        for sub in ["init", "client add", "retention purge", "config show"] {
            assert!(
                page.contains(&format!(".SS \"kluis {}\"", sub.replace('-', "\\-"))),
                "{sub}"
            );
        }
        // Every line that roff would read as a request is one it knows.
        for line in page.lines().filter(|l| l.starts_with('.')) {
            let request = line[1..].split_whitespace().next().unwrap_or("");
            assert!(
                [
                    "ie", "el", "TH", "SH", "SS", "TP", "br", "RS", "RE", "IP", "PP"
                ]
                .contains(&request),
                "{line}"
            );
        }
    }
    assert!(!nl.contains("Print this message"), "Dutch page in English");
    assert!(!nl.contains("Print help"), "Dutch page in English");
    assert!(nl.contains(".SH OPDRACHTEN") && nl.contains("Maak een nieuwe kluis"));
    assert!(en.contains(".SH COMMANDS") && en.contains("Create a new vault"));
    if let Some(groff) = crate::which("groff") {
        // groff's warnings (-ww) about the page, if it is installed.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kluis.1");
        std::fs::write(&file, &nl).unwrap();
        let out = Command::new(groff)
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.stderr.is_empty(), "{}", stderr(&out));
    }
}

/// The keys of `whoami --json`, in a personal vault and an enrolled one alike.
pub const WHOAMI_KEYS: [&str; 10] = [
    "device",
    "enrolled",
    "id",
    "name",
    "org_public_key",
    "organisation",
    "owner",
    "role",
    "roster_version",
    "teams",
];

/// Regression: `whoami` on a personal vault exited 4 with "ask IT for a new copy".
#[test]
fn whoami_on_a_personal_vault_says_so_and_succeeds() {
    let v = TestVault::empty();
    v.init(&["--author", "Wim Werker"]).success();
    let out = v.cmd().arg("whoami").assert().success();
    let text = stdout(out.get_output());
    assert!(text.contains("Owner: Wim Werker"), "{text}");
    assert!(
        text.contains("personal vault, not enrolled in an organisation"),
        "{text}"
    );
    assert!(!text.contains("IT for a new copy"), "{text}");
    let nl = v.cmd().args(["--lang", "nl", "whoami"]).assert().success();
    let nl = stdout(nl.get_output());
    assert!(
        nl.contains("Eigenaar: Wim Werker") && nl.contains("persoonlijke kluis"),
        "{nl}"
    );

    let me = v.json(&["whoami", "--json"]);
    let keys: Vec<&str> = me.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, WHOAMI_KEYS);
    assert_eq!(me["enrolled"], false);
    assert_eq!(me["owner"], "Wim Werker");
    assert_eq!(me["teams"], serde_json::json!([]));
    for key in [
        "id",
        "name",
        "role",
        "organisation",
        "org_public_key",
        "roster_version",
    ] {
        assert_eq!(me[key], Value::Null, "{key}");
    }
}

#[test]
fn config_show_includes_the_life_domains() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("config.toml");
    std::fs::write(&file, "life_domains = [\"financiën\", \"wonen\"]\n").unwrap();
    let out = kluis().args(["config", "show"]).assert().success();
    let text = stdout(out.get_output());
    let line = text
        .lines()
        .find(|l| l.starts_with("life_domains "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("financiën, werk en opleiding, tijdsbesteding")
            && line.ends_with("(default)"),
        "{line}"
    );
    let out = kluis()
        .arg("--config")
        .arg(&file)
        .args(["config", "show"])
        .assert()
        .success();
    let text = stdout(out.get_output());
    assert!(
        text.lines()
            .any(|l| l.starts_with("life_domains ") && l.contains(" financiën, wonen  (")),
        "{text}"
    );
    let shown = crate::json(
        kluis()
            .arg("--config")
            .arg(&file)
            .args(["config", "show", "--json"])
            .assert()
            .success()
            .get_output(),
    );
    assert_eq!(
        shown["life_domains"],
        serde_json::json!({"value": ["financiën", "wonen"], "source": "file"})
    );
}

/// docs/json.md: `client list --json` items are `client show --json`'s, plus `note_count` and
/// `last_contact`. Regression: `assigned` and `consents` were missing.
#[test]
fn client_list_json_has_every_field_client_show_has() {
    let v = TestVault::created();
    let a = v.add_client("Anna de Boer");
    let b = v.add_client("Bram Visser");
    v.add_note(&a, "Eerste gesprek");
    v.cmd()
        .args([
            "consent",
            "add",
            &a,
            "--org",
            "GGD",
            "--purpose",
            "jeugdgezondheid",
        ])
        .args(["--scope", "notes", "--until", "2099-01-01"])
        .assert()
        .success();
    let list = v.json(&["client", "list", "--json"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    for (item, id) in list.iter().zip([&a, &b]) {
        assert_eq!(&item["id"], id.as_str());
        let show = v.json(&["client", "show", id, "--json"]);
        let mut expected: Vec<String> = show.as_object().unwrap().keys().cloned().collect();
        expected.extend(["note_count".to_owned(), "last_contact".to_owned()]);
        let mut got: Vec<String> = item.as_object().unwrap().keys().cloned().collect();
        expected.sort();
        got.sort();
        assert_eq!(got, expected);
        assert_eq!(item["assigned"], show["assigned"]);
        assert_eq!(item["consents"], show["consents"]);
    }
    assert_eq!(list[0]["consents"][0]["org"], "GGD");
    assert_eq!(list[0]["consents"][0]["state"], "active");
    assert_eq!(list[0]["note_count"], 1);
    assert_eq!(list[1]["consents"], serde_json::json!([]));
    assert_eq!(list[1]["assigned"].as_array().unwrap().len(), 1);
}
