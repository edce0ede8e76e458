//! Nudges toward less data ("zo veel als noodzakelijk, zo weinig als mogelijk"): what in a
//! free text looks like a detail that does not belong there (a BSN, an IBAN, a phone number,
//! an e-mail address), like special-category data (health, religion, ethnicity, political
//! views, union membership, sexuality: AVG art. 9; criminal records: art. 10), or like the
//! name of someone else in a group session. No IO and no decisions: [`scan`] says what it
//! found and where, and the worker chooses (mark the text special, remove the detail, or keep
//! it as it is). Nothing here blocks anything.
//!
//! The words are a curated Dutch and English list compiled into kluis
//! (`src/model/special_words.txt`); an organisation adds its own in the config
//! (`[special_words]`). Matching ignores case and accents and works on whole words; `*`
//! at the start or end of an entry lets a word begin or end with more (Dutch writes
//! compounds as one word: `*kanker` finds "longkanker"), and `!word` keeps one word out.
//!
//! How often it warns for nothing is measured on two corpora (docs/user-guide.md, "Minder
//! gegevens"): `cargo test --locked --lib false_positive_rate -- --nocapture`.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use serde::Serialize;

use crate::error::{Error, Field, Result};
use crate::i18n::t;

text_enum!(
    /// A special category of personal data (AVG art. 9 and 10).
    Category {
        Health => "health" | "gezondheid",
        Religion => "religion" | "religie",
        Ethnicity => "ethnicity" | "etniciteit",
        Politics => "politics" | "politiek",
        Union => "union" | "vakbond",
        Sexuality => "sexuality" | "seksualiteit",
        Criminal => "criminal" | "strafrechtelijk",
    }
);

impl Category {
    /// Its name in the current language.
    pub fn label(self) -> String {
        t!(format!("nudge.category.{}", self.code())).into_owned()
    }
}

/// What a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum What {
    /// A number that passes the elfproef: a BSN belongs in the BSN field (masked), not in
    /// free text (searchable, shown).
    Bsn,
    /// A bank account number that passes the IBAN check (mod 97).
    Iban,
    /// A phone number.
    Phone,
    /// An e-mail address.
    Email,
    /// A word of a special category.
    Special(Category),
    /// The name of another participant (a group session's shared summary).
    Name,
}

impl What {
    /// The code in JSON: `bsn`, `iban`, `phone`, `email`, `special`, `name`.
    pub fn code(self) -> &'static str {
        match self {
            What::Bsn => "bsn",
            What::Iban => "iban",
            What::Phone => "phone",
            What::Email => "email",
            What::Special(_) => "special",
            What::Name => "name",
        }
    }

    /// A detail that can be removed (a number, an address, a name), as opposed to a word
    /// that says the text is special-category data.
    pub fn is_detail(self) -> bool {
        !matches!(self, What::Special(_))
    }
}

/// Something [`scan`] found: what, where (byte offsets into the text) and the text itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What it is.
    pub what: What,
    /// Where, in bytes.
    pub range: Range<usize>,
    /// The text found.
    pub text: String,
}

impl Finding {
    /// The text as a message may repeat it: numbers and addresses masked (a warning on
    /// stderr can end up in a script's log), words as they are.
    pub fn shown(&self) -> String {
        let chars: Vec<char> = self.text.chars().collect();
        let tail = |n: usize| -> String { chars[chars.len().saturating_sub(n)..].iter().collect() };
        match self.what {
            What::Bsn => format!("******{}", tail(3)),
            What::Iban => {
                // Printed IBANs have spaces; the last four characters of the number itself.
                let compact: Vec<char> = chars
                    .iter()
                    .copied()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                let head: String = compact.iter().take(2).collect();
                let last: String = compact[compact.len().saturating_sub(4)..].iter().collect();
                format!("{head}…{last}")
            }
            What::Phone => format!("…{}", tail(2)),
            What::Email => {
                let at = self.text.find('@').unwrap_or(0);
                let first: String = self.text.chars().take(1).collect();
                format!("{first}…{}", &self.text[at..])
            }
            What::Special(_) | What::Name => self.text.clone(),
        }
    }
}

