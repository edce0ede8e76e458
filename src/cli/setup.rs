//! Fitting in: the config commands, shell completions, the man page, and help texts in the
//! user's language (English from the doc comments, Dutch from `src/locales/cli.yml`).

use std::path::Path;

use clap::{Arg, ArgAction, Command, CommandFactory, Subcommand};

use super::Cli;
use super::output::print_json;
use crate::config::{self, Settings};
use crate::i18n::{Lang, t};

#[derive(Subcommand, Debug)]
pub(super) enum ConfigCmd {
    /// Print the path of the config file kluis reads
    Path,
    /// Show every setting in effect and where it came from
    Show {
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// Print the built-in config, every setting commented out at its default
    Default,
    /// Write the built-in config to the config file's place (never over an existing file);
    /// prints its path
    Init,
}

/// `config path|show|default`.
pub(super) fn config(
    cmd: ConfigCmd,
    settings: Option<&Settings>,
    flag: Option<&Path>,
) -> anyhow::Result<()> {
    match cmd {
        ConfigCmd::Path => {
            let (path, _) = config::config_path(flag);
            println!("{}", path.display());
            if !path.exists() {
                eprintln!("{}", t!("config.absent"));
            }
            Ok(())
        }
        ConfigCmd::Default => {
            print!("{}", config::default_file());
            Ok(())
        }
        ConfigCmd::Init => {
            let (path, _) = config::config_path(flag);
            crate::vault::ensure_dir(&path)?;
            crate::org::write_new(&path, config::default_file().as_bytes())?;
            println!("{}", path.display());
            eprintln!("{}", t!("config.written"));
            Ok(())
        }
        ConfigCmd::Show { json } => {
            let s = settings.expect("resolved before any command that needs it");
            if json {
                return print_json(&serde_json::to_value(s)?);
            }
            let source = |src: config::Source| t!(format!("config.source.{}", json_name(src)));
            match &s.config_file {
                Some(p) => println!("{}", t!("config.file", path = p.display())),
                None => println!("{}", t!("config.no_file")),
            }
            let rows: Vec<(String, String, config::Source)> = vec![
                (
                    "vault".into(),
                    s.vault.value.display().to_string(),
                    s.vault.source,
                ),
                ("lang".into(), s.lang.value.code().into(), s.lang.source),
                (
                    "lock_after".into(),
                    config::format_duration(s.lock_after.value),
                    s.lock_after.source,
                ),
                (
                    "privacy".into(),
                    s.privacy.value.to_string(),
                    s.privacy.source,
                ),
                (
                    "export_dir".into(),
                    s.export_dir
                        .value
                        .as_ref()
                        .map_or_else(|| "-".into(), |p| p.display().to_string()),
                    s.export_dir.source,
                ),
            ]
            .into_iter()
            .chain(s.retention.iter().map(|(d, y)| {
                (
                    format!("retention.{}", d.code()),
                    y.value.to_string(),
                    y.source,
                )
            }))
            .chain([(
                "life_domains".into(),
                s.life_domains.value.join(", "),
                s.life_domains.source,
            )])
            .collect();
            for (key, value, src) in rows {
                println!("{key:<23} {value}  ({})", source(src));
            }
            Ok(())
        }
    }
}

fn json_name(s: config::Source) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// `completions SHELL`.
pub(super) fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut cmd = localized(Cli::command());
    clap_complete::generate(shell, &mut cmd, "kluis", &mut std::io::stdout());
    Ok(())
}

