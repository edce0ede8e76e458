//! Issue 17, the share forgets: signed acknowledgements, authors removing their own bundles
//! once every current recipient acknowledged them, forged or planted acknowledgements that
//! remove nothing, and an erased client gone from every file in the share (scanned by
//! decrypting each file with every key the test holds, a revoked worker's too).

use std::path::{Path, PathBuf};

use kluis::secret::SecretString;
use serde_json::Value;

use crate::sync::{Team, bundles, sync};
use crate::{CANARY, PASS, TestVault};

/// A worker's device keys, read from their vault.
fn keys(v: &TestVault) -> (age::x25519::Identity, ed25519_dalek::SigningKey) {
    let pass = SecretString::from(PASS.to_owned());
    let opened = kluis::internals::read(&v.path, Some(&pass), None).unwrap();
    kluis::sync::raw::device_keys(&opened.store).unwrap()
}

/// The organisation key a vault pinned at enrollment.
fn pinned(v: &TestVault) -> String {
    let pass = SecretString::from(PASS.to_owned());
    let opened = kluis::internals::read(&v.path, Some(&pass), None).unwrap();
    kluis::internals::meta(&opened.store, "org_public_key")
        .unwrap()
        .unwrap()
}

fn ack_path(dir: &Path, worker: &str) -> PathBuf {
    dir.join(kluis::sync::ack_name(worker))
}

fn share(out: &Value) -> &Value {
    &out["share"]
}

/// Every bundle in `dir` that any of `ids` can open, as text: its payload as JSON and its
/// files' bytes decoded.
fn readable(dir: &Path, ids: &[age::x25519::Identity]) -> Vec<(PathBuf, String)> {
    use base64::Engine;
    let mut out = Vec::new();
    for path in bundles(dir) {
        let bytes = std::fs::read(&path).unwrap();
        for id in ids {
            if let Ok((_, payload)) = kluis::sync::raw::open(bytes.clone(), id) {
                let mut text = serde_json::to_string(&payload.ops).unwrap();
                text.push_str(&serde_json::to_string(&payload.notes).unwrap());
                for b in &payload.blobs {
                    let data = base64::prelude::BASE64_STANDARD.decode(&b.data).unwrap();
                    text.push_str(&String::from_utf8_lossy(&data));
                }
                out.push((path.clone(), text));
                break;
            }
        }
    }
    out
}

fn holds(dir: &Path, ids: &[age::x25519::Identity], needle: &str) -> usize {
    readable(dir, ids)
        .iter()
        .filter(|(_, t)| t.contains(needle))
        .count()
}

fn new_client(v: &TestVault, name: &str) -> String {
    let out = v
        .cmd()
        .args(["client", "add", "--name", name, "--domain", "jeugd"])
        .args(["--opened-on", "1999-05-01"])
        .assert()
        .success();
    crate::stdout(out.get_output()).trim().to_owned()
}

fn assign(v: &TestVault, client: &str, workers: &[&str]) {
    v.cmd()
        .args(["client", "assign", client])
        .args(workers)
        .assert()
        .success();
}

/// A bundle leaves the share once every current recipient has acknowledged it, removed by
/// its author and only by its author; a colleague who has not synced holds it up, and says
/// so; the dossier stays with everyone.
#[test]
fn an_acknowledged_bundle_is_removed_by_its_author_and_no_sooner() {
    let team = Team::new(&["w001", "w002", "w003"]);
    let (a, b, c) = (team.v("w001"), team.v("w002"), team.v("w003"));
    let x = a.add_client("Ada Gedeeld");
    a.add_note(&x, "eerste gesprek");
    assign(a, &x, &["w002", "w003"]);
    let out = sync(a, team.dir());
    assert_eq!(out["exported"].as_array().unwrap().len(), 1, "{out}");
    let written = bundles(team.dir());
    assert_eq!(written.len(), 1);
    // w002 merges it and acknowledges it; the author keeps it, w003 has not merged it.
    let out = sync(b, team.dir());
    assert_eq!(share(&out)["ack_published"], true, "{out}");
    assert_eq!(share(&out)["acked"], 1, "{out}");
    assert!(ack_path(team.dir(), "w002").is_file());
    let out = sync(a, team.dir());
    assert_eq!(out["summary"]["share"]["removed"], 0, "{out}");
    assert_eq!(out["summary"]["share"]["waiting"], 1, "{out}");
    assert_eq!(
        share(&out)["waiting_on"],
        serde_json::json!({"w003": 1}),
        "{out}"
    );
    assert!(written[0].exists());
    // w002 never removes a bundle it did not write, whatever the acknowledgements say.
    let out = sync(c, team.dir());
    assert_eq!(share(&out)["acked"], 1, "{out}");
    let out = sync(b, team.dir());
    assert_eq!(out["summary"]["share"]["removed"], 0, "{out}");
    assert!(written[0].exists());
    let out = sync(a, team.dir());
    assert_eq!(out["summary"]["share"]["removed"], 1, "{out}");
    assert_eq!(out["summary"]["share"]["acks_read"], 2, "{out}");
    assert!(!written[0].exists());
    for v in [b, c] {
        v.cmd().args(["client", "show", &x]).assert().success();
    }
    // The people's report names it in both languages.
    let out = a
        .cmd()
        .env("KLUIS_LANG", "nl")
        .args(["sync", team.dir().to_str().unwrap()])
        .assert()
        .success();
    assert!(crate::stderr(out.get_output()).contains("Gedeelde map: ontvangstbevestiging"));
}

