//! `kluis org …` (IT's side), `kluis init --enroll`, `kluis roster import` and `kluis whoami`.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::json;

use super::{KdfArgs, passphrase};
use crate::error::Error;
use crate::i18n::t;
use crate::org::{self, Role};
use crate::secret::{ExposeSecret, SecretString};
use crate::session::Session;
use crate::vault::KdfParams;

/// Environment variable with the IT passphrase, for automation.
pub const ENV_ORG_PASSPHRASE: &str = "KLUIS_ORG_PASSPHRASE";
/// Environment variable with the enrollment code, for automation.
pub const ENV_ENROLL_CODE: &str = "KLUIS_ENROLL_CODE";

#[derive(Subcommand, Debug)]
pub(super) enum OrgCmd {
    /// Create the organisation: signing key and recovery identity, sealed under the IT passphrase
    Init {
        /// The organisation's folder (keep it offline)
        #[arg(long)]
        dir: PathBuf,
        /// The organisation's name
        #[arg(long, default_value = "kluis")]
        name: String,
        #[command(flatten)]
        kdf: KdfArgs,
    },
    /// Issue keys to a worker: writes an enrollment file; prints its one-time code last
    Issue {
        /// The organisation's folder
        #[arg(long)]
        dir: PathBuf,
        /// Worker id (e.g. an employee number)
        #[arg(long)]
        id: String,
        /// Full name
        #[arg(long)]
        name: String,
        /// Team; repeatable
        #[arg(long = "team")]
        teams: Vec<String>,
        /// Role
        #[arg(long, value_enum, default_value = "worker")]
        role: Role,
        /// Last valid day, YYYY-MM-DD
        #[arg(long)]
        valid_until: Option<String>,
        /// Where to write the enrollment file (never overwritten)
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        kdf: KdfArgs,
    },
    /// Revoke a worker's keys
    Revoke {
        /// The organisation's folder
        #[arg(long)]
        dir: PathBuf,
        /// Worker id
        id: String,
        /// Why, for the record
        #[arg(long, default_value = "")]
        reason: String,
        /// From when (YYYY-MM-DD[ HH:MM], local time) [default: now]
        #[arg(long)]
        at: Option<String>,
    },
    /// Issue a worker id again for a new device (a lost or replaced laptop): the old
    /// device's keys are retired from now on; prints the new file's one-time code last
    Reissue {
        /// The organisation's folder
        #[arg(long)]
        dir: PathBuf,
        /// Worker id
        #[arg(long)]
        id: String,
        /// Where to write the enrollment file (never overwritten)
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        kdf: KdfArgs,
    },
    /// Admit the devices that enrolled: reads their requests from a shared folder (or
    /// request files) and publishes the new roster there
    Admit {
        /// The organisation's folder
        #[arg(long)]
        dir: PathBuf,
        /// The shared folder (or request files)
        #[arg(required = true)]
        from: Vec<PathBuf>,
        /// Admit only the device with this fingerprint (when a worker's file was used on
        /// more than one device; compare with the worker's 'kluis whoami')
        #[arg(long)]
        fingerprint: Option<String>,
    },
    /// Assign a dossier to a worker with the organisation's key (for a dossier whose
    /// assignees were all revoked or left); publish the roster afterwards
    Reassign {
        /// The organisation's folder
        #[arg(long)]
        dir: PathBuf,
        /// The dossier's id (in full, as 'kluis sync' reports it)
        client: String,
        /// The worker who takes it over
        #[arg(long)]
        to: String,
        /// Why, for the record
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Publish the signed roster into the shared folder, where every sync takes it
    Publish {
        /// The organisation's folder
        #[arg(long)]
        dir: PathBuf,
        /// The shared folder
        share: PathBuf,
    },
    /// Write the signed roster (members, keys, teams, roles, revocations)
    Roster {
        /// The organisation's folder
        #[arg(long)]
        dir: PathBuf,
        /// Where to write it (never overwritten)
        #[arg(long)]
        out: PathBuf,
    },
    /// List the members
    List {
        /// The organisation's folder
        #[arg(long)]
        dir: PathBuf,
        /// Output JSON
        #[arg(long)]
        json: bool,
    },
    /// Re-seal a worker's vault (--vault) under a temporary passphrase, printed last
    Recover {
        /// The organisation's folder
        #[arg(long)]
        dir: PathBuf,
        /// Who does this, for the vault's record [default: $USER]
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        kdf: KdfArgs,
    },
}

fn it_passphrase() -> anyhow::Result<SecretString> {
    Ok(passphrase::from_env_or_prompt(
        ENV_ORG_PASSPHRASE,
        &t!("prompt.org_passphrase"),
    )?)
}

fn new_it_passphrase(name: &str) -> anyhow::Result<SecretString> {
    let check = |p: &SecretString| passphrase::check_strength(p, &[name, "organisatie", "it"]);
    let pass = match passphrase::from_env(ENV_ORG_PASSPHRASE) {
        Some(p) => p?,
        None => {
            return Ok(passphrase::asked_twice(
                &t!("prompt.new_org_passphrase"),
                check,
            )?);
        }
    };
    check(&pass)?;
    Ok(pass)
}

fn enroll_code() -> anyhow::Result<SecretString> {
    Ok(passphrase::from_env_or_prompt(
        ENV_ENROLL_CODE,
        &t!("prompt.enroll_code"),
    )?)
}

fn by_name(given: Option<String>) -> String {
    given
        .or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "IT".to_owned())
}