/// `man [--out DIR]`.
pub(super) fn man(out: Option<&Path>) -> anyhow::Result<()> {
    let page = man_page()?;
    match out {
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&page)?;
        }
        Some(dir) => {
            // The folder is the user's explicit choice (often ~/.local/share/man/man1, which a
            // fresh home lacks): create it, world-readable like the page itself.
            {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(dir)
                    .map_err(|e| {
                        crate::error::Error::io(t!("io.mkdir", path = dir.display()), e)
                    })?;
            }
            let path = dir.join("kluis.1");
            let write_error =
                |e| crate::error::Error::io(t!("man.write", path = path.display()), e);
            // A manual page is for every user of the machine: 0644, not the 0600 of data.
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(&path)
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::AlreadyExists => {
                        crate::error::Error::FileExists { path: path.clone() }
                    }
                    _ => write_error(e),
                })?;
            f.write_all(&page).map_err(write_error)?;
            println!("{}", path.display());
        }
    }
    Ok(())
}

/// One page, kluis(1), that describes every command itself: clap_mangen would point to a page
/// per command (`kluis-init(1)`), which kluis does not install.
fn man_page() -> anyhow::Result<Vec<u8>> {
    let mut cmd = localized(Cli::command()).disable_help_subcommand(true);
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    // Every section comes with the same two-line preamble; the page needs it once.
    let section = |render: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>| {
        let mut part = Vec::new();
        render(&mut part)?;
        let preamble = part
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(1)
            .map_or(0, |(i, _)| i + 1);
        std::io::Result::Ok(part.split_off(preamble))
    };
    page.extend(section(&|w| man.render_name_section(w))?);
    page.extend(section(&|w| man.render_synopsis_section(w))?);
    page.extend(section(&|w| man.render_description_section(w))?);
    page.extend(section(&|w| man.render_options_section(w))?);
    let mut roff = format!(".SH {}\n", roff_escape(&t!("man.commands").to_uppercase()));
    for sub in cmd.get_subcommands() {
        man_commands(sub, "kluis", &mut roff);
    }
    page.extend_from_slice(roff.as_bytes());
    page.extend(section(&|w| man.render_version_section(w))?);
    Ok(page)
}