impl Serialize for Finding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("what", self.what.code())?;
        if let What::Special(c) = self.what {
            m.serialize_entry("category", c.code())?;
        }
        m.serialize_entry("start", &self.range.start)?;
        m.serialize_entry("end", &self.range.end)?;
        m.serialize_entry("shown", &self.shown())?;
        m.end()
    }
}

/// One entry of the word list: folded words in order; the first may end in more letters at
/// its start, the last at its end.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    category: Category,
    words: Vec<String>,
    open_start: bool,
    open_end: bool,
}

/// The words of the special categories: the built-in list and the organisation's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lexicon {
    /// Entries of one whole word, by that word: looked up, not searched.
    exact: std::collections::HashMap<String, Category>,
    /// One word open at its end (`depressi*`), by the letters given: each start of a word
    /// is looked up (a 1 MB paste is scanned in a blink, not once per entry).
    prefix: std::collections::HashMap<String, Category>,
    /// One word open at its start (`*kanker`), by the letters given.
    suffix: std::collections::HashMap<String, Category>,
    /// The rest: open at both ends, or of more than one word.
    entries: Vec<Entry>,
    /// Words that never count (`!word`), folded.
    except: Vec<String>,
}

/// The built-in list (curated; see the comments in the file).
pub const BUILTIN_WORDS: &str = include_str!("special_words.txt");

impl Default for Lexicon {
    fn default() -> Self {
        Lexicon::builtin()
    }
}

impl Lexicon {
    /// kluis's own list.
    pub fn builtin() -> Lexicon {
        let mut lex = Lexicon {
            exact: Default::default(),
            prefix: Default::default(),
            suffix: Default::default(),
            entries: Vec::new(),
            except: Vec::new(),
        };
        let mut category = None;
        for line in BUILTIN_WORDS.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            if let Some(code) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                category = code.parse::<Category>().ok();
                assert!(
                    category.is_some(),
                    "unknown category [{code}] in special_words.txt"
                );
                continue;
            }
            let category = category.expect("a [category] before the first word");
            lex.add(category, line)
                .unwrap_or_else(|_| panic!("bad entry {line:?} in special_words.txt"));
        }
        lex
    }

    /// Adds an entry (`word`, `two words`, `*word`, `word*`, `!word`) to `category`.
    pub fn add(&mut self, category: Category, entry: &str) -> Result<()> {
        let bad = || {
            Error::invalid(
                Field::Input("special_words"),
                t!("nudge.bad_entry", entry = entry),
            )
        };
        let entry = entry.trim();
        if let Some(word) = entry.strip_prefix('!') {
            let folded = fold(word.trim());
            if folded.is_empty() || !folded.chars().all(char::is_alphanumeric) {
                return Err(bad());
            }
            self.except.push(folded);
            return Ok(());
        }
        let open_start = entry.starts_with('*');
        let open_end = entry.ends_with('*') && entry.len() > 1;
        let inner = entry.trim_matches('*');
        let words: Vec<String> = tokens(inner).map(|(_, w)| w).collect();
        // Each word as its own token, with nothing else in between (`*` only at the ends),
        // and long enough not to find half the language.
        let letters: usize = words.iter().map(|w| w.chars().count()).sum();
        if words.is_empty()
            || inner.contains('*')
            || letters < 3
            || ((open_start || open_end) && letters < 4)
            || inner
                .chars()
                .any(|c| !c.is_alphanumeric() && !" -'".contains(c))
        {
            return Err(bad());
        }
        let single = words.len() == 1;
        if single && !open_start && !open_end {
            self.exact.insert(words[0].clone(), category);
        } else if single && !open_start {
            self.prefix.insert(words[0].clone(), category);
        } else if single && !open_end {
            self.suffix.insert(words[0].clone(), category);
        } else {
            self.entries.push(Entry {
                category,
                words,
                open_start,
                open_end,
            });
        }
        Ok(())
    }

    /// How many entries it has.
    pub fn len(&self) -> usize {
        self.exact.len() + self.prefix.len() + self.suffix.len() + self.entries.len()
    }

    /// True when it has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[cfg(test)]
    fn categories(&self) -> impl Iterator<Item = Category> + '_ {
        self.exact
            .values()
            .chain(self.prefix.values())
            .chain(self.suffix.values())
            .copied()
            .chain(self.entries.iter().map(|e| e.category))
    }
}

