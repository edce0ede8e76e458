//! Opening a file as what it must be: a regular file, checked on the descriptor that was
//! opened (not on the path, which can change in between), never blocking, and read with a
//! bounded buffer. Every file kluis reads goes through here.
//!
//! - `O_NONBLOCK`: opening a FIFO (named pipe) for reading returns at once instead of
//!   waiting for a writer that never comes; `fstat` then shows it is not a regular file.
//! - `O_NOFOLLOW` where kluis did not ask for a link: the files beside the vault, the files
//!   a sync finds in a shared folder, the organisation's files in its folder. A path the user
//!   typed (a bundle to import, a file to attach, the config file) is followed: the user asked
//!   for it. The vault path itself is resolved once when it is opened (see
//!   `vault::resolve`).
//! - The owner: the files kluis keeps beside the vault must be the running user's, so another
//!   account cannot plant a journal or a lock file in a shared folder.
//! - A size cap, checked with `fstat` before reading, and a read that stops one byte past it
//!   (a file that grows meanwhile is refused too).

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::error::Error;
use crate::i18n::t;

/// Whether a symbolic link at the path is followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follow {
    /// The user named this path: follow it.
    Yes,
    /// kluis found or made this path: a link here is refused.
    No,
}

/// Whose file it must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// The user running kluis (files kluis keeps beside the vault).
    Us,
    /// Anyone (files that come from elsewhere and are authenticated, or named by the user).
    Anyone,
}

/// Why a path was not opened as a regular file.
#[derive(Debug)]
pub enum Refusal {
    /// Nothing at the path.
    Missing,
    /// A symbolic link where none is followed.
    Link,
    /// A FIFO, device, socket or directory.
    NotRegular(&'static str),
    /// Owned by another user.
    NotOurs(u32),
    /// Larger than the cap.
    TooLarge(u64),
    /// Any other failure to open or read.
    Io(io::Error),
}

impl Refusal {
    /// Why, in the user's language (for a refused special file or link; `Missing` and
    /// `Io` are better reported by the caller's own error).
    pub fn reason(&self) -> String {
        match self {
            Refusal::Missing => t!("fsx.missing").into_owned(),
            Refusal::Link => t!("fsx.link").into_owned(),
            Refusal::NotRegular(kind) => t!(format!("fsx.{kind}")).into_owned(),
            Refusal::NotOurs(uid) => t!("fsx.not_ours", uid = uid).into_owned(),
            Refusal::TooLarge(max) => t!("fsx.too_large", max = human_size(*max)).into_owned(),
            Refusal::Io(e) => e.to_string(),
        }
    }

    /// For a file kluis keeps (the vault and the files beside it): damaged or not ours is
    /// exit 4; a failure to read is an IO error (exit 1).
    pub fn into_damaged(self, path: &Path) -> Error {
        match self {
            Refusal::Io(e) => Error::io(t!("io.read", path = path.display()), e),
            Refusal::Missing => Error::io(
                t!("io.read", path = path.display()),
                io::ErrorKind::NotFound.into(),
            ),
            other => Error::Damaged {
                path: path.to_owned(),
                reason: other.reason(),
            },
        }
    }

    /// For a path the user gave (`field` names the argument): a special file, a link or a
    /// file over the cap is a usage error (exit 2); a missing or unreadable one exit 1.
    pub fn into_invalid(self, field: &'static str, path: &Path) -> Error {
        match self {
            Refusal::Io(e) => Error::io(t!("io.read", path = path.display()), e),
            Refusal::Missing => Error::io(
                t!("io.read", path = path.display()),
                io::ErrorKind::NotFound.into(),
            ),
            other => Error::invalid(field, format!("{}: {}", path.display(), other.reason())),
        }
    }
}

fn human_size(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{} GiB", bytes >> 30)
    } else if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", (bytes >> 10).max(1))
    }
}

/// The effective user id of this process.
pub fn our_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Why something that is not a regular file is refused, from its type (a listing's, which
/// costs no system call: then it is never opened at all).
pub fn not_regular(ft: std::fs::FileType) -> Refusal {
    if ft.is_symlink() {
        return Refusal::Link;
    }
    Refusal::NotRegular(if ft.is_fifo() {
        "fifo"
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_char_device() || ft.is_block_device() {
        "device"
    } else {
        "other"
    })
}

/// Checks an opened file's metadata: a regular file, of the right owner, within `max` bytes.
pub fn check(meta: &Metadata, owner: Owner, max: u64) -> Result<(), Refusal> {
    let ft = meta.file_type();
    if !ft.is_file() {
        return Err(not_regular(ft));
    }
    if owner == Owner::Us && meta.uid() != our_uid() {
        return Err(Refusal::NotOurs(meta.uid()));
    }
    if meta.len() > max {
        return Err(Refusal::TooLarge(max));
    }
    Ok(())
}

fn classify(e: io::Error, follow: Follow) -> Refusal {
    match e.raw_os_error() {
        Some(libc::ENOENT) => Refusal::Missing,
        // O_NOFOLLOW on a link gives ELOOP (EMLINK on some BSDs).
        Some(libc::ELOOP) | Some(libc::EMLINK) if follow == Follow::No => Refusal::Link,
        Some(libc::ENXIO) => Refusal::NotRegular("other"),
        _ => Refusal::Io(e),
    }
}

fn flags(follow: Follow) -> i32 {
    let mut f = libc::O_NONBLOCK | libc::O_CLOEXEC;
    if follow == Follow::No {
        f |= libc::O_NOFOLLOW;
    }
    f
}

/// Opens `path` for reading as a regular file (see the module's notes); returns the file
/// and its metadata, taken from the open descriptor.
pub fn open(
    path: &Path,
    follow: Follow,
    owner: Owner,
    max: u64,
) -> Result<(File, Metadata), Refusal> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags(follow))
        .open(path)
        .map_err(|e| classify(e, follow))?;
    let meta = file.metadata().map_err(Refusal::Io)?;
    check(&meta, owner, max)?;
    Ok((file, meta))
}

