//! What a screen asks for, and what a screen may read while it handles a key or draws.
//!
//! Screens import this module and never `app`: a key handler changes the screen's own state
//! and returns a [`Nav`] (open dossier X, back, show form F, lock...); the app performs it,
//! reading and writing through the session, and switches. So no screen builds another or
//! reads dossier data itself, and a failed read is shown where it happened.

use std::path::PathBuf;

use chrono::{NaiveDate, NaiveDateTime};

use crate::i18n::{Lang, t};
use crate::model::record::{Cell, Kind};
use crate::secret::SecretString;

/// What screens read besides their own state.
#[derive(Clone, Copy, Debug)]
pub struct Ctx<'a> {
    /// The language dates are shown in.
    pub lang: Lang,
    /// The privacy screen is on.
    pub privacy: bool,
    /// Now (local time; fixed in tests).
    pub now: NaiveDateTime,
    /// The life domains of plans and scores (config `life_domains`).
    pub life_domains: &'a [String],
    /// The words the nudges look for (kluis's list and the config's `[special_words]`).
    pub lexicon: &'a crate::model::nudge::Lexicon,
}

impl Ctx<'_> {
    /// Today.
    pub fn today(&self) -> NaiveDate {
        self.now.date()
    }
}

/// The tabs of a dossier, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Tab {
    /// Details and the notes.
    #[default]
    Overview,
    /// Goals, actions, evaluations, visits.
    Plan,
    /// Household and network.
    People,
    /// Life-domain scores.
    Scores,
    /// Files.
    Files,
    /// Consents and disclosures.
    Sharing,
    /// The kinds without a screen of their own (signals, meldcode steps, group sessions),
    /// shown by the generic code under one tab, a heading per kind: one tab each would push
    /// tab names out of the bar at 80 columns.
    Records,
    /// The access log.
    Log,
}

/// The kinds shown by the generic code, in the registry's order.
pub fn generic_kinds() -> Vec<Kind> {
    Kind::ALL
        .iter()
        .copied()
        .filter(|k| k.spec().section == crate::model::record::Section::Records)
        .collect()
}

impl Tab {
    /// Every tab: the fixed ones, the kinds shown by the generic code (when the registry
    /// has any), then the log.
    pub fn all() -> Vec<Tab> {
        let mut tabs = vec![
            Tab::Overview,
            Tab::Plan,
            Tab::People,
            Tab::Scores,
            Tab::Files,
            Tab::Sharing,
        ];
        if !generic_kinds().is_empty() {
            tabs.push(Tab::Records);
        }
        tabs.push(Tab::Log);
        tabs
    }

    /// The tab's name.
    pub fn label(self) -> String {
        match self {
            Tab::Overview => t!("tab.overview"),
            Tab::Plan => t!("tab.plan"),
            Tab::People => t!("tab.people"),
            Tab::Scores => t!("tab.scores"),
            Tab::Files => t!("tab.files"),
            Tab::Sharing => t!("tab.sharing"),
            Tab::Records => t!("tab.records"),
            Tab::Log => t!("tab.log"),
        }
        .into_owned()
    }

