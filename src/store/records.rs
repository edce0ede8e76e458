//! Rows of every register kind (`model::record`): written, read, merged, checked and erased
//! by one piece of code for all of them. A register row also travels as an op whose value is
//! the row as JSON (`household/ID`, `consent/ID`, ...), so the newest version wins in every
//! vault.

use rusqlite::OptionalExtension;
use rusqlite::types::Value;

use super::Store;
use crate::error::{Error, Result};
use crate::merge::Op;
use crate::model::record::{self, Cell, Erase, Kind, Record, Travel, Visitor};
use crate::model::{Action, Handover};

/// Tables that are not record kinds, with their key column. Full-text tables are not here:
/// triggers rebuild them when rows are replayed.
pub const INFRA_TABLES: &[(&str, &str)] = &[
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
    ("erased", "client_id"),
    ("seal", "id"),
    ("withdrawn", "id"),
    ("share_file", "hash"),
];

/// Tables that are not journaled because triggers keep them from journaled rows, so
/// replaying or merging those rows rebuilds them; with the reason. Full-text tables are
/// derived too, but are recognised by name.
pub const DERIVED_TABLES: &[(&str, &str)] = &[(
    "note_tally",
    "each dossier's note count and last contact, kept by triggers on `note` (migration 0015)",
)];

/// What erasure deletes besides the record kinds: a dossier's place in sync and the note
/// being written about it.
pub(super) const ERASED_WITH_DOSSIER: &[&str] = &[
    "DELETE FROM note_pending WHERE client_id = ?1",
    "DELETE FROM draft WHERE client_id = ?1",
    // Its trigger already took the row with the dossier's last note; a tally that did not
    // match its notes must not outlive them either.
    "DELETE FROM note_tally WHERE client_id = ?1",
    // The erasure itself stays: it must keep winning over older copies. So do the ops that
    // let a colleague check it for themselves (who created and was assigned to the dossier,
    // that it was closed, until when it was kept: dates and worker ids, no personal data),
    // since they travel with it (`Store::erasure_verdict`). `Store::scrub_erased` names the
    // same fields.
    "DELETE FROM op WHERE client_id = ?1
     AND field NOT IN ('erased', 'created_at', 'status', 'closed_on', 'retention_until')
     AND field NOT LIKE 'assign/%'",
];

/// Tables with a `client_id` that erasure keeps on purpose, and why.
pub const KEPT_AFTER_ERASURE: &[(&str, &str)] = &[
    ("erased", "the tombstone: id, day and who, no personal data"),
    (
        "op",
        "the tombstone's op and the ops that let colleagues check it (creation time, \
         assignments, status, closed_on, retention_until): dates and worker ids only",
    ),
    (
        "assignment",
        "worker ids only: the tombstone also goes to everyone who was assigned",
    ),
    (
        "seal",
        "the seals that cover the tombstone (hashes and a signature, no personal data): it \
         travels on to everyone who was assigned; the other seals go (`Store::scrub`)",
    ),
];

/// The primary key column of a table whose rows the journal carries; None for any other.
pub fn key_column(table: &str) -> Option<&'static str> {
    journaled_tables()
        .find(|(t, _)| *t == table)
        .map(|(_, k)| k)
}

/// Every table whose rows travel in journal records, with its key column: the tables of the
/// record kinds (keyed by `id`) and [`INFRA_TABLES`].
pub fn journaled_tables() -> impl Iterator<Item = (&'static str, &'static str)> {
    Kind::ALL
        .iter()
        .flat_map(|k| {
            let s = k.spec();
            std::iter::once(s.table).chain(s.more_tables.iter().copied())
        })
        .map(|t| (t, "id"))
        .chain(INFRA_TABLES.iter().copied())
}

fn cells_of(r: &rusqlite::Row<'_>, n: usize) -> rusqlite::Result<Vec<Cell>> {
    (0..n)
        .map(|i| r.get::<_, Value>(i).map(Cell::from))
        .collect()
}

/// A row that is not what kluis writes (the schema's CHECKs make this a damaged image).
fn unexpected(table: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("unexpected row in {table}").into(),
    )
}

fn from_row<R: Record>(r: &rusqlite::Row<'_>) -> rusqlite::Result<R> {
    let cells = cells_of(r, R::columns().len())?;
    R::from_cells(&cells).ok_or_else(|| unexpected(R::KIND.spec().table))
}

