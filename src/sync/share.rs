//! Files in the shared folder besides bundles: the signed rosters IT publishes there
//! (`*.kluisroster`) and the requests of devices that wait for IT (`*.kluisreq`). Every file
//! is named after the SHA-256 of its bytes and never changes after it is written.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::fsx;
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

/// What [`scan`] found in the shared folder.
#[derive(Debug, Default)]
pub struct Found {
    /// Regular files named `HASH.ext` (by the listing): (hash, path), sorted by name. Each
    /// is still opened as what it must be (`fsx`): it may have been swapped meanwhile.
    pub files: Vec<(String, PathBuf)>,
    /// Entries named like that which are no regular file (a link, a directory, a FIFO, a
    /// socket, a device), or that the listing could not show: (path, why). Never opened.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Every entry in `dir` named `HASH.ext`, sorted by name. Only a folder that cannot be
/// listed at all is an error; one odd entry never is.
pub fn scan(dir: &Path, ext: &str) -> Result<Found> {
    let mut found = Found::default();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(t!("io.read", path = dir.display()), e))? {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                found
                    .skipped
                    .push((dir.to_owned(), fsx::Refusal::Io(e).reason()));
                continue;
            }
        };
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| hashed_name(n, ext)) else {
            continue;
        };
        let stem = stem.to_owned();
        let path = entry.path();
        // The type comes with the listing: a special file is never opened, not even with
        // O_NONBLOCK (opening some devices does something).
        match entry.file_type() {
            Ok(ft) if ft.is_file() => found.files.push((stem, path)),
            Ok(ft) => found.skipped.push((path, fsx::not_regular(ft).reason())),
            Err(e) => found.skipped.push((path, fsx::Refusal::Io(e).reason())),
        }
    }
    found.files.sort();
    found.skipped.sort();
    Ok(found)
}

/// Every regular file in `dir` named `HASH.ext`: (hash, path), sorted by name.
pub fn list(dir: &Path, ext: &str) -> Result<Vec<(String, PathBuf)>> {
    Ok(scan(dir, ext)?.files)
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
/// Then removes the rosters there that it supersedes (returned: how many).
pub fn publish_roster(share: &Path, signed: &org::Signed) -> Result<(PathBuf, usize)> {
    let roster: crate::model::roster::Roster = serde_json::from_str(&signed.body)
        .map_err(|_| super::bundle::refused(share, t!("org.not_roster")))?;
    let bytes = serde_json::to_vec_pretty(signed).map_err(|e| Error::Encrypt(e.to_string()))?;
    let path = place(share, &bytes, ROSTER_EXTENSION)?;
    let removed = remove_older_rosters(share, &roster.org_public_key, roster.version)?;
    if removed > 0 {
        // The removals are tidying: the new roster is in place and durable either way.
        let _ = crate::vault::sync_dir(&path);
    }
    Ok((path, removed))
}

/// Removes the rosters in `share` that an organisation's newer one supersedes: a vault
/// needs only the newest (each names every member, and a vault never takes an older
/// version), so an older one would stay in the folder for good. Only a file that is what
/// its name says (the SHA-256 of its bytes), is signed by the organisation with `org_key`,
/// and holds a lower version goes; anything else is left alone, since it is not ours to
/// judge. A file that cannot be removed stays too: a later publish tries again.
fn remove_older_rosters(share: &Path, org_key: &str, newest: u64) -> Result<usize> {
    let mut removed = 0;
    for (hash, path) in scan(share, ROSTER_EXTENSION)?.files {
        let Ok(bytes) = fsx::read(&path, fsx::Follow::No, fsx::Owner::Anyone, MAX_SHARE_FILE)
        else {
            continue;
        };
        if hex(&Sha256::digest(&bytes)) != hash {
            continue;
        }
        let Ok(doc) = serde_json::from_slice::<org::Signed>(&bytes) else {
            continue;
        };
        let superseded = org::verify_roster(org_key, &doc, &path).is_ok_and(|r| r.version < newest);
        if superseded && fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fsx::mkfifo;

    /// Special entries are skipped from the listing without being opened; a regular file
    /// swapped for a FIFO after the listing is refused on its descriptor, at once.
    #[test]
    fn special_entries_are_skipped_and_a_file_swapped_for_a_fifo_never_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let name = |c: char| format!("{}.kluisb", c.to_string().repeat(64));
        fs::write(dir.path().join(name('a')), b"x").unwrap();
        fs::create_dir(dir.path().join(name('b'))).unwrap();
        mkfifo(&dir.path().join(name('c')));
        std::os::unix::fs::symlink("/nowhere", dir.path().join(name('d'))).unwrap();
        let _socket = std::os::unix::net::UnixListener::bind(dir.path().join(name('e'))).unwrap();
        fs::write(dir.path().join(name('f')), b"x").unwrap();
        fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        let found = scan(dir.path(), "kluisb").unwrap();
        let files: Vec<_> = found.files.iter().map(|(h, _)| &h[..1]).collect();
        assert_eq!(files, ["a", "f"]);
        assert_eq!(found.skipped.len(), 4, "{:?}", found.skipped);
        // Swapped between the listing and the opening.
        let swapped = &found.files[1].1;
        fs::remove_file(swapped).unwrap();
        mkfifo(swapped);
        let start = std::time::Instant::now();
        let r = fsx::read(swapped, fsx::Follow::No, fsx::Owner::Anyone, 1 << 20);
        assert!(matches!(r, Err(fsx::Refusal::NotRegular("fifo"))), "{r:?}");
        fs::remove_file(swapped).unwrap();
        std::os::unix::fs::symlink("/dev/zero", swapped).unwrap();
        let r = fsx::read(swapped, fsx::Follow::No, fsx::Owner::Anyone, 1 << 20);
        assert!(matches!(r, Err(fsx::Refusal::Link)), "{r:?}");
        // Gone since the listing (a sync engine renamed it): skipped, not an error.
        let gone = &found.files[0].1;
        fs::remove_file(gone).unwrap();
        let r = fsx::read(gone, fsx::Follow::No, fsx::Owner::Anyone, 1 << 20);
        assert!(matches!(r, Err(fsx::Refusal::Missing)), "{r:?}");
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }

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
