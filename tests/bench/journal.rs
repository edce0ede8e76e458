//! Durable single edits through the journal, against a plain append + fsync of the same
//! number of bytes in the same run; at 200,000 notes and at 2,000 notes (cost independent of
//! size); unlock with 1,000 pending records against unlock without; peak RSS of a command that
//! replays them and appends one more; and compaction itself, which is what every edit cost
//! before.
//!
//! `cargo bench --bench journal`; `KLUIS_BENCH_NOTES=20000` for a quick run.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kluis::model::{NewNote, NoteKind};
use kluis::secret::SecretString;
use kluis::session::{Access, Session};

#[path = "commit.rs"]
mod commit;
#[path = "synthetic.rs"]
mod synthetic;
use synthetic::*;

const CLIENT: &str = "01900000-0000-7000-8000-000000000000";

/// Child role: opens the vault, adds `count` notes one change at a time, timing each against
/// an append + fdatasync of the same size; copies vault and journal to `pending/` before
/// closing (so the parent can unlock with 1,000 records), then times the compaction.
fn append_role(path: &Path, count: usize, results: &Path) {
    let pass = SecretString::from(PASS.to_owned());
    let mut s = Session::open(path, &pass, Access::Write).unwrap();
    let journal = kluis::journal::path_for(path);
    let plain = path.with_extension("plain");
    let mut baseline = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&plain)
        .unwrap();
    let mut out = String::new();
    let mut rng = Rng(99);
    let vocabulary = vocabulary();
    let mut last_bytes = 0;
    for i in 0..count {
        let body: Vec<&str> = (0..16)
            .map(|_| vocabulary[zipf(&mut rng, vocabulary.len())].as_str())
            .collect();
        let note = NewNote {
            client_id: CLIENT.into(),
            kind: NoteKind::Telefoon,
            occurred_at: chrono::NaiveDate::from_ymd_opt(2026, 11, 1)
                .unwrap()
                .and_hms_opt(9, (i % 60) as u32, 0)
                .unwrap(),
            body: body.join(" "),
            supersedes: None,
            special: false,
        };
        // The record's own bytes: the file itself grows in steps (journal::GROWTH). The
        // baseline appends as many bytes as the record before it (the same size, all but
        // the first time), and the two take turns at going first: whichever follows the
        // other's `fdatasync` at once meets the file system still busy with it.
        let base_first = i % 2 == 1;
        let mut base = Duration::ZERO;
        let mut baseline_append = |bytes: usize| {
            let record = vec![0x5au8; bytes];
            let t = Instant::now();
            baseline.write_all(&record).unwrap();
            baseline.sync_data().unwrap();
            base = t.elapsed();
        };
        if base_first {
            baseline_append(last_bytes);
        }
        let before = s.pending_bytes();
        let t = Instant::now();
        s.change(|st| st.add_note(&note)).unwrap();
        let ours = t.elapsed();
        let bytes = s.pending_bytes() - before;
        if !base_first {
            baseline_append(bytes as usize);
        }
        last_bytes = bytes as usize;
        out.push_str(&format!(
            "{} {} {}\n",
            ours.as_nanos(),
            base.as_nanos(),
            bytes
        ));
    }
    let pending = path.parent().unwrap().join("pending");
    std::fs::create_dir_all(&pending).unwrap();
    std::fs::copy(path, pending.join("bench.kluis")).unwrap();
    std::fs::copy(
        &journal,
        kluis::journal::path_for(&pending.join("bench.kluis")),
    )
    .unwrap();
    let t = Instant::now();
    s.close().unwrap();
    out.push_str(&format!("compaction {}\n", t.elapsed().as_nanos()));
    std::fs::write(results, out).unwrap();
}

