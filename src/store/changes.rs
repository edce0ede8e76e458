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
    /// Column names, in the order of `values`; shared by the rows of a table (one list per
    /// table in a transaction's record, one per run of equal lists when replayed).
    pub columns: std::sync::Arc<[String]>,
    /// The row's values.
    pub values: Vec<Cell>,
}

pub use super::records::{journaled_tables, key_column};

/// The first bytes of a binary change record (a JSON one, from before, starts with `[`).
const BINARY_MAGIC: &[u8; 3] = b"KR\x01";

/// Encodes a transaction's changes as one journal record (docs/journal-format.md, "Record
/// contents"): compact, and read back without a JSON parser. Returned in a buffer of exactly
/// its size, wiped when dropped: no reallocation leaves a copy of the plaintext behind.
pub fn encode(changes: &[RowChange]) -> zeroize::Zeroizing<Vec<u8>> {
    let size = 3 + 4 + changes.iter().map(encoded_len).sum::<usize>();
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(size));
    write(changes, &mut out);
    debug_assert_eq!(out.len(), size);
    out
}

/// The bytes one change takes in a record made by [`encode`].
pub fn encoded_len(c: &RowChange) -> usize {
    1 + c.table.len().min(255)
        + 2
        + c.columns
            .iter()
            .map(|n| 1 + n.len().min(255))
            .sum::<usize>()
        + c.values
            .iter()
            .map(|v| match v {
                Cell::N => 1,
                Cell::I(_) | Cell::R(_) => 9,
                Cell::T(t) => 5 + t.len(),
                Cell::B(b) => 5 + b.len(),
            })
            .sum::<usize>()
}

fn write(changes: &[RowChange], out: &mut Vec<u8>) {
    fn name(out: &mut Vec<u8>, s: &str) {
        // Table and column names come from the schema: short ASCII.
        out.push(s.len().min(255) as u8);
        out.extend_from_slice(&s.as_bytes()[..s.len().min(255)]);
    }
    fn bytes(out: &mut Vec<u8>, tag: u8, b: &[u8]) {
        out.push(tag);
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(b);
    }
    out.extend_from_slice(BINARY_MAGIC);
    out.extend_from_slice(&(changes.len() as u32).to_le_bytes());
    for c in changes {
        name(out, &c.table);
        out.extend_from_slice(&(c.columns.len() as u16).to_le_bytes());
        for col in c.columns.iter() {
            name(out, col);
        }
        for v in &c.values {
            match v {
                Cell::N => out.push(0),
                Cell::I(i) => {
                    out.push(1);
                    out.extend_from_slice(&i.to_le_bytes());
                }
                Cell::R(r) => {
                    out.push(2);
                    out.extend_from_slice(&r.to_le_bytes());
                }
                Cell::T(t) => bytes(out, 3, t.as_bytes()),
                Cell::B(b) => bytes(out, 4, b),
            }
        }
    }
}

/// Decodes a journal record: the binary form of [`encode`], or the JSON of kluis before it
/// (a journal written by an older kluis still replays). None when it is neither.
pub fn decode(record: &[u8]) -> Option<Vec<RowChange>> {
    if record.first() == Some(&b'[') {
        return serde_json::from_slice(record).ok();
    }
    let mut r = Reader {
        data: record.strip_prefix(BINARY_MAGIC)?,
    };
    let n = r.u32()? as usize;
    // Each change takes at least 3 bytes: a forged count cannot make a huge allocation.
    let mut changes: Vec<RowChange> = Vec::with_capacity(n.min(r.data.len() / 3));
    // The column lists met so far (a record meets a few tables; a forged one with many
    // lists only stops sharing past 64). A row's names are read as slices of the record and
    // compared with them: the same table's rows share one list, allocated once.
    let mut shared: Vec<(String, std::sync::Arc<[String]>)> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for _ in 0..n {
        let table = r.name()?;
        names.clear();
        for _ in 0..r.u16()? {
            names.push(r.name_str()?);
        }
        let known = shared
            .iter()
            .find(|(t, c)| *t == table && c.iter().map(String::as_str).eq(names.iter().copied()));
        let columns = match known {
            Some((_, c)) => c.clone(),
            None => {
                let c: std::sync::Arc<[String]> = names.iter().map(|s| (*s).to_owned()).collect();
                if shared.len() < 64 {
                    shared.push((table.clone(), c.clone()));
                }
                c
            }
        };
        let values = (0..columns.len())
            .map(|_| r.cell())
            .collect::<Option<Vec<_>>>()?;
        changes.push(RowChange {
            table,
            columns,
            values,
        });
    }
    r.data.is_empty().then_some(changes)
}

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.data.len() < n {
            return None;
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Some(head)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn eight(&mut self) -> Option<[u8; 8]> {
        self.take(8)?.try_into().ok()
    }
    fn name(&mut self) -> Option<String> {
        self.name_str().map(str::to_owned)
    }
    fn name_str(&mut self) -> Option<&'a str> {
        let n = usize::from(*self.take(1)?.first()?);
        std::str::from_utf8(self.take(n)?).ok()
    }
    fn cell(&mut self) -> Option<Cell> {
        Some(match self.take(1)?.first()? {
            0 => Cell::N,
            1 => Cell::I(i64::from_le_bytes(self.eight()?)),
            2 => Cell::R(f64::from_le_bytes(self.eight()?)),
            3 => {
                let n = self.u32()? as usize;
                Cell::T(String::from_utf8(self.take(n)?.to_vec()).ok()?)
            }
            4 => {
                let n = self.u32()? as usize;
                Cell::B(self.take(n)?.to_vec())
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cell() -> impl Strategy<Value = Cell> {
        prop_oneof![
            Just(Cell::N),
            any::<i64>().prop_map(Cell::I),
            any::<f64>()
                .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
                .prop_map(Cell::R),
            ".{0,40}".prop_map(Cell::T),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Cell::B),
        ]
    }

    proptest! {
        /// What is encoded decodes to the same changes, and the JSON of older journals still
        /// reads; a cut record never decodes.
        #[test]
        fn records_round_trip_and_old_json_still_reads(
            rows in proptest::collection::vec(("[a-z_]{1,12}", proptest::collection::vec(("[a-z_]{1,12}", cell()), 0..6)), 0..6)
        ) {
            let changes: Vec<RowChange> = rows
                .into_iter()
                .map(|(table, cols)| RowChange {
                    table,
                    columns: cols.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>().into(),
                    values: cols.into_iter().map(|(_, v)| v).collect(),
                })
                .collect();
            let bin = encode(&changes);
            prop_assert_eq!(decode(&bin), Some(changes.clone()));
            if bin.len() > 3 {
                prop_assert_eq!(decode(&bin[..bin.len() - 1]), None);
            }
            // An older journal's JSON reads as it always did (serde_json's floats are its own).
            let json = serde_json::to_vec(&changes).unwrap();
            let old: Vec<RowChange> = serde_json::from_slice(&json).unwrap();
            prop_assert_eq!(decode(&json), Some(old));
        }
    }
}
