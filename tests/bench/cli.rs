//! One command-line run at 200,000 notes (the vault benchmark's synthetic vault, weak test
//! KDF): `kluis note add` and `kluis client list` against `kluis whoami` (the unlock alone) on
//! the same vault, in turn, as whole processes (issue 18's first target):
//! - bytes written: what every file of the vault's folder gained or changed by (the journal's
//!   growth; a file that is new or rewritten counts whole), as a share of the vault file's
//!   bytes, and the blocks the process itself wrote (`ru_oublock` from wait4, 512 bytes each);
//!   the vault file and its previous generation must stay as they were (checked every run);
//! - wall time, median, and its ratio to `whoami`'s, with and without the weak KDF (timed on
//!   its own in this process);
//! - peak RSS (each process's own `ru_maxrss`).
//!
//! `cargo bench --bench cli`; `KLUIS_BENCH_NOTES=20000` for a quick run.
//! `KLUIS_BENCH_ROLE=generate KLUIS_BENCH_PATH=/some/dir/bench.kluis` only generates the vault
//! (passphrase in `synthetic.rs`), for timing the commands by hand, e.g. with
//! `/usr/bin/time -v kluis --vault /some/dir/bench.kluis whoami`.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kluis::secret::SecretString;

#[path = "commit.rs"]
mod commit;
#[path = "synthetic.rs"]
mod synthetic;
use synthetic::*;

const CLIENT: &str = "01900000-0000-7000-8000-000000000000";

/// Every file in the vault's folder (and the files place, if any): length, inode, mtime.
/// Length, inode, modification time, and the contents of a file small enough to compare.
type Seen = (u64, u64, i64, i64, Option<Vec<u8>>);

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Seen> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                dirs.push(e.path());
            } else {
                // The journal is written in place (records overwrite the zeros it grew by):
                // what changed is found by comparing its bytes.
                let bytes = (m.len() <= 16 << 20).then(|| std::fs::read(e.path()).unwrap());
                out.insert(
                    e.path(),
                    (m.len(), m.ino(), m.mtime(), m.mtime_nsec(), bytes),
                );
            }
        }
    }
    out
}

/// Bytes the folder changed by: for a file written in place, from its first changed byte to
/// its last (growth included); the whole length of a file that is new, replaced, or too
/// large to compare and changed.
fn changed_bytes(before: &BTreeMap<PathBuf, Seen>, after: &BTreeMap<PathBuf, Seen>) -> u64 {
    after
        .iter()
        .map(|(p, a)| match before.get(p) {
            None => a.0,
            Some(b) if b == a => 0,
            Some((_, ino, _, _, Some(old))) if *ino == a.1 && a.4.is_some() => {
                let new = a.4.as_ref().unwrap();
                let differs = |i: usize| old.get(i) != new.get(i);
                let longest = old.len().max(new.len());
                match (0..longest).find(|&i| differs(i)) {
                    None => 0,
                    Some(first) => {
                        let last = (0..longest).rev().find(|&i| differs(i)).unwrap();
                        (last + 1 - first) as u64
                    }
                }
            }
            Some(_) => a.0,
        })
        .sum()
}

