//! Full-text search: kluis's two FTS5 tokenizers, and ranking every matching note by BM25
//! without scoring each one. SQL and FTS5 only; no files, no crypto.
//!
//! Ranking is FTS5's own bm25() formula (k1 = 1.2, b = 0.75) over all matching notes. What
//! makes it fast is `note_impact` (migration 0011): a second index of the same text in which
//! the tokenizer `kluis_impact` writes, per note, one marker for every word and every two- and
//! three-letter prefix that occurs in it at least twice (or at all, in a note of at most 8
//! words), naming how often (1..9, 9 meaning 9 or more) and a band of the note's length. For
//! a query of one word or one prefix, the notes of a marker all score the same or within a
//! known bound, so the best ones are found by reading markers from the highest bound down,
//! and the search stops once no unread note can beat the ones found: exact, without reading
//! the 150,000 matches of "de". Queries of several words score every note that matches them
//! all, in one pass.

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::ffi::{c_char, c_int, c_void};

use rusqlite::{Connection, OptionalExtension, ffi};
use zeroize::Zeroize;

use crate::error::Result;

/// BM25's constants, as FTS5's bm25() has them.
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// How many matches of one query word are counted for its weight (idf). A word with more
/// matches gets a weight estimated from how far into the notes (oldest first) its first
/// `DF_EXACT` matches reach: counting the 150,000 matches of "de" would cost more than the
/// whole search, and changes its weight by a few percent at most.
pub const DF_EXACT: u64 = 10_000;

// What `note_impact` holds follows from BANDS, SHORT_BANDS, MAX_PREFIX and `impact_markers`:
// a vault's index was built with the values of its time, so changing any of them needs a
// migration that rebuilds note_impact ('rebuild'), or searches would trust wrong markers.

/// Lower bounds of the note-length bands in a marker (in words): band b holds lengths from
/// `BANDS[b]` up to the next bound. Up to 48 words each length is its own band, so the notes
/// of one marker all score the same and the newest are read first (most notes are that
/// short); longer notes share bands about a quarter wide.
const BANDS: [u32; 63] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
    27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 61,
    76, 95, 119, 149, 186, 233, 291, 364, 455, 569, 711, 889, 1111,
];
/// Notes in the first bands (at most 8 words) get a marker for every prefix too, not only
/// for the repeated ones: a short note is where a word weighs most.
const SHORT_BANDS: usize = 8;
/// The bands of one length each.
const EXACT_BANDS: usize = 48;
/// Prefixes of 2 up to this many letters get markers; a longer prefix is found through the
/// marker of its first `MAX_PREFIX` letters, and its notes counted in their text.
pub(crate) const MAX_PREFIX: usize = 20;

// FTS5's flags (fts5.h).
const TOKENIZE_QUERY: c_int = 0x0001;

fn band(len: u32) -> usize {
    BANDS.iter().rposition(|b| len >= *b).unwrap_or(0)
}

/// BM25's term weight without the idf: `tf` occurrences in a note of `len` words.
fn weight(tf: f64, len: f64, avg_len: f64) -> f64 {
    tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg_len))
}

/// FTS5's idf, including its floor for words in more than half of the notes.
fn idf(rows: f64, df: f64) -> f64 {
    let idf = ((rows - df + 0.5) / (df + 0.5)).ln();
    if idf <= 0.0 { 1e-6 } else { idf }
}

// ---------------------------------------------------------------------------------------
// Registration

/// FTS5's unicode61 tokenizer as found on one connection; both kluis tokenizers wrap it.
struct Unicode61 {
    user_data: *mut c_void,
    methods: ffi::fts5_tokenizer_v2,
}

/// One configured instance of a kluis tokenizer: a unicode61 instance with the same
/// arguments (`remove_diacritics 2`).
struct Instance {
    base: *const Unicode61,
    inner: *mut ffi::Fts5Tokenizer,
}

unsafe fn fts5_api(conn: &Connection) -> rusqlite::Result<*mut ffi::fts5_api> {
    let mut api: *mut ffi::fts5_api = std::ptr::null_mut();
    let mut stmt: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
    // SAFETY: the documented way to get the fts5_api pointer: bind a pointer of type
    // "fts5_api_ptr" to `SELECT fts5(?1)`; FTS5 writes it through.
    let rc = unsafe {
        let rc = ffi::sqlite3_prepare_v2(
            conn.handle(),
            c"SELECT fts5(?1)".as_ptr(),
            -1,
            &mut stmt,
            std::ptr::null_mut(),
        );
        if rc == ffi::SQLITE_OK {
            ffi::sqlite3_bind_pointer(
                stmt,
                1,
                (&mut api as *mut *mut ffi::fts5_api).cast(),
                c"fts5_api_ptr".as_ptr(),
                None,
            );
            ffi::sqlite3_step(stmt);
        }
        ffi::sqlite3_finalize(stmt);
        rc
    };
    if rc != ffi::SQLITE_OK || api.is_null() {
        return Err(rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_ERROR),
            Some("FTS5 is not available".into()),
        ));
    }
    Ok(api)
}

/// Registers the tokenizers `kluis` and `kluis_impact` and the auxiliary function
/// `kluis_scan` on a connection. Every kluis connection needs them before it touches the
/// full-text tables (the schema names them).
pub(crate) fn register(conn: &Connection) -> rusqlite::Result<()> {
    let failed = |what: &str| {
        rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_ERROR),
            Some(format!("could not register {what}")),
        )
    };
    // SAFETY: the fts5_api pointer lives as long as the connection; FTS5 copies the method
    // tables and owns each user-data box from here on (freed by `drop_box` with the
    // connection).
    unsafe {
        let api = fts5_api(conn)?;
        let mut user_data = std::ptr::null_mut();
        let mut methods: *mut ffi::fts5_tokenizer_v2 = std::ptr::null_mut();
        let find = (*api)
            .xFindTokenizer_v2
            .ok_or_else(|| failed("tokenizers"))?;
        if find(api, c"unicode61".as_ptr(), &mut user_data, &mut methods) != ffi::SQLITE_OK
            || methods.is_null()
        {
            return Err(failed("unicode61"));
        }
        let create = (*api)
            .xCreateTokenizer_v2
            .ok_or_else(|| failed("tokenizers"))?;
        for (name, tokenize) in [
            (
                c"kluis",
                kluis_tokenize as unsafe extern "C" fn(_, _, _, _, _, _, _, _) -> _,
            ),
            (c"kluis_impact", impact_tokenize),
        ] {
            let base = Box::into_raw(Box::new(Unicode61 {
                user_data,
                methods: *methods,
            }));
            let mut module = ffi::fts5_tokenizer_v2 {
                iVersion: 2,
                xCreate: Some(instance_create),
                xDelete: Some(instance_delete),
                xTokenize: Some(tokenize),
            };
            if create(
                api,
                name.as_ptr(),
                base.cast(),
                &mut module,
                Some(drop_box::<Unicode61>),
            ) != ffi::SQLITE_OK
            {
                drop(Box::from_raw(base));
                return Err(failed("a tokenizer"));
            }
        }
        let function = (*api).xCreateFunction.ok_or_else(|| failed("kluis_scan"))?;
        if function(
            api,
            c"kluis_scan".as_ptr(),
            std::ptr::null_mut(),
            Some(kluis_scan),
            None,
        ) != ffi::SQLITE_OK
        {
            return Err(failed("kluis_scan"));
        }
    }
    Ok(())
}

unsafe extern "C" fn drop_box<T>(p: *mut c_void) {
    // SAFETY: p is the Box<T> handed to FTS5 at registration.
    drop(unsafe { Box::from_raw(p.cast::<T>()) });
}

