//! No plaintext on disk: the canary never appears in a write(2) that kluis makes (strace),
//! and kluis creates no file besides the vault, its previous generation, its lock and its
//! temp file.

use std::process::Command;

use crate::{CANARY, PASS, TestVault, contains, require};

fn traced(
    v: &TestVault,
    trace: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
) -> std::process::Output {
    let mut cmd = Command::new(require("strace"));
    cmd.args(["-f", "-s", "1000000", "-e", "trace=write,pwrite64,writev,pwritev,pwritev2,openat,creat,open,rename,renameat,renameat2,link,linkat"])
        .arg("-o")
        .arg(trace)
        .arg(assert_cmd::cargo::cargo_bin("kluis"))
        .arg("--vault")
        .arg(&v.path)
        .args(args)
        .env("KLUIS_PASSPHRASE", PASS)
        .env("KLUIS_NEW_PASSPHRASE", PASS)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn the_canary_never_reaches_a_file() {
    let v = TestVault::created();
    let trace_dir = tempfile::tempdir().unwrap();
    let trace = trace_dir.path().join("trace");
    let out = traced(
        &v,
        &trace,
        &[
            "client",
            "add",
            "--name",
            &format!("Naam {CANARY}"),
            "--bsn",
            "111222333",
        ],
        None,
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let mut traces = vec![std::fs::read_to_string(&trace).unwrap()];
    traced(
        &v,
        &trace,
        &["note", "add", &id],
        Some(&format!("Gesprek met {CANARY} aan de keukentafel\n")),
    );
    traces.push(std::fs::read_to_string(&trace).unwrap());
    traced(
        &v,
        &trace,
        &[
            "client",
            "edit",
            &id,
            "--address",
            &format!("Straat {CANARY}"),
        ],
        None,
    );
    traces.push(std::fs::read_to_string(&trace).unwrap());

    let allowed = [
        "vault.kluis",
        "vault.kluis.prev",
        "vault.kluis.lock",
        "vault.kluis.journal",
    ];
    for t in &traces {
        for line in t.lines() {
            let is_write = ["write(", "pwrite64(", "writev(", "pwritev("]
                .iter()
                .any(|w| line.contains(w));
            // Stdout and stderr may carry ids, never the canary either.
            if is_write {
                assert!(!line.contains(CANARY), "canary written: {line}");
                assert!(!line.contains("111222333"), "BSN written: {line}");
            }
            if line.contains("openat(") && line.contains("O_CREAT") {
                let path = line.split('"').nth(1).unwrap_or("");
                let name = std::path::Path::new(path)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                assert!(
                    path.starts_with(v.dir.path().to_str().unwrap())
                        && (allowed.contains(&name.as_str())
                            || name.starts_with(".vault.kluis.tmp-")),
                    "kluis created an unexpected file: {line}"
                );
            }
        }
    }
    // And what is left on disk: only the expected files, none with the canary.
    for entry in std::fs::read_dir(v.dir.path()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(allowed.contains(&name.as_str()), "unexpected file {name}");
        let bytes = std::fs::read(entry.path()).unwrap();
        assert!(!contains(&bytes, CANARY.as_bytes()), "canary in {name}");
        assert!(
            !contains(&bytes, b"SQLite format 3"),
            "plain database in {name}"
        );
    }
}
