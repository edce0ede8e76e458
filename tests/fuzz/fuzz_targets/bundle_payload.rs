//! What follows a bundle's decryption: the payload JSON, every record checked against the
//! roster of the bundle vectors, and the merge into an in-memory store. Signatures and
//! encryption keep the fuzzer out of this in `bundle`; here it gets in.
#![no_main]

#[path = "common.rs"]
mod common;

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;

thread_local! {
    static STATE: RefCell<Option<(kluis::store::Store, kluis::org::Roster)>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        let (store, roster) = s.get_or_insert_with(|| {
            let mut store = kluis::store::Store::create("w002").unwrap();
            kluis::internals::transaction(&mut store, |st| {
                kluis::internals::set_meta(st, "worker_id", "w002")
            })
            .unwrap();
            (store, common::roster())
        });
        // A v2 payload as signed by w001, who writes the vectors' dossiers.
        let _ = kluis::sync::fuzz_payload(store, roster, "w001", data);
    });
});
