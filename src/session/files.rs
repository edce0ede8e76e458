//! Files in and out of a dossier for the terminal app, which never opens files itself: a
//! file kept in the dossier is read here, and one written out is written here (never over
//! an existing file), logged like the command line's `attach add` and `attach export`.

use std::path::Path;

use super::Session;
use crate::error::{Error, Result};
use crate::i18n::t;
use crate::model;

impl Session {
    /// Keeps the file at `file` in a dossier, titled `title` (else its name); returns the
    /// record's id. At most [`model::MAX_ATTACHMENT_BYTES`].
    pub fn attach_file(
        &mut self,
        client: &str,
        title: Option<&str>,
        file: &Path,
    ) -> Result<String> {
        let io = |e| Error::io(t!("io.read", path = file.display()).into_owned(), e);
        let meta = std::fs::metadata(file).map_err(io)?;
        if !meta.is_file() {
            return Err(Error::invalid("FILE", t!("depth.attachment_not_file")));
        }
        if meta.len() > model::MAX_ATTACHMENT_BYTES {
            return Err(Error::invalid(
                "FILE",
                t!(
                    "depth.attachment_too_big",
                    max = model::MAX_ATTACHMENT_BYTES / 1024 / 1024
                ),
            ));
        }
        let filename = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        let filename = model::parse_name("FILE", &filename)?;
        let title = match title {
            Some(t) => model::parse_name("title", t)?,
            None => filename.clone(),
        };
        let data = zeroize::Zeroizing::new(std::fs::read(file).map_err(io)?);
        self.change(|s| s.add_attachment(client, &title, &filename, &data))
    }

    /// Writes a dossier's file to `out`, in plain or encrypted to `recipient`; never over
    /// an existing file. Logged with how.
    pub fn export_attachment(
        &mut self,
        id: &str,
        out: &Path,
        recipient: Option<&age::x25519::Recipient>,
    ) -> Result<()> {
        if out.symlink_metadata().is_ok() {
            return Err(Error::FileExists {
                path: out.to_owned(),
            });
        }
        let how = if recipient.is_some() {
            "encrypted"
        } else {
            "plain"
        };
        let (_, data) = self.attachment_out(id, how)?;
        let bytes = match recipient {
            Some(r) => {
                zeroize::Zeroizing::new(crate::vault::seal_to(std::slice::from_ref(r), &data)?)
            }
            None => data,
        };
        crate::org::write_new(out, &bytes)
    }
}
