//! IT's side: organisation, enrollment, rosters, revocation and passphrase recovery.

use std::path::{Path, PathBuf};
use std::process::Command;

use predicates::prelude::*;
use serde_json::Value;

use crate::{CANARY, PASS, TestVault, WEAK_KDF, contains, kluis, require, stdout};

const IT_PASS: &str = "Rood-Paard-Zeilboot-Kaasschaaf-19";

pub struct Org {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

impl Org {
    pub fn new(name: &str) -> Org {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ORG");
        it().args(["org", "init", "--dir"])
            .arg(&dir)
            .args(["--name", name])
            .args(WEAK_KDF)
            .assert()
            .success();
        Org { _tmp: tmp, dir }
    }

    /// Issues keys; returns (enrollment file, code).
    pub fn issue(&self, id: &str, out_dir: &Path) -> (PathBuf, String) {
        let out = out_dir.join(format!("{id}.enroll"));
        let res = it()
            .args(["org", "issue", "--dir"])
            .arg(&self.dir)
            .args([
                "--id",
                id,
                "--name",
                "Mira Jansen",
                "--team",
                "wijkteam-noord",
                "--team",
                "jeugd",
                "--role",
                "lead",
                "--out",
            ])
            .arg(&out)
            .args(WEAK_KDF)
            .assert()
            .success();
        let code = stdout(res.get_output())
            .lines()
            .last()
            .unwrap()
            .trim()
            .to_owned();
        (out, code)
    }

    /// IT's recovery identity, unsealed out of ORG into a key file for stock `age`.
    pub fn recovery_key_file(&self, dir: &Path) -> PathBuf {
        use age::secrecy::ExposeSecret;
        let pass = kluis::secret::SecretString::from(IT_PASS.to_owned());
        let identity = kluis::org::recovery_identity(&self.dir, &pass).unwrap();
        let key = dir.join("it.key");
        std::fs::write(&key, identity.to_string().expose_secret()).unwrap();
        key
    }

    /// `org admit` from a shared folder (or request files): admits, publishes there.
    pub fn admit(&self, from: &Path) -> assert_cmd::assert::Assert {
        it().args(["org", "admit", "--dir"])
            .arg(&self.dir)
            .arg(from)
            .assert()
    }

    /// `org publish` into a shared folder.
    pub fn publish(&self, share: &Path) {
        it().args(["org", "publish", "--dir"])
            .arg(&self.dir)
            .arg(share)
            .assert()
            .success();
    }

    pub fn roster(&self, out: &Path) {
        it().args(["org", "roster", "--dir"])
            .arg(&self.dir)
            .arg("--out")
            .arg(out)
            .assert()
            .success();
    }
}

pub fn it() -> assert_cmd::Command {
    let mut c = kluis();
    c.env("KLUIS_ORG_PASSPHRASE", IT_PASS);
    c
}

pub fn enroll(v: &TestVault, file: &Path, code: &str) -> assert_cmd::assert::Assert {
    v.cmd()
        .env("KLUIS_ENROLL_CODE", code)
        .env("KLUIS_NEW_PASSPHRASE", PASS)
        .arg("init")
        .arg("--enroll")
        .arg(file)
        .args(WEAK_KDF)
        .assert()
}

fn whoami(v: &TestVault) -> Value {
    v.json(&["whoami", "--json"])
}

#[test]
fn the_org_folder_holds_no_unsealed_secret() {
    let org = Org::new("Gemeente Test");
    let v = TestVault::empty();
    org.issue("w001", v.dir.path());
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&org.dir).unwrap() {
        let entry = entry.unwrap();
        let bytes = std::fs::read(entry.path()).unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(
            !contains(&bytes, b"AGE-SECRET-KEY"),
            "{name} holds a plain X25519 identity"
        );
        if name.ends_with(".age") {
            assert!(
                bytes.starts_with(b"age-encryption.org/v1\n-> kluis-argon2id "),
                "{name} is not sealed"
            );
        }
        names.push(name);
    }
    names.sort();
    assert_eq!(
        names,
        [
            "org-public-key.txt",
            "org.json",
            "recovery-key.age",
            "recovery-recipient.txt",
            "signing-key.age"
        ]
    );
    // The enrollment file is sealed too.
    let enrollment = std::fs::read(v.dir.path().join("w001.enroll")).unwrap();
    assert!(!contains(&enrollment, b"AGE-SECRET-KEY") && !contains(&enrollment, b"Mira"));
    // A second init refuses, and a wrong IT passphrase opens nothing.
    it().args(["org", "init", "--dir"])
        .arg(&org.dir)
        .args(WEAK_KDF)
        .assert()
        .code(1);
    kluis()
        .env("KLUIS_ORG_PASSPHRASE", "Verkeerd-IT-Wachtwoord-Helemaal-77")
        .args(["org", "roster", "--dir"])
        .arg(&org.dir)
        .arg("--out")
        .arg(v.dir.path().join("r.json"))
        .assert()
        .code(3);
}

