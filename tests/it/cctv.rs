//! The age test vectors of C2SP/CCTV (tests/data/age-cctv, see its NOTICE.md), run through
//! kluis's own recovery decryption path: every vector with X25519 identities must end in its
//! expected outcome class, and none may panic.

use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use kluis::Error;
use sha2::{Digest, Sha256};

/// The identity most vectors are encrypted to.
const TEST_IDENTITY: &str =
    "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0";

struct Vector {
    name: String,
    expect: String,
    payload: Option<String>,
    identities: Vec<String>,
    armored: bool,
    body: Vec<u8>,
}

fn parse(name: &str, bytes: &[u8]) -> Vector {
    let split = bytes
        .windows(2)
        .position(|w| w == b"\n\n")
        .expect("header and body");
    let header = std::str::from_utf8(&bytes[..split]).unwrap();
    let mut body = bytes[split + 2..].to_vec();
    let mut v = Vector {
        name: name.to_owned(),
        expect: String::new(),
        payload: None,
        identities: Vec::new(),
        armored: false,
        body: Vec::new(),
    };
    let mut compressed = false;
    for line in header.lines() {
        let (k, val) = line.split_once(": ").unwrap_or((line, ""));
        match k {
            "expect" => v.expect = val.to_owned(),
            "payload" => v.payload = Some(val.to_owned()),
            "identity" => v.identities.push(val.to_owned()),
            "armored" => v.armored = val == "yes",
            "compressed" => compressed = val == "zlib",
            _ => {}
        }
    }
    if compressed {
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(&body[..])
            .read_to_end(&mut out)
            .unwrap();
        body = out;
    }
    v.body = body;
    v
}

#[test]
fn age_cctv_vectors_end_in_their_outcome_class() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/age-cctv");
    let tmp = tempfile::tempdir().unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.ends_with(".md"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 143);
    let (mut run, mut skipped) = (0, Vec::new());
    for name in names {
        let v = parse(&name, &std::fs::read(dir.join(&name)).unwrap());
        // A vector without an identity (`empty`) is tried with the others' test identity.
        let no_identity = v.identities.is_empty() && !v.armored && !name.starts_with("scrypt");
        let ids: Vec<age::x25519::Identity> = if no_identity {
            vec![age::x25519::Identity::from_str(TEST_IDENTITY).unwrap()]
        } else {
            v.identities
                .iter()
                .filter_map(|i| age::x25519::Identity::from_str(i).ok())
                .collect()
        };
        // Passphrase-only (scrypt), post-quantum hybrid and armored vectors use what kluis
        // does not accept in a vault.
        if v.armored
            || ids.is_empty()
            || (ids.len() != v.identities.len() && !v.identities.is_empty())
        {
            skipped.push(name);
            continue;
        }
        assert_eq!(ids.len(), 1, "{name}: one identity expected");
        let file = tmp.path().join(&name);
        std::fs::write(&file, &v.body).unwrap();
        let got =
            std::panic::catch_unwind(|| kluis::internals::decrypt_with_recovery(&file, &ids[0]))
                .unwrap_or_else(|_| panic!("{name}: panicked"));
        match (v.expect.as_str(), got) {
            ("success", Ok(plain)) => {
                let hash: String = Sha256::digest(&plain[..])
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                assert_eq!(Some(hash), v.payload, "{name}: wrong payload");
            }
            ("no match", Err(Error::WrongPassphrase)) => {}
            (
                "header failure" | "HMAC failure" | "payload failure",
                Err(e @ Error::Damaged { .. }),
            ) => {
                assert_eq!(e.exit_code(), 4, "{name}");
            }
            (expect, got) => panic!(
                "{}: expected {expect}, got {:?}",
                v.name,
                got.map(|p| p.len())
            ),
        }
        run += 1;
    }
    // What ran and what could not: so a change in the vectors' mix is noticed.
    assert_eq!(run, 68, "skipped: {skipped:?}");
    assert_eq!(skipped.len(), 75);
}