unsafe extern "C" fn instance_create(
    user_data: *mut c_void,
    args: *mut *const c_char,
    n_args: c_int,
    out: *mut *mut ffi::Fts5Tokenizer,
) -> c_int {
    // SAFETY: user_data is our Unicode61; its xCreate takes the same arguments.
    unsafe {
        let base = user_data.cast::<Unicode61>();
        let Some(create) = (*base).methods.xCreate else {
            return ffi::SQLITE_ERROR;
        };
        let mut inner = std::ptr::null_mut();
        let rc = create((*base).user_data, args, n_args, &mut inner);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        *out = Box::into_raw(Box::new(Instance { base, inner })).cast();
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn instance_delete(p: *mut ffi::Fts5Tokenizer) {
    // SAFETY: p came from instance_create.
    unsafe {
        let instance = Box::from_raw(p.cast::<Instance>());
        if let Some(delete) = (*instance.base).methods.xDelete {
            delete(instance.inner);
        }
    }
}

/// What receives each token: (flags, token, start, end) -> an SQLite result code.
type TokenFn<'a> = dyn FnMut(c_int, &[u8], c_int, c_int) -> c_int + 'a;

/// Per length band: [(how often, FTS5 expression)] of one query word.
type PostingsByLength = std::collections::BTreeMap<usize, Vec<(u32, Vec<u8>)>>;

type TokenCallback =
    Option<unsafe extern "C" fn(*mut c_void, c_int, *const c_char, c_int, c_int, c_int) -> c_int>;

/// Runs unicode61 over `text`, handing each (folded) token to `each`.
unsafe fn unicode61_tokens(
    instance: *mut ffi::Fts5Tokenizer,
    flags: c_int,
    text: *const c_char,
    n_text: c_int,
    locale: *const c_char,
    n_locale: c_int,
    each: &mut TokenFn<'_>,
) -> c_int {
    unsafe extern "C" fn trampoline(
        ctx: *mut c_void,
        flags: c_int,
        token: *const c_char,
        n: c_int,
        start: c_int,
        end: c_int,
    ) -> c_int {
        // SAFETY: ctx is the `&mut dyn FnMut` below; the token is n valid bytes.
        unsafe {
            let each = &mut *ctx.cast::<&mut dyn FnMut(c_int, &[u8], c_int, c_int) -> c_int>();
            let bytes = if n > 0 {
                std::slice::from_raw_parts(token.cast::<u8>(), n as usize)
            } else {
                &[]
            };
            each(flags, bytes, start, end)
        }
    }
    // SAFETY: instance came from instance_create; the callback context outlives the call.
    unsafe {
        let instance = instance.cast::<Instance>();
        let Some(tokenize) = (*(*instance).base).methods.xTokenize else {
            return ffi::SQLITE_ERROR;
        };
        let mut each = each;
        tokenize(
            (*instance).inner,
            (&mut each as *mut &mut dyn FnMut(c_int, &[u8], c_int, c_int) -> c_int).cast(),
            flags,
            text,
            n_text,
            locale,
            n_locale,
            Some(trampoline),
        )
    }
}

/// Folds what unicode61 leaves: the Dutch ĳ ligature (Ĳsselmeer) becomes "ij", and the
/// typographic ligatures of copied PDF text (ﬁ, ﬂ, ...) their letters. Returns None when the
/// token has none of them, which is nearly always.
fn fold(token: &[u8]) -> Option<Vec<u8>> {
    // Ĳ ĳ are C4 B2 / C4 B3 in UTF-8; ﬀ..ﬆ are EF AC 80..86.
    let has = token.windows(2).any(|w| {
        (w[0] == 0xC4 && (w[1] == 0xB2 || w[1] == 0xB3)) || (w[0] == 0xEF && w[1] == 0xAC)
    });
    if !has {
        return None;
    }
    let text = std::str::from_utf8(token).ok()?;
    let mut out = String::with_capacity(token.len() + 2);
    for c in text.chars() {
        match c {
            'Ĳ' | 'ĳ' => out.push_str("ij"),
            '\u{FB00}' => out.push_str("ff"),
            '\u{FB01}' => out.push_str("fi"),
            '\u{FB02}' => out.push_str("fl"),
            '\u{FB03}' => out.push_str("ffi"),
            '\u{FB04}' => out.push_str("ffl"),
            '\u{FB05}' | '\u{FB06}' => out.push_str("st"),
            c => out.push(c),
        }
    }
    Some(out.into_bytes())
}

/// `kluis`: unicode61, then `fold`. Offsets stay those of the original text, so snippets
/// mark "Ĳsselmeer" when "ijsselmeer" was asked.
unsafe extern "C" fn kluis_tokenize(
    instance: *mut ffi::Fts5Tokenizer,
    ctx: *mut c_void,
    flags: c_int,
    text: *const c_char,
    n_text: c_int,
    locale: *const c_char,
    n_locale: c_int,
    x_token: TokenCallback,
) -> c_int {
    let Some(x_token) = x_token else {
        return ffi::SQLITE_ERROR;
    };
    // SAFETY: FTS5's own callback and context, called with valid token bytes.
    unsafe {
        unicode61_tokens(
            instance,
            flags,
            text,
            n_text,
            locale,
            n_locale,
            &mut |tflags, token, start, end| match fold(token) {
                None => x_token(
                    ctx,
                    tflags,
                    token.as_ptr().cast(),
                    token.len() as c_int,
                    start,
                    end,
                ),
                Some(mut folded) => {
                    let rc = x_token(
                        ctx,
                        tflags,
                        folded.as_ptr().cast(),
                        folded.len() as c_int,
                        start,
                        end,
                    );
                    folded.zeroize();
                    rc
                }
            },
        )
    }
}

/// A marker of `note_impact`: kind (`t` a word, `p` a prefix), the word or prefix, 0x01, how
/// often ('1'..'9') and the note's length band ('0' + band, up to 'n').
pub(crate) fn marker(kind: u8, tf: u32, band: usize, term: &[u8]) -> Vec<u8> {
    let mut m = marker_stem(kind, term);
    m.push(b'0' + tf.clamp(1, 9) as u8);
    m.push(b'0' + band.min(BANDS.len() - 1) as u8);
    m
}

/// What all markers of one word or prefix begin with: its kind, the term and a separator
/// (no token contains 0x01), so the term's markers are one range of FTS5's vocabulary.
fn marker_stem(kind: u8, term: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(term.len() + 4);
    m.push(kind);
    m.extend_from_slice(term);
    m.push(0x01);
    m
}

/// The first `n` characters of a token, if it has that many.
fn prefix_chars(token: &[u8], n: usize) -> Option<&[u8]> {
    let text = std::str::from_utf8(token).ok()?;
    match text.char_indices().nth(n) {
        Some((end, _)) => Some(&token[..end]),
        None if text.chars().count() == n => Some(token),
        None => None,
    }
}

/// The markers of a note's text, tokenized as `kluis` does (see the module comment).
pub(crate) fn impact_markers(tokens: &[&[u8]]) -> Vec<Vec<u8>> {
    let len = tokens.len() as u32;
    let short = band(len) < SHORT_BANDS;
    let mut keys: Vec<(u8, &[u8])> = Vec::with_capacity(tokens.len() * 6);
    for t in tokens {
        keys.push((b't', t));
        for n in 2..=MAX_PREFIX {
            match prefix_chars(t, n) {
                Some(p) => keys.push((b'p', p)),
                None => break,
            }
        }
    }
    keys.sort_unstable();
    let mut out = Vec::new();
    let mut i = 0;
    while i < keys.len() {
        let mut j = i + 1;
        while j < keys.len() && keys[j] == keys[i] {
            j += 1;
        }
        let tf = (j - i) as u32;
        // Every word; a prefix when it repeats (or the note is short).
        if keys[i].0 == b't' || tf >= 2 || short {
            out.push(marker(keys[i].0, tf, band(len), keys[i].1));
        }
        i = j;
    }
    out
}

/// `kluis_impact`: for documents, the markers of the text; for queries, each
/// space-separated marker as one token.
unsafe extern "C" fn impact_tokenize(
    instance: *mut ffi::Fts5Tokenizer,
    ctx: *mut c_void,
    flags: c_int,
    text: *const c_char,
    n_text: c_int,
    locale: *const c_char,
    n_locale: c_int,
    x_token: TokenCallback,
) -> c_int {
    let Some(x_token) = x_token else {
        return ffi::SQLITE_ERROR;
    };
    // SAFETY: text is n_text bytes; FTS5's callback and context are valid for this call.
    unsafe {
        if flags & TOKENIZE_QUERY != 0 {
            let bytes = if n_text > 0 {
                std::slice::from_raw_parts(text.cast::<u8>(), n_text as usize)
            } else {
                &[]
            };
            let mut start = 0;
            for piece in bytes.split(|b| *b == b' ') {
                if !piece.is_empty() {
                    let rc = x_token(
                        ctx,
                        0,
                        piece.as_ptr().cast(),
                        piece.len() as c_int,
                        start as c_int,
                        (start + piece.len()) as c_int,
                    );
                    if rc != ffi::SQLITE_OK {
                        return rc;
                    }
                }
                start += piece.len() + 1;
            }
            return ffi::SQLITE_OK;
        }
        // The words of the note, in one buffer that is wiped afterwards.
        let mut arena: Vec<u8> = Vec::with_capacity(n_text.max(0) as usize + 16);
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let rc = unicode61_tokens(
            instance,
            flags,
            text,
            n_text,
            locale,
            n_locale,
            &mut |_, token, _, _| {
                let start = arena.len();
                match fold(token) {
                    None => arena.extend_from_slice(token),
                    Some(mut f) => {
                        arena.extend_from_slice(&f);
                        f.zeroize();
                    }
                }
                spans.push((start, arena.len()));
                ffi::SQLITE_OK
            },
        );
        let mut rc = rc;
        if rc == ffi::SQLITE_OK {
            let tokens: Vec<&[u8]> = spans.iter().map(|(a, b)| &arena[*a..*b]).collect();
            let mut markers = impact_markers(&tokens);
            for m in &markers {
                rc = x_token(ctx, 0, m.as_ptr().cast(), m.len() as c_int, 0, 0);
                if rc != ffi::SQLITE_OK {
                    break;
                }
            }
            for m in &mut markers {
                m.zeroize();
            }
        }
        arena.zeroize();
        rc
    }
}

// ---------------------------------------------------------------------------------------
// Note lengths

/// The length in words of every indexed note, read once from FTS5's own table
/// (`note_fts_docsize`) and kept for the session: BM25 needs it for every note it scores,
/// and asking FTS5 for it costs a lookup per note (1.4 µs, ten times the rest).
pub struct DocLengths {
    rows: i64,
    tokens: i64,
    min_id: Option<i64>,
    max_id: Option<i64>,
    /// The shortest note longer than the short bands (notes without a marker are at least
    /// this long).
    min_long: u32,
    lengths: Lengths,
}

enum Lengths {
    /// Indexed by rowid (kluis's note rowids are dense), `u32::MAX` where no note is.
    Dense(Vec<u32>),
    /// Sorted by rowid, for a table whose rowids are far apart.
    Sparse(Vec<(i64, u32)>),
}

impl DocLengths {
    fn get(&self, rowid: i64) -> Option<u32> {
        match &self.lengths {
            Lengths::Dense(v) => usize::try_from(rowid)
                .ok()
                .and_then(|i| v.get(i))
                .copied()
                .filter(|l| *l != u32::MAX),
            Lengths::Sparse(v) => v
                .binary_search_by_key(&rowid, |(r, _)| *r)
                .ok()
                .map(|i| v[i].1),
        }
    }

    fn insert(&mut self, rowid: i64, len: u32) {
        if band(len) >= SHORT_BANDS {
            self.min_long = self.min_long.min(len);
        }
        match &mut self.lengths {
            Lengths::Dense(v) => {
                let i = rowid as usize;
                if v.len() <= i {
                    v.resize(i + 1, u32::MAX);
                }
                v[i] = len;
            }
            Lengths::Sparse(v) => v.push((rowid, len)),
        }
    }
}

/// SQLite's (and FTS5's) varint: big-endian groups of 7 bits, the 9th byte whole.
fn varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for i in 0..9 {
        let b = *bytes.get(i)?;
        if i == 8 {
            return Some(((v << 8) | b as u64, 9));
        }
        v = (v << 7) | (b & 0x7f) as u64;
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Makes the full-text indexes follow deleted notes and clients on this connection, the way
/// the schema's insert triggers follow new ones. Rows are deleted when a dossier is erased
/// or an author's ops are withdrawn; each delete takes the row's words out of the indexes
/// at once, so no rebuild of the indexes (which tokenized every note again) is needed.
///
/// The triggers are TEMP: they live in this connection, not in the image, so the schema a
/// vault holds stays that of its migrations. The indexes are external-content tables, so a
/// 'delete' names the text it removes, which the row being deleted still holds.
///
/// FTS5's `secure-delete` option (kept in each table's config, written here once per image)
/// makes a delete remove the entries from the index's segments themselves, and a word no
/// row uses any more from its leaf page and from `%_idx` too. Without it a delete only adds
/// a marker beside the words, which stay in the image until segments happen to be merged.
pub(crate) fn follow_deletes(conn: &Connection) -> rusqlite::Result<()> {
    for table in ["note_fts", "note_impact", "client_fts"] {
        // `table` is one of the three names above, never input.
        let set: bool = conn.query_row(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM {table}_config WHERE k = 'secure-delete' AND v = 1)"
            ),
            [],
            |r| r.get(0),
        )?;
        if !set {
            conn.execute(
                &format!("INSERT INTO {table} ({table}, rank) VALUES ('secure-delete', 1)"),
                [],
            )?;
        }
    }
    // Special notes are not in the note indexes (migration 0011), so their deletes pass by;
    // so do the deletes of notes not indexed yet (`index_pending`): those above the largest
    // indexed rowid. The text of a deleted note waits in memory (the temp database) for
    // `forget_separators`.
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS deleted_text (body TEXT NOT NULL);
         CREATE TEMP TRIGGER IF NOT EXISTS note_search_delete AFTER DELETE ON main.note
         WHEN NOT old.special
             AND old.rowid <= (SELECT coalesce(max(id), 0) FROM main.note_fts_docsize) BEGIN
             INSERT INTO note_fts (note_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
             INSERT INTO note_impact (note_impact, rowid, body)
                 VALUES ('delete', old.rowid, old.body);
             INSERT INTO temp.deleted_text (body) VALUES (old.body);
         END;
         CREATE TEMP TRIGGER IF NOT EXISTS client_search_delete AFTER DELETE ON main.client BEGIN
             INSERT INTO client_fts (client_fts, rowid, name) VALUES ('delete', old.rowid, old.name);
         END;",
    )
}

/// Indexes the notes that wait for it into `note_fts` and `note_impact`; returns how many.
///
/// Since migration 0014 a note is not indexed when it is written: replaying a journal and a
/// durable edit skip the work, and whatever reads the indexes calls this first (a search,
/// `check`, a save of the image). The indexes always hold exactly the non-special notes up
/// to the largest rowid in `note_fts_docsize`: notes are append-only, and SQLite gives a new
/// row a rowid above every row in the table, so above every indexed one; a delete takes an
/// indexed note out of both indexes (`follow_deletes`) and passes a waiting one by. The notes
/// that wait are then the non-special ones above that rowid, found through the rowid's own
/// B-tree, with nothing kept beside the indexes that could disagree with them.
pub(crate) fn index_pending(conn: &Connection) -> rusqlite::Result<usize> {
    let indexed: i64 = conn
        .prepare_cached("SELECT coalesce(max(id), 0) FROM note_fts_docsize")?
        .query_row([], |r| r.get(0))?;
    let waiting: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM note WHERE rowid > ?1 AND NOT special)")?
        .query_row([indexed], |r| r.get(0))?;
    if !waiting {
        return Ok(0);
    }
    // One statement per index: FTS5 writes one segment for all of them.
    let n = conn
        .prepare_cached(
            "INSERT INTO note_fts (rowid, body)
             SELECT rowid, body FROM note WHERE rowid > ?1 AND NOT special ORDER BY rowid",
        )?
        .execute([indexed])?;
    conn.prepare_cached(
        "INSERT INTO note_impact (rowid, body)
         SELECT rowid, body FROM note WHERE rowid > ?1 AND NOT special ORDER BY rowid",
    )?
    .execute([indexed])?;
    Ok(n)
}

/// Removes the last trace secure-delete leaves of deleted notes' words. Each leaf page of
/// an FTS5 segment has a key in `%_idx`: a prefix of the first word on the page, long enough
/// to tell it from the word before. When that word goes, the page keeps its key, so a prefix
/// of a deleted word can stay in the image (one key per page, so rarely, and only for a word
/// no other note has). This looks up which keys are a prefix of a deleted note's word and of
/// no word that is left, and where one is found, FTS5's 'optimize' rewrites that index into
/// one new segment, with new keys. Reads (and clears) the texts `follow_deletes` kept.
pub(crate) fn forget_separators(conn: &Connection) -> Result<()> {
    let mut texts: Vec<String> = conn
        .prepare_cached("SELECT body FROM temp.deleted_text")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    conn.prepare_cached("DELETE FROM temp.deleted_text")?
        .execute([])?;
    if texts.is_empty() {
        return Ok(());
    }
    let tokenizer = Tokenizer::new(conn)?;
    let mut gone: Vec<Vec<u8>> = Vec::new();
    for t in &mut texts {
        gone.extend(tokenizer.tokens(t).into_iter().map(|(_, _, token)| token));
        t.zeroize();
    }
    drop(tokenizer);
    gone.sort_unstable();
    gone.dedup();
    let result = forget_separators_of(conn, &gone);
    for t in &mut gone {
        t.zeroize();
    }
    result
}

/// [`forget_separators`] for the words of the deleted notes, `gone` (sorted).
fn forget_separators_of(conn: &Connection, gone: &[Vec<u8>]) -> Result<()> {
    conn.execute_batch(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.kluis_fts_vocab
         USING fts5vocab(main, note_fts, 'row')",
    )?;
    open_impact_vocab(conn)?;
    for (table, vocab) in [
        ("note_fts", "temp.kluis_fts_vocab"),
        ("note_impact", "temp.kluis_impact_vocab"),
    ] {
        // Names from the list above, never input.
        let keys: Vec<zeroize::Zeroizing<Vec<u8>>> = conn
            .prepare_cached(&format!("SELECT CAST(term AS BLOB) FROM {table}_idx"))?
            .query_map([], |r| r.get::<_, Vec<u8>>(0).map(zeroize::Zeroizing::new))?
            .collect::<rusqlite::Result<_>>()?;
        let mut live = conn.prepare_cached(&format!(
            // fts5vocab reads its terms in order from the bound: the first row is the next
            // term (an ORDER BY here would have SQLite sort every term after it).
            // The bound is text: bound as a blob it would compare above every text term,
            // no term would follow, and every erasure would rewrite the index.
            "SELECT CAST(term AS BLOB) FROM {vocab} WHERE term >= CAST(?1 AS TEXT) LIMIT 1"
        ))?;
        let mut stale = false;
        for key in &keys {
            // The first byte names the index (main or a prefix index); a marker of
            // note_impact begins with its kind, then the word, then 0x01.
            let Some(term) = key.get(1..).filter(|t| !t.is_empty()) else {
                continue;
            };
            let word = if table == "note_impact" {
                let w = &term[1..];
                &w[..w.iter().position(|b| *b == 1).unwrap_or(w.len())]
            } else {
                term
            };
            let of_deleted = gone
                .get(gone.partition_point(|t| t.as_slice() < word))
                .is_some_and(|t| t.starts_with(word));
            if !of_deleted {
                continue;
            }
            let next: Option<Vec<u8>> = live.query_row([term], |r| r.get(0)).optional()?;
            if !next.is_some_and(|n| n.starts_with(term)) {
                stale = true;
                break;
            }
        }
        if stale {
            // 'optimize' leaves an index of one segment as it is (FTS5 sees nothing to
            // merge), keys included; an index built in one go (`index_pending`, a
            // migration's 'rebuild') is one. A row of one word of kluis's own, added before
            // and taken out after, makes it two, so the whole index is written anew.
            conn.execute_batch(&format!(
                "INSERT INTO {table} (rowid, body) VALUES (-1, 'kluis');
                 INSERT INTO {table} ({table}) VALUES ('optimize');
                 INSERT INTO {table} ({table}, rowid, body) VALUES ('delete', -1, 'kluis');"
            ))?;
        }
    }
    Ok(())
}

