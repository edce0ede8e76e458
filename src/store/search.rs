//! Full-text search: kluis's two FTS5 tokenizers, and ranking every matching note by BM25
//! without scoring each one. SQL and FTS5 only; no files, no crypto.
//!
//! Ranking is FTS5's own bm25() formula (k1 = 1.2, b = 0.75) over all matching notes. What
//! makes it fast is `note_impact` (migration 0008): a second index of the same text in which
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

use rusqlite::{Connection, OptionalExtension, ffi, params};
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

/// Lower bounds of the note-length bands in a marker (in words): band b holds lengths from
/// `BANDS[b]` up to the next bound.
const BANDS: [u32; 10] = [1, 5, 9, 13, 17, 25, 33, 49, 65, 129];
/// Notes in the first bands (at most 8 words) get a marker for every word, not only for the
/// repeated ones: a short note is where a word weighs most.
const SHORT_BANDS: usize = 2;

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
    each: &mut dyn FnMut(c_int, &[u8], c_int, c_int) -> c_int,
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

/// A marker of `note_impact`: kind (`t` a word, `p` a prefix), how often (1..9), the note's
/// length band (0..9), then the word or prefix.
pub(crate) fn marker(kind: u8, tf: u32, band: usize, term: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(term.len() + 3);
    m.push(kind);
    m.push(b'0' + tf.clamp(1, 9) as u8);
    m.push(b'0' + band.min(9) as u8);
    m.extend_from_slice(term);
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
    let mut keys: Vec<(u8, &[u8])> = Vec::with_capacity(tokens.len() * 3);
    for t in tokens {
        keys.push((b't', t));
        for n in [2, 3] {
            if let Some(p) = prefix_chars(t, n) {
                keys.push((b'p', p));
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
        if tf >= 2 || short {
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
    rows: i64,
    words: i64,
    /// Per phrase: its tokens (as the tokenizer folded them) and its document frequency.
    phrases: Vec<(Vec<Vec<u8>>, f64)>,
}

impl Drop for Plan {
    fn drop(&mut self) {
        for (tokens, _) in &mut self.phrases {
            for t in tokens {
                t.zeroize();
            }
        }
    }
}

enum Mode {
    /// Fill `plan` (on the first matching row).
    Plan,
    /// Score every row the query returns (one call per row).
    Collect,
    /// Score every match of the query's only phrase, all in one call.
    Phrase,
}

struct Scan {
    mode: Mode,
    lengths: *const DocLengths,
    plan: Plan,
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
    // SAFETY: user is the (count, stopped-at) pair of `plan`.
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

unsafe fn plan(api: *const Api, fts: *mut ffi::Fts5Context, s: &mut Scan) -> c_int {
    // SAFETY: FTS5's API on the current row of a MATCH query.
    unsafe {
        let a = &*api;
        let (Some(count), Some(rows), Some(total), Some(size), Some(token), Some(query)) = (
            a.xPhraseCount,
            a.xRowCount,
            a.xColumnTotalSize,
            a.xPhraseSize,
            a.xQueryToken,
            a.xQueryPhrase,
        ) else {
            return ffi::SQLITE_ERROR;
        };
        let mut n_rows = 0;
        let mut n_words = 0;
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
        let lengths = &*s.lengths;
        for i in 0..count(fts) {
            let mut tokens = Vec::new();
            for t in 0..size(fts, i) {
                let mut p: *const c_char = std::ptr::null();
                let mut n = 0;
                if token(fts, i, t, &mut p, &mut n) == ffi::SQLITE_OK && !p.is_null() {
                    tokens.push(std::slice::from_raw_parts(p.cast::<u8>(), n as usize).to_vec());
                }
            }
            let mut state: (u64, i64) = (0, 0);
            let rc = query(
                fts,
                i,
                (&mut state as *mut (u64, i64)).cast(),
                Some(count_matches),
            );
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            let df = if state.0 < DF_EXACT {
                state.0 as f64
            } else {
                // The first DF_EXACT matches (oldest first) reach rowid `state.1`: the word
                // occurs in about the same share of the rest.
                let first = lengths.min_id.unwrap_or(state.1);
                let last = lengths.max_id.unwrap_or(state.1);
                let share = (state.1 - first + 1) as f64 / (last - first + 1).max(1) as f64;
                (DF_EXACT as f64 / share.clamp(1e-9, 1.0)).min(n_rows as f64)
            };
            s.plan.phrases.push((tokens, df));
        }
    }
    ffi::SQLITE_OK
}

unsafe fn collect(api: *const Api, fts: *mut ffi::Fts5Context, s: &mut Scan) -> c_int {
    // SAFETY: FTS5's API on the current row.
    unsafe {
        let a = &*api;
        let (Some(rowid), Some(inst_count), Some(inst)) = (a.xRowid, a.xInstCount, a.xInst) else {
            return ffi::SQLITE_ERROR;
        };
        let id = rowid(fts);
        s.freq.iter_mut().for_each(|f| *f = 0.0);
        let mut n = 0;
        let rc = inst_count(fts, &mut n);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        for i in 0..n {
            let (mut p, mut c, mut o) = (0, 0, 0);
            if inst(fts, i, &mut p, &mut c, &mut o) == ffi::SQLITE_OK
                && let Some(f) = s.freq.get_mut(p as usize)
            {
                *f += 1.0;
            }
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

unsafe extern "C" fn score_phrase_match(
    api: *const Api,
    fts: *mut ffi::Fts5Context,
    user: *mut c_void,
) -> c_int {
    // SAFETY: user is the Scan of `phrase`; FTS5's API on the phrase's current row.
    unsafe {
        let s = &mut *user.cast::<Scan>();
        let a = &*api;
        let (Some(rowid), Some(inst_count)) = (a.xRowid, a.xInstCount) else {
            return ffi::SQLITE_ERROR;
        };
        let id = rowid(fts);
        let mut n = 0;
        let rc = inst_count(fts, &mut n);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        let len = length_of(api, fts, s, id);
        let score = s.idf[0] * weight(n as f64, len, s.avg_len);
        s.top.push(Scored { score, rowid: id });
    }
    ffi::SQLITE_OK
}

unsafe fn phrase(api: *const Api, fts: *mut ffi::Fts5Context, s: &mut Scan) -> c_int {
    // SAFETY: FTS5's API; the callback gets `s` back.
    unsafe {
        let Some(query) = (*api).xQueryPhrase else {
            return ffi::SQLITE_ERROR;
        };
        query(fts, 0, (s as *mut Scan).cast(), Some(score_phrase_match))
    }
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
            Mode::Plan => plan(api, fts, s),
            Mode::Collect => collect(api, fts, s),
            Mode::Phrase => phrase(api, fts, s),
        };
        if rc != ffi::SQLITE_OK {
            ffi::sqlite3_result_error_code(ctx, rc);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The search

/// How a query was ranked (for tests and the benchmark's breakdown).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Route {
    /// No note matched.
    Empty,
    /// One word or prefix, through `note_impact`.
    Impact,
    /// Every match scored.
    Full,
}

/// The best `limit` non-special notes for an FTS5 query, best first: (rowid, bm25 rank,
/// lower is better).
pub(crate) fn rank_notes(
    conn: &Connection,
    lengths: &DocLengths,
    query: &str,
    limit: usize,
) -> Result<(Vec<(i64, f64)>, Route)> {
    let mut scan = Scan {
        mode: Mode::Plan,
        lengths,
        plan: Plan::default(),
        idf: Vec::new(),
        avg_len: 1.0,
        top: TopK::new(limit),
        freq: Vec::new(),
    };
    let found = with_scan(&mut scan, || -> Result<bool> {
        Ok(conn
            .prepare_cached(
                "SELECT kluis_scan(note_fts) FROM note_fts WHERE note_fts MATCH ?1 LIMIT 1",
            )?
            .query_row([query], |_| Ok(()))
            .optional()?
            .is_some())
    })?;
    if !found || limit == 0 {
        return Ok((Vec::new(), Route::Empty));
    }
    let rows = scan.plan.rows.max(1) as f64;
    scan.avg_len = (scan.plan.words as f64 / rows).max(1e-9);
    scan.idf = scan
        .plan
        .phrases
        .iter()
        .map(|(_, df)| idf(rows, *df))
        .collect();
    scan.freq = vec![0.0; scan.idf.len()];

    // One word or one prefix of 2 or 3 letters, exactly as `model::fts_query` writes it.
    let trimmed = query.trim();
    let is_prefix = trimmed.ends_with('*');
    let bare = trimmed.trim_end_matches('*');
    let single = bare.len() >= 2
        && bare.starts_with('"')
        && bare.ends_with('"')
        && !bare[1..bare.len() - 1].contains('"');
    if single && scan.plan.phrases.len() == 1 && scan.plan.phrases[0].0.len() == 1 {
        let term = scan.plan.phrases[0].0[0].clone();
        let chars = std::str::from_utf8(&term).map_or(0, |t| t.chars().count());
        if !is_prefix || (2..=3).contains(&chars) {
            let kind = if is_prefix { b'p' } else { b't' };
            let found = by_impact(conn, &mut scan, query, kind, &term);
            let mut term = term;
            term.zeroize();
            if let Some(top) = found? {
                let idf = scan.idf[0];
                return Ok((
                    top.into_iter().map(|s| (s.rowid, -idf * s.score)).collect(),
                    Route::Impact,
                ));
            }
        }
    }
    // Every match, scored once.
    scan.top = TopK::new(limit);
    if scan.idf.len() == 1 {
        scan.mode = Mode::Phrase;
        with_scan(&mut scan, || -> Result<()> {
            conn.prepare_cached(
                "SELECT kluis_scan(note_fts) FROM note_fts WHERE note_fts MATCH ?1 LIMIT 1",
            )?
            .query_row([query], |_| Ok(()))
            .optional()?;
            Ok(())
        })?;
    } else {
        scan.mode = Mode::Collect;
        with_scan(&mut scan, || -> Result<()> {
            let mut stmt = conn.prepare_cached(
                "SELECT kluis_scan(note_fts) FROM note_fts WHERE note_fts MATCH ?1",
            )?;
            let mut rows = stmt.query([query])?;
            while rows.next()?.is_some() {}
            Ok(())
        })?;
    }
    let top = std::mem::replace(&mut scan.top, TopK::new(0));
    Ok((
        top.into_sorted()
            .into_iter()
            .map(|s| (s.rowid, -s.score))
            .collect(),
        Route::Full,
    ))
}

/// The best notes for one word or prefix from its markers in `note_impact`, scored without
/// the idf (the same for all), or None when the markers cannot prove the answer (fewer
/// strong notes than asked for): then every match is scored.
fn by_impact(
    conn: &Connection,
    scan: &mut Scan,
    query: &str,
    kind: u8,
    term: &[u8],
) -> Result<Option<Vec<Scored>>> {
    let avg = scan.avg_len;
    // Every marker with the most its notes can score: `tf` times (9: at least 9) in a note at
    // least as long as its band (and never shorter than tf words).
    let mut cells: Vec<(f64, u32, usize)> = Vec::new();
    for tf in 1..=9u32 {
        for (b, low) in BANDS.iter().enumerate() {
            if tf == 1 && b >= SHORT_BANDS {
                continue;
            }
            let bound = if tf == 9 {
                K1 + 1.0
            } else {
                weight(tf as f64, (*low).max(tf) as f64, avg)
            };
            cells.push((bound, tf, b));
        }
    }
    cells.sort_by(|a, b| b.0.total_cmp(&a.0));
    // A note without a marker has the word once and is longer than the short bands.
    let unmarked = weight(1.0, BANDS[SHORT_BANDS] as f64, avg);
    // Bounds are compared with a margin, so that rounding never ends the search early.
    let beats = |floor: f64, bound: f64| floor > bound * (1.0 + 1e-9);
    let mut top = TopK::new(scan.top.k);
    let lengths = scan.lengths;
    let mut exact_tf: Vec<i64> = Vec::new();
    let mut stmt =
        conn.prepare_cached("SELECT rowid FROM note_impact WHERE note_impact MATCH ?1")?;
    for (bound, tf, b) in cells {
        if let Some(floor) = top.floor()
            && beats(floor, bound.max(unmarked))
        {
            break;
        }
        let mut quoted = Vec::with_capacity(term.len() + 5);
        quoted.push(b'"');
        quoted.extend_from_slice(&marker(kind, tf, b, term));
        quoted.push(b'"');
        let Ok(text) = String::from_utf8(quoted) else {
            return Ok(None);
        };
        let mut rows = stmt.query([&text])?;
        while let Some(r) = rows.next()? {
            let rowid: i64 = r.get(0)?;
            if tf == 9 {
                exact_tf.push(rowid);
                continue;
            }
            // SAFETY: the cache outlives this search.
            let len = unsafe { (*lengths).get(rowid) };
            let Some(len) = len else {
                exact_tf.push(rowid);
                continue;
            };
            top.push(Scored {
                score: weight(tf as f64, len as f64, avg),
                rowid,
            });
        }
        drop(rows);
        let mut text = text;
        text.zeroize();
        // Nine or more times (or a note the cache does not know): FTS5 counts exactly.
        if !exact_tf.is_empty() {
            scan.mode = Mode::Collect;
            scan.top = TopK::new(top.k);
            let saved = std::mem::replace(&mut scan.idf, vec![1.0]);
            scan.freq = vec![0.0];
            let result = with_scan(scan, || -> Result<()> {
                let mut one = conn.prepare_cached(
                    "SELECT kluis_scan(note_fts) FROM note_fts
                     WHERE note_fts MATCH ?1 AND rowid = ?2",
                )?;
                for id in exact_tf.drain(..) {
                    one.query_row(params![query, id], |_| Ok(())).optional()?;
                }
                Ok(())
            });
            scan.idf = saved;
            result?;
            for s in std::mem::replace(&mut scan.top, TopK::new(0)).into_sorted() {
                top.push(s);
            }
        }
    }
    Ok(match top.floor() {
        Some(floor) if beats(floor, unmarked) => Some(top.into_sorted()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Bsn, Domain, NewClient, NewNote, NoteKind, fts_query};
    use crate::store::Store;
    use chrono::{NaiveDate, NaiveDateTime};

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
            author: "test".into(),
            supersedes,
            special,
        })
        .unwrap()
    }

    fn find(s: &Store, words: &str) -> Vec<crate::model::SearchHit> {
        s.search(&fts_query(words).unwrap(), 50).unwrap()
    }

    /// Terms in a full-text table, through FTS5's own vocabulary view.
    fn vocabulary(s: &Store, table: &str) -> Vec<String> {
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
        let mut lengths = s.doc_lengths.borrow_mut();
        refresh_lengths(s.connection(), &mut lengths).unwrap();
        rank_notes(s.connection(), lengths.as_ref().unwrap(), query, limit).unwrap()
    }

    /// FTS5's own bm25() over every match, best first, ties to the newest note.
    fn oracle(s: &Store, query: &str) -> Vec<(i64, f64)> {
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
            let body: Vec<&str> = (0..len)
                .map(|_| WORDS[(next() % WORDS.len() as u64) as usize])
                .collect();
            conn.execute(
                "INSERT INTO note (id, client_id, kind, occurred_at, body, author, created_at, special)
                 VALUES (?1, ?2, 'huisbezoek', '2026-01-01T10:00:00', ?3, 't', '2026-01-01T10:00:00Z', ?4)",
                params![format!("n{seed}-{i}"), c, body.join(" "), next() % 10 == 0],
            )
            .unwrap();
        }
    }

    fn check_exact(s: &Store, query: &str, limit: usize) -> Route {
        let (got, route) = ours(s, query, limit);
        let want: Vec<(i64, f64)> = oracle(s, query).into_iter().take(limit).collect();
        assert_eq!(got, want, "{query} limit {limit} ({route:?})");
        route
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
        ] {
            let Some(q) = fts_query(words) else { continue };
            for limit in [1, 3, 10, 50] {
                *routes.entry(check_exact(&s, &q, limit)).or_insert(0) += 1;
            }
            let exact = format!("\"{}\"", words.split(' ').next().unwrap());
            *routes.entry(check_exact(&s, &exact, 10)).or_insert(0) += 1;
        }
        // The markers answered most single words and prefixes; the rest was scored in full.
        assert!(
            routes.get(&Route::Impact).copied().unwrap_or(0) > 30,
            "{routes:?}"
        );
        assert!(
            routes.get(&Route::Full).copied().unwrap_or(0) > 10,
            "{routes:?}"
        );
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
            for words in ["de", "huis", "hu", "sch", "de het", "ijs", "en"] {
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
        // Erasure rebuilds the indexes from what is left: the erased dossier's words are gone
        // and special notes stay out.
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

    #[test]
    fn a_vault_from_before_migration_8_is_reindexed_without_its_special_notes() {
        // A version 6 image, written as kluis 6 did: special notes in the index.
        let mut conn = Store::open_memory().unwrap();
        Store::configure(&conn).unwrap();
        conn.pragma_update(None, "application_id", crate::store::APPLICATION_ID)
            .unwrap();
        for (i, sql) in crate::store::MIGRATIONS.iter().take(6).enumerate() {
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
        assert_eq!(s.migrated_from(), Some(6));
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
        // 9 words: band 2. "de" three times, "en" twice; the prefixes "hu" and "huu" twice;
        // "br" once: no marker.
        assert!(m.contains(&"t32de".to_owned()), "{m:?}");
        assert!(m.contains(&"t22en".to_owned()), "{m:?}");
        assert!(m.contains(&"p32de".to_owned()), "{m:?}");
        assert!(m.contains(&"p22hu".to_owned()), "{m:?}");
        assert!(m.contains(&"p22huu".to_owned()), "{m:?}");
        assert!(
            !m.iter().any(|x| x.ends_with("br") || x.ends_with("brief")),
            "{m:?}"
        );
        // A short note: every word.
        let short: Vec<&[u8]> = vec![b"gebeld", b"geen", b"gehoor"];
        let m: Vec<String> = impact_markers(&short)
            .into_iter()
            .map(|m| String::from_utf8(m).unwrap())
            .collect();
        assert!(m.contains(&"t10gebeld".to_owned()), "{m:?}");
        assert!(m.contains(&"p30ge".to_owned()), "{m:?}");
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
        assert_eq!(band(8), 1);
        assert_eq!(band(9), 2);
        assert_eq!(band(128), 8);
        assert_eq!(band(10_000), 9);
    }
}