    /// The next (or previous) tab.
    pub fn step(self, forward: bool) -> Tab {
        let all = Tab::all();
        let i = all.iter().position(|t| *t == self).unwrap_or(0);
        let n = all.len();
        all[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }

    /// The tab that shows a kind.
    pub fn of(kind: Kind) -> Tab {
        use crate::model::record::Section;
        match kind.spec().section {
            Section::Details | Section::Notes => Tab::Overview,
            Section::People => Tab::People,
            Section::Plan => Tab::Plan,
            Section::Scores => Tab::Scores,
            Section::Files => Tab::Files,
            Section::Sharing => Tab::Sharing,
            Section::Log => Tab::Log,
            Section::Records => Tab::Records,
        }
    }

    /// For the resume token: its place in [`Tab::all`].
    pub fn index(self) -> usize {
        Tab::all().iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// What a form is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormKind {
    /// A client's details.
    Client,
    /// A record of a kind whose fields the form takes from the registry.
    Record(Kind),
    /// An evaluation of a goal (its text is a note).
    Evaluation,
    /// A file to keep in the dossier.
    Attach,
    /// A file of the dossier to write out.
    Export,
    /// An action done on a day.
    ActionDone,
    /// A consent withdrawn on a day.
    Withdraw,
    /// The next step of a meldcode (the form's `editing` is its signal), saved through the
    /// meldcode's own workflow (`Store::add_meldcode_step`, as `kluis meldcode`).
    Meldcode(crate::model::MeldStep),
    /// Whether a meldcode record (the form's `editing`: a signal or a step) stays out of the
    /// client's own report, and why (as `kluis meldcode withhold`).
    Withhold,
    /// A group session: its participants chosen from the caseload, saved through
    /// `Store::add_group_session` (as `kluis group add`).
    Group,
    /// A consent form to print and sign, written to a new file (as `kluis consent form`).
    ConsentForm,
    /// The leaflet for residents, written to a new file (as `kluis leaflet`).
    Leaflet,
}

impl FormKind {
    /// Its code in a kept draft.
    pub fn code(self) -> String {
        match self {
            FormKind::Client => "client".into(),
            FormKind::Record(k) => format!("record:{}", k.spec().code),
            FormKind::Evaluation => "evaluation".into(),
            FormKind::Attach => "attach".into(),
            FormKind::Export => "export".into(),
            FormKind::ActionDone => "action_done".into(),
            FormKind::Withdraw => "withdraw".into(),
            FormKind::Meldcode(step) => format!("meldcode:{}", step.code()),
            FormKind::Group => "group".into(),
            FormKind::Withhold => "withhold".into(),
            FormKind::ConsentForm => "consent_form".into(),
            FormKind::Leaflet => "leaflet".into(),
        }
    }

    /// From [`FormKind::code`].
    pub fn from_code(code: &str) -> Option<FormKind> {
        Some(match code {
            "client" => FormKind::Client,
            "evaluation" => FormKind::Evaluation,
            "attach" => FormKind::Attach,
            "export" => FormKind::Export,
            "action_done" => FormKind::ActionDone,
            "withdraw" => FormKind::Withdraw,
            "group" => FormKind::Group,
            "withhold" => FormKind::Withhold,
            "consent_form" => FormKind::ConsentForm,
            "leaflet" => FormKind::Leaflet,
            other if other.starts_with("meldcode:") => {
                FormKind::Meldcode(other["meldcode:".len()..].parse().ok()?)
            }
            other => FormKind::Record(Kind::from_code(other.strip_prefix("record:")?)?),
        })
    }

    /// The tab of the dossier it belongs to.
    pub fn tab(self) -> Tab {
        match self {
            FormKind::Client => Tab::Overview,
            FormKind::Record(k) => Tab::of(k),
            FormKind::Evaluation | FormKind::ActionDone => Tab::Plan,
            FormKind::Attach | FormKind::Export => Tab::Files,
            FormKind::Withdraw | FormKind::ConsentForm => Tab::Sharing,
            FormKind::Leaflet => Tab::Overview,
            FormKind::Meldcode(_) | FormKind::Group | FormKind::Withhold => Tab::Records,
        }
    }
}

/// A form to open.
#[derive(Clone, Debug)]
pub struct FormRequest {
    /// What for.
    pub kind: FormKind,
    /// The dossier (None: a new client).
    pub client: Option<String>,
    /// The record changed (None: a new one).
    pub editing: Option<String>,
    /// The record's cells as stored, `id` and `client_id` first, when one is changed.
    pub cells: Option<Vec<Cell>>,
    /// Values to start with, by field name (a draft, the goal an action is for).
    pub values: Vec<(String, String)>,
    /// The records a reference may point to: (id, label).
    pub refs: Vec<(String, String)>,
    /// Shown in full although the privacy screen is on (the dossier was revealed).
    pub revealed: bool,
}

impl FormRequest {
    /// A form for a new record of `kind` in `client`.
    pub fn new(kind: FormKind, client: &str) -> FormRequest {
        FormRequest {
            kind,
            client: Some(client.to_owned()),
            editing: None,
            cells: None,
            values: Vec::new(),
            refs: Vec::new(),
            revealed: false,
        }
    }
}

/// What a person asked to see in full; each is logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reveal {
    /// The whole BSN of a client.
    Bsn(String),
    /// A special-category note's text.
    Special(String),
    /// With the privacy screen on: one item shown in full (a row of a list, a dossier, a
    /// form, the note being written), in a dossier or not (a new client).
    OnScreen {
        /// The dossier.
        client: Option<String>,
        /// What (a code for the log: `caseload row`, `dossier`, `form`, `editor`...).
        what: &'static str,
    },
}

/// A note to save.
#[derive(Clone, Debug)]
pub struct NoteOut {
    /// The note.
    pub note: crate::model::NewNote,
}

/// What a screen asks for.
pub enum Nav {
    /// Nothing beyond drawing again.
    Stay,
    /// Draw a "working" frame, then let the screen submit (the key derivation takes a
    /// moment).
    Busy,
    /// Lock now.
    Lock,
    /// Save and leave.
    Quit,
    /// Open the vault with this passphrase.
    Unlock(SecretString),
    /// Create a personal vault.
    Create(SecretString),
    /// Create a team vault from IT's enrollment file.
    Enroll {
        /// The enrollment file.
        file: PathBuf,
        /// Its code.
        code: SecretString,
        /// The new passphrase.
        pass: SecretString,
    },
    /// The caseload as it was left (read afresh when something changed).
    Caseload,
    /// The caseload read afresh, with closed dossiers or not.
    ReloadCaseload {
        /// Closed dossiers too.
        all: bool,
    },
    /// Search names and notes (the caseload's query).
    Search(String),
    /// A dossier at a tab, with an item selected (a note a search found, a record saved).
    Dossier {
        /// The dossier.
        client: String,
        /// The tab.
        tab: Tab,
        /// The item to select.
        item: Option<String>,
    },
    /// Today's agenda.
    Agenda,
    /// The next step of the meldcode a signal started, in a dossier: the app reads the
    /// dossier's meldcodes through the session and opens the step's form.
    Meldcode {
        /// The dossier.
        client: String,
        /// The signal.
        signal: String,
        /// Shown in full on the privacy screen (the dossier was revealed).
        revealed: bool,
    },
    /// Unassign this vault's worker from a dossier (the access review), within the
    /// no-orphan rule.
    Unassign(String),
    /// Open conflicts.
    Conflicts,
    /// Write a note in a dossier (correcting one: the note shown, text and all).
    Note {
        /// The dossier.
        client: String,
        /// The note corrected.
        correct: Option<Box<crate::model::Note>>,
    },
    /// Open a form.
    Form(Box<FormRequest>),
    /// Save the form on screen (its values are checked first).
    SaveForm,
    /// Save a note.
    SaveNote(Box<NoteOut>),
    /// Throw the kept draft away (the note's or the form's), then go back.
    Discard {
        /// The form's draft, not the note's.
        form: bool,
        /// The dossier to go back to (None: the caseload).
        client: Option<String>,
        /// At this tab.
        tab: Tab,
    },
    /// Show something in full (logged).
    Reveal(Reveal),
    /// Say something in the status bar.
    Say(String),
    /// Settle a conflict: keep the value shown, or take the other.
    Settle {
        /// The losing op.
        loser: String,
        /// Take the other value.
        take_other: bool,
    },
}
