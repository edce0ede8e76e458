//! A SQLite image as a vault holds it, after decryption: loaded into SQLite's memory, its
//! application id and version checked, and its schema compared with the one its version
//! must have (`store::schema`), before any migration or query runs on it. Whatever opens
//! must have exactly kluis's schema; the UTF-8 scan of `check` runs over it too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(store) = kluis::store::Store::from_image(data, data.len()) {
        assert!(
            store.schema_problems().is_ok_and(|p| p.is_empty()),
            "an image with another schema was opened"
        );
        let _ = store.text_problems();
        let _ = store.integrity_problems();
    }
});
