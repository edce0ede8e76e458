//! Unlock (minus KDF), save and search on a synthetic vault of 200,000 notes over 2,000
//! clients, each against a baseline measured in the same run:
//! - unlock baseline: stock age decrypt into a Vec, then SQLite deserialize;
//! - save baseline: SQLite serialize, age encrypt to a file, fsync;
//! - peak RSS of `kluis note add` (unlock + one save) against 1.5 × image + 50 MB.
//!
//! `cargo bench --bench vault`; `KLUIS_BENCH_NOTES=20000` for a quick run.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use kluis::secret::SecretString;
use kluis::store::Store;
use kluis::vault::{self, KdfParams, Place, SealingKey};
use rusqlite::params;

const PASS: &str = "Zonnebloem-Kraanwater-47-Lantaarn";
const WEAK: KdfParams = KdfParams {
    memory_kib: 8 * 1024,
    iterations: 1,
    parallelism: 1,
};

/// A small deterministic PRNG, so every run measures the same vault.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The most frequent Dutch words first, then words of the trade; synthetic words follow.
const FUNCTION_WORDS: &[&str] = &[
    "de", "het", "een", "en", "van", "in", "op", "met", "over", "voor", "naar", "bij", "niet",
    "wel", "nog", "ook", "maar", "dat", "die", "er",
];
const WORDS: &[&str] = &[
    "huisbezoek",
    "gesprek",
    "schulden",
    "huur",
    "achterstand",
    "verhuurder",
    "budget",
    "aflossing",
    "beschermingsbewind",
    "inkomen",
    "uitkering",
    "werk",
    "sollicitatie",
    "dagbesteding",
    "school",
    "kinderen",
    "zoon",
    "dochter",
    "partner",
    "moeder",
    "vader",
    "oma",
    "buurvrouw",
    "huisarts",
    "ggz",
    "wachtlijst",
    "indicatie",
    "wmo",
    "hulpmiddel",
    "rolstoel",
    "scootmobiel",
    "traplift",
    "mantelzorg",
    "overbelast",
    "eenzaam",
    "angst",
    "somber",
    "slapen",
    "medicatie",
    "afspraak",
    "telefoon",
    "brief",
    "formulier",
    "toeslag",
    "belastingdienst",
    "cjib",
    "deurwaarder",
    "energie",
    "afsluiting",
    "voedselbank",
    "kledingbank",
    "jeugdhulp",
    "veilig",
    "thuis",
    "zorgen",
    "signaal",
    "plan",
    "doel",
    "actie",
    "evaluatie",
    "voortgang",
    "besproken",
    "afgesproken",
    "toegezegd",
    "gebeld",
    "gemaild",
    "langs",
    "geweest",
    "keukentafel",
    "koffie",
    "rustig",
    "boos",
    "verdrietig",
    "opgelucht",
    "tevreden",
    "zorgelijk",
    "stabiel",
    "verslechterd",
    "verbeterd",
    "volgende",
    "week",
    "maand",
    "morgen",
    "vandaag",
    "gisteren",
    "samen",
];

/// 20,000 words: function words, trade words, then made-up words from Dutch-ish syllables.
fn vocabulary() -> Vec<String> {
    let mut words: Vec<String> = FUNCTION_WORDS
        .iter()
        .chain(WORDS)
        .map(|w| w.to_string())
        .collect();
    let syllables = [
        "ka", "ver", "mo", "ling", "ter", "an", "bo", "del", "stra", "pen", "ri", "jo", "win",
        "sel", "dam", "ge", "heid", "lo", "ne", "tu", "berg", "ven", "ma", "zo", "kel", "dij",
        "schap", "aar",
    ];
    let mut seen: std::collections::HashSet<String> = words.iter().cloned().collect();
    let mut rng = Rng(7);
    while words.len() < 20_000 {
        let n = 2 + rng.below(3);
        let w: String = (0..n)
            .map(|_| syllables[rng.below(syllables.len())])
            .collect();
        if seen.insert(w.clone()) {
            words.push(w);
        }
    }
    words
}

