//! Every kind of dossier record, declared once.
//!
//! [`Kind`] lists them; [`Kind::spec`] says, per kind, which table holds it, how it travels
//! to colleagues, how erasure removes it, whether it can hold special-category data and where
//! a dossier shows it. The record types themselves are declared with [`record!`], which gives
//! each field its column and the kind of input it takes, so that reading and writing rows,
//! checking a colleague's copy, erasing, reporting and showing a kind are written once, for
//! every kind, by the code that iterates this registry (see docs/architecture.md).
//!
//! No IO here: the store turns [`Cell`]s into SQLite values and back.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// One cell of a stored row, with its SQLite storage class kept (the tables are STRICT).
/// The journal carries rows as these (docs/journal-format.md): the variant names are part of
/// that format.
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

impl Cell {
    /// The text of a TEXT cell.
    pub fn text(&self) -> Option<&str> {
        match self {
            Cell::T(t) => Some(t),
            _ => None,
        }
    }
}

/// How a field is entered and checked. Together with the Rust type (optional or not, the
/// codes of a choice) this is all the generic code needs to build a form, parse a command
/// line value and check a colleague's copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// One line of text (a name, an organisation): trimmed, at most 200 characters.
    Line,
    /// Free text over several lines (a goal, a reason, an observation).
    Text,
    /// A day, `YYYY-MM-DD`.
    Date,
    /// A local date and time, stored as `YYYY-MM-DDTHH:MM:SS`.
    When,
    /// One of the codes of a choice (see [`Column::CODES`]).
    Choice,
    /// A life domain from the list in use (config `life_domains`).
    LifeDomain,
    /// A score from 1 to 5.
    Score,
    /// Yes or no.
    Flag,
    /// The id of another record of this dossier.
    Ref(Kind),
    /// An id that ties records in several dossiers together (the copies of one group
    /// session): set by kluis, never typed.
    Link,
    /// A worker id (or a name in a vault outside an organisation).
    Worker,
    /// An age recipient (`age1…`).
    Recipient,
    /// A SHA-256, lowercase hex.
    Sha256,
    /// A size in bytes.
    Size,
    /// A moment in UTC, RFC 3339 (set by kluis, never typed).
    Stamp,
    /// Who wrote the record: set by the session, never typed.
    Author,
    /// When the record was written: set by the session, never typed.
    Created,
}

impl Input {
    /// Whether a person types this field (the rest is set by the session or by kluis).
    pub fn is_entered(self) -> bool {
        !matches!(
            self,
            Input::Author
                | Input::Created
                | Input::Stamp
                | Input::Sha256
                | Input::Size
                | Input::Link
        )
    }
}

/// A column of a record type: its name, how it is entered, whether it may be empty, and the
/// codes of a choice.
#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    /// Column (and JSON) name.
    pub name: &'static str,
    /// How it is entered and checked.
    pub input: Input,
    /// May be empty (NULL).
    pub optional: bool,
    /// For [`Input::Choice`]: the stored spellings.
    pub codes: &'static [&'static str],
}

/// A Rust type that is stored in one column.
pub trait Column: Sized {
    /// May be NULL.
    const OPTIONAL: bool = false;
    /// For text enums: every stored spelling.
    const CODES: &'static [&'static str] = &[];
    /// The stored cell.
    fn to_cell(&self) -> Cell;
    /// From a stored cell; None when it is not one kluis writes.
    fn from_cell(c: &Cell) -> Option<Self>;
}

impl Column for String {
    fn to_cell(&self) -> Cell {
        Cell::T(self.clone())
    }
    fn from_cell(c: &Cell) -> Option<Self> {
        c.text().map(str::to_owned)
    }
}

impl Column for NaiveDate {
    fn to_cell(&self) -> Cell {
        Cell::T(self.to_string())
    }
    fn from_cell(c: &Cell) -> Option<Self> {
        c.text()?.parse().ok()
    }
}

impl Column for u8 {
    fn to_cell(&self) -> Cell {
        Cell::I(i64::from(*self))
    }
    fn from_cell(c: &Cell) -> Option<Self> {
        match c {
            Cell::I(i) => u8::try_from(*i).ok(),
            _ => None,
        }
    }
}

impl Column for u64 {
    fn to_cell(&self) -> Cell {
        Cell::I(i64::try_from(*self).unwrap_or(i64::MAX))
    }
    fn from_cell(c: &Cell) -> Option<Self> {
        match c {
            Cell::I(i) => u64::try_from(*i).ok(),
            _ => None,
        }
    }
}

