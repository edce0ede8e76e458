//! Team sync: three enrolled workers exchanging signed, encrypted bundles through a plain
//! folder and through clones of a bare git repository, with offline concurrent edits, a
//! tampered bundle, a replayed bundle and a revoked author.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::org::{Org, enroll, it};
use crate::{CANARY, TestVault, contains, require, stderr, stdout};

/// An organisation with enrolled workers who all hold the newest roster.
pub struct Team {
    pub org: Org,
    workers: Vec<(String, TestVault)>,
    shared: tempfile::TempDir,
}

impl Team {
    /// Enrolled workers whose devices IT admitted: each device's first sync puts its request
    /// into the shared folder, IT admits them all (publishing the roster there), and the
    /// next sync takes that roster.
    pub fn new(ids: &[&str]) -> Team {
        let org = Org::new("Gemeente Test");
        let shared = tempfile::tempdir().unwrap();
        let mut workers = Vec::new();
        for id in ids {
            let v = TestVault::empty();
            let (file, code) = org.issue(id, v.dir.path());
            enroll(&v, &file, &code).success();
            let out = sync(&v, shared.path());
            assert_eq!(out["admitted"], false, "{out}");
            workers.push((id.to_string(), v));
        }
        org.admit(shared.path()).success();
        for (_, v) in &workers {
            let out = sync(v, shared.path());
            assert_eq!(out["admitted"], true, "{out}");
        }
        Team {
            org,
            workers,
            shared,
        }
    }

    /// IT writes the current roster and these workers import it.
    pub fn roll_roster(&self, workers: &[(String, TestVault)]) {
        let file = self
            .shared
            .path()
            .join(format!("roster-{}.json", uuid_ish()));
        self.org.roster(&file);
        for (_, v) in workers {
            v.cmd()
                .args(["roster", "import"])
                .arg(&file)
                .assert()
                .success();
        }
        std::fs::remove_file(&file).unwrap();
    }

    pub fn v(&self, id: &str) -> &TestVault {
        &self.workers.iter().find(|(w, _)| w == id).unwrap().1
    }

    pub fn dir(&self) -> &Path {
        self.shared.path()
    }
}

fn uuid_ish() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

pub fn sync(v: &TestVault, dir: &Path) -> Value {
    v.json(&["sync", dir.to_str().unwrap(), "--json"])
}

/// Runs `export` into `dir` and returns the one bundle it wrote.
pub fn export(v: &TestVault, dir: &Path) -> PathBuf {
    let out = v.json(&["export", "--out", dir.to_str().unwrap(), "--json"]);
    PathBuf::from(out["bundles"][0]["file"].as_str().unwrap())
}

pub fn bundles(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kluisb"))
        .collect();
    out.sort();
    out
}

fn show(v: &TestVault, id: &str) -> Value {
    v.json(&["client", "show", id, "--json"])
}

fn notes(v: &TestVault, id: &str) -> Vec<String> {
    let mut bodies: Vec<String> = v
        .json(&["note", "list", id, "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"].as_str().unwrap().to_owned())
        .collect();
    bodies.sort();
    bodies
}

fn conflicts(v: &TestVault) -> Vec<Value> {
    v.json(&["conflicts", "--json"]).as_array().unwrap().clone()
}