#[test]
fn enrollment_creates_a_vault_that_it_can_recover_with_stock_age() {
    let org = Org::new("Gemeente Test");
    let v = TestVault::empty();
    let (file, code) = org.issue("w001", v.dir.path());
    // Typed in lower case with spaces: still accepted.
    enroll(&v, &file, &code.to_lowercase().replace('-', " "))
        .success()
        .stdout(predicate::str::contains("w001"));
    let me = whoami(&v);
    assert_eq!(me["id"], "w001");
    assert_eq!(me["teams"], serde_json::json!(["wijkteam-noord", "jeugd"]));
    assert_eq!(me["role"], "lead");
    assert_eq!(me["organisation"], "Gemeente Test");
    assert_eq!(me["roster_version"], 2);
    assert_eq!(me["enrolled"], true);
    assert!(me["owner"].is_string(), "{me}");
    // The same keys as a personal vault's (docs/json.md).
    let keys: Vec<&str> = me.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, crate::firsthour::WHOAMI_KEYS);
    let id = v.add_client(&format!("Client {CANARY}"));
    assert_eq!(id.len(), 36);

    // IT decrypts its recovery identity out of ORG, and stock age opens the vault with it.
    v.compact();
    let key = org.recovery_key_file(v.dir.path());
    let out = Command::new(require("age"))
        .arg("-d")
        .arg("-i")
        .arg(&key)
        .arg(&v.path)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(contains(&out.stdout, CANARY.as_bytes()));
}

#[test]
fn a_wrong_code_or_a_tampered_enrollment_file_is_refused() {
    let org = Org::new("Gemeente Test");
    let v = TestVault::empty();
    let (file, _code) = org.issue("w001", v.dir.path());
    // The enrollment code's own message (issue 20: it said "wrong passphrase ... ask IT to
    // recover your vault"), in both languages.
    enroll(&v, &file, "AAAA-BBBB-CCCC-DDDD-EEEE")
        .code(3)
        .stderr(predicates::str::contains("wrong enrollment code"))
        .stderr(predicates::str::contains("recover").not());
    v.cmd()
        .env("LANG", "nl_NL.UTF-8")
        .env("KLUIS_ENROLL_CODE", "AAAA-BBBB-CCCC-DDDD-EEEE")
        .env("KLUIS_NEW_PASSPHRASE", PASS)
        .arg("init")
        .arg("--enroll")
        .arg(&file)
        .args(WEAK_KDF)
        .assert()
        .code(3)
        .stderr(predicates::str::contains("verkeerde aanmeldcode"));
    assert!(!v.path.exists());
    // A changed byte anywhere fails the MAC the code makes: the same answer as a wrong code,
    // since the two cannot be told apart (as with a vault's passphrase stanza).
    let (file2, code2) = org.issue("w002", v.dir.path());
    let original = std::fs::read(&file2).unwrap();
    for at in [30, original.len() / 2, original.len() - 20] {
        let mut bytes = original.clone();
        bytes[at] ^= 1;
        std::fs::write(&file2, &bytes).unwrap();
        enroll(&v, &file2, &code2).code(3);
    }
    // Not an enrollment file at all, or one cut off: refused as such (exit 4).
    for bad in [&b"geen inschrijving\n"[..], &original[..40]] {
        std::fs::write(&file2, bad).unwrap();
        enroll(&v, &file2, &code2).code(4);
    }
    assert!(!v.path.exists());
}