/// A subsection per command, nested commands after their parent: what it does, how to call
/// it and its own options (the global ones are under OPTIONS).
fn man_commands(cmd: &Command, parent: &str, roff: &mut String) {
    if cmd.get_name() == "help" || cmd.is_hide_set() {
        return;
    }
    let name = format!("{parent} {}", cmd.get_name());
    roff.push_str(&format!(".SS \"{}\"\n", roff_escape(&name)));
    if let Some(about) = cmd.get_about() {
        roff.push_str(&roff_line(&about.to_string()));
    }
    let usage = cmd.clone().render_usage().to_string();
    let usage = usage.split_once(": ").map_or(usage.as_str(), |(_, u)| u);
    for line in usage.lines() {
        roff.push_str(".br\n");
        roff.push_str(&format!("\\fB{}\\fR\n", roff_escape(line.trim())));
    }
    for a in cmd.get_arguments() {
        let id = a.get_id().as_str();
        if a.is_global_set() || a.is_hide_set() || id == "help" || id == "version" {
            continue;
        }
        let value = a
            .get_value_names()
            .map(|v| {
                v.iter()
                    .map(|n| format!("<{n}>"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .filter(|_| a.get_action().takes_values())
            .unwrap_or_default();
        let head = match (a.get_short(), a.get_long()) {
            (_, Some(long)) => format!("\\fB{}\\fR", roff_escape(&format!("--{long}"))),
            (Some(short), None) => format!("\\fB{}\\fR", roff_escape(&format!("-{short}"))),
            (None, None) => String::new(),
        };
        let value = if value.is_empty() {
            String::new()
        } else {
            format!("\\fI{}\\fR", roff_escape(&value))
        };
        roff.push_str(".TP\n");
        roff.push_str(&format!("{}\n", [head, value].join(" ").trim()));
        if let Some(help) = a.get_help() {
            let mut help = help.to_string();
            // clap adds the default to the help it renders itself; the Dutch texts carry it.
            let defaults: Vec<String> = a
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            if a.get_action().takes_values()
                && !defaults.is_empty()
                && !help.contains("[default")
                && !help.contains("[standaard")
            {
                help.push_str(&format!(" [default: {}]", defaults.join(", ")));
            }
            roff.push_str(&roff_line(&help));
        }
    }
    for sub in cmd.get_subcommands() {
        man_commands(sub, &name, roff);
    }
}

/// Text as roff: no line may start a request, backslashes and hyphens are literal.
fn roff_escape(text: &str) -> String {
    text.replace('\\', "\\e")
        .replace('-', "\\-")
        .replace('\'', "\\(aq")
}

fn roff_line(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        out.push_str("\\&");
        out.push_str(&roff_escape(line));
        out.push('\n');
    }
    out
}

/// The command tree with help texts in the current language. English is the doc comments;
/// Dutch comes from the catalog (`cmd.PATH` for a command's about, `arg.PATH.ID` for an
/// argument), falling back to English where a text is missing (a test finds those).
pub fn localized(cmd: Command) -> Command {
    if crate::i18n::current() != Lang::Nl {
        return cmd;
    }
    localize(cmd, "")
}

fn lookup(key: &str) -> Option<String> {
    let text = t!(key, locale = "nl");
    (text != key).then(|| text.into_owned())
}

fn cmd_key(path: &str) -> String {
    if path.is_empty() {
        "cmd".to_owned()
    } else {
        format!("cmd.{path}")
    }
}

fn arg_key(path: &str, id: &str) -> String {
    if path.is_empty() {
        format!("arg.{id}")
    } else {
        format!("arg.{path}.{id}")
    }
}

fn localize(mut cmd: Command, path: &str) -> Command {
    if let Some(about) = lookup(&cmd_key(path)) {
        cmd = cmd.about(about);
    }
    let ids: Vec<String> = cmd
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    for (i, id) in ids.into_iter().enumerate() {
        let key = arg_key(path, &id);
        cmd = cmd.mut_arg(&id, |a| {
            let heading = if a.is_positional() {
                "Argumenten"
            } else {
                "Opties"
            };
            // Global options (set on the root) after each command's own.
            let order = if a.is_global_set() { 1000 + i } else { i };
            let defaults: Vec<String> = a
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            // clap writes "default" and "possible values" in English: the Dutch texts name
            // the values themselves, and the default is added here.
            let takes_values = a.get_action().takes_values();
            let a = a
                .help_heading(heading)
                .display_order(order)
                .hide_possible_values(takes_values)
                .hide_default_value(takes_values);
            match lookup(&key) {
                Some(mut text) => {
                    if !defaults.is_empty() && !text.contains("[standaard") {
                        text.push_str(&format!(" [standaard: {}]", defaults.join(", ")));
                    }
                    a.help(text)
                }
                None => a,
            }
        });
    }
    cmd = cmd
        .help_template(
            "{before-help}{about-with-newline}\nGebruik: {usage}\n\n{all-args}{after-help}",
        )
        .subcommand_help_heading("Opdrachten")
        .disable_help_flag(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help("Toon deze hulp")
                .help_heading("Opties"),
        );
    if path.is_empty() {
        cmd = cmd.disable_version_flag(true).arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("Toon de versie")
                .help_heading("Opties"),
        );
    }
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in subs {
        let sub_path = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        cmd = cmd.mut_subcommand(&name, |s| localize(s, &sub_path));
    }
    cmd
}

/// Prints what clap found wrong with the command line (or the help it was asked for) in
/// the user's language, and returns the exit code: 2 for a usage error, 0 for help.
pub(super) fn report_parse_error(e: &clap::Error) -> i32 {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let code = if e.use_stderr() { 2 } else { 0 };
    if crate::i18n::current() != Lang::Nl {
        let _ = e.print();
        return code;
    }
    let ctx = |k: ContextKind| match e.get(k) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.join(", "),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let msg = match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // clap's own words in the help that the catalog cannot reach.
            let text = e
                .render()
                .to_string()
                .replace("[OPTIONS]", "[OPTIES]")
                .replace("<COMMAND>", "<OPDRACHT>")
                .replace("[COMMAND]", "[OPDRACHT]")
                .replace(
                    "Print this message or the help of the given subcommand(s)",
                    "Toon deze hulp, of de hulp bij de genoemde opdracht",
                );
            if code == 0 {
                print!("{text}");
            } else {
                eprint!("{text}");
            }
            return code;
        }
        ErrorKind::DisplayVersion => {
            let _ = e.print();
            return 0;
        }
        ErrorKind::UnknownArgument => {
            t!("clap.unknown_argument", arg = ctx(ContextKind::InvalidArg))
        }
        ErrorKind::InvalidSubcommand => {
            t!(
                "clap.unknown_command",
                command = ctx(ContextKind::InvalidSubcommand)
            )
        }
        ErrorKind::MissingRequiredArgument => {
            t!("clap.missing", args = ctx(ContextKind::InvalidArg))
        }
        ErrorKind::MissingSubcommand => t!("clap.missing_command"),
        ErrorKind::InvalidValue => t!(
            "clap.invalid_value",
            value = ctx(ContextKind::InvalidValue),
            arg = ctx(ContextKind::InvalidArg),
            valid = ctx(ContextKind::ValidValue)
        ),
        ErrorKind::ArgumentConflict => t!(
            "clap.conflict",
            arg = ctx(ContextKind::InvalidArg),
            other = ctx(ContextKind::PriorArg)
        ),
        ErrorKind::ValueValidation => {
            // Our own value parsers already speak the user's language.
            t!(
                "clap.invalid",
                arg = ctx(ContextKind::InvalidArg),
                reason = std::error::Error::source(e)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            )
        }
        _ => t!("clap.other", error = e.kind().to_string()),
    };
    eprintln!("kluis: {msg}. {}", t!("clap.see_help"));
    code
}

