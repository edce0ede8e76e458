//! The fields of a form and how each is checked: a record kind's fields come from the
//! registry (`R::FIELDS`, the ones a person types), the others (a client's details, a file
//! to keep or write out, a day something was done) are listed here. Every value is checked
//! with the model's own parsers, the same ones the command line uses.

use chrono::NaiveDate;

use super::{code_label, life_domain};
use crate::i18n::t;
use crate::model::record::{Cell, Column, FieldSpec, Input, Kind, Record, Visitor};
use crate::model::{self, Bsn, Domain};
use crate::tui::nav::{Ctx, FormKind};

/// One field of a form.
#[derive(Clone, Debug)]
pub struct FormField {
    /// Its name (a record's column, or the form's own).
    pub name: &'static str,
    /// How it is entered and checked.
    pub input: Input,
    /// May be left empty.
    pub optional: bool,
    /// For a choice: the stored spellings.
    pub codes: &'static [&'static str],
    /// What is typed or chosen (a choice's code, a reference's id).
    pub value: String,
    /// Where the cursor is (in characters).
    pub cursor: usize,
    /// Why the value was refused.
    pub error: Option<String>,
    /// What can be chosen: (value, label).
    pub choices: Vec<(String, String)>,
    /// More than one can be chosen (a group session's participants): the value is their
    /// ids, separated by commas.
    pub multi: bool,
    /// Asked once per participant (a group session's observation): that participant's
    /// dossier, where what is typed goes and nowhere else.
    pub about: Option<String>,
}

impl FormField {
    fn of(spec: &FieldSpec) -> FormField {
        FormField {
            name: spec.name,
            input: spec.input,
            optional: spec.optional,
            codes: spec.codes,
            value: String::new(),
            cursor: 0,
            error: None,
            choices: Vec::new(),
            multi: false,
            about: None,
        }
    }

    /// A field asked for one participant of a group session: their observation (a note in
    /// their own dossier) or its special mark.
    pub fn per_participant(name: &'static str, client: &str) -> FormField {
        let flag = name == OBSERVATION_SPECIAL;
        let input = if flag { Input::Flag } else { Input::Text };
        let mut f = FormField {
            about: Some(client.to_owned()),
            ..FormField::new(name, input, true)
        };
        if flag {
            f.optional = false;
            f.set("0".into());
        }
        if flag {
            f.choices = yes_no();
        }
        f
    }

    fn new(name: &'static str, input: Input, optional: bool) -> FormField {
        FormField::of(&FieldSpec {
            name,
            input,
            optional,
            codes: &[],
        })
    }

    /// Chosen from a list rather than typed.
    pub fn picked(&self) -> bool {
        matches!(
            self.input,
            Input::Choice | Input::LifeDomain | Input::Ref(_) | Input::Score | Input::Flag
        )
    }

    /// Holds something the privacy screen masks: names, numbers, addresses, texts and birth
    /// dates (a kind of contact, a domain, a score or a planned day is not personal).
    pub fn private(&self) -> bool {
        if self.multi {
            return true;
        }
        match self.input {
            Input::Line | Input::Text | Input::Worker | Input::Recipient | Input::Ref(_) => true,
            Input::Date => self.name == "birth_date",
            _ => false,
        }
    }

    /// Sets the value and puts the cursor after it.
    pub fn set(&mut self, value: String) {
        self.cursor = value.chars().count();
        self.value = value;
    }

    /// The value as shown: a choice's word, a reference's label, yes or no.
    pub fn shown(&self) -> String {
        if !self.picked() {
            return self.value.clone();
        }
        if self.multi {
            return self.labels().join(", ");
        }
        self.choices
            .iter()
            .find(|(v, _)| *v == self.value)
            .map_or_else(|| self.value.clone(), |(_, l)| l.clone())
    }

    /// The chosen ids of a field of many choices.
    pub fn chosen(&self) -> Vec<&str> {
        self.value.split(',').filter(|v| !v.is_empty()).collect()
    }

    /// The labels of what a field of many choices has chosen.
    pub fn labels(&self) -> Vec<String> {
        self.chosen()
            .iter()
            .map(|id| {
                self.choices
                    .iter()
                    .find(|(v, _)| v == id)
                    .map_or_else(|| (*id).to_owned(), |(_, l)| l.clone())
            })
            .collect()
    }

    /// Chooses or unchooses one of many.
    pub fn toggle(&mut self, id: &str) {
        let mut ids: Vec<String> = self.chosen().iter().map(|s| (*s).to_owned()).collect();
        match ids.iter().position(|v| v == id) {
            Some(i) => {
                ids.remove(i);
            }
            None => ids.push(id.to_owned()),
        }
        self.set(ids.join(","));
    }

