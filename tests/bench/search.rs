//! Search at 200,000 notes, on two kinds of text: the synthetic notes of the vault benchmark
//! (16 words from a 20,000-word Zipf vocabulary) and `kluis demo` notes (three sentences from
//! a few dozen, so every word is in thousands of notes). Each mix has 420 queries, 60 of each
//! kind: the 20 most frequent words, a 2-letter and a 3-letter prefix of a frequent word
//! (what search-as-you-type sends after two or three keys), a common word, two words from one
//! note, the first three letters of a surname, and a rare word (for demo text, which has no
//! rare words: its least frequent ones). Every query asks for 50 hits, as the terminal app
//! does, through `Store::search` (model::fts_query first, as the app does).
//!
//! Measured in child processes, alternating, in the same run:
//! - kluis: `Store::search` with kluis's wiping allocator;
//! - the same code on SQLite's own allocator (the baseline the allocator is held to);
//! - FTS5's own `ORDER BY rank` (bm25) over every match, on SQLite's allocator: what ranking
//!   all matches costs without kluis's impact index (a reference, not a target);
//! - with `KLUIS_BENCH_SQLCIPHER` naming the binary of tests/bench/sqlcipher (its run.sh builds
//!   it and sets this): SQLCipher 4 with an encrypted database file of the same notes, the same
//!   MATCH strings, FTS5's ranking (issue 18's "≤ 1× SQLCipher's p95").
//!
//! It also prints how much of the image the full-text tables take, and what the 2- and
//! 3-letter prefix indexes add (one more index of the same text without them, measured).
//!
//! `cargo bench --bench search`; `KLUIS_BENCH_NOTES=20000 KLUIS_BENCH_ROUNDS=1` for a quick run.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kluis::store::Store;

#[path = "commit.rs"]
mod commit;
#[path = "synthetic.rs"]
mod synthetic;
use synthetic::*;

/// Hits per query: what the terminal app asks for.
const LIMIT: usize = 50;
const PER_KIND: usize = 60;
const KINDS: [&str; 7] = [
    "20 most frequent words",
    "2-letter prefix",
    "3-letter prefix",
    "a common word",
    "two words of a note",
    "surname, 3 letters",
    "a rare word",
];
const MIXES: [&str; 2] = ["synthetic", "demo"];
const SIDES: [&str; 4] = ["kluis", "sqlite-alloc", "fts5-rank", "sqlcipher"];

fn load(path: &Path) -> Store {
    let bytes = std::fs::read(path).unwrap();
    Store::from_image(&bytes[..], bytes.len())
        .map_err(|_| "image")
        .unwrap()
}

/// The 420 queries of a mix, as typed (deterministic: from the data itself).
fn mix(store: &Store, seed: u64) -> Vec<(usize, String)> {
    let conn = kluis::internals::connection(store);
    conn.execute_batch(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.bench_vocab USING fts5vocab(main, note_fts, 'row')",
    )
    .unwrap();
    let terms: Vec<(String, i64)> = conn
        .prepare("SELECT term, doc FROM temp.bench_vocab ORDER BY doc DESC, term")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .filter(|(t, _): &(String, i64)| t.chars().all(char::is_alphabetic))
        .collect();
    let prefixes = |n: usize| {
        let mut out: Vec<String> = Vec::new();
        for (t, _) in &terms {
            let p: String = t.chars().take(n).collect();
            if p.chars().count() == n && !out.contains(&p) {
                out.push(p);
            }
            if out.len() == 20 {
                break;
            }
        }
        out
    };
    let top: Vec<String> = terms.iter().take(20).map(|t| t.0.clone()).collect();
    let (p2, p3) = (prefixes(2), prefixes(3));
    let common: Vec<String> = terms
        .iter()
        .skip(20)
        .take(280)
        .map(|t| t.0.clone())
        .collect();
    let mut rare: Vec<String> = terms
        .iter()
        .filter(|(_, d)| (5..=100).contains(d))
        .map(|t| t.0.clone())
        .collect();
    if rare.is_empty() {
        rare = terms.iter().rev().take(20).map(|t| t.0.clone()).collect();
    }
    let max_rowid: i64 = conn
        .query_row("SELECT max(rowid) FROM note", [], |r| r.get(0))
        .unwrap();
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    for kind in 0..KINDS.len() {
        for i in 0..PER_KIND {
            let text = match kind {
                0 => top[i % top.len()].clone(),
                1 => p2[rng.below(p2.len())].clone(),
                2 => p3[rng.below(p3.len())].clone(),
                3 => common[rng.below(common.len().max(1))].clone(),
                4 => loop {
                    let body: String = conn
                        .query_row(
                            "SELECT body FROM note WHERE rowid = ?1",
                            [1 + rng.below(max_rowid as usize) as i64],
                            |r| r.get(0),
                        )
                        .unwrap_or_default();
                    let words: Vec<&str> = body
                        .split(|c: char| !c.is_alphabetic())
                        .filter(|w| w.chars().count() >= 3)
                        .collect();
                    if words.len() >= 2 {
                        let a = rng.below(words.len());
                        let b = (a + 1 + rng.below(words.len() - 1)) % words.len();
                        break format!("{} {}", words[a], words[b]);
                    }
                },
                5 => LAST[rng.below(LAST.len())]
                    .rsplit(' ')
                    .next()
                    .unwrap()
                    .chars()
                    .take(3)
                    .collect(),
                _ => rare[rng.below(rare.len())].clone(),
            };
            out.push((kind, text));
        }
    }
    out
}

