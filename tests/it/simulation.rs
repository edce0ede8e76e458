//! Issue 17's simulation: a team's life over one shared folder (`tests/bench/share_sim.rs`),
//! small in every `cargo test`, the issue's full size (10 workers, 400 dossiers, 250 days)
//! with `cargo test --test it -- --ignored simulation::`. Figures in docs/benchmarks.md.

#[path = "../bench/share_sim.rs"]
mod sim;

fn check(cfg: &sim::Config) -> sim::Outcome {
    let tmp = tempfile::tempdir().unwrap();
    let out = sim::run(cfg, tmp.path());
    for d in &out.series {
        eprintln!(
            "day {:>3}: {:>4} bundles, {:>3} acks, {:>2} IT files, {:>10} bytes",
            d.day, d.bundles, d.acks, d.it_files, d.bytes
        );
    }
    let last = out.last();
    eprintln!(
        "end: {} syncs, {} notes, {} erased, {} removed, {} rewritten; {} bundles + {} acks \
         ({} unacknowledged), {} bytes against {} live ({:.2}x)",
        out.syncs,
        out.notes,
        out.erased,
        out.removed,
        out.rewritten,
        last.bundles,
        last.acks,
        out.unacknowledged,
        last.bytes,
        out.live_bytes,
        out.bytes_ratio()
    );
    eprintln!(
        "written: {} bundle files, {} bytes; {} notes lost with the laptop; left: {:?}",
        out.written, out.written_bytes, out.lost_with_laptop, out.left
    );
    assert!(out.problems.is_empty(), "{:#?}", out.problems);
    assert!(out.erased > 0, "the run erased something");
    assert!(out.removed > 0, "the share forgot something");
    assert!(
        out.files_within(cfg.workers),
        "{} bundles + {} acks > 3 x {} workers + {} unacknowledged",
        last.bundles,
        last.acks,
        cfg.workers,
        out.unacknowledged
    );
    // IT published a roster at every re-issue and revocation; each publish removed the
    // ones it superseded.
    assert_eq!(last.it_files, 1, "IT's files in the share at the end");
    assert!(
        out.bytes_ratio() <= 2.0,
        "the share holds {:.2}x the live data",
        out.bytes_ratio()
    );
    out
}

/// A small team's life: every vault agrees, no note lost, no erased client in the share,
/// and the share within its bounds.
#[test]
fn a_small_teams_share_stays_small_and_forgets_erased_clients() {
    check(&sim::Config::small());
}

/// The issue's size: 10 workers, 400 dossiers, 250 working days (minutes).
#[test]
#[ignore = "minutes: run with --ignored"]
fn the_issues_team_over_250_days() {
    check(&sim::Config::full());
}
