#![allow(dead_code)]
//! Shared by the targets: the test data they load their fixed keys from.

use std::path::PathBuf;

/// tests/data of the kluis checkout.
pub fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data")
}

/// The passphrase of the good_* vault vectors.
pub fn passphrase() -> kluis::secret::SecretString {
    let text = std::fs::read_to_string(data().join("passphrase.txt")).unwrap();
    kluis::secret::SecretString::from(text.lines().next().unwrap().to_owned())
}

/// The organisation's roster of the bundle vectors, verified.
pub fn roster() -> kluis::org::Roster {
    let path = data().join("sync/roster.json");
    let signed = kluis::org::read_signed(&path).unwrap();
    let body: serde_json::Value = serde_json::from_str(&signed.body).unwrap();
    let pinned = body["org_public_key"].as_str().unwrap().to_owned();
    kluis::org::verify_roster(&pinned, &signed, &path).unwrap()
}