impl Column for bool {
    fn to_cell(&self) -> Cell {
        Cell::I(i64::from(*self))
    }
    fn from_cell(c: &Cell) -> Option<Self> {
        match c {
            Cell::I(0) => Some(false),
            Cell::I(1) => Some(true),
            _ => None,
        }
    }
}

impl<T: Column> Column for Option<T> {
    const OPTIONAL: bool = true;
    const CODES: &'static [&'static str] = T::CODES;
    fn to_cell(&self) -> Cell {
        self.as_ref().map_or(Cell::N, T::to_cell)
    }
    fn from_cell(c: &Cell) -> Option<Self> {
        match c {
            Cell::N => Some(None),
            c => T::from_cell(c).map(Some),
        }
    }
}

/// A record type: one row of its kind's table, and the value of its op when it travels.
pub trait Record: Clone + Serialize + DeserializeOwned {
    /// Its kind.
    const KIND: Kind;
    /// Its columns after `id` and `client_id`, in table order.
    const FIELDS: &'static [FieldSpec];
    /// Its id.
    fn id(&self) -> &str;
    /// The dossier it belongs to.
    fn client(&self) -> &str;
    /// Every column's cell, `id` and `client_id` first.
    fn cells(&self) -> Vec<Cell>;
    /// From a row's cells in the order of [`Record::columns`]; None when a cell is not what
    /// kluis writes.
    fn from_cells(cells: &[Cell]) -> Option<Self>;
    /// Rules across fields (an action is done exactly when it has a day it was done, say),
    /// beyond what each field's [`Input`] checks.
    fn rules(&self) -> bool {
        true
    }
    /// Whether it holds special-category data (masked until revealed).
    fn special(&self) -> bool {
        match Self::KIND.spec().special {
            Special::Never => false,
            Special::Always => true,
            Special::Flag(col) => self
                .cells()
                .get(
                    2 + Self::FIELDS
                        .iter()
                        .position(|f| f.name == col)
                        .unwrap_or(usize::MAX),
                )
                .is_some_and(|c| *c == Cell::I(1)),
        }
    }
    /// Why it is kept out of the client's own report, if it is: the code in its
    /// [`WITHHELD`] column (AVG art. 23, UAVG art. 41; see docs/privacy.md).
    fn withheld(&self) -> Option<String> {
        let at = Self::FIELDS.iter().position(|f| f.name == WITHHELD)?;
        self.cells().get(2 + at)?.text().map(str::to_owned)
    }
    /// Every column name, `id` and `client_id` first.
    fn columns() -> Vec<&'static str> {
        ["id", "client_id"]
            .into_iter()
            .chain(Self::FIELDS.iter().map(|f| f.name))
            .collect()
    }
}

/// The column that, when set, keeps a record out of the client's own report (the code of
/// the ground). A kind has it or not; nothing else is needed.
pub const WITHHELD: &str = "withheld";