/// Acknowledgements that must not make an author remove a bundle a colleague has not
/// merged: one signed by another member in w003's name, one with w003's name and key but
/// another's signature, w002's genuine file copied to w003's name, a link to it, a FIFO,
/// and a half-written one. Each is ignored with a counted warning (exit 0), never blocks,
/// and the bundle stays until w003's own acknowledgement arrives.
#[test]
fn forged_planted_and_half_written_acknowledgements_remove_nothing() {
    let team = Team::new(&["w001", "w002", "w003"]);
    let (a, b, c) = (team.v("w001"), team.v("w002"), team.v("w003"));
    let x = a.add_client("Bea Gedeeld");
    assign(a, &x, &["w002", "w003"]);
    sync(a, team.dir());
    let written = bundles(team.dir());
    let hash = written[0].file_stem().unwrap().to_str().unwrap().to_owned();
    sync(b, team.dir());
    let pinned = pinned(a);
    let (_, b_sign) = keys(b);
    let (_, c_sign) = keys(c);
    use base64::Engine;
    let c_key = base64::prelude::BASE64_STANDARD.encode(c_sign.verifying_key().to_bytes());
    let b_key = base64::prelude::BASE64_STANDARD.encode(b_sign.verifying_key().to_bytes());
    let target = ack_path(team.dir(), "w003");
    let genuine_b = std::fs::read(ack_path(team.dir(), "w002")).unwrap();
    let forged_own_key =
        kluis::sync::raw::ack_file(&b_sign, "w003", &b_key, &pinned, vec![hash.clone()]).unwrap();
    let forged_their_key =
        kluis::sync::raw::ack_file(&b_sign, "w003", &c_key, &pinned, vec![hash.clone()]).unwrap();
    let genuine_c =
        kluis::sync::raw::ack_file(&c_sign, "w003", &c_key, &pinned, vec![hash.clone()]).unwrap();
    let plant = |what: &dyn Fn(&Path)| {
        let _ = std::fs::remove_file(&target);
        what(&target);
        let (code, out, _) = crate::share::sync_watched(a, team.dir());
        assert_eq!(code, Some(0), "{out}");
        assert_eq!(out["summary"]["share"]["removed"], 0, "{out}");
        assert!(written[0].exists());
        out
    };
    for bytes in [
        forged_own_key.clone(),
        forged_their_key.clone(),
        genuine_b.clone(),
        genuine_c[..genuine_c.len() - 5].to_vec(),
    ] {
        let out = plant(&|p: &Path| std::fs::write(p, &bytes).unwrap());
        assert_eq!(out["summary"]["share"]["acks_ignored"], 1, "{out}");
    }
    let link_to = ack_path(team.dir(), "w002");
    let out = plant(&|p: &Path| std::os::unix::fs::symlink(&link_to, p).unwrap());
    assert_eq!(out["summary"]["share"]["acks_ignored"], 1, "{out}");
    let out = plant(&|p: &Path| {
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    });
    assert_eq!(out["summary"]["share"]["acks_ignored"], 1, "{out}");
    // The people's report warns in both languages.
    let out = a
        .cmd()
        .env("KLUIS_LANG", "en")
        .args(["sync", team.dir().to_str().unwrap()])
        .assert()
        .success();
    assert!(crate::stderr(out.get_output()).contains("does not count"));
    // w003's genuine acknowledgement (its vault's own publish replaces the FIFO).
    let out = sync(c, team.dir());
    assert_eq!(share(&out)["ack_published"], true, "{out}");
    let out = sync(a, team.dir());
    assert_eq!(out["summary"]["share"]["removed"], 1, "{out}");
    assert!(!written[0].exists());
}