#[test]
fn three_workers_converge_through_a_folder_and_only_assigned_ones_see_a_dossier() {
    let team = Team::new(&["w001", "w002", "w003"]);
    let (a, b, c) = (team.v("w001"), team.v("w002"), team.v("w003"));
    let id = a.add_client("Fenna de Vries");
    a.add_note(&id, &format!("Keukentafelgesprek {CANARY}"));
    assert_eq!(show(a, &id)["assigned"], serde_json::json!(["w001"]));
    a.cmd()
        .args(["client", "assign", &id, "w002"])
        .assert()
        .success();
    // An unknown worker is refused before anything changes.
    a.cmd()
        .args(["client", "assign", &id, "w999"])
        .assert()
        .code(2);

    let out = sync(a, team.dir());
    assert_eq!(out["exported"].as_array().unwrap().len(), 1);
    assert_eq!(
        out["exported"][0]["recipients"],
        serde_json::json!(["w001", "w002"])
    );
    for file in bundles(team.dir()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !contains(&bytes, CANARY.as_bytes()),
            "plaintext in a bundle"
        );
        assert!(!contains(&bytes, b"Fenna"), "a client name in a bundle");
    }

    // The worker not assigned sees nothing; the assigned one gets the dossier and its note.
    let out = sync(c, team.dir());
    assert_eq!(out["skipped"], 1);
    assert_eq!(c.json(&["client", "list", "--json"]), serde_json::json!([]));
    let out = sync(b, team.dir());
    assert_eq!(out["imported"][0]["result"]["clients_new"], 1);
    assert_eq!(show(b, &id)["name"], "Fenna de Vries");
    assert_eq!(notes(b, &id), notes(a, &id));

    // Offline: both change the phone number and write a note.
    a.cmd()
        .args(["client", "edit", &id, "--phone", "06-11111111"])
        .assert()
        .success();
    b.cmd()
        .args(["client", "edit", &id, "--phone", "06-22222222"])
        .assert()
        .success();
    b.cmd()
        .args(["client", "edit", &id, "--address", "Dorpsstraat 1"])
        .assert()
        .success();
    a.add_note(&id, "Notitie van A");
    b.add_note(&id, "Notitie van B");
    for v in [a, b, a] {
        sync(v, team.dir());
    }
    let (sa, sb) = (show(a, &id), show(b, &id));
    assert_eq!(sa, sb, "the two vaults disagree");
    assert_eq!(
        sa["address"], "Dorpsstraat 1",
        "a field only one worker changed is kept"
    );
    assert_eq!(notes(a, &id).len(), 3);
    assert_eq!(notes(a, &id), notes(b, &id));
    // The losing phone number is kept and listed, the same in both vaults.
    let (ca, cb) = (conflicts(a), conflicts(b));
    assert_eq!(ca.len(), 1, "{ca:?}");
    assert_eq!(ca, cb);
    let shown = ca[0]["shown"]["value"].as_str().unwrap();
    let other = ca[0]["other"]["value"].as_str().unwrap();
    assert_eq!(sa["phone"], shown);
    assert_ne!(shown, other);

    // B takes the other value; after a sync it stands everywhere and the conflict is gone.
    b.cmd()
        .args(["conflicts", "choose", ca[0]["id"].as_str().unwrap()])
        .assert()
        .success();
    sync(b, team.dir());
    sync(a, team.dir());
    assert_eq!(show(a, &id)["phone"], other);
    assert!(conflicts(a).is_empty() && conflicts(b).is_empty());

    // Looking at a dossier is an access log entry that travels with it: one more round
    // carries the views above. After that, nothing is new.
    for v in [a, b, a] {
        sync(v, team.dir());
    }
    // A sync with nothing new writes nothing and reads nothing it handled before.
    let before = bundles(team.dir()).len();
    let out = sync(a, team.dir());
    assert_eq!(out["exported"], serde_json::json!([]));
    assert_eq!(out["imported"], serde_json::json!([]));
    assert_eq!(bundles(team.dir()).len(), before);
    assert_eq!(out["known"].as_u64().unwrap() as usize, before);

    // C is assigned later and receives the whole history.
    a.cmd()
        .args(["client", "assign", &id, "w003"])
        .assert()
        .success();
    sync(a, team.dir());
    sync(c, team.dir());
    assert_eq!(show(c, &id), show(a, &id));
    assert_eq!(notes(c, &id), notes(a, &id));

    // The roster rotates: C is revoked; A's next export goes to A and B only.
    it().args(["org", "revoke", "--dir"])
        .arg(&team.org.dir)
        .args(["w003", "--reason", "andere functie"])
        .assert()
        .success();
    team.roll_roster(&team.workers[..2]);
    a.cmd()
        .args(["client", "edit", &id, "--phone", "06-33333333"])
        .assert()
        .success();
    let out = sync(a, team.dir());
    assert_eq!(
        out["exported"][0]["recipients"],
        serde_json::json!(["w001", "w002"])
    );
    let out = sync(c, team.dir());
    assert_eq!(out["imported"], serde_json::json!([]));
    assert_ne!(show(c, &id)["phone"], "06-33333333");
    // That view came after the revocation; C's next sync sends it. (The views before it may
    // have been a second or more before the revocation on a busy machine: those count.)
    sync(c, team.dir());

    // C, revoked but not yet told, sent the access log entry of its view above: A refuses
    // that bundle (exit 4) and remembers it.
    let out = a
        .cmd()
        .args(["sync", team.dir().to_str().unwrap(), "--json"])
        .assert()
        .code(4);
    assert!(stdout(out.get_output()).contains("revoked"));
    // Known bundles are recognised by name and never read again: garbling one goes unnoticed
    // by a worker who handled it, and is refused by one who did not.
    let all = bundles(team.dir());
    std::fs::write(&all[0], b"garbled").unwrap();
    let out = sync(a, team.dir());
    assert_eq!(out["refused"], serde_json::json!([]));
    let handled = out["known"].as_u64().unwrap() + out["refused_before"].as_u64().unwrap();
    assert_eq!(handled as usize, all.len());
}

