//! The command line. Parses flags once, turns them into validated values, and calls the
//! session. Messages go through the catalog; data goes to stdout, messages to stderr.

// Text is data, never terminal control. These shadow the standard printing macros in this
// module and every module below it (they are declared first), so each line printed for a
// person passes through `output::visible`, including lines added later. JSON is printed with
// `std::println!` (see `output::print_json`).
macro_rules! println {
    () => { $crate::cli::output::out_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::cli::output::out_line(format_args!($($arg)*)) };
}
macro_rules! print {
    ($($arg:tt)*) => { $crate::cli::output::out(format_args!($($arg)*)) };
}
macro_rules! eprintln {
    () => { $crate::cli::output::err_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::cli::output::err_line(format_args!($($arg)*)) };
}
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::cli::output::err(format_args!($($arg)*)) };
}

mod depth;
mod org;
mod output;
mod passphrase;
mod practice;
mod privacy;
mod progress;
mod records;
mod setup;
mod sync;
mod values;

pub use output::visible;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::Local;
use clap::{Args, Parser, Subcommand};

use crate::error::Error;
use crate::i18n::{Lang, set_lang, t};
use crate::model::{self, Bsn, ClientPatch, Domain, NewClient, NewNote, NoteKind, parse_choice};
use crate::session::{Access, Session};
use crate::store::IdTable;
use crate::vault::KdfParams;