/// CPU time of this thread: what a query costs without the other processes of a shared
/// machine taking turns on its cores.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A child: runs both mixes once to warm up, then again, timed, and prints one line per query.
fn child(side: &str, images: &[PathBuf]) {
    if side != "kluis" {
        kluis::harden::keep_sqlite_allocator_for_benchmarks();
    }
    // For profiling a child by hand: KLUIS_BENCH_ONLY=demo:0 runs one mix's one kind.
    let only = std::env::var("KLUIS_BENCH_ONLY").ok();
    for (m, image) in images.iter().enumerate() {
        let store = load(image);
        let mut queries = mix(&store, 0x5eed + m as u64);
        if let Some((name, kind)) = only.as_deref().and_then(|o| o.split_once(':')) {
            if name != MIXES[m] {
                continue;
            }
            queries.retain(|(k, _)| k.to_string() == kind);
        }
        let run = |text: &str| {
            let fts = kluis::model::fts_query(text).unwrap();
            if side == "fts5-rank" {
                let mut stmt = kluis::internals::connection(&store)
                    .prepare_cached(
                        "SELECT rowid, snippet(note_fts, 0, '[', ']', '…', 12), rank FROM note_fts
                         WHERE note_fts MATCH ?1 ORDER BY rank LIMIT ?2",
                    )
                    .unwrap();
                let rows = stmt
                    .query_map(rusqlite::params![fts, LIMIT as i64], |r| r.get::<_, i64>(0))
                    .unwrap()
                    .count();
                std::hint::black_box(rows);
            } else {
                std::hint::black_box(kluis::internals::search(&store, &fts, LIMIT).unwrap().len());
            }
        };
        // FTS5's own ranking is slow enough that a short warm-up will do.
        let warm = if side == "fts5-rank" {
            30
        } else {
            queries.len()
        };
        for (_, text) in queries.iter().take(warm) {
            run(text);
        }
        for (kind, text) in &queries {
            let (t, cpu) = (Instant::now(), thread_cpu());
            run(text);
            let (wall, cpu) = (t.elapsed(), thread_cpu() - cpu);
            println!(
                "{}\t{kind}\t{}\t{}\t{text}",
                MIXES[m],
                wall.as_nanos(),
                cpu.as_nanos()
            );
        }
    }
}