/// Every command and argument, as (catalog key, English text), for the completeness test.
#[cfg(test)]
fn all_texts(cmd: &Command, path: &str, out: &mut Vec<(String, String)>) {
    out.push((
        cmd_key(path),
        cmd.get_about().map(|a| a.to_string()).unwrap_or_default(),
    ));
    for a in cmd.get_arguments() {
        let id = a.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        out.push((
            arg_key(path, id),
            a.get_help().map(|h| h.to_string()).unwrap_or_default(),
        ));
    }
    for s in cmd.get_subcommands() {
        let p = if path.is_empty() {
            s.get_name().to_owned()
        } else {
            format!("{path}.{}", s.get_name())
        };
        all_texts(s, &p, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command and argument has a Dutch help text, and the catalog has no Dutch text
    /// for a command or argument that no longer exists.
    #[test]
    fn every_help_text_is_in_dutch_too() {
        let mut texts = Vec::new();
        all_texts(&Cli::command(), "", &mut texts);
        let missing: Vec<String> = texts
            .iter()
            .filter(|(k, _)| lookup(k).is_none())
            .map(|(k, en)| format!("{k}:\n  nl: \"{en}\""))
            .collect();
        assert!(
            missing.is_empty(),
            "no Dutch help for:\n{}",
            missing.join("\n")
        );
        let known: std::collections::HashSet<&str> =
            texts.iter().map(|(k, _)| k.as_str()).collect();
        let catalog = include_str!("../locales/cli.yml");
        for line in catalog.lines() {
            if let Some(key) = line.strip_suffix(':')
                && (key.starts_with("cmd") || key.starts_with("arg."))
            {
                assert!(
                    known.contains(key),
                    "{key} is in cli.yml but not in the CLI"
                );
            }
        }
    }

    #[test]
    fn dutch_help_is_dutch_and_still_parses() {
        // `localize` directly: setting the global language would race other tests.
        let mut cmd = localize(Cli::command(), "");
        cmd.build();
        let help = cmd.render_help().to_string();
        assert!(
            help.contains("Gebruik:") && help.contains("Opdrachten"),
            "{help}"
        );
        assert!(!help.contains("Usage:"));
        cmd.debug_assert();
    }
}
