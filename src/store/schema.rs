//! Open only what kluis wrote: an image's schema (`sqlite_schema`) is compared with the
//! schema its version must have, built by running the migrations on a fresh in-memory
//! database. A table, trigger, view or index kluis did not make would run or be read as if
//! it were kluis's own (a trigger that copies notes elsewhere, an index that hides rows), so
//! any difference refuses the image.
//!
//! The comparison is structural: the set of (type, name, table) of every object; for a table
//! its columns as a set (name, type, not null, primary key, default), so a column added by
//! `ALTER TABLE ... ADD COLUMN` in a later migration matches wherever it sits; for a virtual
//! table, a trigger, a view or an index its SQL with whitespace runs made one space.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use rusqlite::Connection;

use super::MIGRATIONS;

/// A column as `pragma table_xinfo` describes it: name, declared type, not null, primary key
/// position, default, hidden.
type Column = (String, String, bool, i64, Option<String>, i64);

/// What an object must look like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    Columns(BTreeSet<Column>),
    Sql(String),
}

/// (type, name) → (table it belongs to, shape).
pub(super) type Schema = BTreeMap<(String, String), (String, Shape)>;

/// Tables SQLite makes by itself when asked to (AUTOINCREMENT, ANALYZE, `PRAGMA optimize`):
/// they hold statistics and counters, never code, and a fresh database may not have them yet.
const SQLITE_INTERNAL: &[&str] = &[
    "sqlite_sequence",
    "sqlite_stat1",
    "sqlite_stat2",
    "sqlite_stat3",
    "sqlite_stat4",
];