/// Lowercase, without accents (é → e, ï → i), so "Suïcide" and "suicide" are one word.
pub fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'ç' => 'c',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ñ' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ý' | 'ÿ' => 'y',
            c => c,
        })
        .collect()
}

/// The words of a text with their byte ranges, folded. A word is a run of letters and
/// digits; an apostrophe inside a word keeps it together (`homo's`).
fn tokens(text: &str) -> impl Iterator<Item = (Range<usize>, String)> + '_ {
    let mut it = text.char_indices().peekable();
    std::iter::from_fn(move || {
        while let Some(&(_, c)) = it.peek() {
            if c.is_alphanumeric() {
                break;
            }
            it.next();
        }
        let (start, _) = *it.peek()?;
        let mut end = start;
        while let Some(&(i, c)) = it.peek() {
            let inner_quote = (c == '\'' || c == '’')
                && text[i + c.len_utf8()..]
                    .chars()
                    .next()
                    .is_some_and(char::is_alphanumeric);
            if !(c.is_alphanumeric() || inner_quote) {
                break;
            }
            end = i + c.len_utf8();
            it.next();
        }
        Some((start..end, fold(&text[start..end])))
    })
}

fn word_matches(pattern: &str, word: &str, open_start: bool, open_end: bool) -> bool {
    match (open_start, open_end) {
        (false, false) => word == pattern,
        (false, true) => word.starts_with(pattern),
        (true, false) => word.ends_with(pattern),
        (true, true) => word.contains(pattern),
    }
}

/// Everything in `text` worth a second look, in order of position: details (BSN, IBAN,
/// phone, e-mail) and words of the special categories in `lexicon`.
pub fn scan(text: &str, lexicon: &Lexicon) -> Vec<Finding> {
    let mut found = details(text);
    let words: Vec<(Range<usize>, String)> = tokens(text).collect();
    let mut i = 0;
    while i < words.len() {
        let mut matched = None;
        if !lexicon.except.contains(&words[i].1) {
            let w = &words[i].1;
            let starts = w.char_indices().map(|(at, _)| at).skip(1);
            let single = lexicon
                .exact
                .get(w)
                .or_else(|| {
                    starts
                        .clone()
                        .chain(std::iter::once(w.len()))
                        .find_map(|at| lexicon.prefix.get(&w[..at]))
                })
                .or_else(|| {
                    std::iter::once(0)
                        .chain(starts)
                        .find_map(|at| lexicon.suffix.get(&w[at..]))
                });
            if let Some(c) = single {
                matched = Some((1, *c));
            }
            for e in &lexicon.entries {
                let n = e.words.len();
                if i + n > words.len() {
                    continue;
                }
                let fits = e.words.iter().enumerate().all(|(k, w)| {
                    word_matches(
                        w,
                        &words[i + k].1,
                        e.open_start && k == 0,
                        e.open_end && k == n - 1,
                    )
                });
                if fits && matched.is_none_or(|(len, _)| n > len) {
                    matched = Some((n, e.category));
                }
            }
        }
        match matched {
            Some((n, category)) => {
                let range = words[i].0.start..words[i + n - 1].0.end;
                // A word inside an address or number already found is not a second finding.
                if !found.iter().any(|f| overlaps(&f.range, &range)) {
                    found.push(Finding {
                        what: What::Special(category),
                        text: text[range.clone()].to_owned(),
                        range,
                    });
                }
                i += n;
            }
            None => i += 1,
        }
    }
    found.sort_by_key(|f| (f.range.start, f.range.end));
    found
}

