//! A roster file: the signed document's JSON, the organisation's signature against the pinned
//! key of the bundle vectors' organisation, and the roster inside.
#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn pinned() -> &'static str {
    static PINNED: OnceLock<String> = OnceLock::new();
    PINNED.get_or_init(|| common::roster().org_public_key)
}

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz.json");
    if let Ok(signed) = serde_json::from_slice::<kluis::org::Signed>(data) {
        let _ = kluis::org::verify_roster(pinned(), &signed, path);
    }
});