/// Child role, for profiling the replay on its own (`perf record` on this process): unlocks
/// the vault at `path` (one with pending records, say) `KLUIS_BENCH_ROUNDS` times, KDF
/// excluded, and prints the median.
fn unlock_role(path: &Path) {
    let pass = SecretString::from(PASS.to_owned());
    let keeper = Session::open(path, &pass, Access::Read).unwrap();
    let key = keeper.sealing_key();
    let mut times = Vec::new();
    for _ in 0..env_usize("KLUIS_BENCH_ROUNDS", 7) {
        let t = Instant::now();
        let s = Session::open_with_key(path, key, Access::Read).unwrap();
        times.push(t.elapsed());
        drop(s);
    }
    println!(
        "unlock minus KDF, {} pending records: median {:.1} ms",
        keeper.pending_records(),
        ms(median(times))
    );
}

struct Appends {
    ours: Vec<Duration>,
    base: Vec<Duration>,
    bytes: u64,
    compaction: Duration,
}

fn read_results(path: &Path) -> Appends {
    let text = std::fs::read_to_string(path).unwrap();
    let mut a = Appends {
        ours: vec![],
        base: vec![],
        bytes: 0,
        compaction: Duration::ZERO,
    };
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if f[0] == "compaction" {
            a.compaction = Duration::from_nanos(f[1].parse().unwrap());
        } else {
            a.ours.push(Duration::from_nanos(f[0].parse().unwrap()));
            a.base.push(Duration::from_nanos(f[1].parse().unwrap()));
            a.bytes += f[2].parse::<u64>().unwrap();
        }
    }
    a
}