    /// The field's name for people: the form's own word for it, else the field's.
    pub fn label(&self, form: FormKind) -> String {
        let own = format!("field.{}.{}", form_code(form), self.name);
        let word = t!(own.as_str()).into_owned();
        if word != own {
            return word;
        }
        let key = if self.input == Input::LifeDomain {
            "field.life_domain".to_owned()
        } else {
            format!("field.{}", self.name)
        };
        let word = t!(key.as_str()).into_owned();
        if word == key {
            self.name.to_owned()
        } else {
            word
        }
    }

    /// Checks the value; the cell to store, or why not.
    pub fn check(&self, ctx: &Ctx) -> Result<Cell, String> {
        let v = self.value.trim();
        if v.is_empty() {
            return if self.optional {
                Ok(Cell::N)
            } else if self.name == "reason" {
                Err(t!("val.reason_required").into_owned())
            } else {
                Err(t!("val.required").into_owned())
            };
        }
        let why = super::editor::reason;
        let text = |r: crate::Result<String>| r.map(Cell::T).map_err(why);
        let day = |d: crate::Result<NaiveDate>| d.map(|d| Cell::T(d.to_string())).map_err(why);
        match self.input {
            Input::Line | Input::Worker if self.name == "bsn" => Bsn::parse(v)
                .map(|b| Cell::T(b.digits().to_owned()))
                .map_err(why),
            Input::Line | Input::Worker if self.name == "path" => Ok(Cell::T(v.to_owned())),
            Input::Line | Input::Worker => text(model::parse_name(self.name, v)),
            Input::Text => text(model::parse_note_body(v)),
            Input::Date if self.name == "birth_date" => {
                day(model::parse_birth_date(v, ctx.today()))
            }
            Input::Date => day(model::parse_day(self.name, v, ctx.today())),
            Input::When => model::parse_moment(self.name, v, ctx.today())
                .map(|d| Cell::T(model::format_datetime(d)))
                .map_err(why),
            Input::Score => model::parse_score(self.name, v)
                .map(|s| Cell::I(i64::from(s)))
                .map_err(why),
            Input::Flag => Ok(Cell::I(i64::from(v == "1"))),
            Input::Recipient => model::parse_recipient(self.name, v)
                .map(|_| Cell::T(v.to_owned()))
                .map_err(why),
            Input::Choice if self.multi => {
                match self
                    .chosen()
                    .iter()
                    .find(|id| !self.choices.iter().any(|(c, _)| c == *id))
                {
                    Some(bad) => Err(t!("val.choice", value = bad, allowed = "").into_owned()),
                    None => Ok(Cell::T(self.chosen().join(","))),
                }
            }
            Input::Choice | Input::LifeDomain | Input::Ref(_) => {
                if self.choices.iter().any(|(c, _)| c == v) {
                    Ok(Cell::T(v.to_owned()))
                } else {
                    let allowed: Vec<&str> = self.choices.iter().map(|(_, l)| l.as_str()).collect();
                    Err(t!("val.choice", value = v, allowed = allowed.join(", ")).into_owned())
                }
            }
            _ => Err(t!("val.required").into_owned()),
        }
    }

    /// The value to start a form with, from a stored cell (dates as people write them).
    fn set_stored(&mut self, cell: &Cell, ctx: &Ctx) {
        let value = match (cell, self.input) {
            (Cell::N, _) => String::new(),
            (Cell::T(t), Input::Date) => super::date(ctx.lang, t),
            (Cell::T(t), Input::When) => super::datetime(ctx.lang, t),
            (Cell::T(t), _) => t.clone(),
            (Cell::I(i), _) => i.to_string(),
            (Cell::R(r), _) => r.to_string(),
            (Cell::B(_), _) => String::new(),
        };
        self.set(value);
    }
}

/// A participant's own observation of a group session (a note in their dossier).
pub const OBSERVATION: &str = "observation";
/// Its special mark.
pub const OBSERVATION_SPECIAL: &str = "observation_special";

/// The code a form's own field words are filed under (`field.goal.text`).
fn form_code(form: FormKind) -> &'static str {
    match form {
        FormKind::Client => "client",
        FormKind::Record(k) => k.spec().code,
        FormKind::Evaluation => "evaluation",
        FormKind::Attach => "attach",
        FormKind::Export => "export",
        FormKind::ActionDone => "action_done",
        FormKind::Withdraw => "withdraw",
        FormKind::Meldcode(_) => "meldcode_step",
        FormKind::Group => "group_session",
        FormKind::Withhold => "withhold",
        FormKind::ConsentForm => "consent_form",
        FormKind::Leaflet => "leaflet",
    }
}