fn warn_if_weak(params: KdfParams) {
    if params.is_test_strength() {
        eprintln!("{}", t!("warn.kdf_test_only"));
    }
}

pub(super) fn run(cmd: OrgCmd, vault_path: &Path) -> anyhow::Result<()> {
    match cmd {
        OrgCmd::Init { dir, name, kdf } => {
            let name = crate::model::parse_name("--name", &name)?;
            let params = kdf.params(KdfParams::DEFAULT)?;
            warn_if_weak(params);
            if dir.join(org::STATE_FILE).exists() {
                return Err(Error::FileExists {
                    path: dir.join(org::STATE_FILE),
                }
                .into());
            }
            let pass = new_it_passphrase(&name)?;
            let state = org::init(&dir, &name, &pass, params)?;
            println!("{}", state.public_key);
            eprintln!("{}", t!("org.created", path = dir.display()));
            Ok(())
        }
        OrgCmd::Issue {
            dir,
            id,
            name,
            teams,
            role,
            valid_until,
            out,
            kdf,
        } => {
            let id = crate::model::parse_name("--id", &id)?;
            let name = crate::model::parse_name("--name", &name)?;
            let teams = teams
                .iter()
                .map(|t| crate::model::parse_name("--team", t))
                .collect::<Result<Vec<_>, _>>()?;
            let valid_until = valid_until
                .map(|d| crate::model::parse_date("--valid-until", &d).map(|d| d.to_string()))
                .transpose()?;
            let params = kdf.params(KdfParams::DEFAULT)?;
            warn_if_weak(params);
            if out.symlink_metadata().is_ok() {
                return Err(Error::FileExists { path: out }.into());
            }
            let pass = it_passphrase()?;
            let request = org::IssueRequest {
                id: &id,
                name: &name,
                teams: &teams,
                role,
                valid_until,
                code_params: params,
            };
            let (sealed, code) = org::issue(&dir, &pass, &request)?;
            org::write_new(&out, &sealed)?;
            eprintln!("{}", t!("org.issued", id = id, path = out.display()));
            println!("{}", code.expose_secret());
            Ok(())
        }
        OrgCmd::Revoke {
            dir,
            id,
            reason,
            at,
        } => {
            let at = match at {
                Some(a) => {
                    let local =
                        crate::model::parse_moment("--at", &a, chrono::Local::now().date_naive())?;
                    let utc = local
                        .and_local_timezone(chrono::Local)
                        .earliest()
                        .ok_or_else(|| Error::invalid("--at", t!("val.datetime", value = a)))?
                        .with_timezone(&chrono::Utc);
                    crate::model::format_utc(utc)
                }
                None => crate::model::now_utc(),
            };
            let reason = crate::model::parse_detail("--reason", &reason, 1_000)?;
            org::revoke(&dir, &id, &reason, at)?;
            eprintln!("{}", t!("org.revoked", id = id));
            Ok(())
        }
        OrgCmd::Reissue { dir, id, out, kdf } => {
            let id = crate::model::parse_name("--id", &id)?;
            let params = kdf.params(KdfParams::DEFAULT)?;
            warn_if_weak(params);
            if out.symlink_metadata().is_ok() {
                return Err(Error::FileExists { path: out }.into());
            }
            let pass = it_passphrase()?;
            let (sealed, code) = org::reissue(&dir, &pass, &id, params)?;
            org::write_new(&out, &sealed)?;
            eprintln!("{}", t!("org.reissued", id = id, path = out.display()));
            println!("{}", code.expose_secret());
            Ok(())
        }
        OrgCmd::Admit {
            dir,
            from,
            fingerprint,
        } => admit(&dir, &from, fingerprint.as_deref()),
        OrgCmd::Reassign {
            dir,
            client,
            to,
            reason,
        } => {
            let client = client.trim().to_lowercase();
            let to = crate::model::parse_name("--to", &to)?;
            let reason = crate::model::parse_detail("--reason", &reason, 1_000)?;
            org::reassign(&dir, &client, &to, &reason, crate::model::now_utc())?;
            eprintln!("{}", t!("org.reassigned", id = client, to = to));
            Ok(())
        }
        OrgCmd::Publish { dir, share } => {
            if !share.is_dir() {
                return Err(
                    Error::invalid("SHARE", t!("sync.no_dir", path = share.display())).into(),
                );
            }
            let pass = it_passphrase()?;
            let signed = org::signed_roster(&dir, &pass)?;
            let version = org::load_state(&dir)?.version;
            let path = publish(&share, &signed, version)?;
            println!("{}", path.display());
            Ok(())
        }
        OrgCmd::Roster { dir, out } => {
            if out.symlink_metadata().is_ok() {
                return Err(Error::FileExists { path: out }.into());
            }
            let pass = it_passphrase()?;
            let signed = org::signed_roster(&dir, &pass)?;
            let version = org::load_state(&dir)?.version;
            org::write_new(&out, &serde_json::to_vec_pretty(&signed)?)?;
            eprintln!(
                "{}",
                t!(
                    "org.roster_written",
                    version = version,
                    path = out.display()
                )
            );
            println!("{version}");
            Ok(())
        }
        OrgCmd::List { dir, json: as_json } => {
            let state = org::load_state(&dir)?;
            let revoked = |id: &str| state.revocations.iter().find(|r| r.id == id);
            if as_json {
                let members: Vec<_> = state
                    .members
                    .iter()
                    .map(|m| {
                        let mut v = serde_json::to_value(m).unwrap_or_default();
                        v["revoked"] = json!(revoked(&m.id));
                        v
                    })
                    .collect();
                std::println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "name": state.name, "public_key": state.public_key,
                        "recovery_recipient": state.recovery_recipient, "version": state.version,
                        "members": members,
                    }))?
                );
                return Ok(());
            }
            println!("{}  {}  v{}", state.name, state.public_key, state.version);
            for m in &state.members {
                let status = match revoked(&m.id) {
                    Some(r) => format!("{} {}", t!("field.revoked"), r.effective_at),
                    None => t!("field.active").into_owned(),
                };
                println!(
                    "{:<12} {:<6} {:<24} {:<20} {}",
                    m.id,
                    format!("{:?}", m.role).to_lowercase(),
                    m.teams.join(","),
                    status,
                    m.name
                );
            }
            Ok(())
        }
        OrgCmd::Recover { dir, by, kdf } => {
            if !vault_path.exists() {
                return Err(Error::NoVault {
                    path: vault_path.to_owned(),
                }
                .into());
            }
            let params = kdf.params(KdfParams::DEFAULT)?;
            warn_if_weak(params);
            let pass = it_passphrase()?;
            let identity = org::recovery_identity(&dir, &pass)?;
            // Strong enough for zxcvbn and short enough to read out: the enrollment alphabet.
            let temporary = org::new_code();
            Session::recover(vault_path, &identity, &temporary, params, &by_name(by))?;
            eprintln!("{}", t!("org.recovered", path = vault_path.display()));
            println!("{}", temporary.expose_secret());
            Ok(())
        }
    }
}