/// Opens (creating it with mode 0600 if missing) a file kluis keeps, for reading and
/// writing: never through a link, never a special file, always the user's own.
pub fn open_rw_create(path: &Path, max: u64) -> Result<File, Refusal> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(flags(Follow::No))
        .open(path)
        .map_err(|e| classify(e, Follow::No))?;
    let meta = file.metadata().map_err(Refusal::Io)?;
    check(&meta, Owner::Us, max)?;
    Ok(file)
}

/// Opens a file kluis writes records into at positions it chooses (the journal): no link,
/// regular, ours, never created here.
pub fn open_write(path: &Path, max: u64) -> Result<(File, Metadata), Refusal> {
    let file = OpenOptions::new()
        .write(true)
        .custom_flags(flags(Follow::No))
        .open(path)
        .map_err(|e| classify(e, Follow::No))?;
    let meta = file.metadata().map_err(Refusal::Io)?;
    check(&meta, Owner::Us, max)?;
    Ok((file, meta))
}

/// Reads an opened file to its end, at most `max` bytes: one byte more is refused.
pub fn read_all(file: File, meta: &Metadata, max: u64) -> Result<Vec<u8>, Refusal> {
    // The capacity is the size fstat gave, already checked against the cap.
    let mut bytes = Vec::with_capacity(meta.len().min(max) as usize);
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(Refusal::Io)?;
    if bytes.len() as u64 > max {
        return Err(Refusal::TooLarge(max));
    }
    Ok(bytes)
}

/// [`open`], then [`read_all`].
pub fn read(path: &Path, follow: Follow, owner: Owner, max: u64) -> Result<Vec<u8>, Refusal> {
    let (file, meta) = open(path, follow, owner, max)?;
    read_all(file, &meta, max)
}

/// The (device, inode) of what is at `path` now, without following a link.
pub fn identity_at(path: &Path) -> Option<(u64, u64)> {
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Makes a FIFO at `path`: the special file the unit tests of every reader put in its way.
#[cfg(test)]
pub(crate) fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_fifo_is_refused_at_once_and_never_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        mkfifo(&fifo);
        let start = Instant::now();
        for follow in [Follow::Yes, Follow::No] {
            assert!(matches!(
                read(&fifo, follow, Owner::Us, 1 << 20),
                Err(Refusal::NotRegular("fifo"))
            ));
        }
        assert!(matches!(
            open_rw_create(&fifo, 1 << 20),
            Err(Refusal::NotRegular("fifo"))
        ));
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn links_are_followed_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::write(&real, b"inhoud").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(read(&link, Follow::Yes, Owner::Us, 100).unwrap(), b"inhoud");
        assert!(matches!(
            read(&link, Follow::No, Owner::Us, 100),
            Err(Refusal::Link)
        ));
        // A link to /dev/zero is never read until memory runs out.
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(matches!(
            read(&zero, Follow::No, Owner::Us, 100),
            Err(Refusal::Link)
        ));
        assert!(matches!(
            read(&zero, Follow::Yes, Owner::Us, 100),
            Err(Refusal::NotRegular("device"))
        ));
        // A dangling link is never created through.
        let dangling = dir.path().join("dangling");
        let target = dir.path().join("target-that-does-not-exist");
        std::os::unix::fs::symlink(&target, &dangling).unwrap();
        assert!(matches!(open_rw_create(&dangling, 100), Err(Refusal::Link)));
        assert!(!target.exists());
    }

    #[test]
    fn sizes_are_capped_before_and_while_reading() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, vec![7u8; 101]).unwrap();
        assert!(matches!(
            read(&f, Follow::No, Owner::Us, 100),
            Err(Refusal::TooLarge(100))
        ));
        assert_eq!(read(&f, Follow::No, Owner::Us, 101).unwrap().len(), 101);
        assert!(matches!(
            read(&dir.path().join("nothing"), Follow::No, Owner::Us, 1),
            Err(Refusal::Missing)
        ));
        assert!(matches!(
            read(dir.path(), Follow::No, Owner::Us, 1 << 20),
            Err(Refusal::NotRegular("directory"))
        ));
    }

    #[test]
    fn another_users_file_is_not_ours() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"x").unwrap();
        let meta = std::fs::metadata(&f).unwrap();
        assert!(check(&meta, Owner::Us, 10).is_ok());
        // Only root can give a file away; elsewhere the check is shown by its logic alone.
        if our_uid() == 0 {
            std::os::unix::fs::chown(&f, Some(12345), None).unwrap();
            let meta = std::fs::metadata(&f).unwrap();
            assert!(matches!(
                check(&meta, Owner::Us, 10),
                Err(Refusal::NotOurs(12345))
            ));
            assert!(check(&meta, Owner::Anyone, 10).is_ok());
        }
    }
}
