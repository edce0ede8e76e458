//! How the command line takes the library's choices as flag values. The library's types do
//! not know about clap; the command line says here which spellings each takes.

use clap::ValueEnum;
use clap::builder::PossibleValue;

use crate::i18n::Lang;
use crate::org::Role;
use crate::report::Format;

impl ValueEnum for Lang {
    fn value_variants<'a>() -> &'a [Self] {
        &[Lang::Nl, Lang::En]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            Lang::Nl => PossibleValue::new("nl").help("Nederlands"),
            Lang::En => PossibleValue::new("en").help("English"),
        })
    }
}

impl ValueEnum for Format {
    fn value_variants<'a>() -> &'a [Self] {
        &[Format::Md, Format::Html]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            Format::Md => {
                PossibleValue::new("md").help("Markdown (plain text that reads well anywhere)")
            }
            Format::Html => {
                PossibleValue::new("html").help("One self-contained HTML page that prints well")
            }
        })
    }
}

impl ValueEnum for Role {
    fn value_variants<'a>() -> &'a [Self] {
        &[Role::Worker, Role::Lead]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            Role::Worker => PossibleValue::new("worker").help("A caseworker"),
            Role::Lead => PossibleValue::new("lead").help("A team lead"),
        })
    }
}