/// Declares a record type: the struct (with `id` and `client_id` first), its columns and how
/// each is entered. The column names are the field names, so the compiler and one test keep
/// struct, table and op value in step.
#[macro_export]
macro_rules! record {
    (
        $(#[$m:meta])*
        pub struct $name:ident: $kind:expr;
        {
            $( $(#[$fm:meta])* $field:ident : $ty:ty = $input:expr ),+ $(,)?
        }
        $(rules($this:ident) $rules:block)?
    ) => {
        #[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        $(#[$m])*
        pub struct $name {
            /// UUID v7.
            pub id: String,
            /// The dossier.
            pub client_id: String,
            $( $(#[$fm])* pub $field: $ty, )+
        }

        impl $crate::model::record::Record for $name {
            const KIND: $crate::model::record::Kind = $kind;
            const FIELDS: &'static [$crate::model::record::FieldSpec] = &[
                $( $crate::model::record::FieldSpec {
                    name: stringify!($field),
                    input: $input,
                    optional: <$ty as $crate::model::record::Column>::OPTIONAL,
                    codes: <$ty as $crate::model::record::Column>::CODES,
                }, )+
            ];
            fn id(&self) -> &str {
                &self.id
            }
            fn client(&self) -> &str {
                &self.client_id
            }
            fn cells(&self) -> Vec<$crate::model::record::Cell> {
                use $crate::model::record::Column;
                vec![
                    self.id.to_cell(),
                    self.client_id.to_cell(),
                    $( self.$field.to_cell(), )+
                ]
            }
            fn from_cells(cells: &[$crate::model::record::Cell]) -> Option<Self> {
                use $crate::model::record::Column;
                let mut it = cells.iter();
                Some($name {
                    id: String::from_cell(it.next()?)?,
                    client_id: String::from_cell(it.next()?)?,
                    $( $field: <$ty>::from_cell(it.next()?)?, )+
                })
            }
            $(
                fn rules(&self) -> bool {
                    let $this = self;
                    $rules
                }
            )?
        }
    };
}

/// How a kind travels to colleagues (see docs/sync-format.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Travel {
    /// Client columns, one op per field.
    Fields,
    /// Append-only, the row beside its op (notes).
    Notes,
    /// Append-only entries whose op value is the entry (the access log).
    Log,
    /// A register: the op's value is the whole row as JSON; the newest version wins.
    Register,
    /// Like a register, but a row never changes once written (a disclosure happened).
    Once,
}

/// What erasing a dossier does with a kind's rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Erase {
    /// Deleted (`WHERE client_id = ?`).
    Delete,
    /// The dossier's own row (`WHERE id = ?`).
    Dossier,
    /// The access log: entries stay (the chain must verify), their details are emptied.
    EmptyDetail,
}

/// Whether a kind can hold special-category data (AVG art. 9), which stays masked until it
/// is revealed, and the reveal is logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    /// Never.
    Never,
    /// When this flag column is set.
    Flag(&'static str),
    /// Always.
    Always,
}

/// Where a dossier (the screen, the client's report) shows a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// The client's details.
    Details,
    /// The notes.
    Notes,
    /// Household and network.
    People,
    /// Plan: goals, actions, evaluations, visits, handovers.
    Plan,
    /// Life-domain scores.
    Scores,
    /// Files.
    Files,
    /// Consents and disclosures.
    Sharing,
    /// The access log.
    Log,
    /// Shown by the generic code: a table of its fields, per kind (for kinds without a
    /// screen of their own).
    Records,
}

/// The registry entry of a kind.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// Its code: the op prefix (`household/ID`), the JSON key and the catalog key suffix
    /// (`kind.household`).
    pub code: &'static str,
    /// The table that holds it.
    pub table: &'static str,
    /// Tables that hold more of it, keyed by `id` with a `client_id` (a file's bytes).
    pub more_tables: &'static [&'static str],
    /// How it travels.
    pub travel: Travel,
    /// What erasure does.
    pub erase: Erase,
    /// Special-category data.
    pub special: Special,
    /// Where it is shown.
    pub section: Section,
}

