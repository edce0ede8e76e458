//! Row-level change records: what one transaction changed, as full rows, so the journal can
//! replay it. A record is an upsert of a whole row into a known table; replay runs the same
//! triggers (full-text index) as the original change.

use rusqlite::types::Value;
use serde::{Deserialize, Serialize};

pub use crate::model::record::Cell;

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
    /// Table name; one of [`journaled_tables`].
    pub table: String,
    /// Column names, in the order of `values`.
    pub columns: Vec<String>,
    /// The row's values.
    pub values: Vec<Cell>,
}

pub use super::records::{journaled_tables, key_column};