/// Bytes per full-text table (FTS5's shadow tables summed), from SQLite's dbstat.
fn fts_sizes(store: &Store) -> Vec<(String, u64)> {
    let mut stmt = kluis::internals::connection(store)
        .prepare(
            "SELECT CASE WHEN name LIKE 'note_fts%' THEN 'note_fts'
                         WHEN name LIKE 'note_impact%' THEN 'note_impact'
                         WHEN name LIKE 'client_fts%' THEN 'client_fts'
                         WHEN name LIKE 'bench_noprefix%' THEN 'bench_noprefix'
                         ELSE 'everything else' END AS t, sum(pgsize)
             FROM dbstat GROUP BY t ORDER BY t",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

fn describe_sizes(label: &str, store: &Store) {
    let image = kluis::internals::connection(store)
        .query_row(
            "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
            [],
            |r| r.get::<_, u64>(0),
        )
        .unwrap();
    let sizes = fts_sizes(store);
    let of = |name: &str| sizes.iter().find(|s| s.0 == name).map_or(0, |s| s.1);
    println!(
        "{label}: image {:.1} MB; note_fts {:.1} MB, note_impact {:.1} MB ({:.0} % of the image), client_fts {:.1} MB",
        image as f64 / 1e6,
        of("note_fts") as f64 / 1e6,
        of("note_impact") as f64 / 1e6,
        100.0 * of("note_impact") as f64 / image as f64,
        of("client_fts") as f64 / 1e6,
    );
    // The same index of the same notes without the prefix indexes, built beside it.
    kluis::internals::connection(store)
        .execute_batch(
            "CREATE VIRTUAL TABLE bench_noprefix USING fts5 (body, content = 'note_searchable',
                 content_rowid = 'note_rowid', tokenize = 'kluis remove_diacritics 2');
             INSERT INTO bench_noprefix (bench_noprefix) VALUES ('rebuild');",
        )
        .unwrap();
    let without = fts_sizes(store)
        .into_iter()
        .find(|s| s.0 == "bench_noprefix")
        .map_or(0, |s| s.1);
    kluis::internals::connection(store)
        .execute_batch("DROP TABLE bench_noprefix")
        .unwrap();
    println!(
        "{label}: the 2- and 3-letter prefix indexes add {:.1} MB to note_fts ({:.1} MB without them), {:.0} % of the image",
        (of("note_fts") as f64 - without as f64) / 1e6,
        without as f64 / 1e6,
        100.0 * (of("note_fts") as f64 - without as f64) / image as f64
    );
}

fn percentile_ms(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    ms(v[((v.len() as f64 - 1.0) * p).round() as usize])
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let notes = env_usize("KLUIS_BENCH_NOTES", 200_000);
    let rounds = env_usize("KLUIS_BENCH_ROUNDS", 3);
    if let Ok(side) = std::env::var("KLUIS_BENCH_ROLE") {
        let images: Vec<PathBuf> = std::env::var("KLUIS_BENCH_IMAGES")
            .unwrap()
            .split('\n')
            .map(PathBuf::from)
            .collect();
        child(&side, &images);
        return;
    }
    commit::print("search");
    println!(
        "{notes} notes per mix, {} queries each, {LIMIT} hits per query, {rounds} rounds",
        KINDS.len() * PER_KIND
    );
    let dir = tempfile::tempdir_in(
        std::env::var_os("KLUIS_BENCH_DIR")
            .unwrap_or_else(|| std::env::temp_dir().into_os_string()),
    )
    .unwrap();
    // KLUIS_BENCH_IMAGES_DIR keeps the generated images (plain SQLite, fictitious data) for
    // profiling a child by hand, and reuses them when they are there.
    let keep = std::env::var_os("KLUIS_BENCH_IMAGES_DIR").map(PathBuf::from);
    let clients = (notes / 100).max(10);
    let mut images = Vec::new();
    for name in MIXES {
        let path = keep
            .as_deref()
            .unwrap_or(dir.path())
            .join(format!("{name}-{notes}.db"));
        if keep.is_some() && path.exists() {
            describe_sizes(name, &load(&path));
            images.push(path);
            continue;
        }
        let t = Instant::now();
        let mut store = Store::create("bench").unwrap();
        if name == "synthetic" {
            generate(&store, clients, notes);
        } else {
            let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
            kluis::demo::populate(&store, clients, notes / clients, today, 1).unwrap();
        }
        // The image as saved: its notes indexed (migration 0014 indexes them when read, and
        // before every save), so the sizes below are those of the whole indexes.
        let image = kluis::internals::image(&mut store).unwrap();
        let generated = t.elapsed();
        describe_sizes(name, &store);
        println!("{name}: generated in {:.1} s", generated.as_secs_f64());
        std::fs::write(&path, image).unwrap();
        images.push(path);
    }
    let list = images
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    // The SQLCipher side gets the very MATCH strings kluis's sides make of the same mix.
    let sqlcipher = std::env::var_os("KLUIS_BENCH_SQLCIPHER").map(PathBuf::from);
    let mut sqlcipher_args = vec![dir.path().as_os_str().to_owned()];
    if sqlcipher.is_some() {
        for (m, image) in images.iter().enumerate() {
            let queries = mix(&load(image), 0x5eed + m as u64)
                .into_iter()
                .map(|(kind, text)| {
                    let fts = kluis::model::fts_query(&text).unwrap();
                    format!("{kind}\t{fts}\t{text}\n")
                })
                .collect::<String>();
            let file = dir.path().join(format!("{}.queries", MIXES[m]));
            std::fs::write(&file, queries).unwrap();
            sqlcipher_args.extend([
                MIXES[m].into(),
                image.as_os_str().to_owned(),
                file.into_os_string(),
            ]);
        }
    } else {
        println!("(no SQLCipher side: run tests/bench/sqlcipher/run.sh for it)");
    }
    let sides = if sqlcipher.is_some() { 4 } else { 3 };
    // times[clock][side][mix][kind]; clock 0 is CPU time, 1 wall time.
    let mut times =
        vec![vec![vec![vec![Vec::<Duration>::new(); KINDS.len()]; MIXES.len()]; SIDES.len()]; 2];
    for _ in 0..rounds {
        for (s, side) in SIDES.iter().enumerate().take(sides) {
            let mut command = match &sqlcipher {
                Some(bin) if *side == "sqlcipher" => {
                    let mut c = Command::new(bin);
                    c.args(&sqlcipher_args);
                    c
                }
                _ => {
                    let mut c = Command::new(std::env::current_exe().unwrap());
                    c.env("KLUIS_BENCH_ROLE", side)
                        .env("KLUIS_BENCH_IMAGES", &list);
                    c
                }
            };
            let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
            for line in BufReader::new(child.stdout.take().unwrap()).lines() {
                let line = line.unwrap();
                let f: Vec<&str> = line.split('\t').collect();
                let m = MIXES.iter().position(|x| *x == f[0]).unwrap();
                let kind: usize = f[1].parse().unwrap();
                times[1][s][m][kind].push(Duration::from_nanos(f[2].parse().unwrap()));
                times[0][s][m][kind].push(Duration::from_nanos(f[3].parse().unwrap()));
            }
            assert!(child.wait().unwrap().success());
        }
    }
    for (m, name) in MIXES.iter().enumerate() {
        println!();
        println!(
            "{name} text ({} queries per side); CPU time per query (wall time in brackets)",
            rounds * KINDS.len() * PER_KIND
        );
        println!(
            "{:<16} {:>18} {:>18} {:>18}",
            "ms per query", "p50", "p95", "max"
        );
        let mut summary = Vec::new();
        for (s, side) in SIDES.iter().enumerate().take(sides) {
            let stats = |clock: usize| {
                let mut all: Vec<Duration> = times[clock][s][m].iter().flatten().copied().collect();
                (
                    percentile_ms(&mut all, 0.5),
                    percentile_ms(&mut all, 0.95),
                    percentile_ms(&mut all, 1.0),
                )
            };
            let (cpu, wall) = (stats(0), stats(1));
            summary.push((cpu, wall));
            println!(
                "{side:<16} {:>8.2} ({:>7.2}) {:>8.2} ({:>7.2}) {:>8.2} ({:>7.2})",
                cpu.0, wall.0, cpu.1, wall.1, cpu.2, wall.2
            );
        }
        println!(
            "kluis / same code on SQLite's allocator, CPU: p50 {:.2}x, p95 {:.2}x; wall: p50 {:.2}x, p95 {:.2}x (target: p95 <= 10 ms)",
            summary[0].0.0 / summary[1].0.0,
            summary[0].0.1 / summary[1].0.1,
            summary[0].1.0 / summary[1].1.0,
            summary[0].1.1 / summary[1].1.1
        );
        if sides == 4 {
            println!(
                "kluis / SQLCipher (encrypted file, FTS5 rank), CPU: p50 {:.2}x, p95 {:.2}x; wall: p50 {:.2}x, p95 {:.2}x (target: p95 <= 1x)",
                summary[0].0.0 / summary[3].0.0,
                summary[0].0.1 / summary[3].0.1,
                summary[0].1.0 / summary[3].1.0,
                summary[0].1.1 / summary[3].1.1
            );
        }
        println!(
            "{:<24} {:>9} {:>9} {:>12} {:>12} {:>12}",
            "p95 by kind, CPU ms", "kluis", "sqlite", "fts5-rank", "sqlcipher", "kluis wall"
        );
        for (k, kind) in KINDS.iter().enumerate() {
            let p = |clock: usize, s: usize| {
                let mut v = times[clock][s][m][k].clone();
                if v.is_empty() {
                    f64::NAN
                } else {
                    percentile_ms(&mut v, 0.95)
                }
            };
            println!(
                "{kind:<24} {:>9.2} {:>9.2} {:>12.2} {:>12.2} {:>12.2}",
                p(0, 0),
                p(0, 1),
                p(0, 2),
                p(0, 3),
                p(1, 0)
            );
        }
    }
}