macro_rules! kinds {
    ($( $(#[$m:meta])* $variant:ident $(=> $ty:ty)? : $spec:expr ),+ $(,)?) => {
        /// Every kind of dossier record.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind { $( $(#[$m])* $variant ),+ }

        impl Kind {
            /// Every kind, in the order dossiers show them.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),+];

            /// Its registry entry.
            pub fn spec(self) -> &'static Spec {
                match self { $( Kind::$variant => { const SPEC: Spec = $spec; &SPEC } ),+ }
            }

            /// Calls `v` with the record type of a register kind (one whose rows travel as
            /// their op's value); None for the kinds with rules of their own (client, notes,
            /// the access log).
            pub fn visit<V: Visitor>(self, v: V) -> Option<V::Out> {
                match self {
                    $( Kind::$variant => kinds!(@visit v $(, $ty)?) ),+
                }
            }
        }
    };
    (@visit $v:ident, $ty:ty) => { Some($v.visit::<$ty>()) };
    (@visit $v:ident) => { { let _ = $v; None } };
}

/// Something done for a record type, chosen at run time by [`Kind::visit`].
pub trait Visitor {
    /// What it returns.
    type Out;
    /// Does it for `R`.
    fn visit<R: Record>(self) -> Self::Out;
}

const fn register(
    code: &'static str,
    table: &'static str,
    section: Section,
    special: Special,
) -> Spec {
    Spec {
        code,
        table,
        more_tables: &[],
        travel: Travel::Register,
        erase: Erase::Delete,
        special,
        section,
    }
}

use super::depth::{
    Assessment, Attachment, Contact, Evaluation, Goal, Handover, HouseholdMember, PlanAction,
    Signal, Visit as PlannedVisit,
};
use super::practice::{GroupSession, MeldcodeStep};
use super::privacy::{Consent, Disclosure};

kinds! {
    /// The dossier itself: the client's details.
    Client: Spec {
        code: "client",
        table: "client",
        more_tables: &[],
        travel: Travel::Fields,
        erase: Erase::Dossier,
        special: Special::Never,
        section: Section::Details,
    },
    /// A visit note (append-only; a correction supersedes it).
    Note: Spec {
        code: "note",
        table: "note",
        more_tables: &[],
        travel: Travel::Notes,
        erase: Erase::Delete,
        special: Special::Flag("special"),
        section: Section::Notes,
    },
    /// A household member.
    Household => HouseholdMember: register("household", "household", Section::People, Special::Never),
    /// Someone in the client's network.
    Contact => Contact: register("contact", "contact", Section::People, Special::Never),
    /// A goal of the support plan.
    Goal => Goal: register("goal", "goal", Section::Plan, Special::Never),
    /// An agreed action towards a goal.
    Action => PlanAction: register("action", "plan_action", Section::Plan, Special::Never),
    /// An evaluation of a goal (a note holds its text).
    Evaluation => Evaluation: register("evaluation", "evaluation", Section::Plan, Special::Never),
    /// A planned visit.
    Visit => PlannedVisit: register("visit", "visit", Section::Plan, Special::Never),
    /// A warm handover to a colleague.
    Handover => Handover: register("handover", "handover", Section::Plan, Special::Never),
    /// A life-domain score with its reason.
    Assessment => Assessment: register("assessment", "assessment", Section::Scores, Special::Never),
    /// A file kept in the dossier; its bytes are in a table of their own.
    Attachment => Attachment: Spec {
        code: "attachment",
        table: "attachment",
        more_tables: &["attachment_blob", "attachment_key"],
        travel: Travel::Register,
        erase: Erase::Delete,
        special: Special::Never,
        section: Section::Files,
    },
    /// A signal observed (meldcode, step 1).
    Signal => Signal: register("signal", "signal", Section::Records, Special::Flag("special")),
    /// A later step of the meldcode (2 to 5), tied to its signal.
    MeldcodeStep => MeldcodeStep: register("meldcode_step", "meldcode_step", Section::Records, Special::Flag("special")),
    /// A participant's copy of a group session.
    GroupSession => GroupSession: register("group_session", "group_session", Section::Records, Special::Flag("special")),
    /// A consent to share with another organisation (a withdrawal is a newer version).
    Consent => Consent: register("consent", "consent", Section::Sharing, Special::Never),
    /// A disclosure to another organisation.
    Disclosure => Disclosure: Spec {
        code: "disclosure",
        table: "disclosure",
        more_tables: &[],
        travel: Travel::Once,
        erase: Erase::Delete,
        special: Special::Never,
        section: Section::Sharing,
    },
    /// An entry of the access log about this dossier.
    LogEntry: Spec {
        code: "log",
        table: "access_log",
        more_tables: &[],
        travel: Travel::Log,
        erase: Erase::EmptyDetail,
        special: Special::Never,
        section: Section::Log,
    },
}

impl Kind {
    /// The kind with this code.
    pub fn from_code(code: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.spec().code == code)
    }

    /// Its name in the current language (`kind.CODE` in the catalog).
    pub fn label(self) -> String {
        crate::i18n::t!(format!("kind.{}", self.spec().code)).into_owned()
    }

    /// The kind whose op values are whole rows, by the op field's prefix.
    pub fn register(code: &str) -> Option<Kind> {
        Kind::from_code(code).filter(|k| matches!(k.spec().travel, Travel::Register | Travel::Once))
    }

    /// Whether a person adds a record of this kind by typing its fields (the terminal app's
    /// form): not a meldcode step, whose order its own workflow keeps, nor a kind with a
    /// field only kluis sets (the link between a group session's copies, a file's hash).
    pub fn typed_whole(self) -> bool {
        self != Kind::MeldcodeStep
            && fields_of(self)
                .iter()
                .all(|f| f.input.is_entered() || matches!(f.input, Input::Author | Input::Created))
    }
}

/// The fields of a kind's record type (empty for the kinds with rules of their own).
pub fn fields_of(kind: Kind) -> &'static [FieldSpec] {
    struct Fields;
    impl Visitor for Fields {
        type Out = &'static [FieldSpec];
        fn visit<R: Record>(self) -> Self::Out {
            R::FIELDS
        }
    }
    kind.visit(Fields).unwrap_or(&[])
}