struct Side {
    wall: Vec<Duration>,
    rss: Vec<u64>,
    written: Vec<u64>,
    blocks: Vec<u64>,
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let notes = env_usize("KLUIS_BENCH_NOTES", 200_000);
    let rounds = env_usize("KLUIS_BENCH_ROUNDS", 15);
    if let Some(path) = std::env::var_os("KLUIS_BENCH_PATH").map(PathBuf::from) {
        generate_vault(&path, notes, (notes / 100).max(10));
        return;
    }
    commit::print("cli");
    println!(
        "kluis cli benchmark: {notes} notes over {} clients, {rounds} rounds",
        (notes / 100).max(10)
    );
    let dir = tempfile::tempdir_in(
        std::env::var_os("KLUIS_BENCH_DIR")
            .unwrap_or_else(|| std::env::temp_dir().into_os_string()),
    )
    .unwrap();
    let path = dir.path().join("bench.kluis");
    run_measured(
        std::process::Command::new(std::env::current_exe().unwrap())
            .env("KLUIS_BENCH_ROLE", "generate")
            .env("KLUIS_BENCH_PATH", &path),
    );
    std::fs::remove_file(path.with_extension("identity")).unwrap();
    let vault_bytes = std::fs::metadata(&path).unwrap().len();
    let previous = kluis::vault::previous_path(&path);
    let stamp = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.len(), m.ino(), m.mtime(), m.mtime_nsec()))
    };
    let commands: [(&str, Vec<&str>); 3] = [
        ("kluis whoami", vec!["whoami"]),
        (
            "kluis note add",
            vec!["note", "add", CLIENT, "--text", "gebeld over de huur"],
        ),
        ("kluis client list", vec!["client", "list"]),
    ];
    // One unmeasured run of each: the first note add meets an empty journal.
    for (_, args) in &commands {
        run_measured(
            std::process::Command::new(env!("CARGO_BIN_EXE_kluis"))
                .arg("--vault")
                .arg(&path)
                .args(args)
                .env("KLUIS_PASSPHRASE", PASS)
                .stdout(std::process::Stdio::null()),
        );
    }
    let (vault_stamp, previous_stamp) = (stamp(&path), stamp(&previous));
    let mut sides: Vec<Side> = (0..commands.len())
        .map(|_| Side {
            wall: vec![],
            rss: vec![],
            written: vec![],
            blocks: vec![],
        })
        .collect();
    let mut kdf = Vec::new();
    let pass = SecretString::from(PASS.to_owned());
    let mut unchanged = true;
    for round in 0..rounds {
        // A different command first in each round, so none always follows the same one.
        for i in 0..commands.len() {
            let c = (round + i) % commands.len();
            let before = snapshot(dir.path());
            let t = Instant::now();
            let usage = run_usage(
                std::process::Command::new(env!("CARGO_BIN_EXE_kluis"))
                    .arg("--vault")
                    .arg(&path)
                    .args(&commands[c].1)
                    .env("KLUIS_PASSPHRASE", PASS)
                    .stdout(std::process::Stdio::null()),
            );
            let wall = t.elapsed();
            let after = snapshot(dir.path());
            let side = &mut sides[c];
            side.wall.push(wall);
            side.rss.push(usage.ru_maxrss as u64 * 1024);
            side.blocks.push(usage.ru_oublock as u64 * 512);
            side.written.push(changed_bytes(&before, &after));
            unchanged &= stamp(&path) == vault_stamp && stamp(&previous) == previous_stamp;
        }
        let t = Instant::now();
        let _ = kluis::vault::SealingKey::derive_new(&pass, WEAK).unwrap();
        kdf.push(t.elapsed());
    }
    let kdf = median(kdf);
    let med = |mut v: Vec<u64>| {
        v.sort();
        v[v.len() / 2]
    };
    let whoami = median(sides[0].wall.clone());
    println!();
    println!(
        "vault {:.1} MB; weak test KDF {:.1} ms (median); journal after the run {:.1} KB",
        vault_bytes as f64 / 1e6,
        ms(kdf),
        std::fs::metadata(kluis::journal::path_for(&path))
            .map(|m| m.len())
            .unwrap_or(0) as f64
            / 1e3
    );
    println!(
        "{:<18} {:>9} {:>9} {:>10} {:>11} {:>12} {:>10} {:>9}",
        "command (median)",
        "wall ms",
        "vs whoami",
        "minus KDF",
        "written B",
        "% of vault",
        "blocks B",
        "RSS MB"
    );
    for ((name, _), side) in commands.iter().zip(&sides) {
        let wall = median(side.wall.clone());
        let written = med(side.written.clone());
        println!(
            "{name:<18} {:>9.1} {:>8.2}x {:>9.2}x {:>11} {:>11.4}% {:>10} {:>9.1}",
            ms(wall),
            ms(wall) / ms(whoami),
            (ms(wall) - ms(kdf)) / (ms(whoami) - ms(kdf)),
            written,
            100.0 * written as f64 / vault_bytes as f64,
            med(side.blocks.clone()),
            med(side.rss.clone()) as f64 / 1e6,
        );
    }
    println!(
        "largest write of one run: note add {} B, client list {} B",
        sides[1].written.iter().max().unwrap(),
        sides[2].written.iter().max().unwrap()
    );
    println!(
        "targets: written <= 1 % of the vault, wall minus KDF <= 1.2x whoami; vault file and .prev unchanged by every run: {}",
        if unchanged { "yes" } else { "NO" }
    );
}
