//! No plaintext on disk: the canary never appears in a write(2) that kluis makes (strace),
//! and kluis creates no file besides the vault, its previous generation, its lock, its
//! journal, its temp file and the files kept in dossiers (sealed, beside it).

use std::process::Command;

use crate::{CANARY, PASS, TestVault, contains, require};

fn traced(
    v: &TestVault,
    trace: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
) -> std::process::Output {
    let mut cmd = Command::new(require("strace"));
    cmd.args(["-f", "-s", "1000000", "-e", "trace=read,pread64,write,pwrite64,writev,pwritev,pwritev2,openat,creat,open,rename,renameat,renameat2,link,linkat"])
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
    // A file kept in the dossier: read from elsewhere, sealed beside the vault.
    let scan = trace_dir.path().join("scan.pdf");
    std::fs::write(&scan, format!("%PDF-1.4 {CANARY} getekend\n")).unwrap();
    traced(
        &v,
        &trace,
        &["attach", "add", &id, scan.to_str().unwrap()],
        None,
    );
    let attach_trace = std::fs::read_to_string(&trace).unwrap();
    // The trace sees the canary where kluis reads it (the scan), so its absence from every
    // write means something.
    assert!(
        attach_trace.contains(CANARY),
        "the trace does not see the scan"
    );
    traces.push(attach_trace);
    let files = v.dir.path().join("vault.kluis.files");

    let allowed = [
        "vault.kluis",
        "vault.kluis.prev",
        "vault.kluis.lock",
        "vault.kluis.journal",
        "vault.kluis.files",
    ];
    // In the files folder: an id, or kluis's temporary name for one.
    let kept_file = |path: &std::path::Path| {
        path.parent() == Some(files.as_path())
            && path.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                let id = n
                    .strip_prefix('.')
                    .and_then(|n| n.split_once(".tmp-"))
                    .map_or(&*n, |(id, _)| id);
                id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
            })
    };
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
                            || name.starts_with(".vault.kluis.tmp-")
                            || kept_file(std::path::Path::new(path))),
                    "kluis created an unexpected file: {line}"
                );
            }
        }
    }
    // And what is left on disk: only the expected files, none with the canary.
    let kept: Vec<_> = std::fs::read_dir(&files).unwrap().collect();
    assert_eq!(kept.len(), 1);
    for entry in std::fs::read_dir(v.dir.path()).unwrap().chain(kept) {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path() == files {
            continue;
        }
        assert!(
            allowed.contains(&name.as_str()) || kept_file(&entry.path()),
            "unexpected file {name}"
        );
        let bytes = std::fs::read(entry.path()).unwrap();
        assert!(!contains(&bytes, CANARY.as_bytes()), "canary in {name}");
        assert!(
            !contains(&bytes, b"SQLite format 3"),
            "plain database in {name}"
        );
    }
}

/// Starts the command as after `ulimit -c unlimited`.
fn unlimited_core(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only an async-signal-safe call between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let unlimited = libc::rlimit {
                rlim_cur: libc::RLIM_INFINITY,
                rlim_max: libc::RLIM_INFINITY,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &unlimited);
            Ok(())
        });
    }
}

/// `kluis passwd` that waits for its new passphrase on a FIFO: alive, past reading
/// `$KLUIS_PASSPHRASE`, for as long as the test needs. Returns the child and the FIFO.
fn waiting_passwd(v: &TestVault) -> (Reaped, std::path::PathBuf) {
    let fifo = v.dir.path().join("new-passphrase.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let mut cmd = v.std_cmd();
    // As after `ulimit -c unlimited`: kluis must lower it itself.
    unlimited_core(&mut cmd);
    let child = cmd
        .current_dir(v.dir.path())
        .args(["passwd", "--new-passphrase-file"])
        .arg(&fifo)
        .args(crate::WEAK_KDF)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    (Reaped(child), fifo)
}

/// A child that is killed if a failing test leaves it waiting on its FIFO.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `f` holds for the process, or it ends, or 10 s pass.
fn wait_until(pid: u32, f: impl Fn() -> bool) -> bool {
    for _ in 0..1000 {
        if f() {
            return true;
        }
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

#[test]
fn the_environment_passphrase_is_wiped_from_proc_environ_once_read() {
    let v = TestVault::created();
    let (mut child, fifo) = waiting_passwd(&v);
    let pid = child.0.id();
    let environ = || std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    // The process keeps running (blocked on the FIFO) after it read the variable: its
    // environment block must no longer hold the value.
    assert!(
        wait_until(pid, || !contains(&environ(), PASS.as_bytes())),
        "the passphrase stayed in /proc/{pid}/environ"
    );
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(!contains(&environ(), b"KLUIS_PASSPHRASE=Z"));
    std::fs::write(&fifo, "Nieuw-Wachtwoord-Fietsbel-2026\n").unwrap();
    assert!(child.0.wait().unwrap().success());
}

#[test]
fn an_abort_leaves_no_core_dump() {
    let v = TestVault::created();
    let (mut child, fifo) = waiting_passwd(&v);
    let pid = child.0.id();
    // Past hardening: the core limit is 0, whatever the parent allowed.
    let core_limit = || {
        std::fs::read_to_string(format!("/proc/{pid}/limits"))
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .map(|l| {
                l.split_whitespace()
                    .skip(4)
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    };
    assert!(
        wait_until(pid, || core_limit() == "0 0"),
        "core limit: {}",
        core_limit()
    );
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(pid as i32, libc::SIGABRT) };
    let status = child.0.wait().unwrap();
    assert!(!status.success());
    let _ = std::fs::remove_file(&fifo);
    let cores: Vec<String> = std::fs::read_dir(v.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("core"))
        .collect();
    assert!(cores.is_empty(), "core files: {cores:?}");
    // The control: the same abort of a process without kluis's hardening, so the absence of a
    // core above means something on this machine (where core_pattern writes cores at all).
    let control = tempfile::tempdir().unwrap();
    let mut sleeper = {
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg("30").current_dir(control.path());
        unlimited_core(&mut cmd);
        cmd.spawn().unwrap()
    };
    std::thread::sleep(std::time::Duration::from_millis(100));
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(sleeper.id() as i32, libc::SIGABRT) };
    let _ = sleeper.wait();
    let control_cores = std::fs::read_dir(control.path()).unwrap().count();
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    eprintln!(
        "core_pattern {:?}: the unhardened control left {control_cores} core file(s)",
        pattern.trim()
    );
}
