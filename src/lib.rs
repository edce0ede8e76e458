//! kluis: encrypted, offline client dossiers for caseworkers in the Dutch sociaal domein.
//!
//! Layering (each module only uses the ones before it):
//! `model` (types, validation, no IO) ← `store` (SQLite, no crypto) ← `vault` (age file,
//! KDF, atomic save) ← `session` (unlocked state, lock) ← `cli`.

rust_i18n::i18n!("src/locales", fallback = "en");

pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod fsx;
pub mod harden;
pub mod i18n;
pub mod journal;
pub mod merge;
pub mod model;
pub mod org;
pub mod report;
pub mod secret;
pub mod session;
pub mod store;
pub mod strength;
pub mod sync;
pub mod tui;
pub mod vault;

pub use error::{Error, Result};