/// Fields of a record kind the form does not ask for: what an action (done) or a withdrawal
/// sets, and a reference when a record is changed (an action stays with its goal).
fn skipped(kind: Kind, name: &str, editing: bool) -> bool {
    matches!(
        (kind, name),
        (Kind::Action, "status" | "done_on") | (Kind::Consent, "withdrawn_on")
    ) || (editing && name == "goal_id")
}

struct Specs;

impl Visitor for Specs {
    type Out = &'static [FieldSpec];
    fn visit<R: Record>(self) -> Self::Out {
        R::FIELDS
    }
}

/// A record kind's fields, `id` and `client_id` not counted; empty for kinds with rules of
/// their own (notes, the client, the log).
pub fn specs(kind: Kind) -> &'static [FieldSpec] {
    kind.visit(Specs).unwrap_or(&[])
}

/// The cell a field has in a new record when the form does not ask for it.
pub fn default_cell(spec: &FieldSpec) -> Cell {
    if spec.optional {
        return Cell::N;
    }
    match spec.input {
        Input::Choice => Cell::T(spec.codes.first().copied().unwrap_or_default().to_owned()),
        Input::Flag | Input::Size | Input::Score => Cell::I(0),
        _ => Cell::T(String::new()),
    }
}

/// The fields of a form, with their choices, started from a stored record's cells (or
/// today where a day is asked).
pub fn fields(
    form: FormKind,
    cells: Option<&[Cell]>,
    refs: &[(String, String)],
    ctx: &Ctx,
) -> Vec<FormField> {
    let today = super::date(ctx.lang, &ctx.today().to_string());
    let mut out: Vec<FormField> = match form {
        FormKind::Client => {
            let domain = FormField {
                codes: <Domain as Column>::CODES,
                ..FormField::new("domain", Input::Choice, false)
            };
            vec![
                FormField::new("name", Input::Line, false),
                FormField::new("bsn", Input::Line, true),
                FormField::new("birth_date", Input::Date, true),
                FormField {
                    value: Domain::Overig.code().to_owned(),
                    ..domain
                },
                FormField::new("address", Input::Line, true),
                FormField::new("phone", Input::Line, true),
            ]
        }
        FormKind::Record(kind) => {
            let editing = cells.is_some();
            specs(kind)
                .iter()
                .enumerate()
                .filter(|(_, s)| s.input.is_entered() && !skipped(kind, s.name, editing))
                .map(|(i, s)| {
                    let mut f = FormField::of(s);
                    match cells.and_then(|c| c.get(i + 2)) {
                        Some(cell) => f.set_stored(cell, ctx),
                        None if s.input == Input::Date && !s.optional => f.set(today.clone()),
                        None if s.input == Input::Flag => f.set("0".into()),
                        // An optional choice starts as none (a signal is not withheld
                        // unless the worker says so).
                        None if s.input == Input::Choice && !s.optional => {
                            f.set(s.codes.first().copied().unwrap_or_default().into())
                        }
                        None => {}
                    }
                    f
                })
                .collect()
        }
        FormKind::Evaluation => vec![
            FormField::new("goal_id", Input::Ref(Kind::Goal), false),
            FormField::new("text", Input::Text, false),
            FormField {
                value: super::datetime(ctx.lang, &model::format_datetime(ctx.now)),
                ..FormField::new("at", Input::When, false)
            },
        ],
        FormKind::Attach => vec![
            FormField::new("path", Input::Line, false),
            FormField::new("title", Input::Line, true),
        ],
        FormKind::Export => vec![
            FormField::new("path", Input::Line, false),
            FormField::new("recipient", Input::Recipient, true),
        ],
        FormKind::ActionDone => vec![FormField {
            value: today.clone(),
            ..FormField::new("done_on", Input::Date, false)
        }],
        FormKind::Withdraw => vec![FormField {
            value: today,
            ..FormField::new("withdrawn_on", Input::Date, false)
        }],
        FormKind::Meldcode(step) => meldcode_fields(step, today),
        // The current ground comes in as a value (from the dossier's row).
        FormKind::Withhold => vec![withheld(None)],
        FormKind::ConsentForm => vec![
            FormField::new("org", Input::Line, false),
            FormField::new("purpose", Input::Line, false),
            FormField {
                codes: <model::Scope as Column>::CODES,
                value: model::Scope::Details.code().to_owned(),
                ..FormField::new("scope", Input::Choice, false)
            },
            FormField {
                value: "0".into(),
                ..FormField::new("special", Input::Flag, false)
            },
            FormField::new("until", Input::Date, true),
            FormField {
                value: t!("tui.consent_form_file").into_owned(),
                ..FormField::new("path", Input::Line, false)
            },
        ],
        FormKind::Leaflet => vec![FormField {
            value: t!("tui.leaflet_file").into_owned(),
            ..FormField::new("path", Input::Line, false)
        }],
        FormKind::Group => vec![
            FormField {
                value: today,
                ..FormField::new("held_on", Input::Date, false)
            },
            FormField::new("theme", Input::Line, false),
            FormField {
                multi: true,
                ..FormField::new("participants", Input::Choice, false)
            },
            FormField::new("summary", Input::Text, false),
            FormField {
                value: "0".into(),
                ..FormField::new("special", Input::Flag, false)
            },
        ],
    };
    for f in &mut out {
        f.cursor = f.value.chars().count();
        f.choices = choices(f, refs, ctx);
        // A stored value no longer on the list (an earlier list of life domains) stays
        // choosable: changing something else must not change it.
        if f.picked()
            && !f.multi
            && !f.value.is_empty()
            && !f.choices.iter().any(|(v, _)| *v == f.value)
        {
            let label = f.value.clone();
            f.choices.push((f.value.clone(), label));
        }
    }
    out
}