/// `kluis org admit --dir ORG SHARE|FILE...`: reads the device requests, admits the
/// devices it can, and publishes the new roster into the shared folder given.
fn admit(dir: &Path, from: &[PathBuf], fingerprint: Option<&str>) -> anyhow::Result<()> {
    let mut requests = Vec::new();
    let mut share = None;
    for p in from {
        let files = if p.is_dir() {
            share.get_or_insert_with(|| p.clone());
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| Error::io(t!("io.read", path = p.display()), e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                        n.ends_with(&format!(".{}", crate::sync::REQUEST_EXTENSION))
                    })
                })
                .collect();
            files.sort();
            files
        } else {
            vec![p.clone()]
        };
        for f in files {
            let bytes = crate::fsx::read(
                &f,
                crate::fsx::Follow::No,
                crate::fsx::Owner::Anyone,
                1 << 20,
            )
            .map_err(|r| r.into_invalid("file", &f))?;
            requests.push((f, bytes));
        }
    }
    let pass = it_passphrase()?;
    let report = org::admit(dir, &pass, &requests, fingerprint)?;
    for (path, reason) in &report.refused {
        eprintln!(
            "{}",
            t!(
                "org.request_refused",
                path = path.display(),
                reason = reason
            )
        );
    }
    for (id, fps) in &report.ambiguous {
        eprintln!(
            "{}",
            t!(
                "org.admit_ambiguous",
                id = id,
                fingerprints = fps.join(", ")
            )
        );
    }
    for (id, fp) in &report.second_devices {
        eprintln!("{}", t!("org.second_device", id = id, fingerprint = fp));
    }
    for (id, fp) in &report.admitted {
        eprintln!("{}", t!("org.admitted", id = id, fingerprint = fp));
        println!("{id}");
    }
    if report.admitted.is_empty() {
        eprintln!("{}", t!("org.nobody_admitted"));
    } else if let Some(share) = share {
        let signed = org::signed_roster(dir, &pass)?;
        publish(&share, &signed, report.version)?;
    } else {
        eprintln!("{}", t!("org.publish_now", version = report.version));
    }
    if report.ambiguous.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid("--fingerprint", t!("org.choose_fingerprint")).into())
    }
}

