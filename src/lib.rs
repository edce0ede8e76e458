//! kluis: encrypted, offline client dossiers for caseworkers in the Dutch sociaal domein.
//!
//! Layering (each module only uses the ones before it; see docs/architecture.md):
//! `model` (types, validation, no IO) ← `store` (SQLite, no crypto) ← `vault` (age file,
//! KDF, atomic save) ← `session` (unlocked state, lock, and the one door to dossier data) ←
//! `cli` / `tui`. `sync` and `org` sit beside `session`.
//!
//! Everything that touches dossier rows lives in the private module `engine`. The store's
//! reads are visible only inside it (`pub(in crate::engine)`), so the command line and the
//! terminal app, which live outside, can read a dossier only through the session's
//! purpose-named methods, which write the access log:
//!
//! ```no_run
//! fn read(s: &mut kluis::session::Session, id: &str) -> kluis::Result<()> {
//!     let _notes = s.notes(id, false)?; // logged, special notes masked
//!     Ok(())
//! }
//! ```
//!
//! and the compiler keeps it the only way:
//!
//! ```compile_fail
//! // The raw store is not reachable from outside the engine.
//! fn peek(s: &kluis::session::Session) {
//!     let _ = s.store();
//! }
//! ```
//!
//! ```compile_fail
//! // Nor are its reads, even with a store in hand.
//! fn peek(s: &kluis::store::Store, id: &str) {
//!     let _ = s.notes(id);
//! }
//! ```

rust_i18n::i18n!("src/locales", fallback = "en");

/// The engine: the modules that may read and write dossier rows without going through the
/// session's door, because they are the door (session) or what stands behind and beside it.
/// Its files are where they always were (`#[path]`): the module only draws the line.
#[path = "."]
mod engine {
    pub mod demo;
    #[cfg(feature = "internals")]
    pub mod internals;
    pub mod journal;
    pub mod org;
    pub mod session;
    pub mod store;
    pub mod sync;
    pub mod vault;
}

pub mod cli;
pub mod config;
pub mod documents;
pub mod error;
pub mod fsx;
pub mod harden;
pub mod i18n;
pub mod merge;
pub mod model;
pub mod report;
pub mod secret;
pub mod strength;
pub mod tui;

#[cfg(feature = "internals")]
pub use engine::internals;
pub use engine::{demo, journal, org, session, store, sync, vault};
pub use error::{Error, Result};
