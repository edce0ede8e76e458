//! The kluis-argon2id stanza parser: arguments (salt, memory, iterations, lanes) and body
//! length, checked against the caps before any KDF could run. Input: the argument line, a
//! NUL, then the body bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (line, body) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(line) = std::str::from_utf8(line) else {
        return;
    };
    let args: Vec<String> = line.split(' ').map(str::to_owned).collect();
    if let Ok(params) = kluis::vault::fuzz_stanza(args, body.to_vec()) {
        // Whatever passes must be within the caps.
        assert!(params.check().is_ok());
    }
});
