//! Opening a vault file: header, the kluis-argon2id stanza, stream decryption and the SQLite
//! image. The key of tests/data/good_basic.kluis is derived once and reused (no KDF per run),
//! so inputs mutated from that vault get past the stanza. Must never panic: every input ends
//! in a vault or a kluis error.
#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn key() -> &'static kluis::vault::SealingKey {
    static KEY: OnceLock<kluis::vault::SealingKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let path = common::data().join("good_basic.kluis");
        kluis::internals::read(&path, Some(&common::passphrase()), None)
            .unwrap()
            .key
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("kluis-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir(&dir);
    let path = dir.join("vault.kluis");
    std::fs::write(&path, data).unwrap();
    let _ = kluis::internals::read(&path, None, Some(key()));
});