/// Zipf-like choice: rank r is picked with probability about 1/r, as in real text.
fn zipf(rng: &mut Rng, n: usize) -> usize {
    let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
    (((n as f64).powf(u)) - 1.0).min(n as f64 - 1.0) as usize
}

const FIRST: &[&str] = &[
    "Fatima", "Jan", "Mohammed", "Anna", "Pieter", "Sanne", "Ahmed", "Lotte", "Kees", "Noor",
    "Bram", "Yasmina", "Henk", "Emma", "Sem", "Aylin", "Gerrit", "Iris", "Daan", "Esra",
];
const LAST: &[&str] = &[
    "de Vries",
    "Jansen",
    "el Amrani",
    "Bakker",
    "Visser",
    "Smit",
    "Yilmaz",
    "de Boer",
    "Mulder",
    "de Jong",
    "Bouzid",
    "Meijer",
    "van Dijk",
    "Peters",
    "Hendriks",
    "Dekker",
    "Kaya",
    "Brouwer",
];

fn generate(store: &Store, clients: usize, notes: usize) {
    let conn = store.connection();
    conn.execute_batch("BEGIN").unwrap();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut ids = Vec::with_capacity(clients);
    {
        let mut stmt = conn
            .prepare(
                "INSERT INTO client (id, name, domain, status, opened_on, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 'open', '2025-01-01', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')",
            )
            .unwrap();
        let domains = ["jeugd", "wmo", "participatie", "schuldhulp", "overig"];
        for i in 0..clients {
            let id = format!("0190{:04x}-0000-7000-8000-{:012x}", i >> 16, i);
            let name = format!(
                "{} {} {}",
                FIRST[rng.below(FIRST.len())],
                LAST[rng.below(LAST.len())],
                i
            );
            stmt.execute(params![id, name, domains[i % domains.len()]])
                .unwrap();
            ids.push(id);
        }
    }
    let mut stmt = conn
        .prepare(
            "INSERT INTO note (id, client_id, kind, occurred_at, body, author, created_at)
             VALUES (?1, ?2, 'huisbezoek', ?3, ?4, 'bench', '2025-01-01T00:00:00Z')",
        )
        .unwrap();
    let vocabulary = vocabulary();
    let mut body = String::with_capacity(512);
    for i in 0..notes {
        body.clear();
        // 16 words (~110 bytes): with ids, indexes and the FTS index an image of about
        // 80 MB at 200,000 notes, the size the issue names.
        for w in 0..16 {
            if w > 0 {
                body.push(' ');
            }
            body.push_str(&vocabulary[zipf(&mut rng, vocabulary.len())]);
        }
        let id = format!("0191{:04x}-0000-7000-8000-{:012x}", i >> 16, i);
        let day = 1 + (i % 28);
        let month = 1 + (i / 28) % 12;
        let at = format!("2025-{month:02}-{day:02}T10:00:00");
        stmt.execute(params![id, ids[i % clients], at, body])
            .unwrap();
    }
    drop(stmt);
    conn.execute_batch("COMMIT").unwrap();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

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
    out.write_all(&store.image().unwrap()).unwrap();
    let file = out.finish().unwrap().into_inner().unwrap();
    file.sync_all().unwrap();
}

/// Runs a child and returns its own peak RSS in bytes, from wait4's per-child rusage.
// The child is reaped by wait4 below, which std cannot see.
#[allow(clippy::zombie_processes)]
fn run_measured(cmd: &mut std::process::Command) -> u64 {
    let child = cmd.spawn().unwrap();
    let mut status = 0;
    // SAFETY: wait4 on our own child with valid pointers; std's Child is not waited again.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed: {status}"
    );
    usage.ru_maxrss as u64 * 1024
}

/// Peak RSS of `kluis note add` (unlock, one insert, one save) on the vault at `path`.
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