/// After an erasure, the vaults that applied it rewrite their own bundles without the
/// erased client (the other dossiers stay for the colleague who has not merged them yet)
/// or remove them: no file in the share decrypts into the erased client's note or
/// attachment, with any key the test holds, the revoked worker's included, while the
/// control dossier is still readable there.
#[test]
fn an_erased_client_leaves_every_file_in_the_share() {
    let team = Team::new(&["w001", "w002", "w003", "w004"]);
    let (a, b, c, d) = (
        team.v("w001"),
        team.v("w002"),
        team.v("w003"),
        team.v("w004"),
    );
    let control = format!("CONTROLE-{}", &CANARY[8..]);
    let x = new_client(a, "Xandra Gewist");
    let y = new_client(a, "Yvo Blijft");
    a.cmd()
        .args([
            "note",
            "add",
            &x,
            "--at",
            "2000-06-01",
            "--special",
            "--text",
        ])
        .arg(format!("medisch {CANARY}"))
        .assert()
        .success();
    let letter = a.dir.path().join("brief.txt");
    std::fs::write(&letter, format!("Brief {CANARY}")).unwrap();
    a.cmd()
        .args(["attach", "add", &x])
        .arg(&letter)
        .assert()
        .success();
    a.cmd()
        .args(["note", "add", &y, "--at", "2000-06-01", "--text"])
        .arg(format!("notitie {control}"))
        .assert()
        .success();
    for id in [&x, &y] {
        assign(a, id, &["w002", "w003", "w004"]);
    }
    sync(a, team.dir());
    // w004 does not sync again: it holds every bundle up (also the first, with the special
    // note and the file; a set that only lost a member after the revocation below is sent
    // nothing again, so that first bundle is what must be rewritten).
    for v in [b, c] {
        sync(v, team.dir());
    }
    b.cmd()
        .args(["note", "add", &x, "--at", "2000-07-01", "--text"])
        .arg(format!("van w002 {CANARY}"))
        .assert()
        .success();
    sync(b, team.dir());
    sync(c, team.dir());
    // IT revokes w003; the test keeps its keys.
    crate::org::it()
        .args(["org", "revoke", "--dir"])
        .arg(&team.org.dir)
        .args(["w003", "--reason", "vertrokken"])
        .assert()
        .success();
    team.org.publish(team.dir());
    let ids: Vec<_> = [a, b, c, d].iter().map(|v| keys(v).0).collect();
    for v in [a, b] {
        sync(v, team.dir());
    }
    assert!(
        holds(team.dir(), &ids, CANARY) >= 2,
        "control: the scan sees it"
    );
    assert!(holds(team.dir(), &ids, &control) >= 1);

    a.cmd()
        .args(["client", "close", &x, "--at", "2001-01-01"])
        .assert()
        .success();
    a.cmd()
        .args(["retention", "purge", "--client", &x, "--yes"])
        .assert()
        .success();
    let out = sync(a, team.dir());
    assert!(
        out["summary"]["share"]["rewritten"].as_u64().unwrap() >= 1,
        "{out}"
    );
    let out = sync(b, team.dir());
    assert_eq!(out["erased"], 1, "{out}");
    assert!(
        out["summary"]["share"]["rewritten"].as_u64().unwrap() >= 1,
        "{out}"
    );
    assert_eq!(
        holds(team.dir(), &ids, CANARY),
        0,
        "{:?}",
        readable(team.dir(), &ids)
            .iter()
            .filter(|(_, t)| t.contains(CANARY))
            .map(|(p, _)| p)
            .collect::<Vec<_>>()
    );
    assert!(
        holds(team.dir(), &ids, &control) >= 1,
        "the control stays for w004"
    );
    // w004, who never synced since it enrolled, still gets the control dossier's note from
    // the share.
    sync(d, team.dir());
    let notes = d.json(&["note", "list", &y, "--json"]);
    assert!(notes.to_string().contains(&control), "{notes}");
    d.cmd().args(["client", "show", &x]).assert().failure();
}