/// Name particles and short words that are no name on their own.
const PARTICLES: &[&str] = &[
    "van", "de", "der", "den", "het", "ten", "ter", "te", "el", "al", "la", "le", "da", "dos",
    "du", "bin", "ben", "op", "in", "t", "demo",
];

/// The parts of a name that identify someone: each word of at least three letters that is
/// not a particle (`van`, `de`, `el`...), folded.
pub fn name_parts(name: &str) -> Vec<String> {
    tokens(name)
        .map(|(_, w)| w)
        .filter(|w| w.chars().count() >= 3 && !PARTICLES.contains(&w.as_str()))
        .collect()
}

/// Where `text` names one of `names` (a whole word of a name: "Fatima", "Amrani").
pub fn scan_names(text: &str, names: &[String]) -> Vec<Finding> {
    let parts: Vec<String> = names.iter().flat_map(|n| name_parts(n)).collect();
    let mut found: Vec<Finding> = tokens(text)
        .filter(|(_, w)| {
            let bare = w
                .strip_suffix("'s")
                .or_else(|| w.strip_suffix("’s"))
                .unwrap_or(w);
            parts.iter().any(|p| p == bare)
        })
        .map(|(range, _)| Finding {
            what: What::Name,
            text: text[range.clone()].to_owned(),
            range,
        })
        .collect();
    found.sort_by_key(|f| f.range.start);
    found
}

/// What replaces a removed detail.
pub const REMOVED: &str = "[…]";

/// `text` with the findings that are details (numbers, addresses, names) replaced by
/// [`REMOVED`]; words of a special category stay (removing them would change what the text
/// says: marking the text special is the choice for those).
pub fn remove(text: &str, findings: &[Finding]) -> String {
    let mut ranges: Vec<Range<usize>> = findings
        .iter()
        .filter(|f| f.what.is_detail())
        .map(|f| f.range.clone())
        .collect();
    ranges.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in ranges {
        if r.start < at {
            at = at.max(r.end);
            continue;
        }
        out.push_str(&text[at..r.start]);
        out.push_str(REMOVED);
        at = r.end;
    }
    out.push_str(&text[at..]);
    out
}

/// What the worker is offered, from what was found in a text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Advice {
    /// Special categories the text touches (each once): "mark it special" is offered when
    /// the text is not special yet.
    pub categories: Vec<Category>,
    /// Details that could be removed.
    pub details: Vec<Finding>,
    /// The text is not marked special, and holds words of a special category.
    pub suggest_special: bool,
}

impl Advice {
    /// True when there is nothing to say.
    pub fn is_empty(&self) -> bool {
        self.details.is_empty() && !self.suggest_special
    }
}

/// What to offer for a text with these findings; `special` says whether it is already
/// marked special (then its words need no warning, its details still do).
pub fn advise(findings: &[Finding], special: bool) -> Advice {
    let mut categories = Vec::new();
    for f in findings {
        if let What::Special(c) = f.what
            && !categories.contains(&c)
        {
            categories.push(c);
        }
    }
    Advice {
        suggest_special: !special && !categories.is_empty(),
        categories,
        details: findings
            .iter()
            .filter(|f| f.what.is_detail())
            .cloned()
            .collect(),
    }
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

/// E-mail addresses, IBANs, phone numbers and BSNs, in that order of precedence (a phone
/// number inside an IBAN is not a phone number).
fn details(text: &str) -> Vec<Finding> {
    let mut found: Vec<Finding> = Vec::new();
    let push = |what: What, range: Range<usize>, found: &mut Vec<Finding>| {
        if !found.iter().any(|f| overlaps(&f.range, &range)) {
            found.push(Finding {
                what,
                text: text[range.clone()].to_owned(),
                range,
            });
        }
    };
    for r in emails(text) {
        push(What::Email, r, &mut found);
    }
    for r in ibans(text) {
        push(What::Iban, r, &mut found);
    }
    // Digits inside an address or IBAN are not a number of their own, nor the start of one:
    // those places are blanked out before numbers are looked for (they are ASCII, so the
    // offsets stay the same).
    let mut blanked = text.as_bytes().to_vec();
    for f in &found {
        blanked[f.range.clone()].fill(b'#');
    }
    let blanked = String::from_utf8(blanked).expect("ASCII ranges replaced by ASCII");
    for (what, r) in numbers(&blanked) {
        push(what, r, &mut found);
    }
    found
}

fn emails(text: &str) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let local = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
    let domain = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
    let mut out = Vec::new();
    for (at, _) in text.match_indices('@') {
        let mut start = at;
        while start > 0 && local(b[start - 1]) {
            start -= 1;
        }
        let mut end = at + 1;
        while end < b.len() && domain(b[end]) {
            end += 1;
        }
        // A sentence's full stop is not part of the address.
        while end > at + 1 && b[end - 1] == b'.' {
            end -= 1;
        }
        let host = &text[at + 1..end];
        let tld_ok = host.rsplit_once('.').is_some_and(|(name, tld)| {
            !name.is_empty() && tld.len() >= 2 && tld.bytes().all(|c| c.is_ascii_alphabetic())
        });
        if start < at && tld_ok && !text[start..at].starts_with('.') {
            out.push(start..end);
        }
    }
    out
}