/// Places the signed roster in the share (`org publish`, `org admit --share`) and says so,
/// with how many superseded rosters left it.
fn publish(share: &Path, signed: &org::Signed, version: u64) -> anyhow::Result<PathBuf> {
    let (path, removed) = crate::sync::publish_roster(share, signed)?;
    eprintln!(
        "{}",
        t!("org.published", version = version, path = path.display())
    );
    if removed > 0 {
        eprintln!("{}", t!("org.rosters_removed", count = removed));
    }
    Ok(path)
}

/// `kluis init --enroll FILE`.
pub(super) fn enroll(
    path: &Path,
    file: &Path,
    params: KdfParams,
    new_pass_file: Option<&Path>,
) -> anyhow::Result<()> {
    let bytes = crate::fsx::read(
        file,
        crate::fsx::Follow::Yes,
        crate::fsx::Owner::Anyone,
        16 << 20,
    )
    .map_err(|r| r.into_invalid("--enroll", file))?;
    let code = enroll_code()?;
    let enrollment = org::open_enrollment(&bytes, &code, file)?;
    let member = enrollment.member.clone();
    let pass = passphrase::new(new_pass_file, &[&member.name, &member.id])?;
    let session = crate::sync::create_enrolled(path, &pass, params, &enrollment, file)?;
    let fingerprint = crate::sync::device(&session)?
        .map(|d| d.fingerprint)
        .unwrap_or_default();
    eprintln!(
        "{}",
        t!(
            "org.enrolled",
            id = member.id,
            org = enrollment.org,
            path = path.display(),
            fingerprint = fingerprint
        )
    );
    println!("{}", member.id);
    Ok(session.close()?)
}

/// `kluis roster import FILE`.
pub(super) fn import_roster(session: &mut Session, file: &Path) -> anyhow::Result<u64> {
    let version = session.import_roster(file)?;
    eprintln!("{}", t!("org.roster_imported", version = version));
    Ok(version)
}

/// `kluis whoami`. A personal vault (made without an enrollment file) answers too: with its
/// owner and that it belongs to no organisation. The JSON has the same keys either way.
pub(super) fn whoami(session: &Session, as_json: bool) -> anyhow::Result<()> {
    let me = session.identity()?;
    let owner = Some(me.owner.clone()).filter(|o| !o.is_empty());
    let Some(id) = me.worker_id else {
        if as_json {
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "enrolled": false, "owner": owner, "id": null, "name": null, "teams": [],
                    "role": null, "organisation": null, "org_public_key": null,
                    "roster_version": null, "device": null,
                }))?
            );
            return Ok(());
        }
        println!("{}: {}", t!("field.owner"), owner.as_deref().unwrap_or("-"));
        println!("{}", t!("org.personal_vault"));
        return Ok(());
    };
    let (teams, version, name, role) = (me.teams, me.roster_version, me.name, me.role);
    let (org_name, org_key) = (me.org_name, me.org_public_key);
    let device = crate::sync::device(session)?;
    if as_json {
        std::println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "enrolled": true, "owner": owner,
                "id": id, "name": name, "teams": teams, "role": role,
                "organisation": org_name, "org_public_key": org_key, "roster_version": version,
                "device": device,
            }))?
        );
        return Ok(());
    }
    for (label, value) in [
        (t!("field.worker_id"), format!("{id} ({name})")),
        (t!("field.teams"), teams.join(", ")),
        (t!("field.role"), role),
        (t!("field.organisation"), format!("{org_name} ({org_key})")),
        (
            t!("field.roster_version"),
            version.map_or("-".into(), |v| v.to_string()),
        ),
    ] {
        println!("{label}: {value}");
    }
    if let Some(d) = device {
        let status = if d.admitted {
            t!("org.device_admitted")
        } else {
            t!("org.device_waiting")
        };
        println!("{}: {} ({status})", t!("field.device"), d.fingerprint);
    }
    Ok(())
}
