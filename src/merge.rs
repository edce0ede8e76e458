//! How vaults that saw the same changes agree: operations with hybrid logical clock (HLC)
//! versions, and the pure rules that turn a set of them into one state. No IO here, so the
//! rules are tested (and property-tested) on their own.
//!
//! Every change to a dossier is an [`Op`] on one field. The state of a field is its op with
//! the highest HLC, whatever order the ops arrived in, so importing the same ops in any
//! order, any number of times, gives the same state. Notes are append-only: their ops only
//! ever add. See docs/sync-format.md.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::model::record::Kind;

/// One change to one field of a dossier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Op {
    /// Unique id.
    pub id: String,
    /// The dossier.
    pub client: String,
    /// A [`CLIENT_FIELDS`] column, `assign/WORKER`, `note/NOTE_ID` or `resolve/OP_ID`.
    pub field: String,
    /// The new value (None clears the field).
    pub value: Option<String>,
    /// The HLC of the version this op replaced, as its author saw it.
    pub prev: Option<String>,
    /// Version: see [`format_hlc`].
    pub hlc: String,
    /// Worker id (or the owner's name in a vault outside an organisation).
    pub author: String,
}

// A value may be a BSN, an address or a name: wiped when the op goes.
impl Drop for Op {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        if let Some(v) = self.value.as_mut() {
            v.zeroize();
        }
    }
}

pub use crate::model::{CLIENT_FIELDS, REQUIRED_FIELDS};

/// What an op's field names.
#[derive(Debug, PartialEq, Eq)]
pub enum Field<'a> {
    /// A client column.
    Column(&'static str),
    /// Whether a worker is assigned ("1") or not ("0").
    Assign(&'a str),
    /// A note was added (the note itself travels beside the ops).
    Note(&'a str),
    /// A conflict whose losing op is this one was confirmed.
    Resolve(&'a str),
    /// A row of a register kind (`consent/ID`, `household/ID`, ...; see
    /// `model::record`): its value is the row as JSON, so a withdrawal is a newer value.
    Record(Kind, &'a str),
    /// An access log entry (`log/ID`); append-only like notes, its value the entry as JSON.
    Log(&'a str),
    /// The dossier was erased at the end of its retention (`erased`, value the day). It wins
    /// over everything else about the dossier, in every vault it reaches.
    Erased,
}

/// Parses an op's field name; None for anything kluis does not know.
pub fn field(name: &str) -> Option<Field<'_>> {
    if let Some(col) = CLIENT_FIELDS.iter().find(|c| **c == name) {
        return Some(Field::Column(col));
    }
    if name == "erased" {
        return Some(Field::Erased);
    }
    let (kind, rest) = name.split_once('/')?;
    if rest.is_empty() || rest.len() > 64 {
        return None;
    }
    match kind {
        "assign" => Some(Field::Assign(rest)),
        "note" => Some(Field::Note(rest)),
        "resolve" => Some(Field::Resolve(rest)),
        "log" => Some(Field::Log(rest)),
        code => Kind::register(code).map(|k| Field::Record(k, rest)),
    }
}

/// Fields whose value is a last-writer-wins register (columns, assignments, consents and
/// disclosures).
pub fn is_register(name: &str) -> bool {
    matches!(
        field(name),
        Some(Field::Column(_) | Field::Assign(_) | Field::Record(..))
    )
}

/// Writes an HLC: milliseconds since 1970 and a counter, fixed width so that text order is
/// time order, then the node (worker) id to break ties between workers.
pub fn format_hlc(ms: u64, counter: u32, node: &str) -> String {
    format!("{ms:013}.{counter:04}.{node}")
}

/// Reads the time part of an HLC: (milliseconds, counter).
pub fn parse_hlc(hlc: &str) -> Option<(u64, u32)> {
    let (ms, rest) = hlc.split_once('.')?;
    let (counter, node) = rest.split_once('.')?;
    if ms.len() != 13 || counter.len() != 4 || node.is_empty() {
        return None;
    }
    if !ms
        .bytes()
        .chain(counter.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some((ms.parse().ok()?, counter.parse().ok()?))
}

/// The clock's next reading after `last`, at wall time `now_ms`: never backwards, even when
/// the wall clock is.
pub fn next_hlc(last: (u64, u32), now_ms: u64) -> (u64, u32) {
    if now_ms > last.0 {
        (now_ms, 0)
    } else if last.1 < 9_999 {
        (last.0, last.1 + 1)
    } else {
        (last.0 + 1, 0)
    }
}

/// Total order of ops on one field: HLC, then id (two ops can only share an HLC if a vault
/// was copied, and then the id still decides the same way everywhere).
fn newer(a: &Op, b: &Op) -> bool {
    (a.hlc.as_str(), a.id.as_str()) > (b.hlc.as_str(), b.id.as_str())
}

/// The op that decides a field's value: the newest.
pub fn winner<'a>(ops: impl IntoIterator<Item = &'a Op>) -> Option<&'a Op> {
    ops.into_iter()
        .fold(None, |best: Option<&Op>, op| match best {
            Some(b) if !newer(op, b) => Some(b),
            _ => Some(op),
        })
}

/// Two values of one field written without either author seeing the other's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict<'a> {
    /// The value the dossier shows.
    pub winner: &'a Op,
    /// The value that lost, kept until someone confirms.
    pub loser: &'a Op,
}

/// The open conflicts among the ops of one field: every op that the winner's author had not
/// seen (it is not on the winner's `prev` chain), holds another value, and whose conflict
/// nobody confirmed (`resolved` holds confirmed loser op ids).
pub fn conflicts<'a>(ops: &'a [Op], resolved: &HashSet<&str>) -> Vec<Conflict<'a>> {
    let Some(win) = winner(ops) else {
        return Vec::new();
    };
    let by_hlc: HashMap<&str, &Op> = ops.iter().map(|o| (o.hlc.as_str(), o)).collect();
    let mut seen = HashSet::new();
    let mut at = Some(win);
    // The chain is bounded by the number of ops: `seen` stops a cycle a forger might build.
    while let Some(op) = at {
        if !seen.insert(op.hlc.as_str()) {
            break;
        }
        at = op.prev.as_deref().and_then(|p| by_hlc.get(p).copied());
    }
    let mut out: Vec<Conflict<'a>> = ops
        .iter()
        .filter(|o| !seen.contains(o.hlc.as_str()))
        .filter(|o| o.value != win.value && !resolved.contains(o.id.as_str()))
        .map(|loser| Conflict { winner: win, loser })
        .collect();
    out.sort_by(|a, b| a.loser.hlc.cmp(&b.loser.hlc));
    out
}

