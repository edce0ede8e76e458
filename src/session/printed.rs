//! The printable documents written by the terminal app (the command line writes them itself,
//! src/cli/practice.rs): the session reads what a document says and writes the file, so the
//! app never opens files itself. A document is always a new file: one that exists (or a
//! link in its place) is refused, never replaced.

use std::path::Path;

use chrono::NaiveDate;

use super::Session;
use crate::error::Result;
use crate::i18n::Lang;
use crate::model::Scope;

/// What a consent form asks for (as `kluis consent form`).
#[derive(Clone, Debug)]
pub struct ConsentFormRequest {
    /// The organisation the information would go to.
    pub org: String,
    /// What it would be used for.
    pub purpose: String,
    /// What it would cover.
    pub scope: Scope,
    /// It would cover special-category data too.
    pub special: bool,
    /// The last day it would be valid.
    pub until: Option<NaiveDate>,
}

impl Session {
    /// Writes a consent form for `client` to `path` (a new file), in `lang`; the client's
    /// name is read for it, and that is logged.
    pub fn write_consent_form(
        &mut self,
        client: &str,
        req: &ConsentFormRequest,
        privacy_officer: Option<String>,
        today: NaiveDate,
        lang: Lang,
        path: &Path,
    ) -> Result<()> {
        let facts = self.consent_form(
            client,
            &req.org,
            &req.purpose,
            req.scope,
            req.special,
            req.until,
            privacy_officer,
            today,
        )?;
        let html = zeroize::Zeroizing::new(crate::documents::consent_form(&facts, lang));
        crate::org::write_new(path, html.as_bytes())
    }

    /// Writes the leaflet for residents to `path` (a new file), in `lang`, from this vault's
    /// settings (nothing about a client: nothing to log).
    pub fn write_leaflet(
        &self,
        privacy_officer: Option<String>,
        today: NaiveDate,
        lang: Lang,
        path: &Path,
    ) -> Result<()> {
        let facts = self.leaflet_facts(privacy_officer)?;
        crate::org::write_new(
            path,
            crate::documents::leaflet(&facts, lang, today).as_bytes(),
        )
    }
}