/// FTS5's "averages" record of note_fts: (notes, words in all of them).
fn totals(conn: &Connection) -> Result<(i64, i64)> {
    let block: Option<Vec<u8>> = conn
        .prepare_cached("SELECT block FROM note_fts_data WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?;
    let block = block.unwrap_or_default();
    let (rows, n) = varint(&block).unwrap_or((0, 0));
    let (tokens, _) = varint(&block[n.min(block.len())..]).unwrap_or((0, 0));
    Ok((rows as i64, tokens as i64))
}

/// Brings the cache up to date: kept when nothing changed, extended when notes were only
/// added (the common case: a note written, a journal replayed), rebuilt otherwise.
pub(crate) fn refresh_lengths(conn: &Connection, cache: &mut Option<DocLengths>) -> Result<()> {
    let (rows, tokens) = totals(conn)?;
    let max_id: Option<i64> = conn
        .prepare_cached("SELECT max(id) FROM note_fts_docsize")?
        .query_row([], |r| r.get(0))?;
    let read = |from: i64, into: &mut DocLengths| -> Result<(i64, i64)> {
        let mut stmt =
            conn.prepare_cached("SELECT id, sz FROM note_fts_docsize WHERE id > ?1 ORDER BY id")?;
        let mut q = stmt.query([from])?;
        let (mut n, mut words) = (0, 0);
        while let Some(r) = q.next()? {
            let id: i64 = r.get(0)?;
            let len = match r.get_ref(1)? {
                rusqlite::types::ValueRef::Blob(b) => varint(b).map_or(0, |(v, _)| v),
                _ => 0,
            };
            into.insert(id, u32::try_from(len).unwrap_or(u32::MAX - 1));
            n += 1;
            words += len as i64;
        }
        Ok((n, words))
    };
    if let Some(c) = cache.as_mut() {
        if c.rows == rows && c.tokens == tokens && c.max_id == max_id {
            return Ok(());
        }
        if let (Some(old), Some(new)) = (c.max_id, max_id)
            && new > old
        {
            let (n, words) = read(old, c)?;
            if c.rows + n == rows && c.tokens + words == tokens {
                c.rows = rows;
                c.tokens = tokens;
                c.max_id = max_id;
                return Ok(());
            }
        }
    }
    let dense = max_id.is_none_or(|m| m <= 2 * rows + 4096);
    let min_id: Option<i64> = conn
        .prepare_cached("SELECT min(id) FROM note_fts_docsize")?
        .query_row([], |r| r.get(0))?;
    let mut fresh = DocLengths {
        rows,
        tokens,
        min_id,
        max_id,
        min_long: u32::MAX,
        lengths: if dense {
            Lengths::Dense(vec![u32::MAX; max_id.map_or(0, |m| m as usize + 1)])
        } else {
            Lengths::Sparse(Vec::with_capacity(rows as usize))
        },
    };
    read(i64::MIN, &mut fresh)?;
    *cache = Some(fresh);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Scoring

/// A scored note. Ordered so that a BinaryHeap's top is the weakest: lower score, then the
/// older note (ties go to the newest).
#[derive(Clone, Copy, Debug)]
struct Scored {
    score: f64,
    rowid: i64,
}

impl PartialEq for Scored {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(other.rowid.cmp(&self.rowid))
    }
}

/// The best `k` notes seen so far.
struct TopK {
    k: usize,
    heap: BinaryHeap<Scored>,
}

impl TopK {
    fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    fn push(&mut self, s: Scored) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(s);
        } else if self.heap.peek().is_some_and(|w| s < *w) {
            self.heap.pop();
            self.heap.push(s);
        }
    }

    /// The score a note must beat to get in, once full.
    fn floor(&self) -> Option<f64> {
        (self.heap.len() == self.k).then(|| self.heap.peek().map_or(f64::MAX, |w| w.score))
    }

    fn into_sorted(self) -> Vec<Scored> {
        let mut v = self.heap.into_vec();
        v.sort();
        v
    }
}

/// What FTS5 tells about a query before anything is scored.
#[derive(Debug, Default)]
struct Plan {
    done: bool,
    rows: i64,
    words: i64,
    /// Per phrase: its document frequency.
    df: Vec<f64>,
}

enum Mode {
    /// Count the matches of the only phrase (on the first row).
    Count,
    /// Plan on the first row, then score every row the query returns (one call per row).
    Collect,
}

struct Scan {
    mode: Mode,
    lengths: *const DocLengths,
    plan: Plan,
    /// Document frequencies known before the query (estimated from a sample), per phrase.
    preset_df: Vec<Option<f64>>,
    idf: Vec<f64>,
    avg_len: f64,
    top: TopK,
    /// Scratch: per-phrase counts of the current row.
    freq: Vec<f64>,
}

thread_local! {
    /// The scan `kluis_scan` works for: set around each statement that calls it, on the
    /// thread that steps it (a kluis connection is used by one thread at a time).
    static SCAN: Cell<*mut Scan> = const { Cell::new(std::ptr::null_mut()) };
}

