//! The synthetic vault both benchmarks use: deterministic Dutch-like notes over a Zipf
//! vocabulary, generated in a child process, and small timing helpers.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use kluis::secret::SecretString;
use kluis::store::Store;
use kluis::vault::{KdfParams, Place, SealingKey};
use rusqlite::params;

pub const PASS: &str = "Zonnebloem-Kraanwater-47-Lantaarn";
pub const WEAK: KdfParams = KdfParams {
    memory_kib: 8 * 1024,
    iterations: 1,
    parallelism: 1,
};

/// A size from the environment (`KLUIS_BENCH_*`), for quick runs.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic PRNG, so every run measures the same vault.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The most frequent Dutch words first, then words of the trade; synthetic words follow.
pub const FUNCTION_WORDS: &[&str] = &[
    "de", "het", "een", "en", "van", "in", "op", "met", "over", "voor", "naar", "bij", "niet",
    "wel", "nog", "ook", "maar", "dat", "die", "er",
];
pub const WORDS: &[&str] = &[
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
pub fn vocabulary() -> Vec<String> {
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
pub fn zipf(rng: &mut Rng, n: usize) -> usize {
    let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
    (((n as f64).powf(u)) - 1.0).min(n as f64 - 1.0) as usize
}

pub use kluis::demo::{FIRST, LAST};

pub fn generate(store: &Store, clients: usize, notes: usize) {
    let conn = kluis::internals::connection(store);
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

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs a child and returns its own peak RSS in bytes, from wait4's per-child rusage.
pub fn run_measured(cmd: &mut std::process::Command) -> u64 {
    run_usage(cmd).ru_maxrss as u64 * 1024
}

/// Runs a child to its end and returns its own resource usage from wait4 (peak RSS in KiB,
/// blocks written in 512-byte units).
// The child is reaped by wait4 below, which std cannot see.
#[allow(clippy::zombie_processes)]
pub fn run_usage(cmd: &mut std::process::Command) -> libc::rusage {
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
    usage
}

/// Generates the vault in a child process (see `peak_rss_of_one_note_add` for why), writing
/// the vault, the baseline's X25519 identity and the image size beside it.
pub fn generate_vault(path: &Path, notes: usize, clients: usize) {
    let t = Instant::now();
    let mut store = Store::create("bench").unwrap();
    generate(&store, clients, notes);
    let image = kluis::internals::image(&mut store).unwrap();
    let image_len = image.len();
    // Synthetic data only: a plain copy for looking at query plans with sqlite3.
    if let Some(dump) = std::env::var_os("KLUIS_BENCH_DUMP") {
        std::fs::write(dump, &image).unwrap();
    }
    drop(image);
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public();
    kluis::internals::add_recovery_recipient(&store, &recipient.to_string()).unwrap();
    let key = SealingKey::derive_new(&SecretString::from(PASS.to_owned()), WEAK).unwrap();
    kluis::internals::write(
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
