//! The vault test vectors in tests/data: good_* open and hold what their .expect says;
//! fail_<code>_* are refused with that exit code and left untouched.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{TestVault, kluis, require, stderr};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn vectors(prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kluis"))
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    v.sort();
    v
}

/// Copies a vector into a temp dir so kluis's lock file never lands in the source tree.
fn staged(vector: &Path) -> TestVault {
    let v = TestVault::empty();
    std::fs::copy(vector, &v.path).unwrap();
    v
}

fn run(v: &TestVault, args: &[&str]) -> std::process::Output {
    kluis()
        .arg("--vault")
        .arg(&v.path)
        .arg("--passphrase-file")
        .arg(data_dir().join("passphrase.txt"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn good_vectors_open_and_hold_their_clients() {
    let goods = vectors("good_");
    assert!(goods.len() >= 3);
    for vector in goods {
        let v = staged(&vector);
        let out = run(&v, &["check"]);
        assert!(
            out.status.success(),
            "{}: {}",
            vector.display(),
            stderr(&out)
        );
        let out = run(&v, &["client", "list", "--json"]);
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut names: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        let expect = std::fs::read_to_string(vector.with_extension("expect")).unwrap();
        assert_eq!(
            names,
            expect.lines().collect::<Vec<_>>(),
            "{}",
            vector.display()
        );
    }
}

#[test]
fn fail_vectors_are_refused_with_their_exit_code_and_left_untouched() {
    let fails = vectors("fail_");
    assert!(fails.len() >= 15);
    for vector in fails {
        let name = vector.file_name().unwrap().to_string_lossy().into_owned();
        let code: i32 = name
            .split('_')
            .nth(1)
            .unwrap()
            .parse()
            .expect("fail_<code>_name");
        let v = staged(&vector);
        for args in [&["check"][..], &["client", "add", "--name", "X"]] {
            let out = run(&v, args);
            assert_eq!(
                out.status.code(),
                Some(code),
                "{name} {args:?}: {}",
                stderr(&out)
            );
            assert!(
                !stderr(&out).contains("panicked"),
                "{name}: {}",
                stderr(&out)
            );
        }
        assert_eq!(
            std::fs::read(&v.path).unwrap(),
            std::fs::read(&vector).unwrap(),
            "{name} was changed"
        );
        let mut left: Vec<String> = std::fs::read_dir(v.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["vault.kluis", "vault.kluis.lock"], "{name}");
    }
}

#[test]
fn the_recovery_vector_opens_with_stock_age() {
    let out = Command::new(require("age"))
        .arg("-d")
        .arg("-i")
        .arg(data_dir().join("recovery.key"))
        .arg(data_dir().join("good_recovery.kluis"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.starts_with(b"SQLite format 3\0"));
}

/// A vault of worker w002 of the vector organisation, holding its final roster.
pub fn bundle_recipient() -> TestVault {
    let dir = data_dir().join("sync");
    let v = TestVault::empty();
    let code = std::fs::read_to_string(dir.join("w002.code")).unwrap();
    crate::org::enroll(&v, &dir.join("w002.enroll"), code.trim()).success();
    v.cmd()
        .args(["roster", "import"])
        .arg(dir.join("roster.json"))
        .assert()
        .success();
    v
}

fn bundle_vectors(prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data_dir().join("sync"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kluisb"))
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    v.sort();
    v
}

#[test]
fn bundle_vectors_merge_in_any_order_and_every_fail_vector_is_refused() {
    let goods = bundle_vectors("good_");
    assert_eq!(goods.len(), 2);
    let expect = std::fs::read_to_string(data_dir().join("sync/good.expect")).unwrap();
    let mut states = Vec::new();
    for order in [goods.clone(), goods.iter().rev().cloned().collect()] {
        let v = bundle_recipient();
        for file in &order {
            v.cmd().arg("import").arg(file).assert().success();
        }
        let list = v.json(&["client", "list", "--json"]);
        let names: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, expect.lines().collect::<Vec<_>>());
        let id = list[0]["id"].as_str().unwrap().to_owned();
        states.push((
            v.json(&["client", "show", &id, "--json"]),
            v.json(&["note", "list", &id, "--json"]),
        ));
    }
    assert_eq!(states[0], states[1]);

    let fails = bundle_vectors("fail_");
    assert!(fails.len() >= 12);
    let v = bundle_recipient();
    let before = std::fs::read(&v.path).unwrap();
    for file in fails {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let code: i32 = name.split('_').nth(1).unwrap().parse().unwrap();
        let out = v.cmd().arg("import").arg(&file).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains("refused"), "{name}: {}", stderr(&out));
        assert_eq!(
            std::fs::read(&v.path).unwrap(),
            before,
            "{name} changed the vault"
        );
    }
    assert_eq!(v.json(&["client", "list", "--json"]), serde_json::json!([]));
}
