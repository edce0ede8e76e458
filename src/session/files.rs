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
        use crate::fsx::{self, Follow, Owner, Refusal};
        let refused = |r: Refusal| match r {
            Refusal::TooLarge(_) => Error::invalid(
                "path",
                t!(
                    "depth.attachment_too_big",
                    max = model::MAX_ATTACHMENT_BYTES / 1024 / 1024
                ),
            ),
            Refusal::NotRegular(_) => Error::invalid("path", t!("depth.attachment_not_file")),
            other => other.into_invalid("path", file),
        };
        // As the command line's `attach add`: a named pipe never blocks the app, a device or
        // a folder is refused, and what is read is at most the cap, from the file checked.
        let (input, meta) = fsx::open(
            file,
            Follow::Yes,
            Owner::Anyone,
            model::MAX_ATTACHMENT_BYTES,
        )
        .map_err(refused)?;
        let filename = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        let filename = model::parse_name("path", &filename)?;
        let title = match title {
            Some(t) => model::parse_name("title", t)?,
            None => filename.clone(),
        };
        let data = zeroize::Zeroizing::new(
            fsx::read_all(input, &meta, model::MAX_ATTACHMENT_BYTES).map_err(refused)?,
        );
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
