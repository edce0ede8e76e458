//! Dossier depth at the size of a full caseload, and 2 GB of files kept in its dossiers.
//!
//! One vault of 2,000 clients with 200,000 notes, plus for every client a household member, a
//! contact, two goals with three actions each, two scores and a visit, is copied; the copy gets
//! 100 files of 20 MiB (incompressible) through a session, as `attach add` and the terminal
//! app keep them: each one sealed in a file of its own beside the vault (`VAULT.files/ID`),
//! its key and metadata in the image. Then, in the same run, the vault with the files against
//! the same vault without them (issue 18's targets):
//! - adding one file (its own file written, fsynced, renamed; its key as a journal record)
//!   against writing the same bytes age-encrypted to a new file + fsync, alternating;
//! - unlock minus KDF (`Session::open_with_key`), alternating;
//! - peak RSS of `kluis whoami` (unlock alone, the weak test KDF) and of `kluis check` (which
//!   reads and checks every file), each process's own `ru_maxrss`, alternating;
//! - compaction (the new generation written at lock), alternating.
//!
//! `cargo bench --bench depth`; `KLUIS_BENCH_NOTES=20000 KLUIS_BENCH_CLIENTS=200
//! KLUIS_BENCH_FILES=10` for a quick run. Everything is written under a temporary folder
//! (`KLUIS_BENCH_DIR`, else the system's) and deleted at the end.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use kluis::model::{Contact, Relation};
use kluis::secret::SecretString;
use kluis::session::{Access, Session};
use kluis::vault::SealingKey;

#[path = "commit.rs"]
mod commit;
#[path = "synthetic.rs"]
mod synthetic;
use synthetic::*;

/// The file size: the largest a dossier keeps (`MAX_ATTACHMENT_BYTES`).
const FILE_BYTES: usize = 20 * 1024 * 1024;

/// Child role: the synthetic vault, then the dossier-depth records through a session.
fn generate_role(path: &Path, notes: usize, clients: usize) {
    generate_vault(path, notes, clients);
    let t = Instant::now();
    let pass = SecretString::from(PASS.to_owned());
    let mut s = Session::open(path, &pass, Access::Write).unwrap();
    let ids: Vec<String> = s
        .caseload(true)
        .unwrap()
        .into_iter()
        .map(|r| r.client.id)
        .collect();
    let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    s.change(|st| {
        for (i, id) in ids.iter().enumerate() {
            st.add_household(id, &format!("Kind {i}"), Relation::Kind, None)?;
            st.add_contact(&Contact {
                id: String::new(),
                client_id: id.clone(),
                name: format!("Huisarts {i}"),
                org: Some("Praktijk".into()),
                role: Some("huisarts".into()),
                phone: None,
                email: None,
                author: String::new(),
                created_at: String::new(),
            })?;
            for domain in ["financiën", "huisvesting"] {
                let g = st.add_goal(id, domain, "Een doel met wat uitleg erbij")?;
                for a in 0..3 {
                    st.add_action(&g, &format!("Actie {a}"), "client", Some(day))?;
                }
                st.add_assessment(id, domain, 3, "Reden waarom het ertoe doet", day)?;
            }
            st.add_visit(id, day.and_hms_opt(10, 0, 0).unwrap(), Some("Huisbezoek"))?;
        }
        Ok(())
    })
    .unwrap();
    s.close().unwrap();
    println!(
        "added 12 records per client ({} clients) in {:.1} s",
        ids.len(),
        t.elapsed().as_secs_f64()
    );
}

