//! Secret types. Everything here wipes itself on drop and prints `[redacted]` in `Debug`.

use std::fmt;

pub use secrecy::{ExposeSecret, SecretBox, SecretString};
use zeroize::Zeroize;

/// The 32-byte Argon2id output that unlocks a vault. Kept while unlocked so a save does not
/// run the KDF again; wiped when dropped (that is, on lock).
pub struct KdfKey(SecretBox<[u8; 32]>);

impl KdfKey {
    /// Wraps key bytes, taking ownership of the box.
    pub fn new(bytes: Box<[u8; 32]>) -> KdfKey {
        crate::harden::mlock_slice(&bytes[..]);
        KdfKey(SecretBox::new(bytes))
    }

    /// The key bytes.
    pub fn expose(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }
}

impl fmt::Debug for KdfKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Reads a passphrase file: the first line, without its line ending.
pub fn passphrase_from_bytes(mut bytes: Vec<u8>) -> Option<SecretString> {
    let end = bytes
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(bytes.len());
    let mut line = &bytes[..end];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    let result = std::str::from_utf8(line)
        .ok()
        .map(|s| SecretString::from(s.to_owned()));
    bytes.zeroize();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_key_is_redacted() {
        let key = KdfKey::new(Box::new([7u8; 32]));
        assert_eq!(format!("{key:?}"), "[redacted]");
    }

    #[test]
    fn passphrase_file_takes_first_line_only() {
        let p = passphrase_from_bytes(b"geheim woord\r\nrest".to_vec()).unwrap();
        assert_eq!(p.expose_secret(), "geheim woord");
        let p = passphrase_from_bytes(b"zonder regeleinde".to_vec()).unwrap();
        assert_eq!(p.expose_secret(), "zonder regeleinde");
        assert!(passphrase_from_bytes(vec![0xff, 0xfe]).is_none());
    }
}