/// Generates the vault in a child process (see `peak_rss_of_one_note_add` for why), writing
/// the vault, the baseline's X25519 identity and the image size beside it.
fn generate_vault(path: &Path, notes: usize, clients: usize) {
    let t = Instant::now();
    let mut store = Store::create("bench").unwrap();
    generate(&store, clients, notes);
    let image_len = store.image().unwrap().len();
    // Synthetic data only: a plain copy for looking at query plans with sqlite3.
    if let Some(dump) = std::env::var_os("KLUIS_BENCH_DUMP") {
        std::fs::write(dump, &*store.image().unwrap()).unwrap();
    }
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public();
    store
        .add_recovery_recipient(&recipient.to_string())
        .unwrap();
    let key = SealingKey::derive_new(&SecretString::from(PASS.to_owned()), WEAK).unwrap();
    vault::write(
        path,
        &mut store,
        &key,
        std::slice::from_ref(&recipient),
        Place::Create,
    )
    .unwrap();
    use age::secrecy::ExposeSecret;
    std::fs::write(
        path.with_extension("identity"),
        identity.to_string().expose_secret(),
    )
    .unwrap();
    std::fs::write(path.with_extension("size"), image_len.to_string()).unwrap();
    println!(
        "generated in {:.1} s; image {:.1} MB",
        t.elapsed().as_secs_f64(),
        image_len as f64 / 1e6
    );
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
    let mut key = vault::read(&path, Some(&pass), None).unwrap().key;
    for _ in 0..rounds {
        let t = Instant::now();
        let opened = vault::read(&path, None, Some(&key)).unwrap();
        ours.push(t.elapsed());
        key = opened.key;
        drop(opened.store);
        let t = Instant::now();
        let s = baseline_unlock(&path, &identity);
        base.push(t.elapsed());
        drop(s);
    }
    let (unlock, unlock_base) = (median(ours), median(base));

    // Save: ours (temp file, fsync, link, renames, directory fsync) against encrypt + fsync.
    let mut opened = vault::read(&path, None, Some(&key)).unwrap();
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        stamp = vault::write(
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

    // Search: 400 queries as a caseworker types them: a word of the trade, two of them, the
    // start of a surname, a rarer word.
    let vocabulary = vocabulary();
    let mut rng = Rng(42);
    let mut times = Vec::new();
    let mut by_kind: [Vec<Duration>; 4] = Default::default();
    let mut hits = 0;
    for i in 0..400 {
        let q = match i % 4 {
            0 => WORDS[rng.below(WORDS.len())].to_owned(),
            1 => format!(
                "{} {}",
                WORDS[rng.below(WORDS.len())],
                WORDS[rng.below(WORDS.len())]
            ),
            2 => LAST[rng.below(LAST.len())].rsplit(' ').next().unwrap()[..3].to_owned(),
            _ => vocabulary[200 + rng.below(5_000)].clone(),
        };
        let fts = kluis::model::fts_query(&q).unwrap();
        let t = Instant::now();
        hits += opened.store.search(&fts, 20).unwrap().len();
        let took = t.elapsed();
        times.push(took);
        by_kind[i % 4].push(took);
    }
    let (p50, p95) = (percentile(times.clone(), 0.5), percentile(times, 0.95));

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
        "save (median)",
        ms(save),
        ms(save_base),
        ms(save) / ms(save_base),
        "<=1.3x"
    );
    println!(
        "{:<28} {:>8.2}ms {:>10} {:>7} {:>8}",
        "search p50",
        ms(p50),
        "",
        "",
        ""
    );
    println!(
        "{:<28} {:>8.2}ms {:>10} {:>7} {:>8}",
        "search p95",
        ms(p95),
        "",
        "",
        "<=10ms"
    );
    println!(
        "{:<28} {:>8.1}MB {:>8.1}MB {:>6.2}x {:>8}",
        "peak RSS, note add",
        rss as f64 / 1e6,
        rss_target / 1e6,
        rss as f64 / rss_target,
        "<=1.0x"
    );
    let kinds = [
        "one trade word",
        "two trade words",
        "surname prefix",
        "rarer word",
    ];
    for (kind, t) in kinds.iter().zip(by_kind) {
        println!(
            "  search p95, {kind:<16} {:>8.2}ms",
            ms(percentile(t, 0.95))
        );
    }
    println!(
        "({hits} search hits in total; image {:.1} MB)",
        image_len as f64 / 1e6
    );
}