/// Child role: `files` files of 20 MiB into the vault at `path`, each timed against stock age
/// encrypting the same bytes to a new file in the same folder + fsync (then removed).
fn attach_role(path: &Path, files: usize, results: &Path) {
    let pass = SecretString::from(PASS.to_owned());
    let mut s = Session::open(path, &pass, Access::Write).unwrap();
    let ids: Vec<String> = s
        .caseload(true)
        .unwrap()
        .into_iter()
        .map(|r| r.client.id)
        .collect();
    let baseline = path.with_extension("baseline.age");
    let mut rng = Rng(0xa77a_c4ed);
    let mut data = vec![0u8; FILE_BYTES];
    let mut out = String::new();
    for f in 0..files {
        for chunk in data.chunks_exact_mut(8) {
            chunk.copy_from_slice(&rng.next().to_le_bytes());
        }
        let id = &ids[f % ids.len()];
        let t = Instant::now();
        s.change(|st| st.add_attachment(id, "Scan", "scan.pdf", &data))
            .unwrap();
        let ours = t.elapsed();
        let t = Instant::now();
        let recipient = age::x25519::Identity::generate().to_public();
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .unwrap();
        let file = std::fs::File::create(&baseline).unwrap();
        let mut w = encryptor
            .wrap_output(std::io::BufWriter::with_capacity(1 << 20, file))
            .unwrap();
        w.write_all(&data).unwrap();
        let file = w.finish().unwrap().into_inner().unwrap();
        file.sync_all().unwrap();
        let base = t.elapsed();
        drop(file);
        std::fs::remove_file(&baseline).unwrap();
        out.push_str(&format!("{} {}\n", ours.as_nanos(), base.as_nanos()));
    }
    s.close().unwrap();
    std::fs::write(results, out).unwrap();
}

fn child(role: &str, path: &Path, extra: &[(&str, String)]) {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.env("KLUIS_BENCH_ROLE", role)
        .env("KLUIS_BENCH_PATH", path);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    run_measured(&mut cmd);
}

fn kluis(path: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kluis"));
    cmd.arg("--vault")
        .arg(path)
        .args(args)
        .env("KLUIS_PASSPHRASE", PASS)
        .stdout(std::process::Stdio::null());
    cmd
}