/// A dossier's state from its ops: each register field's winning value, and its notes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// Field → value, per client.
    pub fields: BTreeMap<String, BTreeMap<String, Option<String>>>,
    /// Note ids, per client.
    pub notes: BTreeMap<String, Vec<String>>,
}

/// One dossier's register fields (client columns and assignments), counting only the ops
/// whose author was assigned to the dossier at that version.
#[derive(Debug, Default)]
pub struct Folded<'a> {
    /// Field → the op that decides it.
    pub winners: BTreeMap<&'a str, &'a Op>,
    /// Every worker an assignment op named, and whether they are assigned now.
    pub assigned: BTreeMap<&'a str, bool>,
    /// Ids of the ops that count.
    pub counted: HashSet<&'a str>,
}

/// Applies one dossier's register ops in version order. The author of the `created_at` op
/// (the dossier's creation; there is one) is assigned from the start; after that an op counts
/// only if its author is assigned at that moment, so a worker who was unassigned cannot write
/// the dossier or assign themselves back, whatever version they put on it. The result depends
/// only on the set of ops, never on their arrival order.
pub fn fold<'a>(ops: impl IntoIterator<Item = &'a Op>) -> Folded<'a> {
    let mut regs: Vec<&Op> = ops.into_iter().filter(|o| is_register(&o.field)).collect();
    regs.sort_by(|a, b| (a.hlc.as_str(), a.id.as_str()).cmp(&(b.hlc.as_str(), b.id.as_str())));
    let mut out = Folded::default();
    let Some(creator) = regs
        .iter()
        .find(|o| o.field == "created_at")
        .map(|o| o.author.as_str())
    else {
        return out;
    };
    out.assigned.insert(creator, true);
    for op in regs {
        if out.assigned.get(op.author.as_str()) != Some(&true) {
            continue;
        }
        out.counted.insert(op.id.as_str());
        out.winners.insert(op.field.as_str(), op);
        if let Some(Field::Assign(w)) = field(&op.field) {
            out.assigned.insert(w, op.value.as_deref() == Some("1"));
        }
    }
    out
}