fn normalize(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads the schema of the `main` database of `conn`.
pub(super) fn read(conn: &Connection) -> rusqlite::Result<Schema> {
    let mut objects = Schema::new();
    let rows: Vec<(String, String, String, Option<String>)> = conn
        .prepare("SELECT type, name, tbl_name, sql FROM main.sqlite_schema")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (kind, name, table, sql) in rows {
        if kind == "table" && SQLITE_INTERNAL.contains(&name.as_str()) {
            continue;
        }
        let sql = sql.as_deref().map(normalize).unwrap_or_default();
        let is_virtual = sql
            .get(..20)
            .is_some_and(|s| s.eq_ignore_ascii_case("CREATE VIRTUAL TABLE"));
        let shape = if kind == "table" && !is_virtual {
            let columns = conn
                .prepare(
                    "SELECT name, type, \"notnull\", pk, dflt_value, hidden
                     FROM pragma_table_xinfo(?1, 'main')",
                )?
                .query_map([&name], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get::<_, i64>(2)? != 0,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<BTreeSet<Column>>>()?;
            Shape::Columns(columns)
        } else {
            Shape::Sql(sql)
        };
        objects.insert((kind, name), (table, shape));
    }
    Ok(objects)
}

/// The schema a database of `version` must have: the first `version` migrations run on a
/// fresh in-memory database (made once per version and process).
pub(super) fn expected(version: i32) -> rusqlite::Result<Arc<Schema>> {
    static CACHE: OnceLock<Mutex<HashMap<i32, Arc<Schema>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(s) = cache.lock().ok().and_then(|c| c.get(&version).cloned()) {
        return Ok(s);
    }
    let conn = Connection::open_in_memory()?;
    for (_, sql) in MIGRATIONS.iter().take(version.max(0) as usize) {
        conn.execute_batch(sql)?;
    }
    let schema = Arc::new(read(&conn)?);
    if let Ok(mut c) = cache.lock() {
        c.insert(version, schema.clone());
    }
    Ok(schema)
}

/// Every difference between `found` and `expected`, each naming the object, in the user's
/// language; empty when they match.
pub(super) fn differences(found: &Schema, expected: &Schema) -> Vec<String> {
    use crate::i18n::t;
    let mut out = Vec::new();
    for ((kind, name), (table, shape)) in found {
        match expected.get(&(kind.clone(), name.clone())) {
            None => out.push(t!("schema.unknown", kind = kind, name = name).into_owned()),
            Some((t2, s2)) if t2 != table || s2 != shape => {
                out.push(t!("schema.changed", kind = kind, name = name).into_owned())
            }
            Some(_) => {}
        }
    }
    for (kind, name) in expected.keys() {
        if !found.contains_key(&(kind.clone(), name.clone())) {
            out.push(t!("schema.missing", kind = kind, name = name).into_owned());
        }
    }
    out
}

/// For an image older than this build, before its migrations run: nothing in it that neither
/// its own version nor this build has, and nothing changed (a table's columns no more than
/// either has, any other object's SQL as one of them wrote it). What it lacks is allowed here,
/// since migration 7 repairs what edited migrations left out; the whole comparison with
/// [`expected`] of the current version follows the migration.
pub(super) fn foreign_objects(found: &Schema, then: &Schema, now: &Schema) -> Vec<String> {
    use crate::i18n::t;
    let mut out = Vec::new();
    for (key @ (kind, name), (table, shape)) in found {
        let known: Vec<&(String, Shape)> = [then.get(key), now.get(key)]
            .into_iter()
            .flatten()
            .collect();
        if known.is_empty() {
            out.push(t!("schema.unknown", kind = kind, name = name).into_owned());
            continue;
        }
        let fits = known.iter().any(|(t2, s2)| {
            t2 == table
                && match (shape, s2) {
                    (Shape::Columns(have), Shape::Columns(want)) => have.is_subset(want),
                    (a, b) => a == b,
                }
        });
        if !fits {
            out.push(t!("schema.changed", kind = kind, name = name).into_owned());
        }
    }
    out
}

/// Every (table, column) whose values include text that is not valid UTF-8, with a count;
/// kluis binds only Rust strings, so such text was written by something else.
pub(super) fn bad_text(conn: &Connection) -> rusqlite::Result<Vec<(String, String, u64)>> {
    let tables: Vec<(String, Option<String>)> = conn
        .prepare("SELECT name, sql FROM main.sqlite_schema WHERE type = 'table'")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for (table, sql) in tables {
        if sql.is_some_and(|s| {
            normalize(&s)
                .to_ascii_uppercase()
                .starts_with("CREATE VIRTUAL")
        }) {
            continue;
        }
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info(?1, 'main')")?
            .query_map([&table], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for column in columns {
            // Names come from the schema itself; quotes inside them are doubled.
            let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
            let sql = format!(
                "SELECT {c} FROM main.{t} WHERE typeof({c}) = 'text'",
                c = q(&column),
                t = q(&table)
            );
            let mut stmt = conn.prepare(&sql)?;
            let mut rows = stmt.query([])?;
            let mut bad = 0u64;
            while let Some(row) = rows.next()? {
                if let rusqlite::types::ValueRef::Text(bytes) = row.get_ref(0)?
                    && std::str::from_utf8(bytes).is_err()
                {
                    bad += 1;
                }
            }
            if bad > 0 {
                out.push((table.clone(), column, bad));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(version: i32) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        for (_, sql) in MIGRATIONS.iter().take(version as usize) {
            conn.execute_batch(sql).unwrap();
        }
        conn
    }

    #[test]
    fn every_version_matches_itself_and_migrations_match_a_fresh_build() {
        for v in 0..=MIGRATIONS.len() as i32 {
            let conn = fresh(v);
            let found = read(&conn).unwrap();
            assert!(
                differences(&found, &expected(v).unwrap()).is_empty(),
                "v{v}"
            );
        }
        // A vault made at version 1 and migrated step by step has the current schema.
        let conn = fresh(1);
        for (_, sql) in &MIGRATIONS[1..] {
            conn.execute_batch(sql).unwrap();
        }
        let last = MIGRATIONS.len() as i32;
        assert!(differences(&read(&conn).unwrap(), &expected(last).unwrap()).is_empty());
    }

    #[test]
    fn an_extra_trigger_view_index_or_table_is_named() {
        let last = MIGRATIONS.len() as i32;
        let expected = expected(last).unwrap();
        for (extra, kind, name) in [
            (
                "CREATE TRIGGER evil AFTER INSERT ON note BEGIN DELETE FROM note; END",
                "trigger",
                "evil",
            ),
            ("CREATE VIEW peek AS SELECT * FROM client", "view", "peek"),
            ("CREATE INDEX sneaky ON note(body)", "index", "sneaky"),
            ("CREATE TABLE stash (x)", "table", "stash"),
        ] {
            let conn = fresh(last);
            conn.execute_batch(extra).unwrap();
            let diff = differences(&read(&conn).unwrap(), &expected);
            assert_eq!(diff.len(), 1, "{extra}: {diff:?}");
            assert!(diff[0].contains(kind) && diff[0].contains(name), "{diff:?}");
        }
        // A dropped append-only trigger is as bad as an added one.
        let conn = fresh(last);
        let trigger: String = conn
            .query_row(
                "SELECT name FROM sqlite_schema WHERE type = 'trigger' LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        conn.execute_batch(&format!("DROP TRIGGER \"{trigger}\""))
            .unwrap();
        assert_eq!(differences(&read(&conn).unwrap(), &expected).len(), 1);
    }

    #[test]
    fn column_order_does_not_matter_but_columns_do() {
        let a = Connection::open_in_memory().unwrap();
        a.execute_batch("CREATE TABLE t (x TEXT, y INTEGER NOT NULL DEFAULT 0)")
            .unwrap();
        let b = Connection::open_in_memory().unwrap();
        b.execute_batch(
            "CREATE TABLE t (x TEXT); ALTER TABLE t ADD COLUMN y INTEGER NOT NULL DEFAULT 0",
        )
        .unwrap();
        assert!(differences(&read(&a).unwrap(), &read(&b).unwrap()).is_empty());
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (x TEXT, y INTEGER)")
            .unwrap();
        assert_eq!(differences(&read(&a).unwrap(), &read(&c).unwrap()).len(), 1);
    }

    #[test]
    fn text_that_is_not_utf8_is_found() {
        let conn = fresh(MIGRATIONS.len() as i32);
        assert!(bad_text(&conn).unwrap().is_empty());
        conn.execute_batch("INSERT INTO meta (key, value) VALUES ('x', CAST(X'ff00fe' AS TEXT))")
            .unwrap();
        assert_eq!(
            bad_text(&conn).unwrap(),
            vec![("meta".to_owned(), "value".to_owned(), 1)]
        );
    }
}
