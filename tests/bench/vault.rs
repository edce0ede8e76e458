//! Unlock (minus KDF) and save on a synthetic vault of 200,000 notes over 2,000 clients, each
//! against a baseline measured in the same run (search has its own benchmark, search.rs):
//! - unlock baseline: stock age decrypt into a Vec, then SQLite deserialize;
//! - unlock as a whole process (`kluis whoami`) against stock `age -d` into tmpfs plus
//!   `sqlite3` opening the result, the KDF timed on its own and taken off;
//! - save baseline: SQLite serialize, age encrypt to a file, fsync;
//! - peak RSS of `kluis note add` (unlock + one journal append) against 1.5 × image + 50 MB.
//!
//! `cargo bench --bench vault`; `KLUIS_BENCH_NOTES=20000` for a quick run.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::Instant;

use kluis::secret::SecretString;
use kluis::store::Store;
use kluis::vault::{self, Place};

#[path = "commit.rs"]
mod commit;
#[path = "synthetic.rs"]
mod synthetic;
use synthetic::*;

fn baseline_unlock(path: &Path, identity: &age::x25519::Identity) -> Store {
    let file = File::open(path).unwrap();
    let decryptor = age::Decryptor::new(std::io::BufReader::new(file)).unwrap();
    let mut reader = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .unwrap();
    let mut image = zeroize::Zeroizing::new(Vec::new());
    reader.read_to_end(&mut image).unwrap();
    Store::from_image(&image[..], image.len())
        .map_err(|_| "image")
        .unwrap()
}

fn baseline_save(path: &Path, store: &mut Store, recipient: &age::x25519::Recipient) {
    let file = File::create(path).unwrap();
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient)).unwrap();
    let mut out = encryptor
        .wrap_output(BufWriter::with_capacity(1 << 20, file))
        .unwrap();
    out.write_all(&kluis::internals::image(store).unwrap())
        .unwrap();
    let file = out.finish().unwrap().into_inner().unwrap();
    file.sync_all().unwrap();
}

/// Peak RSS of `kluis note add` (unlock, one insert, one journal append) on the vault at `path`.
/// Measured while this process is still small: Linux carries the parent's high-water mark
/// into a child across exec, so a child spawned from a large process reports too much.
fn peak_rss_of_one_note_add(path: &Path, client: &str) -> u64 {
    run_measured(
        std::process::Command::new(env!("CARGO_BIN_EXE_kluis"))
            .arg("--vault")
            .arg(path)
            .args(["note", "add", client, "--text", "gemeten"])
            .env("KLUIS_PASSPHRASE", PASS)
            .stdout(std::process::Stdio::null()),
    )
}

