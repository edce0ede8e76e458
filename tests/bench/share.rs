//! A team's life over one shared folder (issue 17), at the size: 10 workers, 400
//! dossiers, 250 working days of edits, views, assignment changes, two revocations, one
//! re-issued device, closes and purges, with syncs in random orders (`share_sim.rs`). Prints the share's files and bytes
//! over time and checks the end state as the simulation test does.
//!
//! `cargo bench --bench share`; `KLUIS_BENCH_WORKERS`, `KLUIS_BENCH_DOSSIERS`,
//! `KLUIS_BENCH_DAYS` for other sizes.

#[path = "commit.rs"]
mod commit;
#[path = "share_sim.rs"]
mod sim;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    commit::print("share");
    let full = sim::Config::full();
    let cfg = sim::Config {
        workers: env("KLUIS_BENCH_WORKERS", full.workers),
        dossiers: env("KLUIS_BENCH_DOSSIERS", full.dossiers),
        days: env("KLUIS_BENCH_DAYS", full.days),
        ..full
    };
    let tmp = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    let out = sim::run(&cfg, tmp.path());
    let took = start.elapsed();
    println!("{cfg:?}");
    println!("day  bundles  acks  it_files  bytes");
    let step = (cfg.days / 25).max(1);
    for d in out
        .series
        .iter()
        .filter(|d| d.day % step == 0 || d.day == cfg.days)
    {
        println!(
            "{:>3}  {:>7}  {:>4}  {:>8}  {:>9}",
            d.day, d.bundles, d.acks, d.it_files, d.bytes
        );
    }
    let peak = out.series.iter().map(|d| d.bytes).max().unwrap_or(0);
    let peak_files = out
        .series
        .iter()
        .map(|d| d.bundles + d.acks)
        .max()
        .unwrap_or(0);
    let last = out.last();
    println!(
        "end: {} syncs, {} notes, {} erased, {} bundles removed, {} rewritten",
        out.syncs, out.notes, out.erased, out.removed, out.rewritten
    );
    println!(
        "written: {} bundle files, {} bytes; {} notes lost with the laptop (never synced)",
        out.written, out.written_bytes, out.lost_with_laptop
    );
    println!(
        "share at the end: {} bundles + {} acks ({} unacknowledged; bound 3 x {} + {}), {} bytes; \
         live data {} bytes; ratio {:.3}; peak {} files, {} bytes; {:.0} s",
        last.bundles,
        last.acks,
        out.unacknowledged,
        cfg.workers,
        out.unacknowledged,
        last.bytes,
        out.live_bytes,
        out.bytes_ratio(),
        peak_files,
        peak,
        took.as_secs_f64()
    );
    assert!(out.problems.is_empty(), "{:#?}", out.problems);
    assert!(out.files_within(cfg.workers), "more files than the bound");
    assert!(
        out.bytes_ratio() <= 2.0,
        "more bytes than twice the live data"
    );
}