/// Whether a cell is a value of `field` as kluis writes it: the generic half of checking a
/// colleague's copy of a record (the other half is [`Record::rules`]).
pub fn check_cell(field: &FieldSpec, cell: &Cell) -> bool {
    if *cell == Cell::N {
        return field.optional;
    }
    let text = cell.text();
    let line = |v: &str| super::parse_name("field", v).is_ok_and(|p| p == v);
    match field.input {
        Input::Line | Input::Worker | Input::Author | Input::LifeDomain => text.is_some_and(line),
        Input::Text => text.is_some_and(|v| super::parse_note_body(v).is_ok_and(|p| p == v)),
        Input::Date => {
            text.is_some_and(|v| v.parse::<NaiveDate>().is_ok_and(|d| d.to_string() == v))
        }
        Input::When => text.is_some_and(|v| {
            super::parse_datetime("field", v).is_ok_and(|d| super::format_datetime(d) == v)
        }),
        Input::Choice => text.is_some_and(|v| field.codes.contains(&v)),
        Input::Score => matches!(cell, Cell::I(1..=5)),
        Input::Flag => matches!(cell, Cell::I(0 | 1)),
        Input::Size => matches!(cell, Cell::I(n) if *n >= 0),
        Input::Ref(_) | Input::Link => text.is_some_and(is_id),
        Input::Recipient => text.is_some_and(|v| super::parse_recipient("field", v).is_ok()),
        Input::Sha256 => text.is_some_and(|v| {
            v.len() == 64
                && v.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        }),
        Input::Stamp | Input::Created => {
            text.is_some_and(|v| chrono::DateTime::parse_from_rfc3339(v).is_ok())
        }
    }
}

/// A record id as kluis writes them: a lower-case UUID, or 32 hex digits (ops made when a
/// vault was migrated to schema v4).
pub fn is_id(s: &str) -> bool {
    (s.len() == 36 || s.len() == 32)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'-')
}

/// The id of a dossier created by `creator` with the creation op `creation_op` (a UUID v7):
/// a UUID version 8 whose first 48 bits are the op's time (so ids still sort by creation)
/// and whose other 74 bits come from `SHA-256("kluis.nl/v2/dossier\0" || creator || "\0" ||
/// creation_op)`. Whoever claims to have created a dossier must produce an op id that hashes
/// to it with their own worker id, so a forged creation of a colleague's dossier is refused
/// wherever it arrives first (docs/sync-format.md).
pub fn dossier_id(creator: &str, creation_op: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"kluis.nl/v2/dossier\0");
    h.update(creator.as_bytes());
    h.update(b"\0");
    h.update(creation_op.as_bytes());
    let h = h.finalize();
    let time = uuid::Uuid::parse_str(creation_op)
        .map(|u| *u.as_bytes())
        .unwrap_or([0; 16]);
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&time[..6]);
    b[6] = 0x80 | (h[0] & 0x0f);
    b[7] = h[1];
    b[8] = 0x80 | (h[2] & 0x3f);
    b[9..].copy_from_slice(&h[3..10]);
    uuid::Uuid::from_bytes(b).to_string()
}

/// Whether a creation op (`op_id` by `author`) may create dossier `client`: for a dossier id
/// of version 8 only when it is [`dossier_id`] of them; a dossier made before ids were bound
/// to their creator (any other version) takes its first creation.
pub fn creation_counts(client: &str, op_id: &str, author: &str) -> bool {
    client.as_bytes().get(14) != Some(&b'8') || dossier_id(author, op_id) == client
}

/// Whether `r` is a record kluis would have written: every field as its input says, and the
/// kind's own rules.
pub fn check<R: Record>(r: &R) -> bool {
    let cells = r.cells();
    is_id(r.id())
        && is_id(r.client())
        && R::FIELDS
            .iter()
            .zip(&cells[2..])
            .all(|(f, c)| check_cell(f, c))
        && r.rules()
}