/// IBAN lengths per country, for the countries a Dutch caseworker meets most; any other
/// country code is checked by mod 97 alone (15 to 34 characters).
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("NL", 18),
    ("BE", 16),
    ("DE", 22),
    ("FR", 27),
    ("GB", 22),
    ("ES", 24),
    ("IT", 27),
    ("LU", 20),
    ("AT", 20),
    ("PL", 28),
    ("TR", 26),
    ("PT", 25),
    ("IE", 22),
    ("CH", 21),
];

/// The IBAN check: move the first four characters to the end, letters to numbers (A = 10),
/// and the number must leave 1 when divided by 97 (ISO 13616).
pub fn iban_valid(compact: &str) -> bool {
    let c = compact.as_bytes();
    if !(15..=34).contains(&c.len())
        || !c[..2].iter().all(u8::is_ascii_uppercase)
        || !c[2..4].iter().all(u8::is_ascii_digit)
        || !c
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return false;
    }
    if let Some((_, len)) = IBAN_LENGTHS.iter().find(|(cc, _)| cc.as_bytes() == &c[..2])
        && *len != c.len()
    {
        return false;
    }
    let mut rem: u32 = 0;
    for &b in c[4..].iter().chain(&c[..4]) {
        let v = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

fn ibans(text: &str) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= b.len() {
        let starts_word = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if !(starts_word
            && b[i].is_ascii_alphabetic()
            && b[i + 1].is_ascii_alphabetic()
            && b[i + 2].is_ascii_digit()
            && b[i + 3].is_ascii_digit())
        {
            i += 1;
            continue;
        }
        // Characters of the IBAN, allowing single spaces between groups (printed form).
        let mut compact = String::new();
        let mut ends = Vec::new();
        let mut j = i;
        while j < b.len() && compact.len() < 34 {
            if b[j].is_ascii_alphanumeric() {
                compact.push(b[j].to_ascii_uppercase() as char);
                j += 1;
                ends.push((compact.len(), j));
            } else if b[j] == b' ' && j + 1 < b.len() && b[j + 1].is_ascii_alphanumeric() {
                j += 1;
            } else {
                break;
            }
        }
        // The longest valid prefix that ends at a word's end.
        let hit = ends.iter().rev().find(|(n, end)| {
            (*end == b.len() || !b[*end].is_ascii_alphanumeric()) && iban_valid(&compact[..*n])
        });
        match hit {
            Some((_, end)) => {
                out.push(i..*end);
                i = *end;
            }
            None => i += 1,
        }
    }
    out
}