impl Store {
    /// Writes a row of a register kind as it is (made here, or the winning version from a
    /// colleague). A kind whose rows never change keeps the first one.
    pub(in crate::engine) fn upsert<R: Record>(&self, r: &R) -> Result<()> {
        let spec = R::KIND.spec();
        let columns = R::columns();
        let params = (1..=columns.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let on_conflict = if spec.travel == Travel::Once {
            "DO NOTHING".to_owned()
        } else {
            let sets = columns[1..]
                .iter()
                .map(|c| format!("\"{c}\" = excluded.\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ");
            format!("DO UPDATE SET {sets}")
        };
        // Table and column names come from the registry, never from data.
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({params}) ON CONFLICT (id) {on_conflict}",
            spec.table,
            columns.join(", "),
        );
        let values = r.cells().iter().map(Value::from).collect::<Vec<_>>();
        self.conn
            .prepare_cached(&sql)?
            .execute(rusqlite::params_from_iter(values))?;
        self.record(spec.table, r.id())?;
        Ok(())
    }

    /// Stores a row made here and writes its op.
    pub(in crate::engine) fn write<R: Record>(&self, r: &R) -> Result<()> {
        self.upsert(r)?;
        let code = R::KIND.spec().code;
        let value = serde_json::to_string(r).map_err(|e| Error::invalid(code, e.to_string()))?;
        self.emit(r.client(), &format!("{code}/{}", r.id()), Some(&value))?;
        Ok(())
    }

    /// Stores a row made here, writes its op and logs it.
    pub(in crate::engine) fn put<R: Record>(&self, r: &R, action: Action) -> Result<()> {
        self.write(r)?;
        let code = R::KIND.spec().code;
        self.log(action, Some(r.client()), &format!("{code} {}", r.id()))?;
        Ok(())
    }

    /// Adds a record of a kind without an add method of its own (a kind the registry gained,
    /// entered by the generic form): its id, author and time are set here; every field is
    /// checked as a colleague's copy would be, and a reference must point into the same
    /// dossier. Returns the id.
    pub fn add_record<R: Record>(&self, r: &R) -> Result<String> {
        let kind = R::KIND;
        if !kind.typed_whole() {
            // The same refusal the command line's `record add` gives.
            let why = if kind == Kind::MeldcodeStep {
                "val.own_workflow"
            } else {
                "val.not_entered"
            };
            return Err(Error::invalid(
                crate::error::Field::Input(kind.spec().code),
                crate::i18n::t!(why),
            ));
        }
        let client = r.client().to_owned();
        self.client(&client)?;
        self.require_assigned(&client)?;
        let mut cells = r.cells();
        cells[0] = Cell::T(super::new_id());
        for (f, c) in R::FIELDS.iter().zip(cells.iter_mut().skip(2)) {
            match f.input {
                record::Input::Author => *c = Cell::T(self.user()?),
                record::Input::Created => *c = Cell::T(self.now()),
                _ => {}
            }
        }
        let row = self.checked::<R>(&cells)?;
        self.put(&row, Action::Create)?;
        Ok(row.id().to_owned())
    }

    /// Changes a record a person made: the fields a person types come from `r`, the rest
    /// (who made it and when, a file's size and hash) and its references stay as stored.
    /// Returns false when nothing changed.
    pub fn edit_record<R: Record>(&self, r: &R) -> Result<bool> {
        let kind = R::KIND.spec();
        let not_found = || Error::NotFound {
            what: crate::i18n::t!(format!("kind.{}", kind.code)).into_owned(),
            id: r.id().to_owned(),
        };
        let old: R = self.row(r.id())?.ok_or_else(not_found)?;
        if old.client() != r.client() || kind.travel != Travel::Register {
            return Err(not_found());
        }
        self.require_assigned(old.client())?;
        let mut cells = old.cells();
        for (i, f) in R::FIELDS.iter().enumerate() {
            if f.input.is_entered() && !matches!(f.input, record::Input::Ref(_)) {
                cells[i + 2] = r.cells()[i + 2].clone();
            }
        }
        if cells == old.cells() {
            return Ok(false);
        }
        let row = self.checked::<R>(&cells)?;
        self.put(&row, Action::Change)?;
        Ok(true)
    }

    /// A row from cells, if it is one kluis would write and its references are in its own
    /// dossier.
    fn checked<R: Record>(&self, cells: &[Cell]) -> Result<R> {
        let invalid = || {
            Error::invalid(
                R::KIND.spec().code,
                crate::i18n::t!("val.record_invalid").into_owned(),
            )
        };
        let row = R::from_cells(cells).ok_or_else(invalid)?;
        if !record::check(&row) {
            return Err(invalid());
        }
        for (f, c) in R::FIELDS.iter().zip(&cells[2..]) {
            if let (record::Input::Ref(kind), Some(id)) = (f.input, c.text()) {
                let owner = match kind {
                    Kind::Note => Some(self.note_client(id)?),
                    k => match self.client_of(k, id) {
                        Ok(c) => Some(c),
                        Err(Error::NotFound { .. }) => None,
                        Err(e) => return Err(e),
                    },
                };
                if owner.as_deref() != Some(row.client()) {
                    return Err(invalid());
                }
            }
        }
        Ok(row)
    }

    /// A dossier's rows of one kind, in `order` (an ORDER BY over its columns).
    pub(in crate::engine) fn rows<R: Record>(&self, client: &str, order: &str) -> Result<Vec<R>> {
        self.client(client)?;
        let sql = format!(
            "SELECT {} FROM {} WHERE client_id = ?1 ORDER BY {order}",
            R::columns().join(", "),
            R::KIND.spec().table
        );
        let rows = self
            .conn
            .prepare_cached(&sql)?
            .query_map([client], from_row::<R>)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// One row by id.
    pub(in crate::engine) fn row<R: Record>(&self, id: &str) -> Result<Option<R>> {
        let sql = format!(
            "SELECT {} FROM {} WHERE id = ?1",
            R::columns().join(", "),
            R::KIND.spec().table
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([id], from_row::<R>)
            .optional()?)
    }

    /// The dossier a record of `kind` belongs to.
    pub(in crate::engine) fn client_of(&self, kind: Kind, id: &str) -> Result<String> {
        let sql = match kind.spec().erase {
            Erase::Dossier => return Ok(id.to_owned()),
            _ => format!("SELECT client_id FROM {} WHERE id = ?1", kind.spec().table),
        };
        self.conn
            .prepare_cached(&sql)?
            .query_row([id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| Error::NotFound {
                what: kind.label(),
                id: id.to_owned(),
            })
    }

    /// Rows of `sql` (which selects `R`'s columns first, prefixed or not) with one more text
    /// column after them.
    pub(in crate::engine) fn rows_with<R: Record, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
    ) -> Result<Vec<(R, String)>> {
        let n = R::columns().len();
        let rows = self
            .conn
            .prepare_cached(sql)?
            .query_map(params, |r| {
                let cells = cells_of(r, n)?;
                let r2 = R::from_cells(&cells).ok_or_else(|| unexpected(R::KIND.spec().table))?;
                Ok((r2, r.get(n)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Brings a register row in line with its winning op from a colleague (checked by
    /// [`check_register`] before the merge; a value that does not parse is left alone).
    pub(super) fn materialize_register(
        &self,
        kind: Kind,
        id: &str,
        client: &str,
        value: &str,
    ) -> Result<()> {
        struct Apply<'a> {
            store: &'a Store,
            id: &'a str,
            client: &'a str,
            value: &'a str,
        }
        impl Visitor for Apply<'_> {
            type Out = Result<()>;
            fn visit<R: Record>(self) -> Result<()> {
                match serde_json::from_str::<R>(self.value) {
                    Ok(r) if r.id() == self.id && r.client() == self.client => {
                        self.store.upsert(&r)
                    }
                    _ => Ok(()),
                }
            }
        }
        kind.visit(Apply {
            store: self,
            id,
            client,
            value,
        })
        .unwrap_or(Ok(()))?;
        // A handover may need this vault to act once the merge is in place.
        if kind == Kind::Handover
            && let Ok(h) = serde_json::from_str::<Handover>(value)
        {
            self.handovers_in.borrow_mut().push(h);
        }
        Ok(())
    }

    /// Deletes an erased client's rows of every kind (see `scrub`); returns how many went.
    pub(super) fn scrub_kinds(&self, client: &str) -> Result<usize> {
        let mut n = 0;
        // The dossier's own row last: notes refer to it.
        for kind in Kind::ALL.iter().rev() {
            let s = kind.spec();
            let tables = std::iter::once(s.table).chain(s.more_tables.iter().copied());
            for table in tables {
                let sql = match s.erase {
                    Erase::Delete => format!("DELETE FROM {table} WHERE client_id = ?1"),
                    Erase::Dossier => format!("DELETE FROM {table} WHERE id = ?1"),
                    Erase::EmptyDetail => format!(
                        "UPDATE {table} SET detail = NULL WHERE client_id = ?1 AND detail IS NOT NULL"
                    ),
                };
                n += self.conn.prepare_cached(&sql)?.execute([client])?;
            }
        }
        for sql in ERASED_WITH_DOSSIER {
            n += self.conn.prepare_cached(sql)?.execute([client])?;
        }
        Ok(n)
    }
}

/// Whether an op's value is a row of a register kind that kluis would have written for this
/// op's dossier (the bundle check, before anything is merged). A row that never changes
/// (a disclosure) is also its author's: whoever sends it wrote it.
pub(in crate::engine) fn check_register(kind: Kind, id: &str, op: &Op, value: &str) -> bool {
    struct Check<'a> {
        id: &'a str,
        op: &'a Op,
        value: &'a str,
    }
    impl Visitor for Check<'_> {
        type Out = bool;
        fn visit<R: Record>(self) -> bool {
            serde_json::from_str::<R>(self.value).is_ok_and(|r| {
                r.id() == self.id
                    && r.client() == self.op.client
                    && record::check(&r)
                    && (R::KIND.spec().travel != Travel::Once || author_of(&r) == self.op.author)
            })
        }
    }
    kind.visit(Check { id, op, value }).unwrap_or(false)
}

/// The value of a record's author column.
fn author_of<R: Record>(r: &R) -> String {
    let cells = r.cells();
    R::FIELDS
        .iter()
        .position(|f| f.input == record::Input::Author)
        .and_then(|i| cells.get(i + 2))
        .and_then(|c| c.text().map(str::to_owned))
        .unwrap_or_default()
}