/// kluis: encrypted client dossiers on your own laptop.
#[derive(Parser, Debug)]
#[command(name = "kluis", version, about, long_about = None)]
pub struct Cli {
    /// Vault file [default: $KLUIS_VAULT, else `vault` in the config file, else
    /// $XDG_DATA_HOME/kluis/vault.kluis]
    #[arg(long, global = true, value_name = "PATH")]
    vault: Option<PathBuf>,
    /// Config file [default: $KLUIS_CONFIG, else $XDG_CONFIG_HOME/kluis/config.toml]
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Language of messages [default: $KLUIS_LANG, else `lang` in the config file, else from
    /// LC_ALL/LC_MESSAGES/LANG]
    #[arg(long, global = true, value_enum)]
    lang: Option<Lang>,
    /// Read the passphrase from the first line of this file (for automation)
    #[arg(long, global = true, value_name = "PATH")]
    passphrase_file: Option<PathBuf>,
    /// Lock the terminal app after this much idle time: 30s, 5m, 1h [default: 5m]
    #[arg(long, value_name = "DURATION", value_parser = parse_lock_after)]
    lock_after: Option<std::time::Duration>,
    /// Start the terminal app in privacy mode (names, BSN, addresses and notes masked)
    #[arg(long, conflicts_with = "no_privacy")]
    privacy: bool,
    /// Start without privacy mode, whatever the config file says
    #[arg(long)]
    no_privacy: bool,
    /// Without a command: the terminal app
    #[command(subcommand)]
    command: Option<Command>,
}

fn parse_lock_after(s: &str) -> Result<std::time::Duration, String> {
    crate::config::parse_duration(s).ok_or_else(|| t!("val.duration", value = s).into_owned())
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a new vault
    Init(InitArgs),
    /// Change the vault's passphrase
    Passwd(PasswdArgs),
    /// Clients (dossiers)
    #[command(subcommand)]
    Client(ClientCmd),
    /// Visit notes
    #[command(subcommand)]
    Note(NoteCmd),
    /// Full-text search in client names and notes
    Search {
        /// Words to look for (the last one may be the start of a word)
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
        /// At most this many results
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// IT: the organisation, its workers' keys, rosters and passphrase recovery
    #[command(subcommand)]
    Org(org::OrgCmd),
    /// The organisation's roster in this vault
    #[command(subcommand)]
    Roster(RosterCmd),
    /// Create a vault of fictitious clients and notes to try kluis out, and open it
    Demo {
        /// Number of clients
        #[arg(long, default_value_t = 40)]
        clients: usize,
        /// Notes per client
        #[arg(long, default_value_t = 12)]
        notes_per_client: usize,
        /// Only create it (with $KLUIS_NEW_PASSPHRASE: for scripts and benchmarks)
        #[arg(long)]
        no_open: bool,
        #[command(flatten)]
        kdf: KdfArgs,
    },
    /// Write bundles for your colleagues: every change they do not have yet, encrypted to
    /// exactly the workers assigned to each dossier
    Export {
        /// Folder to write the bundles into (a shared folder, a USB stick, a git clone)
        /// [default: $KLUIS_EXPORT_DIR, else `export_dir` in the config file]
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Only these dossiers (id or prefix); repeatable
        #[arg(long, value_name = "ID")]
        client: Vec<String>,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// Verify, decrypt and merge bundles from colleagues
    Import {
        /// Bundle files (*.kluisb)
        #[arg(required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// Export into a shared folder, then import every new bundle in it addressed to you
    Sync {
        /// The shared folder [default: $KLUIS_EXPORT_DIR, else `export_dir` in the config file]
        dir: Option<PathBuf>,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// Fields two workers changed at the same time: see both values, confirm or choose
    Conflicts {
        #[command(subcommand)]
        action: Option<sync::ConflictCmd>,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// A client's consent to share with another organisation: add, list, withdraw
    #[command(subcommand)]
    Consent(privacy::ConsentCmd),
    /// Share a report with another organisation, encrypted to its age key; needs an active
    /// consent for that organisation and purpose, or --legal-ground
    Disclose(privacy::DiscloseArgs),
    /// The access log: who unlocked, viewed, changed, shared or erased what, and when
    Audit {
        #[command(subcommand)]
        action: Option<privacy::AuditCmd>,
        /// Only this dossier (id or prefix)
        #[arg(long, value_name = "ID")]
        client: Option<String>,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// Closed dossiers and the day they are kept until; purge the ones that are due
    Retention {
        #[command(subcommand)]
        action: Option<privacy::RetentionCmd>,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// Everything kluis holds on a client, for the client (inzage, AVG art. 15)
    Report(privacy::ReportArgs),
    /// Write the leaflet for residents (A4, plain language): what kluis keeps, who can see a
    /// dossier, how long it is kept, what residents may ask, from this vault's settings
    Leaflet(practice::LeafletArgs),
    /// Nudges toward less data: what a text may hold that a dossier does not need
    #[command(subcommand)]
    Nudge(practice::NudgeCmd),
    /// Group sessions: one record in each participant's dossier, no one else's name in it
    #[command(subcommand)]
    Group(practice::GroupCmd),
    /// The meldcode huiselijk geweld en kindermishandeling: five steps, each dated and
    /// attributed, special-category data by default
    #[command(subcommand)]
    Meldcode(practice::MeldcodeCmd),
    /// Access review: dossiers you no longer need, and a content-free team overview
    #[command(subcommand)]
    Access(practice::AccessCmd),
    /// The client's household: partner, children, parents
    #[command(subcommand)]
    Household(depth::HouseholdCmd),
    /// Records of the kinds that have no command of their own (see `record kinds`)
    #[command(subcommand)]
    Record(records::RecordCmd),
    /// The network around the client: GP, school, creditors, other professionals
    #[command(subcommand)]
    Contact(depth::ContactCmd),
    /// The support plan: goals per life domain, and agreed actions
    #[command(subcommand)]
    Plan(depth::PlanCmd),
    /// Score how the client is doing in a life domain (1-5, with the reason), or list scores
    Assess(depth::AssessArgs),
    /// Planned visits
    #[command(subcommand)]
    Visit(depth::VisitCmd),
    /// Files kept in the dossier (a signed consent form, a creditor's letter)
    #[command(subcommand)]
    Attach(depth::AttachCmd),
    /// What is coming up: visits, actions due, consents and retention periods that end
    Agenda {
        /// This many days ahead (what is overdue is always shown)
        #[arg(long, default_value_t = 7)]
        days: u64,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// Settings: where the config file is, what is in effect, the built-in default
    #[command(subcommand)]
    Config(setup::ConfigCmd),
    /// Print a shell completion script: bash, zsh or fish
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), or write it into a folder
    Man {
        /// Write kluis.1 into this folder instead of printing it
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Who this vault belongs to in the organisation
    Whoami {
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// Decrypt and verify the vault and its previous generation
    Check {
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// Fold the journal into the vault file now (it happens by itself after a day, or when the
    /// journal is large, and at every lock of the terminal app)
    Compact,
    /// Write a complete, encrypted copy of the vault (journal folded in) to a new file, or
    /// into a folder; never over an existing file
    Backup {
        /// A new file, or an existing folder to put a dated copy in
        dest: PathBuf,
    },
}

#[derive(Args, Debug)]
struct KdfArgs {
    /// Argon2id memory in MiB [default: 256]
    #[arg(long, value_name = "MIB")]
    kdf_memory: Option<u32>,
    /// Argon2id iterations [default: 3]
    #[arg(long, value_name = "N")]
    kdf_iterations: Option<u32>,
    /// Argon2id lanes [default: 4]
    #[arg(long, value_name = "N")]
    kdf_parallelism: Option<u32>,
}

impl KdfArgs {
    fn is_set(&self) -> bool {
        self.kdf_memory.is_some() || self.kdf_iterations.is_some() || self.kdf_parallelism.is_some()
    }

    fn params(&self, base: KdfParams) -> Result<KdfParams, Error> {
        let memory_kib = match self.kdf_memory {
            Some(mib) => mib
                .checked_mul(1024)
                .ok_or_else(|| Error::invalid("--kdf-memory", t!("vault.kdf_over_cap")))?,
            None => base.memory_kib,
        };
        let params = KdfParams {
            memory_kib,
            iterations: self.kdf_iterations.unwrap_or(base.iterations),
            parallelism: self.kdf_parallelism.unwrap_or(base.parallelism),
        };
        params.check().map_err(|reason| {
            Error::invalid("--kdf-memory/--kdf-iterations/--kdf-parallelism", reason)
        })?;
        Ok(params)
    }
}

#[derive(Subcommand, Debug)]
enum RosterCmd {
    /// Import a roster signed by your organisation (only a newer one is accepted)
    Import {
        /// The roster file from IT
        file: PathBuf,
    },
}

#[derive(Args, Debug)]
struct InitArgs {
    #[command(flatten)]
    kdf: KdfArgs,
    /// Create the vault from an enrollment file from IT (asks for its code)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["recovery_recipient", "author"])]
    enroll: Option<PathBuf>,
    /// Also encrypt every save to this age recipient (IT's recovery key); repeatable
    #[arg(long, value_name = "age1...")]
    recovery_recipient: Vec<String>,
    /// Your name, as the author of your notes [default: $USER]
    #[arg(long)]
    author: Option<String>,
    /// Read the new passphrase from this file (for automation)
    #[arg(long, value_name = "PATH")]
    new_passphrase_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct PasswdArgs {
    #[command(flatten)]
    kdf: KdfArgs,
    /// Read the new passphrase from this file (for automation)
    #[arg(long, value_name = "PATH")]
    new_passphrase_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum ClientCmd {
    /// Add a client; prints the new id
    Add {
        /// Full name
        #[arg(long)]
        name: String,
        /// Citizen service number (checked with the elfproef)
        #[arg(long)]
        bsn: Option<String>,
        /// Birth date, YYYY-MM-DD
        #[arg(long)]
        birth_date: Option<String>,
        /// jeugd, wmo, participatie, schuldhulp or overig
        #[arg(long, default_value = "overig")]
        domain: String,
        /// Address
        #[arg(long)]
        address: Option<String>,
        /// Phone number
        #[arg(long)]
        phone: Option<String>,
        /// Date the dossier opened, YYYY-MM-DD [default: today]
        #[arg(long)]
        opened_on: Option<String>,
    },
    /// List open clients (all with --all)
    List {
        /// Include closed dossiers
        #[arg(long)]
        all: bool,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// Show one client
    Show {
        /// Client id or a unique prefix of at least 8 characters
        id: String,
        /// Show the full BSN instead of the last three digits
        #[arg(long)]
        show_bsn: bool,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// Change a client's details; an empty value clears a field
    Edit {
        /// Client id or a unique prefix of at least 8 characters
        id: String,
        /// Full name
        #[arg(long)]
        name: Option<String>,
        /// Citizen service number ("" clears it)
        #[arg(long)]
        bsn: Option<String>,
        /// Birth date, YYYY-MM-DD ("" clears it)
        #[arg(long)]
        birth_date: Option<String>,
        /// jeugd, wmo, participatie, schuldhulp or overig
        #[arg(long)]
        domain: Option<String>,
        /// Address ("" clears it)
        #[arg(long)]
        address: Option<String>,
        /// Phone number ("" clears it)
        #[arg(long)]
        phone: Option<String>,
    },
    /// Let colleagues see a dossier: it goes to them with the next export or sync
    Assign {
        /// Client id or a unique prefix of at least 8 characters
        id: String,
        /// Worker ids from the roster
        #[arg(required = true, num_args = 1..)]
        workers: Vec<String>,
    },
    /// Stop sending a dossier to a colleague (what they already received stays with them)
    Unassign {
        /// Client id or a unique prefix of at least 8 characters
        id: String,
        /// Worker id
        worker: String,
    },
    /// Hand a dossier over to a colleague: assigns them with a handover note; you are
    /// unassigned once their vault has the dossier (through sync). Prints the handover's id
    Handover {
        /// Client id or a unique prefix of at least 8 characters
        id: String,
        /// The colleague's worker id
        #[arg(long)]
        to: String,
        /// What the colleague needs to know
        #[arg(long)]
        note: String,
    },
    /// Close a dossier; its retention period starts on the closing date
    Close {
        /// Client id or a unique prefix of at least 8 characters
        id: String,
        /// Closing date, YYYY-MM-DD, also in the past (closed on paper earlier) [default: today]
        #[arg(long, visible_alias = "on")]
        at: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum NoteCmd {
    /// Add a note (text from --text or standard input); prints the new id
    Add {
        /// Client id or a unique prefix of at least 8 characters
        client_id: String,
        /// huisbezoek (visit), telefoon (phone), observatie (observation) or overig (other)
        #[arg(long, default_value = "overig")]
        kind: String,
        /// When it happened: YYYY-MM-DD[ HH:MM] [default: now]
        #[arg(long)]
        at: Option<String>,
        /// The note; read from standard input when absent
        #[arg(long)]
        text: Option<String>,
        /// This note corrects an earlier one (its id or prefix)
        #[arg(long, value_name = "NOTE_ID")]
        supersedes: Option<String>,
        /// Special-category data (health, for example): masked until revealed
        #[arg(long)]
        special: bool,
    },
    /// List a client's notes, newest first
    List {
        /// Client id or a unique prefix of at least 8 characters
        client_id: String,
        /// Show the text of special-category notes (logged)
        #[arg(long)]
        reveal: bool,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
}

/// The settings in effect for this run (flags over environment over config file).
static SETTINGS: std::sync::OnceLock<crate::config::Settings> = std::sync::OnceLock::new();

fn settings() -> Option<&'static crate::config::Settings> {
    SETTINGS.get()
}

/// The folder `export` and `sync` use: the one given, else the configured one.
fn shared_dir(given: Option<PathBuf>) -> Result<PathBuf, Error> {
    given
        .or_else(|| settings().and_then(|s| s.export_dir.value.clone()))
        .ok_or_else(|| Error::invalid("--out/DIR", t!("config.no_export_dir")))
}

/// Runs kluis with the process's arguments and returns the exit code.
pub fn main() -> i32 {
    crate::harden::harden_process();
    set_lang(Lang::from_env());
    // The language must be known before clap prints anything: look for --lang and --config
    // first, and read the config file's language.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let early = crate::config::Flags {
        lang: early_lang(&args),
        ..Default::default()
    };
    let config_flag = early_value(&args, "--config").map(PathBuf::from);
    let early_settings = crate::config::resolve(&early, config_flag.as_deref());
    match &early_settings {
        Ok(s) => set_lang(s.lang.value),
        Err(_) => {
            if let Some(lang) = early.lang {
                set_lang(lang);
            }
        }
    }
    let cli = match parse(&args) {
        Ok(cli) => cli,
        Err(e) => return setup::report_parse_error(&e),
    };
    // Help about the config itself works with a broken config file; nothing else does.
    let needs_config = !matches!(
        cli.command,
        Some(
            Command::Config(
                setup::ConfigCmd::Path | setup::ConfigCmd::Default | setup::ConfigCmd::Init
            ) | Command::Completions { .. }
                | Command::Man { .. }
        )
    );
    let flags = crate::config::Flags {
        vault: cli.vault.clone(),
        lang: cli.lang,
        lock_after: cli.lock_after,
        privacy: if cli.privacy {
            Some(true)
        } else if cli.no_privacy {
            Some(false)
        } else {
            None
        },
    };
    match crate::config::resolve(&flags, cli.config.as_deref()) {
        Ok(s) => {
            set_lang(s.lang.value);
            let _ = SETTINGS.set(s);
        }
        Err(e) if needs_config => {
            let _ = writeln!(std::io::stderr(), "kluis: {}", visible(&e.to_string()));
            return e.exit_code();
        }
        Err(_) => {}
    }
    // println! panics when standard output cannot be written (a full disk, a closed pipe).
    // That is an IO error like any other: exit 1 with a message if one can still be written,
    // after the session was closed normally on the way out.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !is_output_failure(info.payload()) {
            default_hook(info);
        }
    }));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli)));
    // A compaction that failed after every edit was durable: the command succeeded.
    for warning in crate::session::take_warnings() {
        let _ = writeln!(std::io::stderr(), "kluis: {}", visible(&warning));
    }
    match outcome {
        Ok(Ok(())) => 0,
        Ok(Err(err)) => {
            let code = err.downcast_ref::<Error>().map_or(1, Error::exit_code);
            let text = match err.downcast_ref::<Error>() {
                // The session keeps such a change to retry it when it closes; a command that
                // stops here closes nothing: the change is not saved, and a retry is safe.
                Some(Error::NotWritten { error }) => {
                    t!("err.not_saved", error = error).into_owned()
                }
                _ => message(&err),
            };
            let _ = writeln!(std::io::stderr(), "kluis: {}", visible(&text));
            code
        }
        Err(payload) if is_output_failure(&*payload) => {
            let what = payload
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default();
            let _ = writeln!(
                std::io::stderr(),
                "kluis: {}",
                t!("io.output", error = what)
            );
            1
        }
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// The error and its causes, each said once: our errors already name their cause
/// ("cannot create folder X: Permission denied"), which the chain would then repeat.
fn message(err: &anyhow::Error) -> String {
    // An invalid value is named by the flag it was given with, not the field's label.
    let mut text = match err.downcast_ref::<Error>() {
        Some(Error::Invalid { field, reason }) => {
            t!("err.invalid", field = flag(*field), reason = reason).into_owned()
        }
        _ => err.to_string(),
    };
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// The flag (or argument) the command line takes a field's value with: the library names
/// fields by their code (`occurred_at`), never by a flag.
pub(crate) fn flag(field: crate::error::Field) -> String {
    use crate::error::Field;
    match field {
        Field::Arg(name) => name.to_owned(),
        Field::Input(code) => match code {
            "occurred_at" | "closed_on" | "done_on" | "at" | "taken_on" | "held_on" => {
                "--at".to_owned()
            }
            "given_on" => "--given".to_owned(),
            "text" | "body" => "--text".to_owned(),
            "id" | "client_id" => "ID".to_owned(),
            "worker_id" => "WORKER_ID".to_owned(),
            "to_worker" => "--to".to_owned(),
            "participants" => "--participant".to_owned(),
            "file" => "FILE".to_owned(),
            // Not something typed: a bundle, the journal, a record kind.
            c if crate::model::record::Kind::from_code(c).is_some()
                || ["bundle", "journal", "note_pending", "field"].contains(&c) =>
            {
                c.to_owned()
            }
            c => format!("--{}", c.replace('_', "-")),
        },
    }
}

/// Whether a panic is the standard library's "failed printing to stdout/stderr".
fn is_output_failure(payload: &(dyn std::any::Any + Send)) -> bool {
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("");
    text.starts_with("failed printing to")
}

fn early_lang(args: &[std::ffi::OsString]) -> Option<Lang> {
    match early_value(args, "--lang").as_deref() {
        Some("nl") => Some(Lang::Nl),
        Some("en") => Some(Lang::En),
        _ => None,
    }
}

/// The value of a long flag, found before clap parses (`--flag VALUE` or `--flag=VALUE`).
fn early_value(args: &[std::ffi::OsString], flag: &str) -> Option<String> {
    let mut it = args.iter().filter_map(|a| a.to_str());
    while let Some(a) = it.next() {
        let value = match a.strip_prefix(flag) {
            Some("") => it.next(),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        };
        if let Some(v) = value {
            return Some(v.to_owned());
        }
    }
    None
}

/// Parses the arguments with help texts in the current language.
fn parse(args: &[std::ffi::OsString]) -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let matches = setup::localized(Cli::command()).try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let path = settings().map_or_else(crate::config::default_vault_path, |s| s.vault.value.clone());
    let lock_after = settings().map_or(std::time::Duration::from_secs(300), |s| s.lock_after.value);
    let privacy = settings().is_some_and(|s| s.privacy.value);
    let pass_file = cli.passphrase_file.as_deref();
    let Some(command) = cli.command else {
        let lang = crate::i18n::current();
        let opts = crate::tui::app::Options {
            path,
            lock_after,
            privacy,
            kdf: KdfParams::DEFAULT,
            lang,
            clock: None,
            setup: session_setup("tui"),
            life_domains: depth::life_domains(),
            demo: None,
            practice: practice::tui_practice(),
        };
        return crate::tui::run(opts);
    };
    match command {
        Command::Init(args) => init(&path, args),
        Command::Passwd(args) => passwd(&path, pass_file, args),
        Command::Client(cmd) => client(&path, pass_file, cmd),
        Command::Note(cmd) => note(&path, pass_file, cmd),
        Command::Search { query, limit, json } => {
            let q = query.join(" ");
            let Some(fts) = model::fts_query(&q) else {
                return Err(Error::invalid("QUERY", t!("val.query_empty")).into());
            };
            let mut session = open(&path, pass_file, Access::Write)?;
            let hits = session.search(&fts, limit.clamp(1, 1000))?;
            output::search(&hits, json)?;
            Ok(session.close()?)
        }
        Command::Org(cmd) => org::run(cmd, &path),
        Command::Roster(RosterCmd::Import { file }) => {
            let mut session = open(&path, pass_file, Access::Write)?;
            let version = org::import_roster(&mut session, &file)?;
            println!("{version}");
            Ok(session.close()?)
        }
        Command::Demo {
            clients,
            notes_per_client,
            no_open,
            kdf,
        } => demo(
            &path,
            clients,
            notes_per_client,
            no_open,
            kdf,
            lock_after,
            privacy,
        ),
        Command::Export { out, client, json } => {
            sync::export(&path, pass_file, &shared_dir(out)?, &client, json)
        }
        Command::Import { files, json } => sync::import(&path, pass_file, &files, json),
        Command::Sync { dir, json } => sync::sync(&path, pass_file, &shared_dir(dir)?, json),
        Command::Conflicts { action, json } => sync::conflicts(&path, pass_file, action, json),
        Command::Consent(cmd) => privacy::consent(&path, pass_file, cmd),
        Command::Disclose(args) => privacy::disclose(&path, pass_file, args),
        Command::Audit {
            action,
            client,
            json,
        } => privacy::audit(&path, pass_file, action, client, json),
        Command::Retention { action, json } => privacy::retention(&path, pass_file, action, json),
        Command::Report(args) => privacy::report(&path, pass_file, args),
        Command::Leaflet(args) => practice::leaflet(&path, pass_file, args),
        Command::Nudge(cmd) => practice::nudge(cmd),
        Command::Group(cmd) => practice::group(&path, pass_file, cmd),
        Command::Meldcode(cmd) => practice::meldcode(&path, pass_file, cmd),
        Command::Access(cmd) => practice::access(&path, pass_file, cmd),
        Command::Household(cmd) => depth::household(&path, pass_file, cmd),
        Command::Record(cmd) => records::run(&path, pass_file, cmd),
        Command::Contact(cmd) => depth::contact(&path, pass_file, cmd),
        Command::Plan(cmd) => depth::plan(&path, pass_file, cmd),
        Command::Assess(args) => depth::assess(&path, pass_file, args),
        Command::Visit(cmd) => depth::visit(&path, pass_file, cmd),
        Command::Attach(cmd) => depth::attach(&path, pass_file, cmd),
        Command::Agenda { days, json } => depth::agenda(&path, pass_file, days.min(3650), json),
        Command::Config(cmd) => setup::config(cmd, settings(), cli.config.as_deref()),
        Command::Completions { shell } => setup::completions(shell),
        Command::Man { out } => setup::man(out.as_deref()),
        Command::Whoami { json } => {
            let session = open(&path, pass_file, Access::Read)?;
            org::whoami(&session, json)
        }
        Command::Compact => {
            let mut session = open(&path, pass_file, Access::Write)?;
            let folded = session.pending_records();
            session.compact()?;
            eprintln!("{}", t!("done.compacted", n = folded));
            Ok(session.close()?)
        }
        Command::Backup { dest } => {
            let mut session = open(&path, pass_file, Access::Write)?;
            let written = session.backup(&dest)?;
            println!("{}", written.display());
            eprintln!("{}", t!("done.backup", path = written.display()));
            Ok(session.close()?)
        }
        Command::Check { json } => {
            let pass = passphrase::existing(pass_file)?;
            let session = Session::open(&path, &pass, Access::Read)?;
            let report = session.check(&pass)?;
            output::check(&report, json)?;
            if report.is_healthy() {
                Ok(())
            } else {
                Err(Error::Damaged {
                    path: path.clone(),
                    reason: t!("check.failed").into_owned(),
                }
                .into())
            }
        }
    }
}

fn open(path: &Path, pass_file: Option<&Path>, access: Access) -> anyhow::Result<Session> {
    if !path.exists() {
        return Err(Error::NoVault {
            path: path.to_owned(),
        }
        .into());
    }
    // Say "in use" before asking for a passphrase that could not be used anyway.
    drop(crate::vault::VaultLock::acquire(
        path,
        access == Access::Write,
    )?);
    let pass = passphrase::existing(pass_file)?;
    let session = {
        let _busy = progress::spinner(&t!("status.unlocking"));
        Session::unlock(path, &pass, access, &session_setup("cli"))?
    };
    if session.must_change_passphrase()? {
        return Err(Error::MustChangePassphrase.into());
    }
    Ok(session)
}

/// What every session takes from the settings, the terminal app's too.
pub(crate) fn session_setup(via: &'static str) -> crate::session::Setup {
    crate::session::Setup {
        retention: settings().map_or_else(Vec::new, |s| {
            s.retention
                .iter()
                .filter(|(_, years)| years.source != crate::config::Source::Default)
                .map(|(domain, years)| (*domain, years.value))
                .collect()
        }),
        via,
        clock: None,
        // A command-line run appends to the journal and leaves it; the terminal app folds
        // it at every lock and exit.
        keep_journal: via == "cli",
    }
}

fn owner_name(given: Option<String>) -> String {
    given
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(crate::session::default_owner)
}

fn init(path: &Path, args: InitArgs) -> anyhow::Result<()> {
    if path.symlink_metadata().is_ok() {
        return Err(Error::VaultExists {
            path: path.to_owned(),
        }
        .into());
    }
    let params = args.kdf.params(KdfParams::DEFAULT)?;
    if let Some(file) = &args.enroll {
        if params.is_test_strength() {
            eprintln!("{}", t!("warn.kdf_test_only"));
        }
        return org::enroll(path, file, params, args.new_passphrase_file.as_deref());
    }
    crate::session::parse_recipients(&args.recovery_recipient)?;
    let owner = model::parse_name("--author", &owner_name(args.author))?;
    if params.is_test_strength() {
        eprintln!("{}", t!("warn.kdf_test_only"));
    }
    let pass = passphrase::new(args.new_passphrase_file.as_deref(), &[&owner])?;
    let session = {
        let _busy = progress::spinner(&t!("status.deriving"));
        Session::create(path, &pass, params, &args.recovery_recipient, &owner)?
    };
    eprintln!("{}", t!("done.init", path = session.path().display()));
    Ok(session.close()?)
}

fn demo(
    path: &Path,
    clients: usize,
    notes_per_client: usize,
    no_open: bool,
    kdf: KdfArgs,
    lock_after: std::time::Duration,
    privacy: bool,
) -> anyhow::Result<()> {
    let lang = crate::i18n::current();
    let opts = |kdf, demo| crate::tui::app::Options {
        path: path.to_owned(),
        lock_after,
        privacy,
        kdf,
        lang,
        clock: None,
        setup: session_setup("tui"),
        life_domains: depth::life_domains(),
        demo,
        practice: practice::tui_practice(),
    };
    if crate::tui::resuming() && path.exists() && !no_open {
        // Back from a lock: the demo vault made before opens like any other vault, with
        // its passphrase on the lock screen (its data is fictitious).
        let shown = crate::tui::demo_passphrase();
        crate::tui::run(opts(KdfParams::DEFAULT, shown.clone()))?;
        if let Some(p) = shown {
            eprintln!("{}", t!("done.demo_passphrase"));
            println!("{p}");
        }
        return Ok(());
    }
    if path.symlink_metadata().is_ok() {
        return Err(Error::VaultExists {
            path: path.to_owned(),
        }
        .into());
    }
    if clients > 100_000 || notes_per_client > 10_000 {
        return Err(Error::invalid("--clients/--notes-per-client", t!("val.demo_too_big")).into());
    }
    let params = kdf.params(KdfParams::DEFAULT)?;
    let (pass, generated) = match std::env::var_os(passphrase::ENV_NEW_PASSPHRASE) {
        Some(_) => (passphrase::new(None, &["demo"])?, false),
        None => (crate::org::new_code(), true),
    };
    let today = Local::now().date_naive();
    let seed = rand::random();
    let session = {
        let _busy = progress::spinner(&t!("status.demo"));
        Session::create_with(path, &pass, params, &[], "demo", |s| {
            crate::demo::populate(s, clients, notes_per_client, today, seed)
        })?
    };
    eprintln!(
        "{}",
        t!(
            "done.demo",
            path = path.display(),
            clients = clients,
            notes = clients * notes_per_client
        )
    );
    let show = || {
        if generated {
            eprintln!("{}", t!("done.demo_passphrase"));
            println!("{}", crate::secret::ExposeSecret::expose_secret(&pass));
        }
    };
    show();
    if no_open {
        return Ok(session.close()?);
    }
    let shown = generated.then(|| crate::secret::ExposeSecret::expose_secret(&pass).to_owned());
    crate::tui::run_unlocked(opts(params, shown), session)?;
    // The app wiped the screen when it closed; say the passphrase again.
    show();
    Ok(())
}

fn passwd(path: &Path, pass_file: Option<&Path>, args: PasswdArgs) -> anyhow::Result<()> {
    if !path.exists() {
        return Err(Error::NoVault {
            path: path.to_owned(),
        }
        .into());
    }
    // The one command a temporary passphrase from a recovery may be used for.
    let pass = passphrase::existing(pass_file)?;
    let mut session = Session::open(path, &pass, Access::Write)?;
    let params = if args.kdf.is_set() {
        Some(args.kdf.params(session.kdf_params())?)
    } else {
        None
    };
    if params.is_some_and(|p| p.is_test_strength()) {
        eprintln!("{}", t!("warn.kdf_test_only"));
    }
    let owner = session.owner()?.unwrap_or_default();
    let new = passphrase::new(args.new_passphrase_file.as_deref(), &[&owner])?;
    {
        let _busy = progress::spinner(&t!("status.deriving"));
        session.change_passphrase(&new, params)?;
    }
    session.close()?;
    eprintln!("{}", t!("done.passwd"));
    Ok(())
}

fn optional<T>(
    value: Option<String>,
    parse: impl FnOnce(&str) -> Result<T, Error>,
) -> Result<Option<T>, Error> {
    value.map(|v| parse(&v)).transpose()
}

/// For `edit`: absent leaves the field alone, "" clears it, anything else is parsed.
fn clearable<T>(
    value: Option<String>,
    parse: impl FnOnce(&str) -> Result<T, Error>,
) -> Result<Option<Option<T>>, Error> {
    match value {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Ok(Some(None)),
        Some(v) => parse(&v).map(|x| Some(Some(x))),
    }
}

fn client(path: &Path, pass_file: Option<&Path>, cmd: ClientCmd) -> anyhow::Result<()> {
    let today = Local::now().date_naive();
    match cmd {
        ClientCmd::Add {
            name,
            bsn,
            birth_date,
            domain,
            address,
            phone,
            opened_on,
        } => {
            let new = NewClient {
                name: model::parse_name("--name", &name)?,
                bsn: optional(bsn, Bsn::parse)?,
                birth_date: optional(birth_date, |v| model::parse_birth_date(v, today))?,
                address: optional(address, |v| model::parse_optional_line("--address", v))?
                    .flatten(),
                phone: optional(phone, |v| model::parse_optional_line("--phone", v))?.flatten(),
                domain: parse_choice("--domain", &domain, Domain::ALL)?,
                opened_on: optional(opened_on, |v| model::parse_date("--opened-on", v))?
                    .unwrap_or(today),
            };
            let mut session = open(path, pass_file, Access::Write)?;
            let id = session.change(|s| s.add_client(&new))?;
            println!("{id}");
            Ok(session.close()?)
        }
        ClientCmd::List { all, json } => {
            let mut session = open(path, pass_file, Access::Write)?;
            let rows = session.caseload(all)?;
            output::clients(&rows, json)?;
            Ok(session.close()?)
        }
        ClientCmd::Show { id, show_bsn, json } => {
            let prefix = model::parse_id_prefix("ID", &id)?;
            let mut session = open(path, pass_file, Access::Write)?;
            let id = session.resolve(IdTable::Client, &prefix)?;
            let view = session.client(&id, show_bsn)?;
            output::client(&view, json)?;
            Ok(session.close()?)
        }
        ClientCmd::Edit {
            id,
            name,
            bsn,
            birth_date,
            domain,
            address,
            phone,
        } => {
            let prefix = model::parse_id_prefix("ID", &id)?;
            let patch = ClientPatch {
                name: optional(name, |v| model::parse_name("--name", v))?,
                bsn: clearable(bsn, Bsn::parse)?,
                birth_date: clearable(birth_date, |v| model::parse_birth_date(v, today))?,
                address: clearable(address, |v| model::parse_name("--address", v))?,
                phone: clearable(phone, |v| model::parse_name("--phone", v))?,
                domain: optional(domain, |v| parse_choice("--domain", v, Domain::ALL))?,
            };
            if patch.is_empty() {
                return Err(Error::invalid(
                    "--name/--bsn/--birth-date/--domain/--address/--phone",
                    t!("val.nothing_to_change"),
                )
                .into());
            }
            let mut session = open(path, pass_file, Access::Write)?;
            let id = session.resolve(IdTable::Client, &prefix)?;
            let changed = session.change(|s| s.edit_client(&id, &patch))?;
            eprintln!(
                "{}",
                if changed {
                    t!("done.edited", id = id)
                } else {
                    t!("done.unchanged", id = id)
                }
            );
            Ok(session.close()?)
        }
        ClientCmd::Assign { id, workers } => sync::assign(path, pass_file, &id, &workers, true),
        ClientCmd::Unassign { id, worker } => {
            sync::assign(path, pass_file, &id, std::slice::from_ref(&worker), false)
        }
        ClientCmd::Handover { id, to, note } => {
            let prefix = model::parse_id_prefix("ID", &id)?;
            let to = model::parse_name("--to", &to)?;
            let note = model::parse_note_body(&note)?;
            let mut session = open(path, pass_file, Access::Write)?;
            let id = session.resolve(IdTable::Client, &prefix)?;
            crate::sync::check_assignable(&session, &to)?;
            practice::warn(&t!("nudge.what_note"), &note, false, &[]);
            let handover = session.change(|s| s.handover(&id, &to, &note))?;
            println!("{handover}");
            eprintln!("{}", t!("depth.handover_done", to = to));
            Ok(session.close()?)
        }
        ClientCmd::Close { id, at } => {
            let prefix = model::parse_id_prefix("ID", &id)?;
            let on = optional(at, |v| model::parse_date("--at", v))?.unwrap_or(today);
            if on > today {
                return Err(Error::invalid("--at", t!("val.close_in_future")).into());
            }
            let mut session = open(path, pass_file, Access::Write)?;
            let id = session.resolve(IdTable::Client, &prefix)?;
            let closed = session.change(|s| s.close_client(&id, on))?;
            eprintln!(
                "{}",
                if closed {
                    t!("done.closed", id = id)
                } else {
                    t!("done.already_closed", id = id)
                }
            );
            Ok(session.close()?)
        }
    }
}

fn note(path: &Path, pass_file: Option<&Path>, cmd: NoteCmd) -> anyhow::Result<()> {
    match cmd {
        NoteCmd::Add {
            client_id,
            kind,
            at,
            text,
            supersedes,
            special,
        } => {
            let prefix = model::parse_id_prefix("CLIENT_ID", &client_id)?;
            let kind = parse_choice("--kind", &kind, NoteKind::ALL)?;
            let occurred_at = optional(at, |v| {
                model::parse_moment("--at", v, Local::now().date_naive())
            })?
            .unwrap_or_else(|| Local::now().naive_local());
            let supersedes = optional(supersedes, |v| model::parse_id_prefix("--supersedes", v))?;
            if let Some(t) = &text {
                model::parse_note_body(t)?;
            }
            // Lock and unlock before reading standard input: a busy or wrong vault is
            // reported before anyone types a long note.
            let mut session = open(path, pass_file, Access::Write)?;
            let client_id = session.resolve(IdTable::Client, &prefix)?;
            let supersedes = supersedes
                .map(|p| session.resolve(IdTable::Note, &p))
                .transpose()?;
            let body = match text {
                Some(t) => t,
                None => {
                    if std::io::stdin().is_terminal() {
                        eprintln!("{}", t!("prompt.note_stdin"));
                    }
                    let mut buf = String::new();
                    std::io::stdin()
                        .read_to_string(&mut buf)
                        .with_context(|| t!("io.stdin").into_owned())?;
                    buf
                }
            };
            let body = model::parse_note_body(&body)?;
            practice::warn(&t!("nudge.what_note"), &body, special, &[]);
            let new = NewNote {
                client_id,
                kind,
                occurred_at,
                body,
                supersedes,
                special,
            };
            let id = session.change(|s| s.add_note(&new))?;
            println!("{id}");
            Ok(session.close()?)
        }
        NoteCmd::List {
            client_id,
            reveal,
            json,
        } => {
            let prefix = model::parse_id_prefix("CLIENT_ID", &client_id)?;
            let mut session = open(path, pass_file, Access::Write)?;
            let id = session.resolve(IdTable::Client, &prefix)?;
            let notes = session.notes(&id, reveal)?;
            output::notes(&notes, reveal, json)?;
            Ok(session.close()?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn lang_is_found_before_parsing() {
        let args = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(
            early_lang(&args(&["kluis", "--lang", "nl", "init"])),
            Some(Lang::Nl)
        );
        assert_eq!(
            early_lang(&args(&["kluis", "init", "--lang=en"])),
            Some(Lang::En)
        );
        assert_eq!(early_lang(&args(&["kluis", "init"])), None);
    }
}