fn main() {
    // `cargo test` runs bench targets only with --benches; `cargo bench` passes --bench.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let notes: usize = std::env::var("KLUIS_BENCH_NOTES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let clients = (notes / 100).max(10);
    let rounds: usize = std::env::var("KLUIS_BENCH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(9);
    let dir = tempfile::tempdir_in(
        std::env::var_os("KLUIS_BENCH_DIR")
            .unwrap_or_else(|| std::env::temp_dir().into_os_string()),
    )
    .unwrap();
    let path = std::env::var_os("KLUIS_BENCH_PATH")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("bench.kluis"));
    let baseline_path = dir.path().join("baseline.age");

    if std::env::var_os("KLUIS_BENCH_ROLE").is_some_and(|r| r == "generate") {
        generate_vault(&path, notes, clients);
        std::process::exit(0);
    }
    commit::print("vault");
    println!("kluis vault benchmark: {notes} notes over {clients} clients, {rounds} rounds");
    run_measured(
        std::process::Command::new(std::env::current_exe().unwrap())
            .env("KLUIS_BENCH_ROLE", "generate")
            .env("KLUIS_BENCH_PATH", &path)
            .stdout(std::process::Stdio::inherit()),
    );
    let image_len: usize = std::fs::read_to_string(path.with_extension("size"))
        .unwrap()
        .parse()
        .unwrap();
    let identity: age::x25519::Identity = std::fs::read_to_string(path.with_extension("identity"))
        .unwrap()
        .parse()
        .unwrap();
    let recipient = identity.to_public();
    let pass = SecretString::from(PASS.to_owned());
    let client = "01900000-0000-7000-8000-000000000000";

    // Peak RSS first, while this process is small.
    let rss = peak_rss_of_one_note_add(&path, client);
    let mut stamp = vault::DiskStamp::at(&path).unwrap();
    let rss_target = image_len as f64 * 1.5 + 50e6;

    // Unlock minus KDF: ours with the derived key cached, baseline with an X25519 identity.
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    let mut key = kluis::internals::read(&path, Some(&pass), None)
        .unwrap()
        .key;
    for _ in 0..rounds {
        let t = Instant::now();
        let opened = kluis::internals::read(&path, None, Some(&key)).unwrap();
        ours.push(t.elapsed());
        key = opened.key;
        drop(opened.store);
        let t = Instant::now();
        let s = baseline_unlock(&path, &identity);
        base.push(t.elapsed());
        drop(s);
    }
    let (unlock, unlock_base) = (median(ours), median(base));

    // Unlock as a whole process: `kluis whoami` (unlock with the weak test KDF, show who you
    // are) against stock `age -d` into a file in memory (tmpfs) plus `sqlite3` opening it and
    // counting the clients, alternating. The KDF is timed on its own and taken off.
    let tmpfs = Path::new("/dev/shm");
    let plain = if tmpfs.is_dir() {
        tempfile::tempdir_in(tmpfs).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let image = plain.path().join("image.sqlite");
    let identity_file = path.with_extension("identity");
    let run = |cmd: &mut std::process::Command| {
        let t = Instant::now();
        let status = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "{cmd:?}");
        t.elapsed()
    };
    let (mut whole, mut stock, mut kdf) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        whole.push(run(std::process::Command::new(env!("CARGO_BIN_EXE_kluis"))
            .arg("--vault")
            .arg(&path)
            .arg("whoami")
            .env("KLUIS_PASSPHRASE", PASS)));
        let decrypt = run(std::process::Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(&identity_file)
            .arg("-o")
            .arg(&image)
            .arg(&path));
        let open = run(std::process::Command::new("sqlite3")
            .arg(&image)
            .arg("SELECT count(*) FROM client"));
        std::fs::remove_file(&image).unwrap();
        stock.push(decrypt + open);
        let t = Instant::now();
        let _ = kluis::vault::SealingKey::derive_new(&pass, WEAK).unwrap();
        kdf.push(t.elapsed());
    }
    let (whole, stock, kdf) = (median(whole), median(stock), median(kdf));

    // Save: ours (temp file, fsync, link, renames, directory fsync) against encrypt + fsync.
    let mut opened = kluis::internals::read(&path, None, Some(&key)).unwrap();
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        stamp = kluis::internals::write(
            &path,
            &mut opened.store,
            &opened.key,
            std::slice::from_ref(&recipient),
            Place::Replace(stamp),
        )
        .unwrap();
        ours.push(t.elapsed());
        let t = Instant::now();
        baseline_save(&baseline_path, &mut opened.store, &recipient);
        base.push(t.elapsed());
    }
    let (save, save_base) = (median(ours), median(base));

    println!();
    println!(
        "{:<28} {:>10} {:>10} {:>7} {:>8}",
        "measure", "kluis", "baseline", "ratio", "target"
    );
    println!(
        "{:<28} {:>8.1}ms {:>8.1}ms {:>6.2}x {:>8}",
        "unlock minus KDF (median)",
        ms(unlock),
        ms(unlock_base),
        ms(unlock) / ms(unlock_base),
        "<=1.2x"
    );
    println!(
        "{:<28} {:>8.1}ms {:>8.1}ms {:>6.2}x {:>8}",
        "unlock, process, minus KDF",
        ms(whole) - ms(kdf),
        ms(stock),
        (ms(whole) - ms(kdf)) / ms(stock),
        "<=0.6x"
    );
    println!(
        "  (kluis whoami {:.1} ms including the weak test KDF, {:.1} ms; stock: age -d to tmpfs, then sqlite3)",
        ms(whole),
        ms(kdf)
    );
    println!(
        "{:<28} {:>8.1}ms {:>8.1}ms {:>6.2}x {:>8}",
        "save (median)",
        ms(save),
        ms(save_base),
        ms(save) / ms(save_base),
        "<=1.3x"
    );
    println!(
        "{:<28} {:>8.1}MB {:>8.1}MB {:>6.2}x {:>8}",
        "peak RSS, note add",
        rss as f64 / 1e6,
        rss_target / 1e6,
        rss as f64 / rss_target,
        "<=1.0x"
    );
    println!(
        "(image {:.1} MB; search: cargo bench --bench search)",
        image_len as f64 / 1e6
    );
}