/// A colleague who is unassigned is no recipient any more, yet learns it: the op that
/// unassigned them reaches them (alone, once), so the two vaults agree on who is assigned
/// and the unassigned worker stops sending to a dossier that is no longer theirs.
#[test]
fn an_unassigned_colleague_learns_it() {
    let team = Team::new(&["w001", "w002"]);
    let (a, b) = (team.v("w001"), team.v("w002"));
    let x = a.add_client("Cas Overgedragen");
    assign(a, &x, &["w002"]);
    sync(a, team.dir());
    sync(b, team.dir());
    a.cmd()
        .args(["client", "unassign", &x, "w002"])
        .assert()
        .success();
    let out = sync(a, team.dir());
    let to: Vec<&Value> = out["exported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["recipients"])
        .collect();
    assert_eq!(to, [&serde_json::json!(["w002"])], "{out}");
    sync(b, team.dir());
    let shown = |v: &TestVault| v.json(&["client", "show", &x, "--json"])["assigned"].clone();
    assert_eq!(shown(b), serde_json::json!(["w001"]));
    assert_eq!(shown(a), shown(b));
    // Told once: the next syncs send nothing more to w002 about it.
    let out = sync(a, team.dir());
    assert!(out["exported"].as_array().unwrap().is_empty(), "{out}");
}

/// A bundle written by a kluis before it recorded what it writes (schema v12) is adopted
/// from its header (signed by this device) and leaves once acknowledged like any other.
#[test]
fn a_bundle_from_before_the_record_leaves_once_acknowledged() {
    let team = Team::new(&["w001", "w002"]);
    let (a, b) = (team.v("w001"), team.v("w002"));
    let x = a.add_client("Dirk Vroeger");
    assign(a, &x, &["w002"]);
    sync(a, team.dir());
    let written = bundles(team.dir());
    assert_eq!(written.len(), 1);
    // As an older kluis left it: no record of the file.
    a.compact();
    let pass = SecretString::from(PASS.to_owned());
    let mut opened = kluis::internals::read(&a.path, Some(&pass), None).unwrap();
    kluis::internals::connection(&opened.store)
        .execute("DELETE FROM share_file", [])
        .unwrap();
    kluis::internals::write(
        &a.path,
        &mut opened.store,
        &opened.key,
        &[],
        kluis::vault::Place::Replace(opened.stamp),
    )
    .unwrap();
    drop(opened);
    let out = sync(a, team.dir());
    assert_eq!(out["summary"]["share"]["waiting"], 1, "{out}");
    sync(b, team.dir());
    let out = sync(a, team.dir());
    assert_eq!(out["summary"]["share"]["removed"], 1, "{out}");
    assert!(!written[0].exists());
}

/// The access log's head stays anchored in the share once the worker's bundles have left
/// it: the acknowledgement carries it, signed, so entries cut from the end still show.
#[test]
fn entries_cut_from_the_log_show_against_the_acknowledgement_once_the_bundles_left() {
    let team = Team::new(&["w001", "w002"]);
    let (a, b) = (team.v("w001"), team.v("w002"));
    let x = a.add_client("Logboek Weg");
    assign(a, &x, &["w002"]);
    for _ in 0..3 {
        a.cmd().args(["client", "show", &x]).assert().success();
    }
    sync(a, team.dir());
    sync(b, team.dir());
    let out = sync(a, team.dir());
    assert_eq!(out["summary"]["share"]["removed"], 1, "{out}");
    let mine = |v: &Value| v["exported"].as_array().unwrap().len();
    assert_eq!(mine(&out), 0, "{out}");
    assert!(bundles(team.dir()).is_empty(), "{:?}", bundles(team.dir()));
    let share = team.dir().to_str().unwrap();
    let head = a.json(&["audit", "verify", "--share", share, "--json"]);
    let highest = head["share"]["highest"].as_u64().unwrap();
    assert!(highest > 3, "{head}");
    crate::trust::cut_log(a, highest - 1);
    a.cmd()
        .args(["audit", "verify", "--share", share])
        .assert()
        .code(4);
}

/// A lost laptop never syncs again: its bundles are removed by the worker's new device (IT
/// issued the id again) once every current recipient acknowledged them, and no sooner;
/// its acknowledgement is replaced by the new device's; the new device's log is not
/// compared with the old device's heads.
#[test]
fn a_lost_laptops_bundles_leave_through_the_new_device_once_acknowledged() {
    use crate::org::{enroll, it};
    let team = Team::new(&["w001", "w002", "w003"]);
    let (old, b, c) = (team.v("w001"), team.v("w002"), team.v("w003"));
    let x = old.add_client("Ada Laptop");
    old.add_note(&x, CANARY);
    assign(old, &x, &["w002", "w003"]);
    sync(old, team.dir());
    let written = bundles(team.dir());
    assert_eq!(written.len(), 1);
    let y = b.add_client("Bob Collega");
    assign(b, &y, &["w001"]);

    // The laptop is lost: IT issues w001 again and admits the new device.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("w001-nieuw.enroll");
    let out = it()
        .args(["org", "reissue", "--dir"])
        .arg(&team.org.dir)
        .args(["--id", "w001", "--out"])
        .arg(&file)
        .args(crate::WEAK_KDF)
        .assert()
        .success();
    let code = crate::stdout(out.get_output())
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let new = TestVault::empty();
    enroll(&new, &file, &code).success();
    sync(&new, team.dir());
    team.org.admit(team.dir()).success();
    let out = sync(&new, team.dir());
    assert_eq!(out["admitted"], true, "{out}");
    // Not acknowledged by w002 and w003 yet: it stays.
    assert!(written[0].exists());
    assert_eq!(out["summary"]["share"]["waiting"], 1, "{out}");
    let log = new.json(&[
        "audit",
        "verify",
        "--share",
        team.dir().to_str().unwrap(),
        "--json",
    ]);
    assert!(
        log["problems"].as_array().is_none_or(|p| p.is_empty()),
        "the old device's log heads are not the new device's: {log}"
    );
    // w002 merges it, sends the new device the history; w003 has not synced: it stays.
    sync(b, team.dir());
    let out = sync(&new, team.dir());
    assert!(written[0].exists(), "{out}");
    assert_eq!(show(&new, &x)["name"], "Ada Laptop");
    assert_eq!(share(&out)["waiting_on"]["w003"], 1, "{out}");
    sync(c, team.dir());
    let out = sync(&new, team.dir());
    assert!(!written[0].exists(), "{out}");
    assert!(
        out["summary"]["share"]["removed"].as_u64().unwrap() >= 1,
        "{out}"
    );
    // The acknowledgement under w001's name is the new device's now, and counts.
    let out = sync(b, team.dir());
    assert_eq!(share(&out)["acks_ignored"], serde_json::json!([]), "{out}");
    // Everyone synced: no bundle is left, and none that any key opens holds the note.
    for _ in 0..2 {
        for v in [&new, b, c] {
            sync(v, team.dir());
        }
    }
    assert_eq!(bundles(team.dir()), Vec::<PathBuf>::new());
    let ids = [keys(old).0, keys(&new).0, keys(b).0, keys(c).0];
    assert_eq!(holds(team.dir(), &ids, CANARY), 0);
}

fn show(v: &TestVault, id: &str) -> Value {
    v.json(&["client", "show", id, "--json"])
}

/// A colleague assigned later gets the dossier's history once: the member who assigned
/// them sends it; a member who merged that before its own export sends only what it lacked
/// (here a note the assigner had not merged yet), never the whole history again; and no
/// edit is lost to the newcomer.
#[test]
fn a_new_assignee_gets_the_history_once_and_every_edit() {
    let team = Team::new(&["w001", "w002", "w003"]);
    let (a, b, c) = (team.v("w001"), team.v("w002"), team.v("w003"));
    let x = new_client(a, "Ada Geschiedenis");
    for i in 0..5 {
        a.add_note(&x, &format!("gesprek {i}"));
    }
    assign(a, &x, &["w002"]);
    sync(a, team.dir());
    sync(b, team.dir());
    // w002 writes a note, not synced yet; w001 assigns w003 and sends the history without it.
    b.add_note(&x, "notitie van w002 die w001 nog niet had");
    assign(a, &x, &["w003"]);
    let out = sync(a, team.dir());
    let to_new = |out: &Value| -> Vec<Value> {
        out["exported"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["recipients"] == serde_json::json!(["w001", "w002", "w003"]))
            .cloned()
            .collect()
    };
    let snapshot = to_new(&out);
    assert_eq!(snapshot.len(), 1, "{out}");
    let history = snapshot[0]["ops"].as_u64().unwrap();
    // w002 merges the snapshot, then sends the new set only what it lacked.
    let out = sync(b, team.dir());
    let sent: u64 = to_new(&out)
        .iter()
        .map(|e| e["ops"].as_u64().unwrap())
        .sum();
    assert!(sent >= 1, "w002's note must reach w003: {out}");
    assert!(
        sent * 3 < history,
        "w002 sent {sent} ops again where the history has {history}: {out}"
    );
    // w003 merges both and sends the set nothing it already had; it has every note,
    // w002's included.
    sync(c, team.dir());
    let out = sync(c, team.dir());
    assert!(to_new(&out).is_empty(), "{out}");
    let notes = c.json(&["note", "list", &x, "--json"]);
    let bodies = notes.to_string();
    assert!(bodies.contains("nog niet had"), "{notes}");
    for i in 0..5 {
        assert!(bodies.contains(&format!("gesprek {i}")), "{notes}");
    }
}