/// Runs of digit groups joined by at most two characters of ` -./()`, as numbers are
/// written (`06-12345678`, `020 123 45 67`, `1234.56.789`).
fn digit_runs(text: &str) -> Vec<Vec<Range<usize>>> {
    let b = text.as_bytes();
    let mut groups: Vec<Range<usize>> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let s = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            groups.push(s..i);
        } else {
            i += 1;
        }
    }
    let mut runs: Vec<Vec<Range<usize>>> = Vec::new();
    for g in groups {
        let joined = runs.last().and_then(|r| r.last()).is_some_and(|prev| {
            let between = &b[prev.end..g.start];
            (1..=2).contains(&between.len())
                && between.iter().all(|c| b" -./()".contains(c))
                && !(between.len() == 2 && between.iter().all(|c| *c == b' '))
        });
        match runs.last_mut() {
            Some(run) if joined => run.push(g),
            _ => runs.push(vec![g]),
        }
    }
    runs
}

fn numbers(text: &str) -> Vec<(What, Range<usize>)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for run in digit_runs(text) {
        let digits =
            |gs: &[Range<usize>]| -> String { gs.iter().map(|g| &text[g.clone()]).collect() };
        let all = digits(&run);
        let start = run[0].start;
        let end = run[run.len() - 1].end;
        // Letters right before or after (a postcode "1234 AB" is fine; "A123456789B" is a
        // code, not a number).
        let glued = (start > 0 && b[start - 1].is_ascii_alphabetic())
            || (end < b.len() && b[end].is_ascii_alphabetic());
        if glued {
            continue;
        }
        let plus = text[..start].trim_end_matches(['(', ' ']).ends_with('+');
        let phone_start = if plus {
            text[..start].rfind('+').unwrap_or(start)
        } else if start > 0 && b[start - 1] == b'(' {
            start - 1
        } else {
            start
        };
        let is_phone = if plus {
            (10..=14).contains(&all.len())
        } else if all.starts_with("00") {
            (12..=15).contains(&all.len())
        } else {
            all.starts_with('0') && all.len() == 10
        };
        if is_phone {
            out.push((What::Phone, phone_start..end));
            continue;
        }
        if all.len() == 9 && super::elfproef(&all) {
            out.push((What::Bsn, start..end));
            continue;
        }
        // A BSN written on its own inside a longer run of space-separated numbers.
        for g in &run {
            let d = &text[g.clone()];
            if d.len() == 9 && super::elfproef(d) && run.len() > 1 {
                out.push((What::Bsn, g.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whats(text: &str) -> Vec<(What, String)> {
        scan(text, &Lexicon::builtin())
            .into_iter()
            .map(|f| (f.what, f.text))
            .collect()
    }

    #[test]
    fn bsn_needs_the_elfproef_and_nine_digits() {
        assert_eq!(
            whats("BSN 111222333 genoteerd"),
            [(What::Bsn, "111222333".into())]
        );
        assert_eq!(
            whats("nummer 1112.22.333"),
            [(What::Bsn, "1112.22.333".into())]
        );
        assert_eq!(
            whats("nummer 111 222 333."),
            [(What::Bsn, "111 222 333".into())]
        );
        // 123456789 fails the elfproef; eight digits are a date; ten digits are not a BSN.
        assert!(whats("klantnummer 123456789").is_empty());
        assert!(whats("geboren 12-03-2024, 12032024").is_empty());
        assert!(whats("referentie 1112223334").is_empty());
        assert!(whats("code A111222333").is_empty());
    }

    #[test]
    fn iban_needs_mod_97() {
        assert_eq!(
            whats("Rekening NL91 ABNA 0417 1643 00 van de verhuurder."),
            [(What::Iban, "NL91 ABNA 0417 1643 00".into())]
        );
        assert_eq!(
            whats("iban: nl91abna0417164300"),
            [(What::Iban, "nl91abna0417164300".into())]
        );
        assert_eq!(
            whats("DE89370400440532013000"),
            [(What::Iban, "DE89370400440532013000".into())]
        );
        // One digit off.
        assert!(whats("NL91ABNA0417164301").is_empty());
        assert!(iban_valid("GB82WEST12345698765432"));
        assert!(!iban_valid("GB82WEST1234569876543"));
    }

    #[test]
    fn phone_numbers_in_the_ways_people_write_them() {
        for (text, number) in [
            ("bel 06-12345678 morgen", "06-12345678"),
            ("bel 06 1234 5678.", "06 1234 5678"),
            ("tel. 020-123 45 67", "020-123 45 67"),
            ("(010) 123 4567", "(010) 123 4567"),
            ("+31 6 12345678", "+31 6 12345678"),
            ("+31(0)6-12345678", "+31(0)6-12345678"),
            ("0031 6 1234 5678", "0031 6 1234 5678"),
            ("0612345678", "0612345678"),
        ] {
            assert_eq!(whats(text), [(What::Phone, number.into())], "{text}");
        }
        for not in [
            "om 10.30 uur",
            "€ 1.234,56",
            "1234 AB Voorbeeld",
            "op 01-02-2024",
            "huisnummer 12",
        ] {
            assert!(whats(not).is_empty(), "{not}: {:?}", whats(not));
        }
    }

    #[test]
    fn email_addresses() {
        assert_eq!(
            whats("mail naar jan.de.vries@example.nl."),
            [(What::Email, "jan.de.vries@example.nl".into())]
        );
        assert!(whats("om 10 uur @ het buurthuis").is_empty());
        assert!(whats("twitter @kluis").is_empty());
    }

    #[test]
    fn special_words_ignore_case_and_accents_and_find_compounds() {
        let found =
            whats("Cliënt heeft Diabetes en de moeder heeft longkanker; SUÏCIDALE gedachten.");
        assert_eq!(
            found,
            [
                (What::Special(Category::Health), "Diabetes".into()),
                (What::Special(Category::Health), "longkanker".into()),
                (What::Special(Category::Health), "SUÏCIDALE".into()),
            ]
        );
        assert_eq!(
            whats("Hij gaat elke vrijdag naar de moskee."),
            [(What::Special(Category::Religion), "moskee".into())]
        );
        assert_eq!(
            whats("Heeft een strafblad."),
            [(What::Special(Category::Criminal), "strafblad".into())]
        );
        // Two words as one entry.
        assert_eq!(
            whats("over haar seksuele voorkeur"),
            [(
                What::Special(Category::Sexuality),
                "seksuele voorkeur".into()
            )]
        );
        // Whole words only: the Kerkstraat is not a church, Homogeen is not a sexuality.
        assert!(whats("Woont aan de Kerkstraat, een homogene buurt.").is_empty());
    }

    #[test]
    fn the_organisation_extends_the_list_and_can_except_words() {
        let mut lex = Lexicon::builtin();
        let before = lex.len();
        lex.add(Category::Health, "mantelzorg*").unwrap();
        lex.add(Category::Health, "!ziektekostenverzekering")
            .unwrap();
        assert_eq!(lex.len(), before + 1);
        let found = scan("Mantelzorger en ziektekostenverzekering.", &lex);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].text, "Mantelzorger");
        for bad in ["", "*", "a*", "ab", "wo*rd", "!", "x<y"] {
            assert!(lex.add(Category::Health, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_of_others_are_found_by_their_parts() {
        let names = vec![
            "Fatima el Amrani".to_owned(),
            "Jan de Vries (demo)".to_owned(),
        ];
        let found = scan_names(
            "Fatima vertelde over Jan. Amrani's buurman; de vries was koud.",
            &names,
        );
        let texts: Vec<&str> = found.iter().map(|f| f.text.as_str()).collect();
        // "Jan" has three letters; "de" and "el" are particles; a possessive is the name;
        // "vries" matches, folded.
        assert_eq!(texts, ["Fatima", "Jan", "Amrani's", "vries"]);
        assert_eq!(name_parts("Jan de Vries (demo)"), ["jan", "vries"]);
    }

    #[test]
    fn remove_takes_out_details_and_keeps_the_words() {
        let text = "BSN 111222333, bel 06-12345678 over de diabetes.";
        let found = scan(text, &Lexicon::builtin());
        assert_eq!(remove(text, &found), "BSN […], bel […] over de diabetes.");
        let advice = advise(&found, false);
        assert!(advice.suggest_special);
        assert_eq!(advice.categories, [Category::Health]);
        assert_eq!(advice.details.len(), 2);
        assert!(!advise(&found, true).suggest_special);
        assert!(advise(&[], false).is_empty());
    }

    #[test]
    fn shown_masks_numbers_and_addresses() {
        let found = scan(
            "111222333 NL91ABNA0417164300 06-12345678 jan@example.nl",
            &Lexicon::builtin(),
        );
        let shown: Vec<String> = found.iter().map(Finding::shown).collect();
        assert_eq!(shown, ["******333", "NL…4300", "…78", "j…@example.nl"]);
    }

    #[test]
    fn the_builtin_list_parses_and_every_category_has_words() {
        let lex = Lexicon::builtin();
        for c in Category::ALL {
            assert!(lex.categories().any(|k| k == *c), "no words for {c}");
        }
    }

    /// Lines of a corpus file under tests/data/nudge, without comments and empty lines.
    fn corpus(text: &str) -> Vec<&str> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .collect()
    }

    /// The numbers docs/user-guide.md reports ("Minder gegevens"): how many ordinary Dutch
    /// sentences get a warning (each one a false positive), and that every sentence of the
    /// sensitive corpus gets exactly the warnings it should. Run with `--nocapture` to see
    /// them; the bound below is the one the guide promises.
    #[test]
    fn false_positive_rate_on_ordinary_dutch_and_recall_on_sensitive_sentences() {
        let lex = Lexicon::builtin();
        let ordinary = corpus(include_str!("../../tests/data/nudge/ordinary_nl.txt"));
        let flagged: Vec<(&str, Vec<Finding>)> = ordinary
            .iter()
            .map(|l| (*l, scan(l, &lex)))
            .filter(|(_, f)| !f.is_empty())
            .collect();
        println!(
            "ordinary Dutch: {} of {} sentences flagged ({:.1}%)",
            flagged.len(),
            ordinary.len(),
            100.0 * flagged.len() as f64 / ordinary.len() as f64
        );
        for (line, found) in &flagged {
            let what: Vec<String> = found
                .iter()
                .map(|f| format!("{}:{}", f.what.code(), f.shown()))
                .collect();
            println!("  {line}  -> {}", what.join(", "));
        }
        assert!(
            flagged.len() * 100 <= ordinary.len() * 3,
            "more than 3% of ordinary sentences flagged: update the list or the guide"
        );

        let sensitive = corpus(include_str!("../../tests/data/nudge/sensitive_nl.txt"));
        let mut found_all = 0;
        for line in &sensitive {
            let (expected, text) = line.split_once('\t').expect("kind<TAB>sentence");
            let found: Vec<String> = scan(text, &lex)
                .iter()
                .map(|f| match f.what {
                    What::Special(c) => format!("special:{c}"),
                    w => w.code().to_owned(),
                })
                .collect();
            let want: Vec<&str> = expected.split(',').collect();
            let all = want.iter().all(|w| found.iter().any(|f| f == w));
            found_all += usize::from(all);
            assert!(all, "{text}: expected {want:?}, found {found:?}");
        }
        println!(
            "sensitive sentences: {found_all} of {} get every warning they should",
            sensitive.len()
        );
    }

    proptest::proptest! {
        /// Any text, however hostile, is scanned without a panic, and every finding's range
        /// is a slice of it with the text the finding holds.
        #[test]
        fn scanning_never_panics_and_ranges_are_slices(text in "\\PC{0,200}") {
            let mut lex = Lexicon::builtin();
            lex.add(Category::Health, "*zorg*").unwrap();
            for f in scan(&text, &lex).into_iter().chain(scan_names(&text, std::slice::from_ref(&text))) {
                proptest::prop_assert_eq!(text.get(f.range.clone()), Some(f.text.as_str()));
            }
            let _ = remove(&text, &scan(&text, &lex));
        }
    }
}
