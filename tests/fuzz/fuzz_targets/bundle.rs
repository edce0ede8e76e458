//! A sync bundle, all the way: layout, caps, payload hash, roster, signature, decryption with
//! worker w002's key, every op's seal (bundle v2; v1 still read) and the merge into w002's
//! vault (enrolled once from tests/data/sync/w002.enroll with the vectors' device keys). Inputs mutated from the bundle vectors exercise every check.
#![no_main]

#[path = "common.rs"]
mod common;

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;

use kluis::session::{Access, Session};

thread_local! {
    static VAULT: RefCell<Option<(tempfile::TempDir, Session)>> = const { RefCell::new(None) };
}

fn enrolled() -> (tempfile::TempDir, Session) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w002.kluis");
    let sync = common::data().join("sync");
    let bytes = std::fs::read(sync.join("w002.enroll")).unwrap();
    let code = std::fs::read_to_string(sync.join("w002.code")).unwrap();
    let code = kluis::secret::SecretString::from(code.trim().to_owned());
    let e = kluis::org::open_enrollment(&bytes, &code, &sync).unwrap();
    let weak = kluis::vault::KdfParams {
        memory_kib: 8 * 1024,
        iterations: 1,
        parallelism: 1,
    };
    let pass = common::passphrase();
    // The vectors' fixed device keys (a real enrollment makes new ones): the bundles are
    // encrypted to them, and the roster admits them.
    let keys = std::fs::read_to_string(sync.join("w002.keys.json")).unwrap();
    let (x, sk) = kluis::internals::device_keys(&keys).unwrap();
    kluis::internals::create_enrolled_with_keys(&path, &pass, weak, &e, &x, &sk)
        .unwrap()
        .close()
        .unwrap();
    let mut s = Session::open(&path, &pass, Access::Write).unwrap();
    s.import_roster(&sync.join("roster.json")).unwrap();
    (dir, s)
}

fuzz_target!(|data: &[u8]| {
    VAULT.with(|v| {
        let mut v = v.borrow_mut();
        let (_, session) = v.get_or_insert_with(enrolled);
        let _ = kluis::sync::import_bytes(session, data.to_vec(), std::path::Path::new("fuzz.kluisb"), true);
    });
});