#[test]
fn rosters_must_be_signed_by_the_pinned_org_and_newer() {
    let org = Org::new("Gemeente Test");
    let v = TestVault::empty();
    let (file, code) = org.issue("w001", v.dir.path());
    enroll(&v, &file, &code).success();
    let old = v.dir.path().join("roster-2.json");
    org.roster(&old);
    it().args(["org", "issue", "--dir"])
        .arg(&org.dir)
        .args(["--id", "w002", "--name", "Bas", "--out"])
        .arg(v.dir.path().join("w002.enroll"))
        .args(WEAK_KDF)
        .assert()
        .success();
    it().args(["org", "revoke", "--dir"])
        .arg(&org.dir)
        .args(["w002", "--reason", "uit dienst"])
        .assert()
        .success();
    let new = v.dir.path().join("roster-4.json");
    org.roster(&new);

    let before = std::fs::read(&v.path).unwrap();
    // The same version again (it came with the enrollment): refused.
    v.cmd()
        .args(["roster", "import"])
        .arg(&old)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("only a newer"));
    // Tampered: one member's team changed.
    let tampered = v.dir.path().join("tampered.json");
    std::fs::write(
        &tampered,
        std::fs::read_to_string(&new)
            .unwrap()
            .replace("wijkteam-noord", "wijkteam-zuid"),
    )
    .unwrap();
    v.cmd()
        .args(["roster", "import"])
        .arg(&tampered)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("signature"));
    // Signed by another organisation.
    let other = Org::new("Andere Gemeente");
    let foreign = v.dir.path().join("foreign.json");
    other.roster(&foreign);
    v.cmd()
        .args(["roster", "import"])
        .arg(&foreign)
        .assert()
        .code(4);
    assert_eq!(
        std::fs::read(&v.path).unwrap(),
        before,
        "a refused roster changed the vault"
    );

    v.cmd()
        .args(["roster", "import"])
        .arg(&new)
        .assert()
        .success()
        .stdout("4\n");
    assert_eq!(whoami(&v)["roster_version"], 4);
    // And now the older one is a rollback.
    v.cmd()
        .args(["roster", "import"])
        .arg(&old)
        .assert()
        .code(4);
    let out = it()
        .args(["org", "list", "--json", "--dir"])
        .arg(&org.dir)
        .assert()
        .success();
    let list: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let w002 = list["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "w002")
        .unwrap();
    assert_eq!(w002["revoked"]["reason"], "uit dienst");
    let signed: Value = serde_json::from_slice(&std::fs::read(&new).unwrap()).unwrap();
    let body: Value = serde_json::from_str(signed["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["revocations"][0]["id"], "w002");
    assert_eq!(body["version"], 4);
}

#[test]
fn recovery_replaces_the_passphrase_and_is_recorded() {
    let org = Org::new("Gemeente Test");
    let v = TestVault::empty();
    let (file, code) = org.issue("w001", v.dir.path());
    enroll(&v, &file, &code).success();
    let id = v.add_client("Vergeten Wachtwoord");
    // Another organisation's recovery key is not among the vault's recipients: a wrong key (3).
    let other = Org::new("Andere Gemeente");
    let before = std::fs::read(&v.path).unwrap();
    it().arg("--vault")
        .arg(&v.path)
        .args(["org", "recover", "--dir"])
        .arg(&other.dir)
        .args(WEAK_KDF)
        .assert()
        .code(3);
    assert_eq!(std::fs::read(&v.path).unwrap(), before);
    let out = it()
        .arg("--vault")
        .arg(&v.path)
        .args(["org", "recover", "--dir"])
        .arg(&org.dir)
        .args(["--by", "helpdesk-anna"])
        .args(WEAK_KDF)
        .assert()
        .success();
    let temporary = stdout(out.get_output())
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();

    // The old passphrase opens neither the vault nor its previous generation.
    v.cmd().args(["client", "list"]).assert().code(3);
    let prev = v.prev();
    kluis()
        .arg("--vault")
        .arg(&prev)
        .env("KLUIS_PASSPHRASE", PASS)
        .args(["client", "list"])
        .assert()
        .code(3);
    // The temporary one only lets the worker choose a new passphrase, once.
    v.cmd()
        .env("KLUIS_PASSPHRASE", &temporary)
        .args(["client", "list"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("kluis passwd"));
    let new = "Fietsbel-Regenjas-Tulpenveld-81";
    v.cmd()
        .env("KLUIS_PASSPHRASE", &temporary)
        .env("KLUIS_NEW_PASSPHRASE", new)
        .arg("passwd")
        .assert()
        .success();
    v.cmd()
        .env("KLUIS_PASSPHRASE", &temporary)
        .args(["client", "list"])
        .assert()
        .code(3);
    v.cmd()
        .env("KLUIS_PASSPHRASE", new)
        .args(["client", "show", &id])
        .assert()
        .success();

    // The event is in the vault: read it the way IT would, with stock age and sqlite3.
    let key = org.recovery_key_file(v.dir.path());
    let db = v.dir.path().join("image.sqlite");
    let out = Command::new(require("age"))
        .arg("-d")
        .arg("-i")
        .arg(&key)
        .arg("-o")
        .arg(&db)
        .arg(&v.path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = Command::new(require("sqlite3"))
        .arg(&db)
        .arg("SELECT kind, actor FROM event")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "recovery|helpdesk-anna\n"
    );
    // And in the access log: IT, on the worker's behalf.
    let log = v
        .cmd()
        .env("KLUIS_PASSPHRASE", new)
        .args(["audit", "--json"])
        .assert()
        .success();
    let log: Value = serde_json::from_slice(&log.get_output().stdout).unwrap();
    let recovery: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "recovery")
        .collect();
    assert_eq!(recovery.len(), 1, "{log}");
    assert_eq!(recovery[0]["user"], "helpdesk-anna");
    assert!(recovery[0]["on_behalf"].is_string());
}
