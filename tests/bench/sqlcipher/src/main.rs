//! The SQLCipher side of the search benchmark: the same notes and the same queries as kluis,
//! in an encrypted SQLCipher 4 database file (its default settings), searched with the SQL a
//! SQLCipher application would use for the same answer: FTS5's own ranking (bm25), a snippet,
//! the 50 best hits, special-category notes kept out of the index.
//!
//! Run by `tests/bench/search.rs` as one of its sides when `KLUIS_BENCH_SQLCIPHER` names this
//! binary (tests/bench/sqlcipher/run.sh does that). Arguments: a directory for the encrypted
//! databases, then `MIX IMAGE QUERIES` per mix. IMAGE is the kluis image the other sides search
//! (a plain SQLite file, fictitious data); QUERIES has one line per query, `KIND\tMATCH\tTEXT`,
//! MATCH being what `model::fts_query` made of TEXT. Prints, like the other sides, one line
//! per timed query: `MIX\tKIND\tWALL_NS\tCPU_NS\tTEXT`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, params};

const LIMIT: i64 = 50;
/// Only for the benchmark's throwaway database of fictitious notes.
const KEY: &str = "kluis-bench-sqlcipher";

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn open(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "key", KEY).unwrap();
    conn
}

/// Builds the encrypted database from the kluis image once per run (later rounds reuse it):
/// the notes (all of them, special ones included, as kluis holds them) and an FTS5 index of
/// the ones that are not special, with the prefix indexes kluis has.
fn build(image: &Path, db: &Path) {
    if db.exists() {
        return;
    }
    let tmp = db.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let conn = open(&tmp);
    let version: String = conn
        .query_row("PRAGMA cipher_version", [], |r| r.get(0))
        .unwrap();
    eprintln!("sqlcipher: SQLCipher {version}, building {}", db.display());
    conn.execute_batch(
        "CREATE TABLE note (rowid INTEGER PRIMARY KEY, body TEXT NOT NULL, special INTEGER NOT NULL);
         CREATE VIEW note_searchable AS SELECT rowid AS note_rowid, body FROM note WHERE NOT special;",
    )
    .unwrap();
    {
        // The kluis image is read as a plain SQLite file (no key): only its `note` table, which
        // needs none of kluis's SQL functions or tokenizers.
        let plain = Connection::open_with_flags(image, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let mut read = plain
            .prepare("SELECT rowid, body, special FROM note ORDER BY rowid")
            .unwrap();
        let tx = conn.unchecked_transaction().unwrap();
        {
            let mut write = tx
                .prepare("INSERT INTO note (rowid, body, special) VALUES (?1, ?2, ?3)")
                .unwrap();
            let mut rows = read.query([]).unwrap();
            while let Some(r) = rows.next().unwrap() {
                let (id, body, special): (i64, String, bool) =
                    (r.get(0).unwrap(), r.get(1).unwrap(), r.get(2).unwrap());
                write.execute(params![id, body, special]).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    conn.execute_batch(
        "CREATE VIRTUAL TABLE note_fts USING fts5 (body, content = 'note_searchable',
             content_rowid = 'note_rowid', tokenize = 'unicode61 remove_diacritics 2',
             prefix = '2 3');
         INSERT INTO note_fts (note_fts) VALUES ('rebuild');",
    )
    .unwrap();
    drop(conn);
    std::fs::rename(&tmp, db).unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(&args[0]);
    for triple in args[1..].chunks(3) {
        let (mix, image, queries) = (&triple[0], Path::new(&triple[1]), &triple[2]);
        let db = dir.join(format!("{mix}.sqlcipher"));
        build(image, &db);
        let queries: Vec<(String, String, String)> = std::fs::read_to_string(queries)
            .unwrap()
            .lines()
            .map(|l| {
                let mut f = l.splitn(3, '\t');
                let mut next = || f.next().unwrap().to_owned();
                (next(), next(), next())
            })
            .collect();
        let conn = open(&db);
        let mut stmt = conn
            .prepare(
                "SELECT rowid, snippet(note_fts, 0, '[', ']', '…', 12) FROM note_fts
                 WHERE note_fts MATCH ?1 ORDER BY rank LIMIT ?2",
            )
            .unwrap();
        let mut run = |fts: &str| {
            let rows = stmt
                .query_map(params![fts, LIMIT], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })
                .unwrap()
                .count();
            std::hint::black_box(rows);
        };
        // FTS5's ranking of every match is slow enough that a short warm-up will do (as for
        // the in-memory fts5-rank side).
        for (_, fts, _) in queries.iter().take(30) {
            run(fts);
        }
        for (kind, fts, text) in &queries {
            let (t, cpu) = (Instant::now(), thread_cpu());
            run(fts);
            let (wall, cpu) = (t.elapsed(), thread_cpu() - cpu);
            println!(
                "{mix}\t{kind}\t{}\t{}\t{text}",
                wall.as_nanos(),
                cpu.as_nanos()
            );
        }
    }
}
