//! Files in the shared folder besides bundles: the signed rosters IT publishes there
//! (`*.kluisroster`) and the requests of devices that wait for IT (`*.kluisreq`). Every file
//! is named after the SHA-256 of its bytes and never changes after it is written.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::fsx::{self, Follow, Owner};
use crate::i18n::t;
use crate::model::hex;
use crate::org;

/// Extension of a roster IT published into the shared folder.
pub const ROSTER_EXTENSION: &str = "kluisroster";
/// Extension of a device's request to be admitted.
pub const REQUEST_EXTENSION: &str = "kluisreq";
/// Largest roster or request file read from the shared folder.
pub const MAX_SHARE_FILE: u64 = 16 << 20;

/// Whether a file name is one of kluis's in the shared folder with extension `ext`: 64
/// lower-case hex digits, a dot, the extension. Returns the hash.
pub fn hashed_name<'a>(name: &'a str, ext: &str) -> Option<&'a str> {
    let stem = name.strip_suffix(ext)?.strip_suffix('.')?;
    (stem.len() == 64
        && stem
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
    .then_some(stem)
}

/// Every file in `dir` named `HASH.ext`: (hash, path), sorted by name.
pub fn list(dir: &Path, ext: &str) -> Result<Vec<(String, PathBuf)>> {
    let mut out: Vec<(String, PathBuf)> = fs::read_dir(dir)
        .map_err(|e| Error::io(t!("io.read", path = dir.display()), e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = hashed_name(&name, ext)?.to_owned();
            Some((stem, e.path()))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Reads a roster or request file from the shared folder: never through a link, never a
/// special file, and its name must be the hash of its bytes.
pub fn read_named(path: &Path, hash: &str) -> std::result::Result<Vec<u8>, String> {
    let bytes =
        fsx::read(path, Follow::No, Owner::Anyone, MAX_SHARE_FILE).map_err(|r| r.reason())?;
    if hex(&Sha256::digest(&bytes)) != hash {
        return Err(t!("sync.name_not_hash").into_owned());
    }
    Ok(bytes)
}

/// Writes a new file in `dir` under its content hash: a temp name first, then a hard link to
/// the final name (which never replaces a file), then the temp name goes. Where the folder
/// cannot hard-link (FAT or exFAT sticks, some network shares), the final name is created
/// exclusively and written; a reader that finds it half-written refuses it (its hash does not
/// match its name) and reads it again at the next sync.
pub fn place(dir: &Path, bytes: &[u8], ext: &str) -> Result<PathBuf> {
    let name = format!("{}.{ext}", hex(&Sha256::digest(bytes)));
    let path = dir.join(&name);
    let tmp = dir.join(format!(".{}.part", crate::store::new_id()));
    if let Err(e) = org::write_new(&tmp, bytes) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let linked = fs::hard_link(&tmp, &path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        // Same name, same bytes: it is already there.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(_) => match org::write_new(&path, bytes) {
            Ok(()) | Err(Error::FileExists { .. }) => {}
            Err(e) => {
                let _ = fs::remove_file(&path);
                return Err(e);
            }
        },
    }
    crate::vault::sync_dir(&path)?;
    Ok(path)
}

/// Publishes a signed roster into the shared folder, where every `sync` finds it.
pub fn publish_roster(share: &Path, signed: &org::Signed) -> Result<PathBuf> {
    let bytes = serde_json::to_vec_pretty(signed).map_err(|e| Error::Encrypt(e.to_string()))?;
    place(share, &bytes, ROSTER_EXTENSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercase_hashes_with_their_extension() {
        let h = "a".repeat(64);
        assert_eq!(
            hashed_name(&format!("{h}.kluisroster"), ROSTER_EXTENSION),
            Some(h.as_str())
        );
        assert_eq!(
            hashed_name(&format!("{h}.kluisroster"), REQUEST_EXTENSION),
            None
        );
        assert_eq!(
            hashed_name(&format!("{h}kluisreq"), REQUEST_EXTENSION),
            None
        );
        assert_eq!(
            hashed_name(&format!("{}.kluisreq", "A".repeat(64)), REQUEST_EXTENSION),
            None
        );
    }
}