/// Turns what was typed for a field (a command line's `--set name=value`, a form's box) into
/// its value, checked as the field's [`Input`] says. Empty is none for an optional field.
/// `domains` is the list of life domains in use; references are resolved by the session.
pub fn parse_input(
    field: &FieldSpec,
    typed: &str,
    domains: &[String],
) -> crate::error::Result<serde_json::Value> {
    use crate::error::{Error, Field};
    use serde_json::Value;
    let f = Field::Input(field.name);
    if typed.trim().is_empty() {
        return if field.optional {
            Ok(Value::Null)
        } else {
            Err(Error::invalid(f, crate::i18n::t!("val.required")))
        };
    }
    let text = |v: String| Ok(Value::String(v));
    match field.input {
        Input::Line | Input::Worker => text(super::parse_name(f, typed)?),
        Input::Text => text(super::parse_text(f, typed)?),
        Input::Date => text(super::parse_date(f, typed)?.to_string()),
        Input::When => text(super::format_datetime(super::parse_moment(
            f,
            typed,
            chrono::Local::now().date_naive(),
        )?)),
        Input::Choice => {
            let v = typed.trim().to_lowercase();
            match field.codes.iter().find(|c| **c == v) {
                Some(c) => text((*c).to_owned()),
                None => Err(Error::invalid(
                    f,
                    crate::i18n::t!(
                        "val.choice",
                        value = typed,
                        allowed = field.codes.join(", ")
                    ),
                )),
            }
        }
        Input::LifeDomain => text(super::parse_life_domain(f, typed, domains)?),
        Input::Score => Ok(Value::from(super::parse_score(f, typed)?)),
        Input::Flag => match typed.trim().to_lowercase().as_str() {
            "ja" | "yes" | "true" | "1" => Ok(Value::Bool(true)),
            "nee" | "no" | "false" | "0" => Ok(Value::Bool(false)),
            _ => Err(Error::invalid(
                f,
                crate::i18n::t!("val.choice", value = typed, allowed = "ja, nee, yes, no"),
            )),
        },
        Input::Ref(_) => text(super::parse_id_prefix(f, typed)?),
        Input::Recipient => text(super::parse_recipient(f, typed)?.to_string()),
        Input::Sha256
        | Input::Size
        | Input::Stamp
        | Input::Author
        | Input::Created
        | Input::Link => Err(Error::invalid(f, crate::i18n::t!("val.not_entered"))),
    }
}

/// Builds a record of type `R` from what was typed for its entered fields (already parsed
/// with [`parse_input`], references resolved); who and when come from the session. The
/// result passes the same check a colleague's copy must pass.
pub fn build<R: Record>(
    id: &str,
    client: &str,
    author: &str,
    now: &str,
    mut values: std::collections::BTreeMap<&'static str, serde_json::Value>,
) -> crate::error::Result<R> {
    use crate::error::{Error, Field};
    use serde_json::Value;
    let mut object = serde_json::Map::new();
    object.insert("id".into(), Value::from(id));
    object.insert("client_id".into(), Value::from(client));
    for f in R::FIELDS {
        let value = match f.input {
            Input::Author => Value::from(author),
            Input::Created => Value::from(now),
            _ => match values.remove(f.name) {
                Some(v) => v,
                None if f.optional => Value::Null,
                None if f.input.is_entered() => {
                    return Err(Error::invalid(
                        Field::Input(f.name),
                        crate::i18n::t!("val.required"),
                    ));
                }
                // A field kluis sets itself (a file's hash): such kinds have their own
                // command.
                None => {
                    return Err(Error::invalid(
                        Field::Input(f.name),
                        crate::i18n::t!("val.not_entered"),
                    ));
                }
            },
        };
        object.insert(f.name.into(), value);
    }
    if let Some(name) = values.keys().next() {
        return Err(Error::invalid(
            Field::Input(name),
            crate::i18n::t!("val.unknown_field", kind = R::KIND.spec().code),
        ));
    }
    let r: R = serde_json::from_value(Value::Object(object))
        .map_err(|e| Error::invalid(Field::Input(R::KIND.spec().code), e.to_string()))?;
    if !check(&r) {
        return Err(Error::invalid(
            Field::Input(R::KIND.spec().code),
            crate::i18n::t!("val.record_rules"),
        ));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Names;
    impl Visitor for Names {
        type Out = (Kind, Vec<&'static str>);
        fn visit<R: Record>(self) -> Self::Out {
            (R::KIND, R::columns())
        }
    }

    #[test]
    fn every_record_type_is_registered_under_its_own_kind() {
        for kind in Kind::ALL {
            if let Some((k, columns)) = kind.visit(Names) {
                assert_eq!(k, *kind, "{kind:?} visits the type of {k:?}");
                assert_eq!(&columns[..2], &["id", "client_id"]);
            }
            assert_eq!(Kind::from_code(kind.spec().code), Some(*kind));
        }
    }
}
