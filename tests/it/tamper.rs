//! Bit flips at sampled offsets, truncation at chunk boundaries, appended junk: every one
//! refused (3 inside the passphrase stanza, 4 anywhere else) and no file changed.

use std::path::Path;

use kluis::Error;
use kluis::secret::SecretString;

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
        let key = kluis::internals::read(&v.path, Some(&pass), None)
            .unwrap()
            .key;
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
            let result = kluis::internals::read(&v.path, Some(&pass), Some(&key));
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
    let key = kluis::internals::read(&v.path, Some(&pass), None)
        .unwrap()
        .key;
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
        let err = kluis::internals::read(&v.path, Some(&pass), Some(&key))
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
        let err = kluis::internals::read(&v.path, Some(&pass), Some(&key))
            .err()
            .expect("junk accepted");
        assert!(
            matches!(err, Error::Damaged { .. }),
            "{} junk bytes: {err:?}",
            junk.len()
        );
    }
}

/// A bundle of several 64 KiB chunks, flipped at 1,000 sampled offsets, cut at every chunk
/// boundary and with junk appended: every one refused as a bundle (exit 4 on the command
/// line), the vault's data and file unchanged.
#[test]
fn a_thousand_bit_flips_of_a_bundle_are_all_refused() {
    let team = crate::sync::Team::new(&["w001", "w002"]);
    let (a, b) = (team.v("w001"), team.v("w002"));
    let id = a.add_client("Groot Dossier");
    // Payloads are deflated: a note of words that do not repeat (a fixed pseudo-random
    // sequence) keeps the bundle several chunks long.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let words: String = (0..90_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            format!("{:x} ", state & 0xff_ffff)
        })
        .collect();
    a.cmd()
        .args(["note", "add", &id])
        .write_stdin(words)
        .assert()
        .success();
    a.cmd()
        .args(["client", "assign", &id, "w002"])
        .assert()
        .success();
    let file = crate::sync::export(a, team.dir());
    let bytes = std::fs::read(&file).unwrap();
    assert!(
        bytes.len() > 3 * 65_536,
        "want several chunks: {}",
        bytes.len()
    );

    let vault_before = std::fs::read(&b.path).unwrap();
    let pass = kluis::secret::SecretString::from(crate::PASS.to_owned());
    let mut s =
        kluis::session::Session::open(&b.path, &pass, kluis::session::Access::Write).unwrap();
    let state = |s: &kluis::session::Session| s.counts().unwrap();
    let before = state(&s);
    let refused = |s: &mut kluis::session::Session, data: Vec<u8>, what: &str| {
        match kluis::sync::import_bytes(s, data, &file, true) {
            Err(e @ kluis::Error::BundleRefused { .. }) => assert_eq!(e.exit_code(), 4),
            other => panic!("{what}: {other:?}"),
        }
    };
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..1_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // The first 1,000 bytes (magic, header, signature) densely, then anywhere.
        let at = if i < 300 {
            (x % 1_000) as usize
        } else {
            (x % bytes.len() as u64) as usize
        };
        let mut t = bytes.clone();
        t[at] ^= 1 << (x % 8);
        refused(&mut s, t, &format!("flip at {at}"));
    }
    // The age payload starts after the third line; its chunks after the header and nonce.
    let payload_at = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(2)
        .unwrap()
        .0
        + 1;
    let mac_line = bytes[payload_at..]
        .windows(4)
        .position(|w| w == b"\n---")
        .unwrap()
        + payload_at
        + 1;
    let header_end = bytes[mac_line..].iter().position(|b| *b == b'\n').unwrap() + mac_line + 1;
    let mut cut = header_end + 16;
    let mut cuts = 0;
    while cut < bytes.len() {
        for c in [cut - 1, cut, cut + 1] {
            if c < bytes.len() {
                refused(&mut s, bytes[..c].to_vec(), &format!("cut at {c}"));
                cuts += 1;
            }
        }
        cut += 65_536 + 16;
    }
    assert!(cuts >= 9);
    let mut junk = bytes.clone();
    junk.extend_from_slice(b"\n-> junk\n");
    refused(&mut s, junk, "junk");
    assert_eq!(state(&s), before);
    // The genuine bundle still imports afterwards.
    kluis::sync::import_bytes(&mut s, bytes.clone(), &file, true).unwrap();
    assert_ne!(state(&s), before);
    drop(s);
    assert_ne!(std::fs::read(&b.path).unwrap(), vault_before);
}