/// Bytes in a folder's files (not recursive: the files place is flat).
fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let notes = env_usize("KLUIS_BENCH_NOTES", 200_000);
    let clients = env_usize("KLUIS_BENCH_CLIENTS", 2_000);
    let files = env_usize("KLUIS_BENCH_FILES", 100);
    let rounds = env_usize("KLUIS_BENCH_ROUNDS", 7);
    if let Some(path) = std::env::var_os("KLUIS_BENCH_PATH").map(PathBuf::from) {
        match std::env::var("KLUIS_BENCH_ROLE")
            .unwrap_or_default()
            .as_str()
        {
            "generate" => generate_role(&path, notes, clients),
            "attach" => attach_role(&path, files, &path.with_extension("results")),
            role => panic!("unknown role {role}"),
        }
        return;
    }
    commit::print("depth");
    println!(
        "kluis depth benchmark: {notes} notes over {clients} clients, {files} files of 20 MiB, {rounds} rounds"
    );
    let root = tempfile::tempdir_in(
        std::env::var_os("KLUIS_BENCH_DIR")
            .unwrap_or_else(|| std::env::temp_dir().into_os_string()),
    )
    .unwrap();
    let without = root.path().join("without/vault.kluis");
    let with = root.path().join("with/vault.kluis");
    std::fs::create_dir_all(without.parent().unwrap()).unwrap();
    std::fs::create_dir_all(with.parent().unwrap()).unwrap();
    child("generate", &without, &[]);
    std::fs::copy(&without, &with).unwrap();
    let journal = kluis::journal::path_for(&without);
    if journal.exists() {
        std::fs::copy(&journal, kluis::journal::path_for(&with)).unwrap();
    }
    let t = Instant::now();
    child("attach", &with, &[]);
    let attach_time = t.elapsed();
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for line in std::fs::read_to_string(with.with_extension("results"))
        .unwrap()
        .lines()
    {
        let (a, b) = line.split_once(' ').unwrap();
        ours.push(Duration::from_nanos(a.parse().unwrap()));
        base.push(Duration::from_nanos(b.parse().unwrap()));
    }
    let ratios: Vec<f64> = ours
        .iter()
        .zip(&base)
        .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
        .collect();

    // Peak RSS while this process is small (see vault.rs: a child of a large process reports
    // too much), alternating between the two vaults.
    let (mut rss_w, mut rss_wo, mut check_w, mut check_wo) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds.min(5) {
        rss_wo.push(run_measured(&mut kluis(&without, &["whoami"])));
        rss_w.push(run_measured(&mut kluis(&with, &["whoami"])));
        let t = Instant::now();
        check_wo.push((run_measured(&mut kluis(&without, &["check"])), t.elapsed()));
        let t = Instant::now();
        check_w.push((run_measured(&mut kluis(&with, &["check"])), t.elapsed()));
    }
    let med_u64 = |mut v: Vec<u64>| {
        v.sort();
        v[v.len() / 2]
    };
    let (rss_w, rss_wo) = (med_u64(rss_w), med_u64(rss_wo));
    let check_rss = |v: &[(u64, Duration)]| med_u64(v.iter().map(|c| c.0).collect());
    let check_time = |v: &[(u64, Duration)]| median(v.iter().map(|c| c.1).collect());

    // Unlock minus KDF and compaction, alternating.
    let pass = SecretString::from(PASS.to_owned());
    let key: SealingKey = kluis::internals::read(&without, Some(&pass), None)
        .unwrap()
        .key;
    let (mut open_w, mut open_wo, mut save_w, mut save_wo) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        for (path, open, save) in [
            (&without, &mut open_wo, &mut save_wo),
            (&with, &mut open_w, &mut save_w),
        ] {
            let t = Instant::now();
            let mut s = Session::open_with_key(path, &key, Access::Write).unwrap();
            open.push(t.elapsed());
            let t = Instant::now();
            s.compact().unwrap();
            save.push(t.elapsed());
            s.close().unwrap();
        }
    }
    let size = |p: &Path| std::fs::metadata(p).unwrap().len() as f64 / 1e6;
    let files_mb = folder_bytes(&kluis::vault::files_path(&with)) as f64 / 1e6;

    println!();
    println!(
        "vault without files {:.1} MB; with: vault {:.1} MB + {files} files beside it {files_mb:.0} MB; added in {:.1} s",
        size(&without),
        size(&with),
        attach_time.as_secs_f64()
    );
    println!(
        "{:<40} {:>11} {:>11} {:>7} {:>8}",
        "measure", "with files", "without", "ratio", "target"
    );
    let row = |name: &str, a: f64, b: f64, unit: &str, target: &str| {
        println!(
            "{name:<40} {:>9.1}{unit} {:>9.1}{unit} {:>6.2}x {target:>8}",
            a,
            b,
            a / b
        );
    };
    row(
        "unlock minus KDF (median)",
        ms(median(open_w.clone())),
        ms(median(open_wo.clone())),
        "ms",
        "<=1.2x",
    );
    row(
        "peak RSS, kluis whoami (median)",
        rss_w as f64 / 1e6,
        rss_wo as f64 / 1e6,
        "MB",
        "<=1.2x",
    );
    row(
        "peak RSS, kluis check (median)",
        check_rss(&check_w) as f64 / 1e6,
        check_rss(&check_wo) as f64 / 1e6,
        "MB",
        "",
    );
    row(
        "kluis check, wall (median)",
        ms(check_time(&check_w)),
        ms(check_time(&check_wo)),
        "ms",
        "",
    );
    row(
        "compaction (median)",
        ms(median(save_w.clone())),
        ms(median(save_wo.clone())),
        "ms",
        "",
    );
    println!();
    println!(
        "{:<40} {:>11} {:>11} {:>7} {:>8}",
        "one 20 MiB file", "kluis", "age+fsync", "ratio", "target"
    );
    let mut sorted = ratios.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "{:<40} {:>9.1}ms {:>9.1}ms {:>6.2}x {:>8}",
        format!("add one (median of {files}, paired)"),
        ms(median(ours.clone())),
        ms(median(base.clone())),
        sorted[sorted.len() / 2],
        "<=2x"
    );
    println!(
        "{:<40} {:>9.1}ms {:>9.1}ms",
        "add one, p95",
        ms(percentile(ours, 0.95)),
        ms(percentile(base, 0.95)),
    );
    println!(
        "  (ratio: median of the per-pair ratios; peak RSS of check with files: {:.2}x the vault file)",
        check_rss(&check_w) as f64 / std::fs::metadata(&with).unwrap().len() as f64
    );
}
