//! An enrollment after its code opened it: JSON, the organisation's signatures over the
//! certificate and roster, and the keys inside against the certificate. (The sealing around
//! it is the vault format, fuzzed by `vault_open`.)
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kluis::org::check_enrollment(data, std::path::Path::new("fuzz.enroll"));
});