fn child(role: &str, path: &Path, notes: usize, extra: &[(&str, String)]) -> u64 {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.env("KLUIS_BENCH_ROLE", role)
        .env("KLUIS_BENCH_PATH", path)
        .env("KLUIS_BENCH_NOTES", notes.to_string());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    run_measured(&mut cmd)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let notes = env_usize("KLUIS_BENCH_NOTES", 200_000);
    let count = env_usize("KLUIS_BENCH_APPENDS", 1_000);
    let role = std::env::var("KLUIS_BENCH_ROLE").unwrap_or_default();
    if let Some(path) = std::env::var_os("KLUIS_BENCH_PATH").map(PathBuf::from) {
        match role.as_str() {
            "generate" => generate_vault(&path, notes, (notes / 100).max(10)),
            "append" => append_role(&path, count, &path.with_extension("results")),
            "unlock" => unlock_role(&path),
            _ => panic!("unknown role {role}"),
        }
        return;
    }
    let root = tempfile::tempdir_in(
        std::env::var_os("KLUIS_BENCH_DIR")
            .unwrap_or_else(|| std::env::temp_dir().into_os_string()),
    )
    .unwrap();
    commit::print("journal");
    println!("kluis journal benchmark: {count} single-note changes at {notes} and at 2,000 notes");
    let mut rows = Vec::new();
    for (label, n) in [("large", notes), ("small", 2_000)] {
        let dir = root.path().join(label);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bench.kluis");
        child("generate", &path, n, &[]);
        child("append", &path, n, &[]);
        rows.push((
            label,
            n,
            path.clone(),
            read_results(&path.with_extension("results")),
        ));
    }

    // Peak RSS of a command that replays 1,000 records and appends one (a command line run
    // leaves them in the journal), while we are small.
    let pending = root.path().join("large/pending/bench.kluis");
    let image_len: f64 = std::fs::read_to_string(root.path().join("large/bench.size"))
        .unwrap()
        .parse()
        .unwrap();
    let rss_copy = root.path().join("rss.kluis");
    std::fs::copy(&pending, &rss_copy).unwrap();
    std::fs::copy(
        kluis::journal::path_for(&pending),
        kluis::journal::path_for(&rss_copy),
    )
    .unwrap();
    let rss = run_measured(
        std::process::Command::new(env!("CARGO_BIN_EXE_kluis"))
            .arg("--vault")
            .arg(&rss_copy)
            .args(["client", "edit", CLIENT, "--phone", "0611111111"])
            .env("KLUIS_PASSPHRASE", PASS),
    );
    let rss_target = image_len * 1.5 + 50e6;

    // Unlock minus KDF: the vault with 1,000 pending records against the same data compacted.
    let pass = SecretString::from(PASS.to_owned());
    let compacted = root.path().join("large/bench.kluis");
    let keeper = Session::open(&compacted, &pass, Access::Read).unwrap();
    let key = keeper.sealing_key();
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..env_usize("KLUIS_BENCH_ROUNDS", 7) {
        let t = Instant::now();
        let s = Session::open_with_key(&pending, key, Access::Read).unwrap();
        with.push(t.elapsed());
        assert_eq!(s.pending_records(), count as u64);
        drop(s);
        let t = Instant::now();
        let s = Session::open_with_key(&compacted, key, Access::Read).unwrap();
        without.push(t.elapsed());
        drop(s);
    }
    let (with, without) = (median(with), median(without));

    // The first search after that unlock: the 1,000 replayed notes are indexed then
    // (migration 0014), against the same search on the compacted vault, whose indexes hold
    // them already. Each on a session just opened, as after an unlock.
    let query = kluis::model::fts_query(&vocabulary()[20]).unwrap();
    let first_search = |path: &Path| {
        let s = Session::open_with_key(path, key, Access::Read).unwrap();
        let store = kluis::internals::store(&s);
        let t = Instant::now();
        let hits = kluis::internals::search(store, &query, 50).unwrap().len();
        let first = t.elapsed();
        let t = Instant::now();
        std::hint::black_box(kluis::internals::search(store, &query, 50).unwrap().len());
        (first, t.elapsed(), hits)
    };
    let (mut first_with, mut first_without, mut again_with) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..env_usize("KLUIS_BENCH_ROUNDS", 7) {
        let (first, again, hits) = first_search(&pending);
        assert_eq!(hits, 50);
        first_with.push(first);
        again_with.push(again);
        first_without.push(first_search(&compacted).0);
    }
    let (first_with, first_without, again_with) = (
        median(first_with),
        median(first_without),
        median(again_with),
    );

    println!();
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>7}",
        "one durable note (ms)", "p50", "p99", "baseline", "ratio"
    );
    let mut p50s = Vec::new();
    for (label, n, _, a) in &rows {
        let (p50, p99, b50) = (
            percentile(a.ours.clone(), 0.5),
            percentile(a.ours.clone(), 0.99),
            percentile(a.base.clone(), 0.5),
        );
        p50s.push(p50);
        println!(
            "{:<34} {:>9.3} {:>9.3} {:>9.3} {:>6.2}x",
            format!(
                "{label}: {n} notes, {} B/record",
                a.bytes / a.ours.len() as u64
            ),
            ms(p50),
            ms(p99),
            ms(b50),
            ms(p50) / ms(b50)
        );
    }
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>6.2}x  (target <=1.2x)",
        "p50 large / p50 small",
        "",
        "",
        "",
        ms(p50s[0]) / ms(p50s[1])
    );
    println!("targets: p50 <= 2x baseline, p99 <= 20 ms");
    println!();
    for (label, n, _, a) in &rows {
        println!(
            "compaction ({label}, {n} notes; the old cost of every edit): {:.1} ms",
            ms(a.compaction)
        );
    }
    println!(
        "unlock minus KDF with {count} pending records: {:.1} ms, without: {:.1} ms, ratio {:.2}x (target <=1.1x)",
        ms(with),
        ms(without),
        ms(with) / ms(without)
    );
    println!(
        "first search after that unlock ({count} notes to index first): {:.1} ms, on the compacted vault: {:.1} ms; the second search: {:.1} ms",
        ms(first_with),
        ms(first_without),
        ms(again_with)
    );
    println!(
        "peak RSS replay + edit: {:.1} MB, target {:.1} MB (1.5 x image + 50 MB), ratio {:.2}x",
        rss as f64 / 1e6,
        rss_target / 1e6,
        rss as f64 / rss_target
    );
}
