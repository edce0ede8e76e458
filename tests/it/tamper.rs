//! Bit flips at sampled offsets, truncation at chunk boundaries, appended junk: every one
//! refused (3 inside the passphrase stanza, 4 anywhere else) and no file changed.

use std::path::Path;

use kluis::Error;
use kluis::secret::SecretString;
use kluis::vault;

use crate::{PASS, TestVault};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap()
}

/// Byte range of the `-> kluis-argon2id` stanza (its line and its body line).
fn stanza_range(file: &[u8]) -> std::ops::Range<usize> {
    let start = file
        .windows(17)
        .position(|w| w == b"-> kluis-argon2id")
        .unwrap();
    let line_end = start + file[start..].iter().position(|b| *b == b'\n').unwrap() + 1;
    let body_end = line_end + file[line_end..].iter().position(|b| *b == b'\n').unwrap() + 1;
    start..body_end
}

#[test]
fn a_thousand_bit_flips_are_all_refused() {
    let pass = SecretString::from(PASS.to_owned());
    for name in ["good_basic.kluis", "good_multichunk.kluis"] {
        let original = data(name);
        let v = TestVault::empty();
        std::fs::write(&v.path, &original).unwrap();
        // Unlock once for the key, so most flips are checked without running the KDF again.
        let key = vault::read(&v.path, Some(&pass), None).unwrap().key;
        let stanza = stanza_range(&original);
        let header_len = original.windows(5).position(|w| w == b"\n--- ").unwrap() + 50;
        // Every header byte, then a deterministic spread over the payload.
        let mut offsets: Vec<usize> = (0..header_len.min(original.len())).collect();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        while offsets.len() < 1000 + header_len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            offsets.push((x % original.len() as u64) as usize);
        }
        for (i, off) in offsets.into_iter().enumerate() {
            let mut flipped = original.clone();
            flipped[off] ^= 1 << (i % 8);
            std::fs::write(&v.path, &flipped).unwrap();
            let result = vault::read(&v.path, Some(&pass), Some(&key));
            let code = match result {
                Ok(_) => panic!("{name}: flip at {off} bit {} was accepted", i % 8),
                Err(e) => e.exit_code(),
            };
            if stanza.contains(&off) {
                assert!(
                    code == 3 || code == 4,
                    "{name}: flip at {off} in the stanza gave {code}"
                );
            } else {
                assert_eq!(
                    code, 4,
                    "{name}: flip at {off} (outside the stanza) gave {code}"
                );
            }
            assert_eq!(
                std::fs::read(&v.path).unwrap(),
                flipped,
                "read changed the file"
            );
        }
    }
}

#[test]
fn truncation_at_every_chunk_boundary_and_appended_junk_are_refused() {
    let pass = SecretString::from(PASS.to_owned());
    let original = data("good_multichunk.kluis");
    let v = TestVault::empty();
    std::fs::write(&v.path, &original).unwrap();
    let key = vault::read(&v.path, Some(&pass), None).unwrap().key;
    let header_end = original.windows(5).position(|w| w == b"\n--- ").unwrap();
    let header_end = header_end
        + 1
        + original[header_end + 1..]
            .iter()
            .position(|b| *b == b'\n')
            .unwrap()
        + 1;
    let payload_start = header_end + 16;
    let mut cuts = vec![
        0,
        1,
        header_end - 1,
        header_end,
        payload_start - 1,
        payload_start,
    ];
    let mut at = payload_start;
    while at < original.len() {
        cuts.extend([at, at + 1, at + 16, at.saturating_sub(1)]);
        at += 65_536 + 16;
    }
    cuts.push(original.len() - 1);
    for cut in cuts.into_iter().filter(|c| *c < original.len()) {
        std::fs::write(&v.path, &original[..cut]).unwrap();
        let err = vault::read(&v.path, Some(&pass), Some(&key))
            .err()
            .unwrap_or_else(|| panic!("cut at {cut} accepted"));
        assert!(
            matches!(err, Error::Damaged { .. }),
            "cut at {cut}: {err:?}"
        );
    }
    for junk in [&b"\0"[..], b"junk", &[0u8; 65_552]] {
        let mut longer = original.clone();
        longer.extend_from_slice(junk);
        std::fs::write(&v.path, &longer).unwrap();
        let err = vault::read(&v.path, Some(&pass), Some(&key))
            .err()
            .expect("junk accepted");
        assert!(
            matches!(err, Error::Damaged { .. }),
            "{} junk bytes: {err:?}",
            junk.len()
        );
    }
}