/// Runs `f` with `scan` as the state of `kluis_scan`.
fn with_scan<T>(scan: &mut Scan, f: impl FnOnce() -> T) -> T {
    struct Restore(*mut Scan);
    impl Drop for Restore {
        fn drop(&mut self) {
            SCAN.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(SCAN.with(|s| s.replace(scan as *mut Scan)));
    f()
}

type Api = ffi::Fts5ExtensionApi;

unsafe fn length_of(api: *const Api, fts: *mut ffi::Fts5Context, s: &Scan, rowid: i64) -> f64 {
    // SAFETY: lengths points at the cache the caller holds for the whole statement.
    if let Some(len) = unsafe { (*s.lengths).get(rowid) } {
        return len as f64;
    }
    let mut n = 0;
    // SAFETY: a valid FTS5 context for the current row.
    unsafe {
        if let Some(size) = (*api).xColumnSize {
            size(fts, -1, &mut n);
        }
    }
    n as f64
}

unsafe extern "C" fn count_matches(
    api: *const Api,
    fts: *mut ffi::Fts5Context,
    user: *mut c_void,
) -> c_int {
    // SAFETY: user is the (count, stopped-at) pair of `count_phrase`.
    unsafe {
        let state = &mut *user.cast::<(u64, i64)>();
        state.0 += 1;
        if state.0 >= DF_EXACT {
            state.1 = (*api).xRowid.map_or(0, |f| f(fts));
            return ffi::SQLITE_DONE;
        }
    }
    ffi::SQLITE_OK
}

/// The document frequency of phrase `i`: counted up to `DF_EXACT`, estimated beyond from
/// how far into the notes (oldest first) the counted matches reach.
unsafe fn count_phrase(
    api: *const Api,
    fts: *mut ffi::Fts5Context,
    s: &Scan,
    rows: i64,
    i: c_int,
) -> std::result::Result<f64, c_int> {
    // SAFETY: FTS5's API on the current row; the callback gets `state`.
    unsafe {
        let Some(query) = (*api).xQueryPhrase else {
            return Err(ffi::SQLITE_ERROR);
        };
        let mut state: (u64, i64) = (0, 0);
        let rc = query(
            fts,
            i,
            (&mut state as *mut (u64, i64)).cast(),
            Some(count_matches),
        );
        if rc != ffi::SQLITE_OK {
            return Err(rc);
        }
        if state.0 < DF_EXACT {
            return Ok(state.0 as f64);
        }
        let lengths = &*s.lengths;
        let first = lengths.min_id.unwrap_or(state.1);
        let last = lengths.max_id.unwrap_or(state.1);
        let share = (state.1 - first + 1) as f64 / (last - first + 1).max(1) as f64;
        Ok((DF_EXACT as f64 / share.clamp(1e-9, 1.0)).min(rows as f64))
    }
}

unsafe fn plan(api: *const Api, fts: *mut ffi::Fts5Context, s: &mut Scan) -> c_int {
    // SAFETY: FTS5's API on the current row of a MATCH query.
    unsafe {
        let a = &*api;
        let (Some(count), Some(rows), Some(total)) =
            (a.xPhraseCount, a.xRowCount, a.xColumnTotalSize)
        else {
            return ffi::SQLITE_ERROR;
        };
        let (mut n_rows, mut n_words) = (0, 0);
        let rc = rows(fts, &mut n_rows);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        let rc = total(fts, -1, &mut n_words);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        s.plan.rows = n_rows;
        s.plan.words = n_words;
        let n = count(fts);
        for i in 0..n {
            let df = match s.preset_df.get(i as usize).copied().flatten() {
                Some(df) => df,
                None => match count_phrase(api, fts, s, n_rows, i) {
                    Ok(df) => df,
                    Err(rc) => return rc,
                },
            };
            s.plan.df.push(df);
        }
        let rows = n_rows.max(1) as f64;
        s.avg_len = (n_words as f64 / rows).max(1e-9);
        s.idf = s.plan.df.iter().map(|df| idf(rows, *df)).collect();
        s.freq = vec![0.0; s.idf.len()];
        s.plan.done = true;
    }
    ffi::SQLITE_OK
}

unsafe fn collect(api: *const Api, fts: *mut ffi::Fts5Context, s: &mut Scan) -> c_int {
    // SAFETY: FTS5's API on the current row.
    unsafe {
        if !s.plan.done {
            let rc = plan(api, fts, s);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        let a = &*api;
        let (Some(rowid), Some(first), Some(next)) = (a.xRowid, a.xPhraseFirst, a.xPhraseNext)
        else {
            return ffi::SQLITE_ERROR;
        };
        let id = rowid(fts);
        for (i, f) in s.freq.iter_mut().enumerate() {
            // The phrase's positions in this row, counted (cheaper than FTS5's merged list of
            // all instances).
            let mut iter: ffi::Fts5PhraseIter = std::mem::zeroed();
            let (mut col, mut off) = (0, 0);
            let rc = first(fts, i as c_int, &mut iter, &mut col, &mut off);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            let mut n = 0.0;
            while col >= 0 {
                n += 1.0;
                next(fts, &mut iter, &mut col, &mut off);
            }
            *f = n;
        }
        let len = length_of(api, fts, s, id);
        let score = s
            .freq
            .iter()
            .zip(&s.idf)
            .map(|(tf, idf)| idf * weight(*tf, len, s.avg_len))
            .sum();
        s.top.push(Scored { score, rowid: id });
    }
    ffi::SQLITE_OK
}

/// `kluis_scan(note_fts)`: does the work of the search in progress (`SCAN`).
unsafe extern "C" fn kluis_scan(
    api: *const Api,
    fts: *mut ffi::Fts5Context,
    ctx: *mut ffi::sqlite3_context,
    _n: c_int,
    _values: *mut *mut ffi::sqlite3_value,
) {
    let scan = SCAN.with(|s| s.get());
    // SAFETY: a non-null SCAN points at the Scan of the statement being stepped.
    unsafe {
        if scan.is_null() {
            ffi::sqlite3_result_error(ctx, c"kluis_scan is kluis's own".as_ptr(), -1);
            return;
        }
        let s = &mut *scan;
        let rc = match s.mode {
            Mode::Count => {
                let mut rows = 0;
                (*api).xRowCount.map(|f| f(fts, &mut rows));
                match count_phrase(api, fts, s, rows, 0) {
                    Ok(df) => {
                        s.plan.df = vec![df];
                        s.plan.rows = rows;
                        ffi::SQLITE_OK
                    }
                    Err(rc) => rc,
                }
            }
            Mode::Collect => collect(api, fts, s),
        };
        if rc != ffi::SQLITE_OK {
            ffi::sqlite3_result_error_code(ctx, rc);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The search

/// How a query was ranked (for tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Route {
    /// No note matched.
    Empty,
    /// One word or prefix, through `note_impact`.
    Impact,
    /// Every match scored.
    Full,
}

/// The ranked notes of a query and what snippets need to mark the words in them.
pub(crate) struct Ranked {
    /// (rowid, bm25 rank: lower is better), best first.
    pub hits: Vec<(i64, f64)>,
    /// The query's phrases as kluis's tokenizer splits them, and whether each is a prefix;
    /// None when the query is not a plain list of quoted words (then FTS5 makes snippets).
    pub phrases: Option<Vec<(Vec<Vec<u8>>, bool)>>,
    pub route: Route,
}

impl Drop for Ranked {
    fn drop(&mut self) {
        for (tokens, _) in self.phrases.iter_mut().flatten() {
            for t in tokens {
                t.zeroize();
            }
        }
    }
}

/// The phrases of a query that is only quoted phrases, each perhaps with a `*` (what
/// `model::fts_query` writes): (text, prefix).
fn simple_phrases(query: &str) -> Option<Vec<(String, bool)>> {
    let b = query.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() {
            return (!out.is_empty()).then_some(out);
        }
        if b[i] != b'"' {
            return None;
        }
        i += 1;
        let mut text = Vec::new();
        loop {
            match b.get(i) {
                None => return None,
                Some(b'"') if b.get(i + 1) == Some(&b'"') => {
                    text.push(b'"');
                    i += 2;
                }
                Some(b'"') => break,
                Some(c) => {
                    text.push(*c);
                    i += 1;
                }
            }
        }
        i += 1;
        let prefix = b.get(i) == Some(&b'*');
        if prefix {
            i += 1;
        }
        if i < b.len() && !b[i].is_ascii_whitespace() {
            return None;
        }
        out.push((String::from_utf8(text).ok()?, prefix));
    }
}

/// Whether `tokens` from position `i` hold a phrase (its last token as a prefix, if so).
fn phrase_at(
    tokens: &[(usize, usize, Vec<u8>)],
    i: usize,
    words: &[Vec<u8>],
    prefix: bool,
) -> bool {
    !words.is_empty()
        && words.iter().enumerate().all(|(j, w)| {
            tokens.get(i + j).is_some_and(|t| {
                if prefix && j == words.len() - 1 {
                    t.2.starts_with(w)
                } else {
                    t.2 == *w
                }
            })
        })
}

/// From this many notes on, the weight of a prefix of 4 or more letters is estimated from a
/// sample: counting it means FTS5 merging the lists of every word it begins, tens of
/// thousands of notes for a frequent one.
const SAMPLE_FROM: i64 = 20_000;
const SAMPLE: usize = 256;

/// How common a phrase is in `SAMPLE` notes spread evenly over the index; None when too few
/// have it to estimate (then it is cheap to count).
fn sampled_df(
    conn: &Connection,
    tokenizer: &Tokenizer,
    lengths: &DocLengths,
    words: &[Vec<u8>],
    prefix: bool,
) -> Result<Option<Sampled>> {
    let (Some(first), Some(last)) = (lengths.min_id, lengths.max_id) else {
        return Ok(None);
    };
    let step = ((last - first + 1) / SAMPLE as i64).max(1);
    let mut body = conn.prepare_cached("SELECT body FROM note WHERE rowid = ?1")?;
    let (mut seen, mut hits) = (0usize, 0usize);
    let mut rowid = first;
    while rowid <= last && seen < SAMPLE {
        // The next indexed note at or after `rowid`.
        let mut id = rowid;
        while id <= last && lengths.get(id).is_none() {
            id += 1;
        }
        if id > last {
            break;
        }
        if let Some(mut text) = body.query_row([id], |r| r.get::<_, String>(0)).optional()? {
            let mut tokens = tokenizer.tokens(&text);
            seen += 1;
            if (0..tokens.len()).any(|i| phrase_at(&tokens, i, words, prefix)) {
                hits += 1;
            }
            for t in &mut tokens {
                t.2.zeroize();
            }
            text.zeroize();
        }
        rowid = id + step;
        // None in the first 32: rare, and cheap to count.
        if seen == 32 && hits == 0 {
            return Ok(Some(Sampled::Rare));
        }
    }
    Ok((hits >= 8).then(|| Sampled::Share(hits as f64 / seen as f64)))
}

/// What a sample of the notes says about a phrase.
#[derive(Clone, Copy, Debug)]
enum Sampled {
    /// In none of the first 32 notes looked at.
    Rare,
    /// In this share of them (8 or more of up to 256).
    Share(f64),
}

/// The best `limit` non-special notes for an FTS5 query, best first.
pub(crate) fn rank_notes(
    conn: &Connection,
    lengths: &DocLengths,
    query: &str,
    limit: usize,
) -> Result<Ranked> {
    let mut ranked = Ranked {
        hits: Vec::new(),
        phrases: None,
        route: Route::Empty,
    };
    if limit == 0 || lengths.rows == 0 {
        return Ok(ranked);
    }
    let tokenizer = Tokenizer::new(conn)?;
    ranked.phrases = simple_phrases(query).map(|phrases| {
        phrases
            .into_iter()
            .map(|(mut text, prefix)| {
                let words = tokenizer.tokens(&text).into_iter().map(|t| t.2).collect();
                text.zeroize();
                (words, prefix)
            })
            .collect()
    });
    let mut scan = Scan {
        mode: Mode::Collect,
        lengths,
        plan: Plan::default(),
        preset_df: Vec::new(),
        idf: Vec::new(),
        avg_len: (lengths.tokens as f64 / lengths.rows as f64).max(1e-9),
        top: TopK::new(limit),
        freq: Vec::new(),
    };
    // Long prefixes in a large vault: their weight from a sample.
    if let Some(phrases) = &ranked.phrases
        && lengths.rows >= SAMPLE_FROM
    {
        for (words, prefix) in phrases {
            let long = *prefix
                && words
                    .last()
                    .and_then(|w| std::str::from_utf8(w).ok())
                    .is_some_and(|w| w.chars().count() > 3);
            let sampled = if long {
                sampled_df(conn, &tokenizer, lengths, words, *prefix)?
            } else {
                None
            };
            scan.preset_df.push(match sampled {
                Some(Sampled::Share(p)) => Some(p * lengths.rows as f64),
                _ => None,
            });
        }
    }
    drop(tokenizer);

    // One word or one prefix: its markers may settle it, without touching note_fts.
    let single = match ranked.phrases.as_deref() {
        Some([(words, prefix)])
            if words.len() == 1
                && std::str::from_utf8(&words[0]).is_ok_and(|w| w.chars().count() >= 2) =>
        {
            Some((words[0].clone(), *prefix))
        }
        _ => None,
    };
    if let Some((mut term, prefix)) = single {
        let top = by_impact(conn, &mut scan, prefix, &term);
        term.zeroize();
        if let Some(top) = top? {
            ranked.route = Route::Impact;
            let df = match scan.preset_df.first().copied().flatten() {
                Some(df) => df,
                None => {
                    scan.mode = Mode::Count;
                    with_scan(&mut scan, || -> Result<()> {
                        conn.prepare_cached(
                            "SELECT kluis_scan(note_fts) FROM note_fts WHERE note_fts MATCH ?1 LIMIT 1",
                        )?
                        .query_row([query], |_| Ok(()))
                        .optional()?;
                        Ok(())
                    })?;
                    scan.plan.df.first().copied().unwrap_or(1.0)
                }
            };
            let idf = idf(lengths.rows as f64, df);
            ranked.hits = top
                .into_iter()
                .map(|s| (s.rowid, -(idf * s.score)))
                .collect();
            return Ok(ranked);
        }
    }
    // Several words: their markers, band by band, when each is one word (a prefix of at most
    // MAX_PREFIX letters).
    if let Some(phrases) = ranked.phrases.as_deref()
        && phrases.len() > 1
        && phrases.iter().all(|(words, prefix)| {
            words.len() == 1
                && std::str::from_utf8(&words[0]).is_ok_and(|w| {
                    (1 + usize::from(*prefix)..=MAX_PREFIX).contains(&w.chars().count())
                })
        })
    {
        let mut idfs = Vec::with_capacity(phrases.len());
        for (i, (words, prefix)) in phrases.iter().enumerate() {
            let df = match scan.preset_df.get(i).copied().flatten() {
                Some(df) => df,
                None => {
                    let mut one = String::from("\"");
                    one.push_str(&String::from_utf8_lossy(&words[0]).replace('"', "\"\""));
                    one.push('"');
                    if *prefix {
                        one.push('*');
                    }
                    scan.mode = Mode::Count;
                    scan.plan.df.clear();
                    with_scan(&mut scan, || -> Result<()> {
                        conn.prepare_cached(
                            "SELECT kluis_scan(note_fts) FROM note_fts WHERE note_fts MATCH ?1 LIMIT 1",
                        )?
                        .query_row([&one], |_| Ok(()))
                        .optional()?;
                        Ok(())
                    })?;
                    one.zeroize();
                    scan.plan.df.first().copied().unwrap_or(0.0)
                }
            };
            if scan.preset_df.len() <= i {
                scan.preset_df.resize(i + 1, None);
            }
            scan.preset_df[i] = Some(df);
            idfs.push(idf(lengths.rows as f64, df));
        }
        if let Some(top) = by_impact_all(conn, &scan, phrases, &idfs)? {
            ranked.route = Route::Impact;
            ranked.hits = top.into_iter().map(|s| (s.rowid, -s.score)).collect();
            return Ok(ranked);
        }
    }
    // Every note that matches, scored once, in one statement.
    scan.mode = Mode::Collect;
    scan.top = TopK::new(limit);
    with_scan(&mut scan, || -> Result<()> {
        let mut stmt = conn
            .prepare_cached("SELECT kluis_scan(note_fts) FROM note_fts WHERE note_fts MATCH ?1")?;
        let mut rows = stmt.query([query])?;
        while rows.next()?.is_some() {}
        Ok(())
    })?;
    if scan.plan.done {
        ranked.route = Route::Full;
    }
    ranked.hits = std::mem::replace(&mut scan.top, TopK::new(0))
        .into_sorted()
        .into_iter()
        .map(|s| (s.rowid, -s.score))
        .collect();
    Ok(ranked)
}

/// FTS5's vocabulary of `note_impact`, as a temporary table of this connection (made once).
fn open_impact_vocab(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.kluis_impact_vocab
         USING fts5vocab(main, note_impact, 'row')",
    )?;
    Ok(())
}

/// The markers that exist in a range of FTS5's vocabulary of `note_impact` (after
/// [`open_impact_vocab`]).
fn impact_markers_in(conn: &Connection, from: &[u8], to: &[u8]) -> Result<Vec<Vec<u8>>> {
    Ok(conn
        .prepare_cached(
            "SELECT CAST(term AS BLOB) FROM temp.kluis_impact_vocab
             WHERE term >= ?1 AND term < ?2",
        )?
        .query_map(
            [
                String::from_utf8_lossy(from).into_owned(),
                String::from_utf8_lossy(to).into_owned(),
            ],
            |r| r.get(0),
        )?
        .collect::<rusqlite::Result<_>>()?)
}

/// The best notes for one word or prefix from its markers in `note_impact`, scored without
/// the idf (the same for all); None when the markers cannot settle it within a reasonable
/// number of reads (then every match is scored).
///
/// A word's markers cover every note that has it (`t`, with how often and the note's length
/// band), so they are read from the highest bound down until no unread note can get in. A
/// prefix reads its own markers first (`p`: the notes where words beginning with it occur
/// twice or more, or the note is short), then, band by band, the once-only markers of the
/// words it begins (`t`, how often 1), skipping the notes already read. A prefix longer than
/// `MAX_PREFIX` letters uses the markers of its first `MAX_PREFIX` letters, which bound its
/// count; such notes, and notes with a word 9 or more times, are counted in their text.
fn by_impact(
    conn: &Connection,
    scan: &mut Scan,
    prefix: bool,
    term: &[u8],
) -> Result<Option<Vec<Scored>>> {
    let avg = scan.avg_len;
    let (kind, key, exact) = match prefix_chars(term, MAX_PREFIX) {
        Some(short) if prefix && short.len() < term.len() => (b'p', short, false),
        _ if prefix => (b'p', term, true),
        _ => (b't', term, true),
    };
    // SAFETY: the cache outlives this search.
    let lengths = unsafe { &*scan.lengths };
    // Notes not in the prefix's own markers have it once and are not short.
    let long = lengths.min_long.max(BANDS[SHORT_BANDS]);
    let bound_of = |tf: u32, b: usize| {
        let low = BANDS[b];
        let shortest = if b >= SHORT_BANDS { low.max(long) } else { low };
        if tf >= 9 {
            K1 + 1.0
        } else {
            weight(tf as f64, shortest.max(tf) as f64, avg)
        }
    };
    open_impact_vocab(conn)?;
    let markers_in = |from: &[u8], to: &[u8]| impact_markers_in(conn, from, to);
    // (tf, band) of a marker, after its stem.
    let cell_of = |m: &[u8], stem: usize| -> Option<(u32, usize)> {
        let [tf, b] = m.get(stem..)? else {
            return None;
        };
        let (tf, b) = (tf.wrapping_sub(b'0') as u32, b.wrapping_sub(b'0') as usize);
        ((1..=9).contains(&tf) && b < BANDS.len()).then_some((tf, b))
    };
    let stem = marker_stem(kind, key);
    let mut end = stem.clone();
    *end.last_mut().expect("stem ends with the separator") = 0x02;
    // A group of markers read together: its bound, how often (for the key's own markers), and
    // the markers (several for a band of once-only words of a prefix).
    struct Group {
        bound: f64,
        tf: u32,
        band: usize,
        once: bool,
        markers: Vec<Vec<u8>>,
    }
    let mut groups: Vec<Group> = markers_in(&stem, &end)?
        .into_iter()
        .filter_map(|m| {
            let (tf, b) = cell_of(&m, stem.len())?;
            Some(Group {
                bound: bound_of(tf, b),
                tf,
                band: b,
                once: false,
                markers: vec![m],
            })
        })
        .collect();
    // For a prefix: what is not in its markers, band by band (listed when first needed).
    let mut pending_once = kind == b'p';
    let once_bound = |b: usize| bound_of(1, b);
    let unread_once = if pending_once {
        once_bound(SHORT_BANDS)
    } else {
        0.0
    };
    groups.sort_by(|a, b| b.bound.total_cmp(&a.bound));
    // Bounds are compared with a margin, so that rounding never ends the search early.
    let beats = |floor: f64, bound: f64| floor > bound * (1.0 + 1e-9);
    let mut top = TopK::new(scan.top.k);
    let mut seen: std::collections::HashSet<i64> = std::collections::HashSet::new();
    let mut in_text: Vec<i64> = Vec::new();
    let mut tokenizer: Option<Tokenizer> = None;
    let mut body = conn.prepare_cached("SELECT body FROM note WHERE rowid = ?1 AND NOT special")?;
    let mut reads = 0usize;
    let mut i = 0;
    loop {
        let next = groups.get(i).map_or(0.0, |g| g.bound);
        if let Some(floor) = top.floor()
            && beats(
                floor,
                if pending_once {
                    next.max(unread_once)
                } else {
                    next
                },
            )
        {
            break;
        }
        if pending_once && (i >= groups.len() || next < unread_once) {
            // The once-only markers of the words the prefix begins, one group per band.
            pending_once = false;
            let mut from = vec![b't'];
            from.extend_from_slice(term);
            let mut to = from.clone();
            to.push(0xFF);
            let mut by_band: Vec<Vec<Vec<u8>>> = vec![Vec::new(); BANDS.len()];
            for m in markers_in(&from, &to)? {
                let Some(sep) = m.iter().position(|b| *b == 0x01) else {
                    continue;
                };
                if let Some((1, b)) = cell_of(&m, sep + 1)
                    && b >= SHORT_BANDS
                {
                    by_band[b].push(m);
                }
            }
            let mut rest = groups.split_off(i);
            for (b, markers) in by_band.into_iter().enumerate() {
                if !markers.is_empty() {
                    rest.push(Group {
                        bound: once_bound(b),
                        tf: 1,
                        band: b,
                        once: true,
                        markers,
                    });
                }
            }
            rest.sort_by(|a, b| b.bound.total_cmp(&a.bound));
            groups.extend(rest);
            continue;
        }
        let Some(group) = groups.get(i) else {
            break;
        };
        i += 1;
        if reads > IMPACT_READS {
            return Ok(None);
        }
        let mut query = Vec::new();
        for (n, m) in group.markers.iter().enumerate() {
            if n > 0 {
                query.extend_from_slice(b" OR ");
            }
            query.push(b'"');
            query.extend_from_slice(m);
            query.push(b'"');
        }
        let Ok(mut text) = String::from_utf8(query) else {
            return Ok(None);
        };
        // In a band of one length every note of a marker scores the same: newest first, and
        // the first that does not get in ends it.
        let same_score = group.band < EXACT_BANDS && group.tf < 9 && (exact || group.once);
        let mut stmt = conn.prepare_cached(
            "SELECT rowid FROM note_impact WHERE note_impact MATCH ?1 ORDER BY rowid DESC",
        )?;
        let mut rows = stmt.query([&text])?;
        while let Some(r) = rows.next()? {
            let rowid: i64 = r.get(0)?;
            reads += 1;
            if same_score
                && !seen.contains(&rowid)
                && let Some(len) = lengths.get(rowid)
            {
                let s = Scored {
                    score: weight(group.tf as f64, len as f64, avg),
                    rowid,
                };
                if top.heap.len() == top.k && top.heap.peek().is_some_and(|w| s >= *w) {
                    break;
                }
            }
            if group.once {
                // Once only, unless the prefix's own markers had it (then it was read).
                if seen.contains(&rowid) {
                    continue;
                }
                if let Some(len) = lengths.get(rowid) {
                    top.push(Scored {
                        score: weight(1.0, len as f64, avg),
                        rowid,
                    });
                    continue;
                }
            } else if kind == b'p' {
                seen.insert(rowid);
            }
            match lengths.get(rowid) {
                Some(len) if exact && group.tf < 9 && !group.once => top.push(Scored {
                    score: weight(group.tf as f64, len as f64, avg),
                    rowid,
                }),
                _ => in_text.push(rowid),
            }
        }
        drop(rows);
        text.zeroize();
        for rowid in in_text.drain(..) {
            let tokenizer = match &tokenizer {
                Some(t) => t,
                None => tokenizer.insert(Tokenizer::new(conn)?),
            };
            let Some(mut note) = body
                .query_row([rowid], |r| r.get::<_, String>(0))
                .optional()?
            else {
                continue;
            };
            let mut tokens = tokenizer.tokens(&note);
            let count = tokens
                .iter()
                .filter(|t| {
                    if prefix {
                        t.2.starts_with(term)
                    } else {
                        t.2 == term
                    }
                })
                .count();
            if count > 0 {
                top.push(Scored {
                    score: weight(count as f64, tokens.len() as f64, avg),
                    rowid,
                });
            }
            for t in &mut tokens {
                t.2.zeroize();
            }
            note.zeroize();
        }
    }
    Ok(Some(top.into_sorted()))
}

/// The best notes for several words (each one word, or a prefix of at most `MAX_PREFIX`
/// letters), all of which a note must have, from their markers; None when the markers are
/// too many to read this way (then every match is scored).
///
/// Every matching note is in exactly one group: its length band and, per word, how often it
/// has it (a prefix: its own marker when its words occur twice or more or the note is short,
/// else the once-only marker of the one word it begins, without the notes in its own
/// markers). A group is one FTS5 query over note_impact (`A AND B ...`); groups are read from
/// the highest score down, and in a band of one length every note of a group scores the same,
/// so it is read newest first until one does not get in.
fn by_impact_all(
    conn: &Connection,
    scan: &Scan,
    phrases: &[(Vec<Vec<u8>>, bool)],
    idfs: &[f64],
) -> Result<Option<Vec<Scored>>> {
    use std::collections::BTreeMap;
    let avg = scan.avg_len;
    // SAFETY: the cache outlives this search.
    let lengths = unsafe { &*scan.lengths };
    open_impact_vocab(conn)?;
    let markers_in = |from: &[u8], to: &[u8]| impact_markers_in(conn, from, to);
    let cell_of = |m: &[u8]| -> Option<(u32, usize)> {
        let sep = m.iter().position(|b| *b == 0x01)?;
        let [tf, b] = m.get(sep + 1..)? else {
            return None;
        };
        let (tf, b) = (tf.wrapping_sub(b'0') as u32, b.wrapping_sub(b'0') as usize);
        ((1..=9).contains(&tf) && b < BANDS.len()).then_some((tf, b))
    };
    let quote = |m: &[u8]| {
        let mut q = Vec::with_capacity(m.len() + 2);
        q.push(b'"');
        q.extend_from_slice(m);
        q.push(b'"');
        q
    };
    let or = |parts: &[Vec<u8>]| {
        let mut e = vec![b'('];
        for (n, p) in parts.iter().enumerate() {
            if n > 0 {
                e.extend_from_slice(b" OR ");
            }
            e.extend_from_slice(&quote(p));
        }
        e.push(b')');
        e
    };
    // Per word: band -> [(how often, FTS5 expression)].
    let mut per_word: Vec<PostingsByLength> = Vec::new();
    for (words, prefix) in phrases {
        let term = &words[0];
        let kind = if *prefix { b'p' } else { b't' };
        let stem = marker_stem(kind, term);
        let mut end = stem.clone();
        *end.last_mut().expect("stem ends with the separator") = 0x02;
        let mut cells: BTreeMap<usize, Vec<(u32, Vec<u8>)>> = BTreeMap::new();
        let own = markers_in(&stem, &end)?;
        for m in &own {
            if let Some((tf, b)) = cell_of(m) {
                cells.entry(b).or_default().push((tf, quote(m)));
            }
        }
        if *prefix {
            // Once in a longer note: the once-only marker of the word it begins, unless the
            // note is in the prefix's own markers of that band.
            let mut from = vec![b't'];
            from.extend_from_slice(term);
            let mut to = from.clone();
            to.push(0xFF);
            let mut once: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
            for m in markers_in(&from, &to)? {
                if let Some((1, b)) = cell_of(&m)
                    && b >= SHORT_BANDS
                {
                    once.entry(b).or_default().push(m);
                }
            }
            for (b, words) in once {
                if words.len() > 64 {
                    return Ok(None);
                }
                let mut e = or(&words);
                let own_here: Vec<Vec<u8>> = own
                    .iter()
                    .filter(|m| cell_of(m).is_some_and(|(_, mb)| mb == b))
                    .cloned()
                    .collect();
                if !own_here.is_empty() {
                    e = [b"(".as_slice(), &e, b" NOT ", &or(&own_here), b")"].concat();
                }
                cells.entry(b).or_default().push((1, e));
            }
        }
        per_word.push(cells);
    }
    // Groups: a band every word has, and one way of having each.
    struct Group {
        bound: f64,
        band: usize,
        tfs: Vec<u32>,
        expr: Vec<u8>,
    }
    let mut groups: Vec<Group> = Vec::new();
    for (&b, first) in &per_word[0] {
        if per_word.iter().any(|w| !w.contains_key(&b)) {
            continue;
        }
        let mut combos: Vec<(Vec<u32>, Vec<Vec<u8>>)> = vec![(Vec::new(), Vec::new())];
        for (i, w) in per_word.iter().enumerate() {
            let options = if i == 0 { first } else { &w[&b] };
            let mut next = Vec::with_capacity(combos.len() * options.len());
            for (tfs, exprs) in &combos {
                for (tf, e) in options {
                    let mut t = tfs.clone();
                    t.push(*tf);
                    let mut x = exprs.clone();
                    x.push(e.clone());
                    next.push((t, x));
                }
            }
            combos = next;
            if combos.len() > 400 {
                return Ok(None);
            }
        }
        let low = BANDS[b];
        for (tfs, exprs) in combos {
            let bound = tfs
                .iter()
                .zip(idfs)
                .map(|(tf, idf)| {
                    idf * if *tf >= 9 {
                        K1 + 1.0
                    } else {
                        weight(*tf as f64, low.max(*tf) as f64, avg)
                    }
                })
                .sum();
            groups.push(Group {
                bound,
                band: b,
                tfs,
                expr: exprs.join(b" AND ".as_slice()),
            });
        }
        if groups.len() > 4_000 {
            return Ok(None);
        }
    }
    groups.sort_by(|a, b| b.bound.total_cmp(&a.bound));
    let beats = |floor: f64, bound: f64| floor > bound * (1.0 + 1e-9);
    let mut top = TopK::new(scan.top.k);
    let mut reads = 0usize;
    let mut tokenizer: Option<Tokenizer> = None;
    let mut body = conn.prepare_cached("SELECT body FROM note WHERE rowid = ?1 AND NOT special")?;
    for group in &groups {
        if let Some(floor) = top.floor()
            && beats(floor, group.bound)
        {
            break;
        }
        let Ok(mut text) = String::from_utf8(group.expr.clone()) else {
            return Ok(None);
        };
        let same_score = group.band < EXACT_BANDS && group.tfs.iter().all(|tf| *tf < 9);
        let mut stmt = conn.prepare_cached(
            "SELECT rowid FROM note_impact WHERE note_impact MATCH ?1 ORDER BY rowid DESC",
        )?;
        let mut rows = stmt.query([&text])?;
        while let Some(r) = rows.next()? {
            let rowid: i64 = r.get(0)?;
            reads += 1;
            if reads > IMPACT_READS {
                return Ok(None);
            }
            let Some(len) = lengths.get(rowid) else {
                return Ok(None);
            };
            let score = if group.tfs.iter().all(|tf| *tf < 9) {
                group
                    .tfs
                    .iter()
                    .zip(idfs)
                    .map(|(tf, idf)| idf * weight(*tf as f64, len as f64, avg))
                    .sum()
            } else {
                // Nine times or more: counted in the text.
                let tokenizer = match &tokenizer {
                    Some(t) => t,
                    None => tokenizer.insert(Tokenizer::new(conn)?),
                };
                let Some(mut note) = body
                    .query_row([rowid], |r| r.get::<_, String>(0))
                    .optional()?
                else {
                    continue;
                };
                let mut tokens = tokenizer.tokens(&note);
                let score = phrases
                    .iter()
                    .zip(idfs)
                    .map(|((words, prefix), idf)| {
                        let tf = tokens
                            .iter()
                            .filter(|t| {
                                if *prefix {
                                    t.2.starts_with(&words[0])
                                } else {
                                    t.2 == words[0]
                                }
                            })
                            .count();
                        idf * weight(tf as f64, tokens.len() as f64, avg)
                    })
                    .sum();
                for t in &mut tokens {
                    t.2.zeroize();
                }
                note.zeroize();
                score
            };
            let s = Scored { score, rowid };
            let full = top.heap.len() == top.k;
            if same_score && full && top.heap.peek().is_some_and(|w| s >= *w) {
                break;
            }
            top.push(s);
        }
        drop(rows);
        text.zeroize();
    }
    Ok(Some(top.into_sorted()))
}

/// Notes read from markers before the search scores every match instead (a word in nearly
/// every note, ranked by length alone, could otherwise read them all).
const IMPACT_READS: usize = 60_000;

// ---------------------------------------------------------------------------------------
// Snippets

/// kluis's tokenizer, for text outside FTS5 (snippets), configured as the tables are.
pub(crate) struct Tokenizer {
    methods: ffi::fts5_tokenizer_v2,
    instance: *mut ffi::Fts5Tokenizer,
}

impl Tokenizer {
    pub(crate) fn new(conn: &Connection) -> Result<Tokenizer> {
        let failed = || {
            crate::error::Error::Database(rusqlite::Error::SqliteFailure(
                ffi::Error::new(ffi::SQLITE_ERROR),
                Some("the kluis tokenizer is not registered".into()),
            ))
        };
        // SAFETY: the api pointer is valid for the connection's life, which outlives this
        // tokenizer (it is dropped within one search); the arguments are static strings.
        unsafe {
            let api = fts5_api(conn)?;
            let find = (*api).xFindTokenizer_v2.ok_or_else(failed)?;
            let mut user_data = std::ptr::null_mut();
            let mut methods: *mut ffi::fts5_tokenizer_v2 = std::ptr::null_mut();
            if find(api, c"kluis".as_ptr(), &mut user_data, &mut methods) != ffi::SQLITE_OK
                || methods.is_null()
            {
                return Err(failed());
            }
            let methods = *methods;
            let create = methods.xCreate.ok_or_else(failed)?;
            let mut args = [c"remove_diacritics".as_ptr(), c"2".as_ptr()];
            let mut instance = std::ptr::null_mut();
            if create(user_data, args.as_mut_ptr(), 2, &mut instance) != ffi::SQLITE_OK {
                return Err(failed());
            }
            Ok(Tokenizer { methods, instance })
        }
    }

    /// The tokens of `text`: (byte start, byte end, folded token).
    fn tokens(&self, text: &str) -> Vec<(usize, usize, Vec<u8>)> {
        unsafe extern "C" fn each(
            ctx: *mut c_void,
            flags: c_int,
            token: *const c_char,
            n: c_int,
            start: c_int,
            end: c_int,
        ) -> c_int {
            // SAFETY: ctx is the Vec below; the token is n valid bytes.
            unsafe {
                if flags & 1 == 0 {
                    let out = &mut *ctx.cast::<Vec<(usize, usize, Vec<u8>)>>();
                    let bytes = if n > 0 {
                        std::slice::from_raw_parts(token.cast::<u8>(), n as usize).to_vec()
                    } else {
                        Vec::new()
                    };
                    out.push((start.max(0) as usize, end.max(0) as usize, bytes));
                }
            }
            ffi::SQLITE_OK
        }
        let mut out: Vec<(usize, usize, Vec<u8>)> = Vec::new();
        if let Some(tokenize) = self.methods.xTokenize {
            // SAFETY: a live instance; the text and the Vec outlive the call.
            unsafe {
                tokenize(
                    self.instance,
                    (&mut out as *mut Vec<(usize, usize, Vec<u8>)>).cast(),
                    0x0008,
                    text.as_ptr().cast(),
                    text.len() as c_int,
                    std::ptr::null(),
                    0,
                    Some(each),
                );
            }
        }
        out
    }
}

impl Drop for Tokenizer {
    fn drop(&mut self) {
        if let Some(delete) = self.methods.xDelete {
            // SAFETY: the instance came from xCreate and is deleted once.
            unsafe { delete(self.instance) }
        }
    }
}

/// FTS5's snippet(…, '[', ']', '…', 12) of one note, computed the way FTS5 computes it
/// (fts5SnippetFunction, ported line for line) from the note's text and the query's phrases.
/// Asking FTS5 instead costs a lookup of the query per note, which for a prefix of four or
/// more letters means merging every matching word's list again: most of a search's time.
pub(crate) fn snippet(
    tokenizer: &Tokenizer,
    text: &str,
    phrases: &[(Vec<Vec<u8>>, bool)],
) -> String {
    const OPEN: &str = "[";
    const CLOSE: &str = "]";
    const ELLIPSIS: &str = "…";
    const N_TOKEN: i64 = 12;
    let mut tokens = tokenizer.tokens(text);
    let doc = text.as_bytes();
    let n_doc = tokens.len() as i64;
    // Phrase instances (position, phrase), in FTS5's order.
    let mut insts: Vec<(i64, usize)> = Vec::new();
    for (p, (words, prefix)) in phrases.iter().enumerate() {
        for i in 0..tokens.len() {
            if phrase_at(&tokens, i, words, *prefix) {
                insts.push((i as i64, p));
            }
        }
    }
    insts.sort();
    let size = |p: usize| phrases[p].0.len() as i64;
    // The first token of each sentence (after ". " or ": "), as fts5SentenceFinderCb.
    let mut first: Vec<i64> = Vec::new();
    for (pos, (start, _, _)) in tokens.iter().enumerate() {
        if pos == 0 {
            first.push(0);
            continue;
        }
        let mut i = *start as i64 - 1;
        let mut c = 0u8;
        while i >= 0 {
            c = doc[i as usize];
            if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            i -= 1;
        }
        if i != *start as i64 - 1 && (c == b'.' || c == b':') {
            first.push(pos as i64);
        }
    }
    let score = |from: i64, adjust: bool| -> (i64, i64) {
        let mut seen = vec![false; phrases.len()];
        let (mut total, mut i_first, mut i_last) = (0, -1, 0);
        for &(off, p) in &insts {
            if off >= from && off < from + N_TOKEN {
                total += if seen[p] { 1 } else { 1000 };
                seen[p] = true;
                if i_first < 0 {
                    i_first = off;
                }
                i_last = off + size(p);
            }
        }
        let mut adj = 0;
        if adjust {
            adj = i_first - (N_TOKEN - (i_last - i_first)) / 2;
            if adj + N_TOKEN > n_doc {
                adj = n_doc - N_TOKEN;
            }
            if adj < 0 {
                adj = 0;
            }
        }
        (total, adj)
    };
    let (mut best_score, mut best_start) = (0, 0);
    for &(io, _) in &insts {
        if io > n_doc {
            break;
        }
        let (s, adj) = score(io, true);
        if s > best_score {
            best_score = s;
            best_start = adj;
        }
        if !first.is_empty() && n_doc > N_TOKEN {
            let mut jj = 0;
            while jj + 1 < first.len() {
                if first[jj + 1] > io {
                    break;
                }
                jj += 1;
            }
            if first[jj] < io {
                let (mut s, _) = score(first[jj], false);
                s += if first[jj] == 0 { 120 } else { 100 };
                if s > best_score {
                    best_score = s;
                    best_start = first[jj];
                }
            }
        }
    }
    // Coalesced phrase instances, as fts5CInstIter.
    let mut next_inst = 0;
    let mut coalesced = || -> (i64, i64) {
        let (mut start, mut end) = (-1, -1);
        while next_inst < insts.len() {
            let (io, p) = insts[next_inst];
            let e = io - 1 + size(p);
            if start < 0 {
                start = io;
                end = e;
            } else if io <= end {
                end = end.max(e);
            } else {
                break;
            }
            next_inst += 1;
        }
        (start, end)
    };
    let mut out = String::new();
    let mut push = |s: &[u8]| out.push_str(&String::from_utf8_lossy(s));
    let (range_start, range_end) = (best_start, best_start + N_TOKEN - 1);
    if best_start > 0 {
        push(ELLIPSIS.as_bytes());
    }
    let mut iter = coalesced();
    while iter.0 >= 0 && iter.0 < best_start {
        iter = coalesced();
    }
    let (mut off, mut open) = (0usize, false);
    for (pos, (start, end, _)) in tokens.iter().enumerate() {
        let pos = pos as i64;
        if pos < range_start || pos > range_end {
            continue;
        }
        if range_start != 0 && pos == range_start {
            off = *start;
        }
        if open && (pos <= iter.0 || iter.0 < 0) && *start > off {
            push(CLOSE.as_bytes());
            open = false;
        }
        if pos == iter.0 && !open {
            push(&doc[off..*start]);
            push(OPEN.as_bytes());
            off = *start;
            open = true;
        }
        if pos == iter.1 {
            if !open {
                push(OPEN.as_bytes());
                open = true;
            }
            push(&doc[off..*end]);
            off = *end;
            iter = coalesced();
        }
        if pos == range_end {
            if open {
                if iter.0 >= 0 && pos >= iter.0 {
                    push(&doc[off..*end]);
                    off = *end;
                }
                push(CLOSE.as_bytes());
                open = false;
            }
            push(&doc[off..*end]);
            off = *end;
        }
    }
    if open {
        push(CLOSE.as_bytes());
    }
    if range_end >= n_doc - 1 {
        push(&doc[off.min(doc.len())..]);
    } else {
        push(ELLIPSIS.as_bytes());
    }
    for t in &mut tokens {
        t.2.zeroize();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Bsn, Domain, NewClient, NewNote, NoteKind, fts_query};
    use crate::store::Store;
    use chrono::{NaiveDate, NaiveDateTime};
    use rusqlite::params;

    fn client(s: &Store, name: &str) -> String {
        s.add_client(&NewClient {
            name: name.into(),
            bsn: Some(Bsn::parse("111222333").unwrap()),
            birth_date: None,
            address: None,
            phone: None,
            domain: Domain::Wmo,
            opened_on: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        })
        .unwrap()
    }

    fn note(s: &Store, client: &str, body: &str, special: bool) -> String {
        note_correcting(s, client, body, special, None)
    }

    fn note_correcting(
        s: &Store,
        client: &str,
        body: &str,
        special: bool,
        supersedes: Option<String>,
    ) -> String {
        s.add_note(&NewNote {
            client_id: client.into(),
            kind: NoteKind::Huisbezoek,
            occurred_at: NaiveDateTime::parse_from_str("2026-02-01 10:00", "%Y-%m-%d %H:%M")
                .unwrap(),
            body: body.into(),
            supersedes,
            special,
        })
        .unwrap()
    }

    fn find(s: &Store, words: &str) -> Vec<crate::model::SearchHit> {
        s.search(&fts_query(words).unwrap(), 50).unwrap()
    }

    /// Terms in a full-text table, through FTS5's own vocabulary view, once every note that
    /// waits is in it (as any reader of the indexes sees them).
    fn vocabulary(s: &Store, table: &str) -> Vec<String> {
        index_pending(s.connection()).unwrap();
        s.connection()
            .execute_batch(&format!(
                "DROP TABLE IF EXISTS temp.v_{table};
                 CREATE VIRTUAL TABLE temp.v_{table} USING fts5vocab(main, {table}, 'row');"
            ))
            .unwrap();
        let mut stmt = s
            .connection()
            .prepare(&format!("SELECT term FROM temp.v_{table}"))
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }

    fn ours(s: &Store, query: &str, limit: usize) -> (Vec<(i64, f64)>, Route) {
        index_pending(s.connection()).unwrap();
        let mut lengths = s.doc_lengths.borrow_mut();
        refresh_lengths(s.connection(), &mut lengths).unwrap();
        let ranked = rank_notes(s.connection(), lengths.as_ref().unwrap(), query, limit).unwrap();
        (ranked.hits.clone(), ranked.route)
    }

    /// FTS5's own bm25() over every match, best first, ties to the newest note.
    fn oracle(s: &Store, query: &str) -> Vec<(i64, f64)> {
        index_pending(s.connection()).unwrap();
        let mut stmt = s
            .connection()
            .prepare("SELECT rowid, bm25(note_fts) FROM note_fts WHERE note_fts MATCH ?1")
            .unwrap();
        let mut all: Vec<(i64, f64)> = stmt
            .query_map([query], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        all.sort_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        all
    }

    /// A corpus where words repeat and note lengths vary from 1 to 40 words: what the
    /// impact markers are for.
    fn corpus(s: &Store, seed: u64, notes: usize) {
        const WORDS: &[&str] = &[
            "de",
            "het",
            "huur",
            "huis",
            "huisarts",
            "hulp",
            "dijk",
            "dak",
            "deur",
            "brief",
            "bel",
            "ĳsselmeer",
            "schuld",
            "schulden",
            "school",
            "de",
            "de",
            "het",
            "en",
            "en",
            "huurachterstand",
            "huurachterstanden",
            "huurachterstand",
            "huurachterban",
            "huurachterstandsregelingen",
        ];
        let c = client(s, "Corpus");
        let mut x = seed | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let conn = s.connection();
        for i in 0..notes {
            let len = 1 + (next() % 40) as usize;
            // Words, and sometimes the end of a sentence: snippets start at sentences.
            let mut body = String::new();
            for w in 0..len {
                if w > 0 {
                    body.push_str(match next() % 20 {
                        0 => ". ",
                        1 => ": ",
                        2 => ", ",
                        3 => " \n ",
                        _ => " ",
                    });
                }
                body.push_str(WORDS[(next() % WORDS.len() as u64) as usize]);
            }
            conn.execute(
                "INSERT INTO note (id, client_id, kind, occurred_at, body, author, created_at, special)
                 VALUES (?1, ?2, 'huisbezoek', '2026-01-01T10:00:00', ?3, 't', '2026-01-01T10:00:00Z', ?4)",
                params![format!("n{seed}-{i}"), c, body, next() % 10 == 0],
            )
            .unwrap();
        }
    }

    fn check_exact(s: &Store, query: &str, limit: usize) -> Route {
        let (got, route) = ours(s, query, limit);
        let want: Vec<(i64, f64)> = oracle(s, query).into_iter().take(limit).collect();
        assert_eq!(got, want, "{query} limit {limit} ({route:?})");
        check_snippets(s, query, &got);
        route
    }

    /// kluis's snippets are FTS5's, character for character.
    fn check_snippets(s: &Store, query: &str, hits: &[(i64, f64)]) {
        let mut lengths = s.doc_lengths.borrow_mut();
        refresh_lengths(s.connection(), &mut lengths).unwrap();
        let ranked = rank_notes(s.connection(), lengths.as_ref().unwrap(), query, 1).unwrap();
        let Some(phrases) = &ranked.phrases else {
            return;
        };
        let tokenizer = Tokenizer::new(s.connection()).unwrap();
        for (rowid, _) in hits {
            let (body, want): (String, String) = s
                .connection()
                .query_row(
                    "SELECT n.body, snippet(note_fts, 0, '[', ']', '…', 12)
                     FROM note_fts JOIN note n ON n.rowid = note_fts.rowid
                     WHERE note_fts MATCH ?1 AND note_fts.rowid = ?2",
                    params![query, rowid],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!(
                snippet(&tokenizer, &body, phrases),
                want,
                "{query} in {body:?}"
            );
        }
    }

    #[test]
    fn every_match_is_ranked_exactly_as_fts5_bm25_ranks_it() {
        let s = Store::create("test").unwrap();
        corpus(&s, 42, 3000);
        let mut routes = std::collections::HashMap::new();
        for words in [
            "de",
            "het",
            "huur",
            "huisarts",
            "brief",
            "ijsselmeer",
            "schulden",
            "en",
            "d",
            "de",
            "hu",
            "hui",
            "sch",
            "bri",
            "ij",
            "ijs",
            "de huur",
            "het de",
            "schuld bel",
            "dij",
            "deu",
            "huis de",
            "nergens",
            "huurachterstand",
            "huurachterstanden",
            "huurachter",
            "huurachters",
            "huurachterstand de",
            "huura",
        ] {
            let Some(q) = fts_query(words) else { continue };
            for limit in [1, 3, 10, 50] {
                *routes.entry(check_exact(&s, &q, limit)).or_insert(0) += 1;
            }
            let exact = format!("\"{}\"", words.split(' ').next().unwrap());
            *routes.entry(check_exact(&s, &exact, 10)).or_insert(0) += 1;
        }
        // A prefix longer than the markers' (counted in the notes' text) and a word without
        // a star (its own markers) are answered from the markers too.
        assert_eq!(check_exact(&s, "\"huurachterstand\"*", 10), Route::Impact);
        assert_eq!(check_exact(&s, "\"huurachterstanden\"*", 3), Route::Impact);
        assert_eq!(check_exact(&s, "\"de\"", 10), Route::Impact);
        // The markers answered every plain query of words and prefixes.
        assert!(
            routes.get(&Route::Impact).copied().unwrap_or(0) > 100,
            "{routes:?}"
        );
        assert!(!routes.contains_key(&Route::Full), "{routes:?}");
        // What the markers do not cover is scored in full, the same way: a query that is not
        // a plain list of words, and a prefix longer than the markers' with other words.
        for query in [
            "\"de\" OR \"huur\"",
            "\"de\" \"huurachterstandsregelingen\"*",
            "\"huurachterstandsregelingen\" \"de\"*",
            "(\"het\" NOT \"dak\")",
        ] {
            for limit in [1, 10, 50] {
                assert_eq!(check_exact(&s, query, limit), Route::Full, "{query}");
            }
        }
        assert!(routes.contains_key(&Route::Empty), "{routes:?}");
        assert!(s.integrity_problems().unwrap().is_empty());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]

        /// Whatever the notes, the best notes for a word, a prefix or two words are FTS5's
        /// best, in its order, with its scores.
        #[test]
        fn ranking_matches_bm25_on_any_corpus(seed in 1u64..u64::MAX, notes in 1usize..600, limit in 1usize..12) {
            let s = Store::create("test").unwrap();
            corpus(&s, seed, notes);
            for words in ["de", "huis", "hu", "sch", "de het", "ijs", "en", "de de", "het huis dak", "huurachterstand"] {
                let q = fts_query(words).unwrap();
                check_exact(&s, &q, limit);
            }
        }
    }

    #[test]
    fn a_word_in_more_notes_than_are_counted_keeps_fts5_order_with_an_estimated_weight() {
        let s = Store::create("test").unwrap();
        let c = client(&s, "Veel");
        // 40,000 notes: "huur" (one to three times) in a third of them, "brief" in a quarter,
        // so both are counted only in part and neither weight is at FTS5's floor.
        s.connection()
            .execute(
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 39999)
                 INSERT INTO note (id, client_id, kind, occurred_at, body, author, created_at)
                 SELECT 'n' || i, ?1, 'overig', '2026-01-01T10:00:00',
                        substr('gesprek gesprek gesprek gesprek gesprek gesprek gesprek ', 1, 8 * (1 + i % 7))
                        || CASE WHEN i % 3 = 0 THEN substr('huur huur huur ', 1, 5 * (1 + i % 5 % 3)) ELSE '' END
                        || CASE WHEN i % 4 = 1 THEN 'brief' ELSE '' END,
                        't', 'x'
                 FROM n",
                [&c],
            )
            .unwrap();
        let count = |q: &str| oracle(&s, q).len() as u64;
        assert!(count("\"huur\"") > DF_EXACT && count("\"brief\"") == DF_EXACT);
        // One word: its weight is the same for every note, so the order is FTS5's exactly.
        let (got, _) = ours(&s, "\"huur\"", 20);
        let want: Vec<(i64, f64)> = oracle(&s, "\"huur\"").into_iter().take(20).collect();
        let ids = |v: &[(i64, f64)]| v.iter().map(|x| x.0).collect::<Vec<_>>();
        assert_eq!(ids(&got), ids(&want));
        // Two words: every score within a few percent of FTS5's for the same note.
        let all: std::collections::HashMap<i64, f64> =
            oracle(&s, "\"huur\" \"brief\"").into_iter().collect();
        let (got2, _) = ours(&s, "\"huur\" \"brief\"", 20);
        assert_eq!(got2.len(), 20);
        for (g, w) in got.iter().zip(&want) {
            assert!((g.1 / w.1 - 1.0).abs() < 0.05, "{g:?} {w:?}");
        }
        for (id, rank) in got2 {
            assert!(
                (rank / all[&id] - 1.0).abs() < 0.05,
                "{id}: {rank} {}",
                all[&id]
            );
        }
    }

    #[test]
    fn snippets_of_demo_notes_are_fts5s() {
        let s = Store::create("test").unwrap();
        crate::demo::populate(
            &s,
            30,
            20,
            NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            3,
        )
        .unwrap();
        for words in [
            "de",
            "huurachterstand",
            "verhuurder brief",
            "ge",
            "gesp",
            "de koffie",
            "week",
            "afspraak volg",
            "wijkteamkantoor",
            "cliënt",
            "client",
            "zorgen over",
        ] {
            let q = fts_query(words).unwrap();
            for limit in [5, 40] {
                check_exact(&s, &q, limit);
            }
        }
    }

    #[test]
    fn a_frequent_word_that_never_repeats_is_found_shortest_note_first() {
        let s = Store::create("test").unwrap();
        let c = client(&s, "Lang");
        // 24,000 notes of 9 to 68 words; "afspraak" once in 3 of every 10, twice in a few.
        s.connection()
            .execute(
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 23999)
                 INSERT INTO note (id, client_id, kind, occurred_at, body, author, created_at)
                 SELECT 'n' || i, ?1, 'overig', '2026-01-01T10:00:00',
                        substr(replace(hex(zeroblob(60)), '00', 'gesprek '), 1, 8 * (8 + (i * 7919) % 60))
                        || CASE WHEN i % 10 < 3 THEN 'afspraak' ELSE 'brief' END
                        || CASE WHEN i % 997 = 0 THEN ' afspraak' ELSE '' END,
                        't', 'x'
                 FROM n",
                [&c],
            )
            .unwrap();
        for (query, limit) in [
            ("\"afspraak\"*", 50),
            ("\"afspr\"*", 7),
            ("\"afspraak\"*", 400),
        ] {
            let (got, route) = ours(&s, query, limit);
            let want: Vec<(i64, f64)> = oracle(&s, query).into_iter().take(limit).collect();
            let ids = |v: &[(i64, f64)]| v.iter().map(|x| x.0).collect::<Vec<_>>();
            assert_eq!(ids(&got), ids(&want), "{query} {limit}");
            assert_eq!(route, Route::Impact, "{query} {limit}");
        }
    }

    /// Regression: a note where a prefix begins two different words once each is in the
    /// prefix's own markers and in a once-only marker; it must be ranked once, as FTS5 does.
    #[test]
    fn a_note_is_ranked_once_whatever_words_a_prefix_begins_in_it() {
        let s = Store::create("test").unwrap();
        let c = client(&s, "Een");
        for body in [
            "huis de deur dicht een twee drie vier vijf",
            "huis de een twee drie vier vijf zes zeven",
            "huis deur een twee drie vier vijf zes zeven acht",
            "huis en verder niets van belang hier vandaag",
        ] {
            note(&s, &c, body, false);
        }
        for query in ["\"huis\" \"de\"*", "\"de\"* \"huis\"", "\"een\" \"d\"*"] {
            for limit in [1, 2, 10] {
                check_exact(&s, query, limit);
            }
        }
    }

    #[test]
    fn special_notes_are_not_in_any_index() {
        let s = Store::create("test").unwrap();
        let c = client(&s, "Jan");
        note(&s, &c, "Gewoon bezoek over de huur", false);
        let sp = note(&s, &c, "Diagnose zwaarmoedigheid, medicatie", true);
        // A correction of a special note is special too, even when not marked so.
        note_correcting(&s, &c, "Diagnose aangepast: somberheid", false, Some(sp));
        for table in ["note_fts", "note_impact"] {
            let terms = vocabulary(&s, table);
            for secret in ["zwaarmoedigheid", "medicatie", "somberheid", "diagnose"] {
                assert!(
                    !terms.iter().any(|t| t.contains(secret)),
                    "{secret} in {table}: {terms:?}"
                );
            }
        }
        assert!(vocabulary(&s, "note_fts").contains(&"huur".to_owned()));
        assert!(find(&s, "zwaarmoedigheid").is_empty());
        assert!(find(&s, "somber").is_empty());
        assert_eq!(find(&s, "huur").len(), 1);
        assert!(s.integrity_problems().unwrap().is_empty());
    }

    #[test]
    fn ij_ligature_and_typographic_ligatures_fold() {
        let s = Store::create("test").unwrap();
        let c = client(&s, "Ĳsbrand Vermeulen");
        note(
            &s,
            &c,
            "Wandeling langs het Ĳsselmeer, daarna \u{FB01}nanciën besproken",
            false,
        );
        note(&s, &c, "Bĳ de dijk", false);
        for q in [
            "ijsselmeer",
            "IJsselmeer",
            "Ĳsselmeer",
            "ĳssel",
            "ijs",
            "financien",
        ] {
            let hits = find(&s, q);
            assert!(hits.iter().any(|h| h.kind == "note"), "{q}: {hits:?}");
        }
        let hit = &find(&s, "ijsselmeer")[0];
        assert!(hit.snippet.contains("[Ĳsselmeer]"), "{}", hit.snippet);
        // "bij" and "bĳ" are one word; the client's name is folded the same way.
        assert_eq!(find(&s, "bij").len(), 1);
        assert_eq!(find(&s, "bi").len(), 1);
        assert!(find(&s, "ijsbrand").iter().any(|h| h.kind == "client"));
        assert!(s.integrity_problems().unwrap().is_empty());
    }

    #[test]
    fn erasure_and_journal_replay_keep_the_indexes_right() {
        let mut live = Store::create("test").unwrap();
        let start = live.image().unwrap().to_vec();
        let mut records = Vec::new();
        let (ids, changes) = live
            .transaction(|s| {
                let gone = client(s, "Weg Client");
                note(
                    s,
                    &gone,
                    "Huurachterstand en deurwaarder vertrouwelijkwoord",
                    false,
                );
                note(s, &gone, "Bijzonder geheimwoord", true);
                let stays = client(s, "Blijft Client");
                note(s, &stays, "Huurachterstand besproken", false);
                note(s, &stays, "Ook bijzonder geheimwoord", true);
                s.close_client(&gone, NaiveDate::from_ymd_opt(2026, 3, 1).unwrap())?;
                Ok((gone, stays))
            })
            .unwrap();
        records.extend(changes);
        // The journal replays rows through the same triggers.
        let mut copy = Store::from_image(&start[..], start.len())
            .map_err(|_| "image")
            .unwrap();
        copy.apply_changes(&records).unwrap();
        for s in [&live, &copy] {
            assert_eq!(find(s, "huurachterstand").len(), 2);
            assert!(find(s, "geheimwoord").is_empty());
            assert!(s.integrity_problems().unwrap().is_empty());
        }
        // Erasure takes the erased dossier's words out of the indexes; special notes stay out.
        let (gone, stays) = ids;
        live.transaction(|s| s.erase_client(&gone, NaiveDate::from_ymd_opt(2050, 1, 1).unwrap()))
            .unwrap();
        assert!(live.take_erased());
        live.finish_erasure().unwrap();
        for table in ["note_fts", "note_impact"] {
            let terms = vocabulary(&live, table);
            for word in ["vertrouwelijkwoord", "deurwaarder", "geheimwoord"] {
                assert!(!terms.iter().any(|t| t.contains(word)), "{word} in {table}");
            }
        }
        assert!(!vocabulary(&live, "client_fts").contains(&"weg".to_owned()));
        let hits = find(&live, "huurachterstand");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].client_id, stays);
        assert!(live.integrity_problems().unwrap().is_empty());
    }

    /// How many notes `note_fts` holds, and whether `note_impact` holds every note it
    /// should (it has no table of its rows to count).
    fn indexed(s: &Store) -> (i64, bool) {
        let n = s
            .connection()
            .query_row("SELECT count(*) FROM note_fts_docsize", [], |r| r.get(0))
            .unwrap();
        // FTS5's own check of `note_impact` against every note it should hold (each short
        // note has a marker for each word), without indexing the ones that wait first.
        let whole = s
            .connection()
            .execute(
                "INSERT INTO note_impact (note_impact, rank) VALUES ('integrity-check', 1)",
                [],
            )
            .is_ok();
        (n, whole)
    }

    #[test]
    fn a_new_note_waits_unindexed_until_the_first_search_which_finds_it() {
        let s = Store::create("test").unwrap();
        let c = client(&s, "Jan");
        note(&s, &c, "Eerste bezoek over de huur", false);
        assert_eq!(find(&s, "huur").len(), 1);
        assert_eq!(indexed(&s), (1, true));
        // Written, not indexed: the edit did none of the indexing.
        note(&s, &c, "Tweede bezoek: de huur is betaald", false);
        note(&s, &c, "Geheim ziektewoord bij de huur", true);
        assert_eq!(indexed(&s), (1, false));
        // The next search indexes it first, and finds it at once.
        assert_eq!(find(&s, "huur").len(), 2);
        assert_eq!(find(&s, "betaald").len(), 1);
        assert!(find(&s, "ziektewoord").is_empty());
        assert_eq!(indexed(&s), (2, true), "the special note is never indexed");
        assert_eq!(index_pending(s.connection()).unwrap(), 0);
        assert!(s.integrity_problems().unwrap().is_empty());
    }

    #[test]
    fn a_replayed_journal_leaves_its_notes_to_the_first_search() {
        let mut live = Store::create("test").unwrap();
        let c = live.transaction(|s| Ok(client(s, "Jan"))).unwrap().0;
        let start = live.image().unwrap().to_vec();
        let mut records = Vec::new();
        for i in 0..20 {
            let (_, changes) = live
                .transaction(|s| {
                    Ok(note(
                        s,
                        &c,
                        &format!("Afspraak {i} over de huurachterstand"),
                        i % 5 == 0,
                    ))
                })
                .unwrap();
            records.extend(changes);
        }
        let mut copy = Store::from_image(&start[..], start.len())
            .map_err(|_| "image")
            .unwrap();
        copy.apply_changes(&records).unwrap();
        assert_eq!(indexed(&copy), (0, false), "replay indexes nothing");
        // `check` on a vault whose notes wait: they are indexed first, and all is well.
        assert!(copy.integrity_problems().unwrap().is_empty());
        assert_eq!(indexed(&copy), (16, true));
        assert_eq!(find(&copy, "huurachterstand").len(), 16);
        assert_eq!(find(&live, "huurachterstand").len(), 16);
    }

    #[test]
    fn a_save_writes_whole_indexes() {
        let mut s = Store::create("test").unwrap();
        let c = client(&s, "Jan");
        note(&s, &c, "Bezoek over de huurachterstand", false);
        let image = s.image().unwrap().to_vec();
        let back = Store::from_image(&image[..], image.len())
            .map_err(|_| "image")
            .unwrap();
        assert_eq!(indexed(&back), (1, true));
        assert_eq!(index_pending(back.connection()).unwrap(), 0);
    }

    #[test]
    fn check_still_finds_a_broken_index_when_notes_wait() {
        let s = Store::create("test").unwrap();
        let c = client(&s, "Jan");
        note(&s, &c, "Eerste bezoek over de huur", false);
        note(&s, &c, "Tweede bezoek over de deur", false);
        index_pending(s.connection()).unwrap();
        note(&s, &c, "Derde bezoek, waits to be indexed", false);
        // An index entry of an indexed note tampered with: its word replaced by another.
        s.connection()
            .execute_batch(
                "INSERT INTO note_impact (note_impact, rowid, body)
                     SELECT 'delete', rowid, body FROM note WHERE rowid = 1;
                 INSERT INTO note_impact (rowid, body) VALUES (1, 'iets anders');",
            )
            .unwrap();
        let problems = s.integrity_problems().unwrap();
        assert!(
            problems.iter().any(|p| p.starts_with("note_impact")),
            "{problems:?}"
        );
    }

    #[test]
    fn an_erasure_passes_by_notes_not_indexed_yet() {
        const CANARY: &str = "qzwachtvogel";
        let mut live = Store::create("test").unwrap();
        let (gone, stays) = live
            .transaction(|s| {
                let gone = client(s, "Weg Client");
                let stays = client(s, "Blijft Client");
                note(s, &gone, "Indexed huurachterstand", false);
                note(s, &stays, "Indexed afspraak", false);
                Ok((gone, stays))
            })
            .unwrap()
            .0;
        assert_eq!(find(&live, "indexed").len(), 2);
        // Notes that wait, of both dossiers, the erased one's last (the largest rowids).
        live.transaction(|s| {
            note(s, &stays, "Waiting afspraak", false);
            note(s, &gone, &format!("{CANARY} gebeld"), false);
            note(s, &gone, &format!("Nog eens {CANARY}"), false);
            s.close_client(&gone, NaiveDate::from_ymd_opt(2026, 3, 1).unwrap())
        })
        .unwrap();
        live.transaction(|s| s.erase_client(&gone, NaiveDate::from_ymd_opt(2050, 1, 1).unwrap()))
            .unwrap();
        assert!(live.take_erased());
        live.finish_erasure().unwrap();
        assert!(live.integrity_problems().unwrap().is_empty());
        assert!(find(&live, CANARY).is_empty());
        let hits = find(&live, "afspraak");
        assert_eq!(hits.len(), 2);
        assert!(hits.iter().all(|h| h.client_id == stays));
        for table in ["note_fts", "note_impact"] {
            assert!(!holds(&index_bytes(&live, table), CANARY), "{table}");
        }
        assert!(!holds(&live.image().unwrap(), CANARY));
        // A new note after the erasure gets a rowid the erased ones had: found all the same.
        note(&live, &stays, "Na het wissen een nieuwe afspraak", false);
        assert_eq!(find(&live, "afspraak").len(), 3);
        assert!(live.integrity_problems().unwrap().is_empty());
    }

    /// The bytes of the first column of every row `sql` reads.
    fn blocks(s: &Store, sql: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let mut stmt = s.connection().prepare(sql).unwrap();
        let mut rows = stmt.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            if let rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) =
                r.get_ref(0).unwrap()
            {
                out.extend_from_slice(b);
            }
        }
        out
    }

    /// The raw bytes of a full-text table's index: its segments and its page keys.
    fn index_bytes(s: &Store, table: &str) -> Vec<u8> {
        let mut out = blocks(s, &format!("SELECT block FROM {table}_data"));
        out.extend(blocks(s, &format!("SELECT term FROM {table}_idx")));
        out
    }

    fn holds(haystack: &[u8], needle: &str) -> bool {
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    }

    #[test]
    fn an_erasure_takes_the_dossiers_words_out_of_every_index_as_it_deletes_its_rows() {
        // A word only the erased dossier uses, repeated so that note_impact has a marker for
        // it (its markers hold the word itself), and in the client's name.
        const CANARY: &str = "qzkanarievogel";
        let mut live = Store::create("test").unwrap();
        let gone = live
            .transaction(|s| {
                let gone = client(s, &format!("Weg {CANARY}"));
                let stays = client(s, "Blijft Client");
                // Enough notes for many index pages, the erased ones among the others.
                for i in 0..1500 {
                    note(s, &stays, &format!("Huurachterstand besproken, afspraak {i}"), false);
                    if i % 10 == 0 {
                        note(s, &gone, &format!("{CANARY} gezien, {CANARY}{i} gebeld"), false);
                        note(s, &gone, &format!("Huurachterstand {CANARY} besproken met de deurwaarder en de verhuurder, {i}"), false);
                    }
                }
                s.close_client(&gone, NaiveDate::from_ymd_opt(2026, 3, 1).unwrap())?;
                Ok(gone)
            })
            .unwrap()
            .0;
        // Control: the scan sees the canary in each index while the dossier is there (once
        // its notes are indexed, as the first search would).
        index_pending(live.connection()).unwrap();
        for table in ["note_fts", "note_impact", "client_fts"] {
            assert!(holds(&index_bytes(&live, table), CANARY), "{table} before");
        }
        live.transaction(|s| s.erase_client(&gone, NaiveDate::from_ymd_opt(2050, 1, 1).unwrap()))
            .unwrap();
        // Gone from the segments themselves as the transaction committed: not hidden behind
        // a delete marker.
        for table in ["note_fts", "note_impact", "client_fts"] {
            let segments = blocks(&live, &format!("SELECT block FROM {table}_data"));
            assert!(!holds(&segments, CANARY), "{table} after");
        }
        assert!(find(&live, CANARY).is_empty());
        assert_eq!(find(&live, "afspraak").len(), 50);
        assert!(live.integrity_problems().unwrap().is_empty());
        // Before the save, the page keys FTS5 keeps (a prefix of a page's first word) are
        // checked too; then nothing of the canary is anywhere in the image, without a VACUUM
        // (a sliver of the image is free pages, which secure_delete zeroed).
        assert!(live.take_erased());
        let pages = |s: &Store| -> i64 {
            s.connection()
                .pragma_query_value(None, "page_count", |r| r.get(0))
                .unwrap()
        };
        let before = pages(&live);
        live.finish_erasure().unwrap();
        assert_eq!(pages(&live), before, "no VACUUM");
        for table in ["note_fts", "note_impact", "client_fts"] {
            assert!(!holds(&index_bytes(&live, table), CANARY), "{table} saved");
        }
        assert!(!holds(&live.image().unwrap(), CANARY));
        assert!(live.integrity_problems().unwrap().is_empty());
    }

    #[test]
    fn a_vault_from_before_the_search_migration_is_reindexed_without_its_special_notes() {
        // An image from before the search migration, as kluis wrote it: special notes in the
        // index.
        let mut conn = Store::open_memory().unwrap();
        Store::configure(&conn).unwrap();
        conn.pragma_update(None, "application_id", crate::store::APPLICATION_ID)
            .unwrap();
        // Every migration before the search one.
        let before = crate::store::MIGRATIONS
            .iter()
            .position(|(name, _)| *name == "0011_search.sql")
            .unwrap();
        for (i, (_, sql)) in crate::store::MIGRATIONS.iter().take(before).enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", (i + 1) as i32)
                .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO client (id, name, domain, status, opened_on, created_at, updated_at)
             VALUES ('c1', 'Ĳsbrand', 'wmo', 'open', '2026-01-01', 'x', 'x');
             INSERT INTO note (id, client_id, kind, occurred_at, body, author, created_at, special)
             VALUES ('n1', 'c1', 'overig', '2026-01-02T10:00:00', 'Langs het Ĳsselmeer', 'a', 'x', 0),
                    ('n2', 'c1', 'overig', '2026-01-02T10:00:00', 'Geheim ziektewoord', 'a', 'x', 1);",
        )
        .unwrap();
        assert_eq!(
            conn.query_row(
                "SELECT count(*) FROM note_fts WHERE note_fts MATCH 'ziektewoord'",
                [],
                |r| r.get::<_, i64>(0)
            )
            .unwrap(),
            1,
            "version 6 indexed special notes"
        );
        let image = conn.serialize(rusqlite::MAIN_DB).unwrap().to_vec();
        let s = Store::from_image(&image[..], image.len())
            .map_err(|_| "image")
            .unwrap();
        assert_eq!(s.migrated_from(), Some(before as i32));
        assert!(!vocabulary(&s, "note_fts").contains(&"ziektewoord".to_owned()));
        assert!(find(&s, "ziektewoord").is_empty());
        assert_eq!(find(&s, "ijsselmeer").len(), 1);
        assert!(find(&s, "ijsbrand").iter().any(|h| h.kind == "client"));
        assert!(s.integrity_problems().unwrap().is_empty());
    }

    #[test]
    fn the_length_cache_follows_added_and_erased_notes() {
        let s = Store::create("test").unwrap();
        let c = client(&s, "Jan");
        for i in 0..30 {
            note(&s, &c, &"de huur ".repeat(1 + i % 5), false);
        }
        check_exact(&s, "\"de\"", 5);
        // Added notes extend the cache; a longer note changes the average length.
        for i in 0..30 {
            note(&s, &c, &"de de de brief ".repeat(1 + i % 7), false);
        }
        check_exact(&s, "\"de\"", 5);
        check_exact(&s, "\"de\" \"brief\"", 5);
        // A rebuild from other notes (as an erasure does) replaces it.
        s.connection()
            .execute_batch(
                "DROP TRIGGER note_append_only_delete;
                 DELETE FROM note WHERE rowid % 3 = 0;
                 INSERT INTO note_fts (note_fts) VALUES ('rebuild');
                 INSERT INTO note_impact (note_impact) VALUES ('rebuild');",
            )
            .unwrap();
        note(&s, &c, "de", false);
        check_exact(&s, "\"de\"", 5);
        check_exact(&s, "\"de\"*", 7);
    }

    #[test]
    fn ligatures_fold_to_their_letters() {
        assert_eq!(fold("ĳsselmeer".as_bytes()).unwrap(), b"ijsselmeer");
        assert_eq!(fold("bĳ".as_bytes()).unwrap(), b"bij");
        assert_eq!(
            fold("\u{FB01}nanciën".as_bytes()).unwrap(),
            "financiën".as_bytes()
        );
        assert_eq!(fold(b"ijsselmeer"), None);
        assert_eq!(fold("café".as_bytes()), None);
    }

    #[test]
    fn markers_name_repeated_words_and_prefixes() {
        let text: Vec<&[u8]> = "de huur en de huurachterstand en de brief vandaag"
            .split(' ')
            .map(str::as_bytes)
            .collect();
        let m: Vec<String> = impact_markers(&text)
            .into_iter()
            .map(|m| String::from_utf8(m).unwrap())
            .collect();
        // 9 words: band 8. Every word ("brief" once); the prefixes "de" (three times), "hu"
        // and "huu" (twice); not "br", once.
        assert!(m.contains(&"tde\u{1}38".to_owned()), "{m:?}");
        assert!(m.contains(&"tbrief\u{1}18".to_owned()), "{m:?}");
        assert!(m.contains(&"ten\u{1}28".to_owned()), "{m:?}");
        assert!(m.contains(&"pde\u{1}38".to_owned()), "{m:?}");
        assert!(m.contains(&"phu\u{1}28".to_owned()), "{m:?}");
        assert!(m.contains(&"phuu\u{1}28".to_owned()), "{m:?}");
        assert!(!m.iter().any(|x| x.starts_with("pbr")), "{m:?}");
        // A short note: every word.
        let short: Vec<&[u8]> = vec![b"gebeld", b"geen", b"gehoor"];
        let m: Vec<String> = impact_markers(&short)
            .into_iter()
            .map(|m| String::from_utf8(m).unwrap())
            .collect();
        assert!(m.contains(&"tgebeld\u{1}12".to_owned()), "{m:?}");
        assert!(m.contains(&"pge\u{1}32".to_owned()), "{m:?}");
    }

    #[test]
    fn varints_decode_as_sqlite_writes_them() {
        assert_eq!(varint(&[0x05]), Some((5, 1)));
        assert_eq!(varint(&[0x81, 0x00]), Some((128, 2)));
        assert_eq!(varint(&[0x82, 0x80, 0x01]), Some((2 * 16384 + 1, 3)));
        assert_eq!(varint(&[0x80]), None);
    }

    #[test]
    fn bands_cover_every_length() {
        assert_eq!(band(0), 0);
        assert_eq!(band(1), 0);
        assert_eq!(band(8), SHORT_BANDS - 1);
        assert_eq!(band(9), SHORT_BANDS);
        assert_eq!(band(48), EXACT_BANDS - 1);
        assert_eq!(band(49), EXACT_BANDS);
        assert_eq!(band(128), 52);
        assert_eq!(band(10_000), BANDS.len() - 1);
        // Every band's character is a plain marker byte: not a quote, a space or 0x01.
        assert!(b'0' + (BANDS.len() - 1) as u8 <= b'z');
    }
}