/// A meldcode step's fields: the day, the text, the step's own answers, the next step's
/// day (none after a decision), and the special mark, on by default (as `kluis meldcode`).
fn meldcode_fields(step: model::MeldStep, today: String) -> Vec<FormField> {
    use model::{Consulted, Decision, MeldStep};
    let choice = |name, codes: &'static [&'static str]| FormField {
        codes,
        value: codes.first().copied().unwrap_or_default().to_owned(),
        ..FormField::new(name, Input::Choice, false)
    };
    let flag = |name, on: bool| FormField {
        value: if on { "1" } else { "0" }.to_owned(),
        ..FormField::new(name, Input::Flag, false)
    };
    let mut out = vec![
        FormField {
            value: today,
            ..FormField::new("taken_on", Input::Date, false)
        },
        FormField::new("text", Input::Text, false),
    ];
    match step {
        MeldStep::Consult => out.push(choice("consulted", <Consulted as Column>::CODES)),
        MeldStep::Weigh => {
            out.push(flag("report_needed", false));
            out.push(flag("help_possible", false));
        }
        MeldStep::Decide => out.push(choice("decision", <Decision as Column>::CODES)),
        _ => {}
    }
    if step != MeldStep::Decide {
        out.push(FormField::new("next_by", Input::Date, true));
    }
    out.push(flag("special", true));
    out.push(withheld(None));
    out
}

/// Whether a meldcode record stays out of the client's own report, and why (none: it is in
/// it), as `kluis meldcode … --withhold` and `kluis meldcode withhold`.
fn withheld(current: Option<&str>) -> FormField {
    FormField {
        codes: <model::Withhold as Column>::CODES,
        value: current.unwrap_or_default().to_owned(),
        ..FormField::new("withheld", Input::Choice, true)
    }
}

fn choices(f: &FormField, refs: &[(String, String)], ctx: &Ctx) -> Vec<(String, String)> {
    match f.input {
        Input::Choice if f.multi => refs.to_vec(),
        Input::Choice => {
            // An optional choice can be left at none, and says what none means.
            let none = f.optional.then(|| {
                let word = code_label(f.name, "none");
                let word = if word == "none" {
                    t!("choice.none").into_owned()
                } else {
                    word
                };
                (String::new(), word)
            });
            none.into_iter()
                .chain(
                    f.codes
                        .iter()
                        .map(|c| ((*c).to_owned(), code_label(f.name, c))),
                )
                .collect()
        }
        Input::LifeDomain => ctx
            .life_domains
            .iter()
            .map(|d| (d.clone(), life_domain(d)))
            .collect(),
        Input::Ref(_) => refs.to_vec(),
        Input::Score => (1..=5)
            .map(|s| (s.to_string(), t!(format!("score.{s}")).into_owned()))
            .collect(),
        Input::Flag => yes_no(),
        _ => Vec::new(),
    }
}

fn yes_no() -> Vec<(String, String)> {
    vec![
        ("0".to_owned(), t!("word.no").into_owned()),
        ("1".to_owned(), t!("word.yes").into_owned()),
    ]
}

#[cfg(test)]
mod tests;
