//! Writes seeds/<target>/ from the kluis test data: `cargo run --manifest-path
//! tests/fuzz/Cargo.toml --bin make_seeds` (from the repository root). The seeds are
//! committed; rerun after a format change.

use std::fs;
use std::path::{Path, PathBuf};

#[path = "fuzz_targets/common.rs"]
mod common;

fn seed(target: &str, name: &str, bytes: &[u8]) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seeds").join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), bytes).unwrap();
}

fn main() {
    // Vaults and bundles need no copies: run.sh passes tests/data and tests/data/sync.
    let data = common::data();
    // Stanzas: the one of good_basic, and edge cases of the caps.
    let vault = fs::read(data.join("good_basic.kluis")).unwrap();
    let text = String::from_utf8_lossy(&vault[..400]);
    let line = text.lines().find(|l| l.starts_with("-> kluis-argon2id ")).unwrap();
    let args = line.trim_start_matches("-> kluis-argon2id ");
    let body = vec![7u8; 64];
    for (name, args) in [
        ("good", args.to_owned()),
        ("max", "AAAAAAAAAAAAAAAAAAAAAA 4194304 32 16".to_owned()),
        ("over", "AAAAAAAAAAAAAAAAAAAAAA 4194305 33 17".to_owned()),
        ("leading_zero", "AAAAAAAAAAAAAAAAAAAAAA 08192 1 1".to_owned()),
    ] {
        let mut input = args.into_bytes();
        input.push(0);
        input.extend_from_slice(&body);
        seed("stanza", name, &input);
    }
    // Enrollment: the plaintext of the bundle vectors' w002 enrollment (test keys only).
    let sync = data.join("sync");
    let code = fs::read_to_string(sync.join("w002.code")).unwrap();
    let code = kluis::secret::SecretString::from(code.trim().to_owned());
    let e = kluis::org::open_enrollment(&fs::read(sync.join("w002.enroll")).unwrap(), &code, Path::new("x"))
        .unwrap();
    seed("enrollment", "w002.json", serde_json::to_string(&e).unwrap().as_bytes());
    // Roster.
    seed("roster", "roster.json", &fs::read(sync.join("roster.json")).unwrap());
    // Images: a new vault's, and the one inside good_recovery.kluis (opened with the test
    // recovery key, as IT would).
    let mut fresh = kluis::store::Store::create("seed").unwrap();
    seed("schema", "fresh.sqlite", &fresh.image().unwrap());
    let key = fs::read_to_string(data.join("recovery.key")).unwrap();
    let identity: age::x25519::Identity = key
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .parse()
        .unwrap();
    let image =
        kluis::vault::decrypt_with_recovery(&data.join("good_recovery.kluis"), &identity).unwrap();
    seed("schema", "good_recovery.sqlite", &image);
    // Text: the note, C1 controls, a Windows line break, plain Dutch text.
    for (name, text) in [
        ("osc52", "x\u{1b}]52;c;SGVsbG8=\u{7}\u{1b}[2J"),
        ("c1", "a\u{9b}2J\u{85}b\u{7f}"),
        ("crlf", "regel een\r\nregel\ttwee\rlos"),
        ("plain", "Keukentafelgesprek met Fatima el Amrani over huurachterstand."),
    ] {
        seed("text", name, text.as_bytes());
    }
    // Bundles, and their decrypted payloads (decrypted with w002's key from the enrollment).
    let identity: age::x25519::Identity = e.x25519_identity.parse().unwrap();
    for entry in fs::read_dir(&sync).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".kluisb") {
            continue;
        }
        let bytes = fs::read(&path).unwrap();
        if name.starts_with("good_") {
            let mut lines = 0;
            let start = bytes
                .iter()
                .position(|b| {
                    lines += (*b == b'\n') as usize;
                    lines == 3
                })
                .unwrap()
                + 1;
            let d = age::Decryptor::new(&bytes[start..]).unwrap();
            let mut r = d.decrypt(std::iter::once(&identity as &dyn age::Identity)).unwrap();
            let mut plain = Vec::new();
            std::io::Read::read_to_end(&mut r, &mut plain).unwrap();
            seed("bundle_payload", &format!("{name}.json"), &plain);
        }
    }
}