/// The state a set of ops stands for. The reference the store's incremental merge is tested
/// against.
pub fn state(ops: &[Op]) -> State {
    let mut by_client: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    let mut out = State::default();
    for op in ops {
        by_client.entry(op.client.as_str()).or_default().push(op);
        if let Some(Field::Note(id)) = field(&op.field) {
            out.notes
                .entry(op.client.clone())
                .or_default()
                .push(id.to_owned());
        }
    }
    for (client, ops) in by_client {
        let folded = fold(ops);
        if folded.winners.is_empty() {
            continue;
        }
        let fields = out.fields.entry(client.to_owned()).or_default();
        for (name, win) in folded.winners {
            fields.insert(name.to_owned(), win.value.clone());
        }
    }
    for notes in out.notes.values_mut() {
        notes.sort();
        notes.dedup();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn op(id: &str, field: &str, value: &str, prev: Option<&str>, hlc: &str) -> Op {
        Op {
            id: id.into(),
            client: "c".into(),
            field: field.into(),
            value: Some(value.into()),
            prev: prev.map(Into::into),
            hlc: hlc.into(),
            author: "w".into(),
        }
    }

    #[test]
    fn hlc_text_order_is_time_order_and_never_goes_back() {
        assert!(format_hlc(999, 5, "b") < format_hlc(1000, 0, "a"));
        assert!(format_hlc(1000, 1, "a") > format_hlc(1000, 0, "z"));
        assert_eq!(
            parse_hlc(&format_hlc(1_700_000_000_000, 42, "W1")),
            Some((1_700_000_000_000, 42))
        );
        assert_eq!(parse_hlc("12.0000.x"), None);
        assert_eq!(next_hlc((100, 3), 50), (100, 4));
        assert_eq!(next_hlc((100, 9_999), 50), (101, 0));
        assert_eq!(next_hlc((100, 3), 200), (200, 0));
    }

    #[test]
    fn fields_are_known_or_refused() {
        assert_eq!(field("phone"), Some(Field::Column("phone")));
        assert_eq!(field("assign/W1"), Some(Field::Assign("W1")));
        assert_eq!(field("note/abc"), Some(Field::Note("abc")));
        assert_eq!(field("updated_at"), None);
        assert_eq!(field("assign/"), None);
        assert_eq!(field("drop/x"), None);
        assert_eq!(
            field("consent/abc"),
            Some(Field::Record(Kind::Consent, "abc"))
        );
        assert_eq!(field("log/abc"), Some(Field::Log("abc")));
        assert_eq!(field("erased"), Some(Field::Erased));
        assert!(is_register("consent/abc") && !is_register("log/abc"));
    }

    #[test]
    fn concurrent_edits_conflict_sequential_ones_do_not() {
        let base = op("0", "phone", "1", None, "0000000000001.0000.a");
        let mine = op("1", "phone", "2", Some(&base.hlc), "0000000000002.0000.a");
        let theirs = op("2", "phone", "3", Some(&base.hlc), "0000000000003.0000.b");
        let ops = vec![base.clone(), mine.clone(), theirs.clone()];
        let found = conflicts(&ops, &HashSet::new());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].winner, &theirs);
        assert_eq!(found[0].loser, &mine);
        assert!(conflicts(&ops, &HashSet::from(["1"])).is_empty());
        // b saw a's edit before writing: a chain, no conflict.
        let after = op("3", "phone", "4", Some(&mine.hlc), "0000000000004.0000.b");
        assert!(conflicts(&[base, mine, after], &HashSet::new()).is_empty());
    }

    fn by(author: &str, id: &str, field: &str, value: &str, ms: u64) -> Op {
        Op {
            id: id.into(),
            client: "c".into(),
            field: field.into(),
            value: Some(value.into()),
            prev: None,
            hlc: format_hlc(ms, 0, author),
            author: author.into(),
        }
    }

    #[test]
    fn only_assigned_workers_write_and_an_unassigned_one_cannot_come_back() {
        let ops = [
            by("a", "1", "created_at", "2026-01-01T00:00:00Z", 1),
            by("a", "2", "name", "Jan", 2),
            by("a", "3", "assign/b", "1", 3),
            by("b", "4", "phone", "06-1", 4),
            by("a", "5", "assign/b", "0", 5),
            // b, unassigned, tries to write and to assign themselves back with a later version;
            // c, never assigned, tries to write.
            by("b", "6", "assign/b", "1", 9),
            by("b", "7", "name", "Gestolen", 9),
            by("c", "8", "phone", "06-2", 9),
        ];
        let mut reversed: Vec<&Op> = ops.iter().rev().collect();
        for order in [
            ops.iter().collect::<Vec<_>>(),
            std::mem::take(&mut reversed),
        ] {
            let f = fold(order);
            assert_eq!(f.winners["name"].value.as_deref(), Some("Jan"));
            assert_eq!(
                f.winners["phone"].value.as_deref(),
                Some("06-1"),
                "b's edit while assigned counts"
            );
            assert_eq!(f.assigned.get("b"), Some(&false));
            assert!(
                !f.counted.contains("6") && !f.counted.contains("7") && !f.counted.contains("8")
            );
        }
        // Without a creation nothing counts yet (it may still arrive).
        assert!(fold(&ops[1..]).winners.is_empty());
    }

    fn arb_ops() -> impl Strategy<Value = Vec<Op>> {
        let one = (0..3u8, 0..4u8, 0..5u8, 0..40u64, 0..3u8, any::<bool>());
        proptest::collection::vec(one, 0..30).prop_map(|raw| {
            raw.into_iter()
                .enumerate()
                .map(|(i, (client, f, value, ms, node, note))| Op {
                    id: format!("op{i}"),
                    client: format!("c{client}"),
                    field: if note {
                        format!("note/n{i}")
                    } else {
                        ["name", "phone", "assign/w1", "status"][f as usize].to_owned()
                    },
                    // "v1" stands for "1": an assignment op that assigns.
                    value: (!note).then(|| {
                        if f == 2 && value == 1 {
                            "1".to_owned()
                        } else {
                            format!("v{value}")
                        }
                    }),
                    prev: None,
                    hlc: format_hlc(ms + 1, 0, &format!("w{node}")),
                    author: format!("w{node}"),
                })
                // Each dossier created by w0, who assigns w1 and w2 at once.
                .chain((0..3).flat_map(|c| {
                    [
                        ("created_at", "w0"),
                        ("assign/w1", "w1"),
                        ("assign/w2", "w2"),
                    ]
                    .map(|(field, w)| Op {
                        id: format!("c{c}-{w}"),
                        client: format!("c{c}"),
                        field: field.into(),
                        value: Some(if field == "created_at" {
                            "t".into()
                        } else {
                            "1".into()
                        }),
                        prev: None,
                        hlc: format_hlc(0, 0, "w0"),
                        author: "w0".into(),
                    })
                }))
                .collect()
        })
    }

    proptest! {
        #[test]
        fn state_depends_on_the_set_of_ops_not_their_order(
            ops in arb_ops(), seed in any::<u64>(), dup in 0usize..5
        ) {
            let expected = state(&ops);
            let mut shuffled = ops.clone();
            // A deterministic shuffle from the seed, plus some ops delivered twice.
            let mut x = seed | 1;
            for i in (1..shuffled.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                shuffled.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let extra: Vec<Op> = shuffled.iter().take(dup).cloned().collect();
            shuffled.extend(extra);
            prop_assert_eq!(state(&shuffled), expected.clone());
            let notes = ops.iter().filter(|o| o.field.starts_with("note/")).count();
            prop_assert_eq!(expected.notes.values().map(Vec::len).sum::<usize>(), notes);
        }
    }
}
