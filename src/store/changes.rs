//! Row-level change records: what one transaction changed, as full rows, so the journal can
//! replay it. A record is an upsert of a whole row into a known table; replay runs the same
//! triggers (full-text index) as the original change.

use rusqlite::types::Value;
use serde::{Deserialize, Serialize};

/// One cell, with its SQLite storage class kept (the tables are STRICT).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Cell {
    /// NULL
    N,
    /// INTEGER
    I(i64),
    /// REAL
    R(f64),
    /// TEXT
    T(String),
    /// BLOB
    B(Vec<u8>),
}

impl From<Value> for Cell {
    fn from(v: Value) -> Cell {
        match v {
            Value::Null => Cell::N,
            Value::Integer(i) => Cell::I(i),
            Value::Real(r) => Cell::R(r),
            Value::Text(t) => Cell::T(t),
            Value::Blob(b) => Cell::B(b),
        }
    }
}

impl From<&Cell> for Value {
    fn from(c: &Cell) -> Value {
        match c {
            Cell::N => Value::Null,
            Cell::I(i) => Value::Integer(*i),
            Cell::R(r) => Value::Real(*r),
            Cell::T(t) => Value::Text(t.clone()),
            Cell::B(b) => Value::Blob(b.clone()),
        }
    }
}

/// The new state of one row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RowChange {
    /// Table name; one of [`JOURNALED_TABLES`].
    pub table: String,
    /// Column names, in the order of `values`.
    pub columns: Vec<String>,
    /// The row's values.
    pub values: Vec<Cell>,
}

/// Tables whose rows travel in change records, with their primary key column. Full-text
/// tables are not here: triggers rebuild them on replay.
pub const JOURNALED_TABLES: &[(&str, &str)] = &[
    ("client", "id"),
    ("note", "id"),
    ("recovery_recipient", "recipient"),
    ("meta", "key"),
    ("event", "id"),
    ("roster", "version"),
    ("draft", "id"),
    ("op", "id"),
    ("assignment", "id"),
    ("sent", "id"),
    ("bundle_seen", "hash"),
    ("note_pending", "id"),
    ("consent", "id"),
    ("disclosure", "id"),
    ("access_log", "id"),
    ("erased", "client_id"),
    ("household", "id"),
    ("contact", "id"),
    ("goal", "id"),
    ("plan_action", "id"),
    ("assessment", "id"),
    ("visit", "id"),
    ("handover", "id"),
    ("attachment", "id"),
    ("attachment_blob", "id"),
    ("evaluation", "id"),
];

/// The primary key column of a journaled table.
pub fn key_column(table: &str) -> Option<&'static str> {
    JOURNALED_TABLES
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, k)| *k)
}