#[test]
fn tampered_misaddressed_replayed_and_revoked_bundles_change_nothing() {
    let team = Team::new(&["w001", "w002", "w003"]);
    let (a, b) = (team.v("w001"), team.v("w002"));
    let id = a.add_client("Sem Bakker");
    a.cmd()
        .args(["client", "assign", &id, "w002"])
        .assert()
        .success();
    let first = export(a, team.dir());
    a.cmd()
        .args(["client", "edit", &id, "--name", "Sem Bakker-Jansen"])
        .assert()
        .success();
    let second = export(a, team.dir());
    assert_ne!(first, second);

    // A flipped byte anywhere (magic, header, signature, payload) is refused, exit 4, and
    // B's vault file is not touched.
    let bytes = std::fs::read(&second).unwrap();
    let before = std::fs::read(&b.path).unwrap();
    let evil = team.dir().join("evil");
    std::fs::create_dir(&evil).unwrap();
    for at in [
        3,
        40,
        bytes.iter().position(|b| *b == b'\n').unwrap() + 30,
        bytes.len() - 300,
        bytes.len() - 1,
    ] {
        let mut t = bytes.clone();
        t[at] ^= 0x04;
        let f = evil.join(format!("flip{at}.kluisb"));
        std::fs::write(&f, &t).unwrap();
        let out = b.cmd().arg("import").arg(&f).assert().code(4);
        assert!(stderr(out.get_output()).contains("refused"), "offset {at}");
        assert_eq!(std::fs::read(&b.path).unwrap(), before, "offset {at}");
    }
    // Truncated, and junk appended.
    std::fs::write(evil.join("cut.kluisb"), &bytes[..bytes.len() - 10]).unwrap();
    b.cmd()
        .arg("import")
        .arg(evil.join("cut.kluisb"))
        .assert()
        .code(4);
    let mut junk = bytes.clone();
    junk.extend_from_slice(b"junk");
    std::fs::write(evil.join("junk.kluisb"), &junk).unwrap();
    b.cmd()
        .arg("import")
        .arg(evil.join("junk.kluisb"))
        .assert()
        .code(4);

    // Out of order: the newer bundle first, then the older one. The newer name stays.
    b.cmd().arg("import").arg(&second).assert().success();
    b.cmd().arg("import").arg(&first).assert().success();
    assert_eq!(show(b, &id)["name"], "Sem Bakker-Jansen");
    // A replay changes nothing: not the vault file, not the data.
    let before = std::fs::read(&b.path).unwrap();
    let out = b.cmd().arg("import").arg(&first).assert().success();
    assert!(stdout(out.get_output()).contains("imported before"));
    assert_eq!(std::fs::read(&b.path).unwrap(), before);

    // C is not a recipient: `import` refuses it with exit 4.
    let c = team.v("w003");
    c.cmd().arg("import").arg(&first).assert().code(4);

    // IT revokes A; B gets the new roster; what A signs after that is refused, even in a
    // folder that B syncs (the rest of the folder is still merged). A revocation is recorded
    // to the second and counts from the start of that second (docs/sync-format.md), so A's
    // edits above must lie in an earlier second to stay: on a fast machine they did not.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    it().args(["org", "revoke", "--dir"])
        .arg(&team.org.dir)
        .args(["w001", "--reason", "laptop kwijt"])
        .assert()
        .success();
    let roster = team.dir().join("roster-new.json");
    team.org.roster(&roster);
    b.cmd()
        .args(["roster", "import"])
        .arg(&roster)
        .assert()
        .success();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    a.cmd()
        .args(["client", "edit", &id, "--phone", "06-66666666"])
        .assert()
        .success();
    let late = export(a, &evil);
    let out = b.cmd().arg("import").arg(&late).assert().code(4);
    assert!(stderr(out.get_output()).contains("revoked"));
    let out = b.cmd().args(["sync"]).arg(&evil).assert().code(4);
    assert!(stderr(out.get_output()).contains("revoked"));
    assert_eq!(show(b, &id)["phone"], Value::Null);
    // The bundles A wrote before the revocation were accepted and stay.
    assert_eq!(show(b, &id)["name"], "Sem Bakker-Jansen");
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new(require("git"))
        .current_dir(dir)
        .args([
            "-c",
            "user.name=kluis test",
            "-c",
            "user.email=test@example.org",
        ])
        .args(["-c", "init.defaultBranch=main", "-c", "pull.rebase=false"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn workers_sync_through_clones_of_a_bare_git_repository() {
    let team = Team::new(&["w001", "w002", "w003"]);
    let root = team.dir();
    let bare = root.join("team.git");
    git(root, &["init", "--bare", "-q", bare.to_str().unwrap()]);
    let mut clones = Vec::new();
    for (id, _) in &team.workers {
        let clone = root.join(format!("clone-{id}"));
        git(
            root,
            &[
                "clone",
                "-q",
                bare.to_str().unwrap(),
                clone.to_str().unwrap(),
            ],
        );
        std::fs::create_dir_all(clone.join("bundles")).unwrap();
        clones.push(clone);
    }
    let round = |who: usize| {
        let (_, v) = &team.workers[who];
        let clone = &clones[who];
        // The first push into an empty repository has nothing to pull.
        let has_main = Command::new("git")
            .current_dir(clone)
            .args(["ls-remote", "--exit-code", "origin", "main"])
            .output()
            .unwrap()
            .status
            .success();
        if has_main {
            git(clone, &["pull", "-q", "--no-edit", "origin", "main"]);
        }
        sync(v, &clone.join("bundles"));
        git(clone, &["add", "-A"]);
        let dirty = !Command::new("git")
            .current_dir(clone)
            .args(["diff", "--cached", "--quiet"])
            .status()
            .unwrap()
            .success();
        if dirty {
            git(clone, &["commit", "-q", "-m", "kluis sync"]);
            git(clone, &["push", "-q", "origin", "HEAD:main"]);
        }
    };
    let (a, b, c) = (team.v("w001"), team.v("w002"), team.v("w003"));
    let id = a.add_client("Noor Visser");
    a.cmd()
        .args(["client", "assign", &id, "w002", "w003"])
        .assert()
        .success();
    round(0);
    round(1);
    round(2);
    // All three edit offline, then sync one after the other: git merges without conflicts
    // because every bundle is a new file under its own hash.
    a.add_note(&id, "A was er");
    b.add_note(&id, "B was er");
    c.cmd()
        .args(["client", "edit", &id, "--domain", "jeugd"])
        .assert()
        .success();
    for who in [0, 1, 2, 0, 1] {
        round(who);
    }
    let s = show(a, &id);
    assert_eq!(s, show(b, &id));
    assert_eq!(s, show(c, &id));
    assert_eq!(s["domain"], "jeugd");
    assert_eq!(notes(a, &id), ["A was er", "B was er"]);
    assert_eq!(notes(b, &id), notes(c, &id));
    assert_eq!(notes(a, &id), notes(c, &id));
}

#[test]
fn a_vault_outside_an_organisation_cannot_sync() {
    let v = TestVault::created();
    let dir = tempfile::tempdir().unwrap();
    let out = v.cmd().arg("sync").arg(dir.path()).assert().code(2);
    assert!(stderr(out.get_output()).contains("kluis init --enroll"));
    let id = v.add_client("Los Dossier");
    v.cmd()
        .args(["client", "assign", &id, "w001"])
        .assert()
        .code(2);
    v.cmd()
        .arg("sync")
        .arg(dir.path().join("missing"))
        .assert()
        .code(2);
}
