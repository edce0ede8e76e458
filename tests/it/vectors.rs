//! The vault test vectors in tests/data: good_* open and hold what their .expect says;
//! fail_<code>_* are refused with that exit code and left untouched.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{TestVault, kluis, require, stderr};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn vectors(prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kluis"))
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    v.sort();
    v
}

/// Copies a vector into a temp dir so kluis's lock file never lands in the source tree.
fn staged(vector: &Path) -> TestVault {
    let v = TestVault::empty();
    std::fs::copy(vector, &v.path).unwrap();
    v
}

fn run(v: &TestVault, args: &[&str]) -> std::process::Output {
    kluis()
        .arg("--vault")
        .arg(&v.path)
        .arg("--passphrase-file")
        .arg(data_dir().join("passphrase.txt"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn good_vectors_open_and_hold_their_clients() {
    let goods = vectors("good_");
    assert!(goods.len() >= 3);
    for vector in goods {
        let v = staged(&vector);
        let out = run(&v, &["check"]);
        assert!(
            out.status.success(),
            "{}: {}",
            vector.display(),
            stderr(&out)
        );
        let out = run(&v, &["client", "list", "--json"]);
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut names: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        let expect = std::fs::read_to_string(vector.with_extension("expect")).unwrap();
        assert_eq!(
            names,
            expect.lines().collect::<Vec<_>>(),
            "{}",
            vector.display()
        );
    }
}

#[test]
fn fail_vectors_are_refused_with_their_exit_code_and_left_untouched() {
    let fails = vectors("fail_");
    assert!(fails.len() >= 15);
    for vector in fails {
        let name = vector.file_name().unwrap().to_string_lossy().into_owned();
        let code: i32 = name
            .split('_')
            .nth(1)
            .unwrap()
            .parse()
            .expect("fail_<code>_name");
        let v = staged(&vector);
        for args in [&["check"][..], &["client", "add", "--name", "X"]] {
            let out = run(&v, args);
            assert_eq!(
                out.status.code(),
                Some(code),
                "{name} {args:?}: {}",
                stderr(&out)
            );
            assert!(
                !stderr(&out).contains("panicked"),
                "{name}: {}",
                stderr(&out)
            );
        }
        assert_eq!(
            std::fs::read(&v.path).unwrap(),
            std::fs::read(&vector).unwrap(),
            "{name} was changed"
        );
        let mut left: Vec<String> = std::fs::read_dir(v.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["vault.kluis", "vault.kluis.lock"], "{name}");
    }
}

#[test]
fn the_recovery_vector_opens_with_stock_age() {
    let out = Command::new(require("age"))
        .arg("-d")
        .arg("-i")
        .arg(data_dir().join("recovery.key"))
        .arg(data_dir().join("good_recovery.kluis"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.starts_with(b"SQLite format 3\0"));
}

/// The bundle vectors' folder.
pub fn sync_dir() -> PathBuf {
    data_dir().join("sync")
}

/// Worker w002's fixed test device keys: (X25519 identity, Ed25519 secret).
fn w002_keys() -> (age::x25519::Identity, ed25519_dalek::SigningKey) {
    let keys: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sync_dir().join("w002.keys.json")).unwrap()).unwrap();
    let x = keys["x25519"].as_str().unwrap().parse().unwrap();
    let secret: [u8; 32] = base64_decode(keys["ed25519"].as_str().unwrap())
        .try_into()
        .unwrap();
    (x, ed25519_dalek::SigningKey::from_bytes(&secret))
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::prelude::BASE64_STANDARD.decode(s).unwrap()
}

/// A vault of worker w002 of the vector organisation, holding its final roster. Its device
/// keys are the vectors' fixed test keys (a real enrollment makes new ones), so that the
/// vectors' bundles, encrypted to them, open.
pub fn bundle_recipient() -> TestVault {
    let dir = sync_dir();
    let v = TestVault::empty();
    let code = std::fs::read_to_string(dir.join("w002.code")).unwrap();
    let code = kluis::secret::SecretString::from(code.trim().to_owned());
    let file = std::fs::read(dir.join("w002.enroll")).unwrap();
    let e = kluis::org::open_enrollment(&file, &code, &dir).unwrap();
    let (x, sk) = w002_keys();
    let pass = kluis::secret::SecretString::from(crate::PASS.to_owned());
    kluis::internals::create_enrolled_with_keys(&v.path, &pass, WEAK, &e, &x, &sk)
        .unwrap()
        .close()
        .unwrap();
    v.cmd()
        .args(["roster", "import"])
        .arg(dir.join("roster.json"))
        .assert()
        .success();
    v
}

const WEAK: kluis::vault::KdfParams = kluis::vault::KdfParams {
    memory_kib: 8 * 1024,
    iterations: 1,
    parallelism: 1,
};

fn bundle_vectors(prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(sync_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kluisb"))
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    v.sort();
    v
}

fn names(v: &TestVault) -> Vec<String> {
    v.json(&["client", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn good_bundle_vectors_merge_in_every_order_to_the_same_state() {
    let goods = bundle_vectors("good_");
    let goods: Vec<PathBuf> = goods
        .into_iter()
        .filter(|p| {
            !p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("good_v1")
        })
        .collect();
    assert_eq!(goods.len(), 3, "{goods:?}");
    let expect = std::fs::read_to_string(sync_dir().join("good.expect")).unwrap();
    let mut states = Vec::new();
    for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
        let v = bundle_recipient();
        for i in order {
            v.cmd().arg("import").arg(&goods[i]).assert().success();
        }
        assert_eq!(names(&v), expect.lines().collect::<Vec<_>>());
        let list = v.json(&["client", "list", "--json"]);
        let id = list[0]["id"].as_str().unwrap().to_owned();
        states.push((
            v.json(&["client", "show", &id, "--json"]),
            v.json(&["note", "list", &id, "--json"]),
        ));
    }
    assert_eq!(states[0], states[1]);
    assert_eq!(states[0], states[2]);
}

#[test]
fn every_fail_bundle_vector_is_refused_and_changes_nothing() {
    let fails: Vec<PathBuf> = bundle_vectors("fail_4_");
    assert!(fails.len() >= 20, "{fails:?}");
    let v = bundle_recipient();
    let before = std::fs::read(&v.path).unwrap();
    for file in fails {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let out = v.cmd().arg("import").arg(&file).output().unwrap();
        assert_eq!(out.status.code(), Some(4), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains("refused"), "{name}: {}", stderr(&out));
        assert_eq!(
            std::fs::read(&v.path).unwrap(),
            before,
            "{name} changed the vault"
        );
    }
    assert_eq!(v.json(&["client", "list", "--json"]), serde_json::json!([]));
    // Listing is logged: the vault as it is now.
    let before = std::fs::read(&v.path).unwrap();
    // Rosters: an older one (a rollback), a changed one, another organisation's.
    let rosters: Vec<PathBuf> = std::fs::read_dir(sync_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kluisroster"))
        .collect();
    assert_eq!(rosters.len(), 3, "{rosters:?}");
    for file in rosters {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("fail_4_"), "{name}");
        let out = v
            .cmd()
            .args(["roster", "import"])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "{name}: {}", stderr(&out));
        assert_eq!(std::fs::read(&v.path).unwrap(), before, "{name}");
    }
}

/// Each refusal for its own reason: the message says which (so a vector cannot pass by
/// failing some other check).
#[test]
fn each_fail_bundle_vector_is_refused_for_its_own_reason() {
    let v = bundle_recipient();
    for (name, reason) in [
        (
            "fail_4_forged_op_in_colleagues_name",
            "does not check out with a key",
        ),
        (
            "fail_4_op_under_anothers_seal",
            "carries no valid signature of theirs",
        ),
        ("fail_4_forged_creation", "which its author did not create"),
        (
            "fail_4_replayed_payload",
            "damaged or not in kluis's format",
        ),
        ("fail_4_revoked_author", "revoked"),
        ("fail_4_retired_device", "retired"),
        (
            "fail_4_clone_from_reused_enrollment",
            "not signed with a key your roster lists",
        ),
        ("fail_4_esc_in_note", "not valid"),
        ("fail_4_not_for_me", "not addressed to you"),
        ("fail_4_needs_newer_roster", "roster version"),
    ] {
        let out = v
            .cmd()
            .arg("import")
            .arg(sync_dir().join(format!("{name}.kluisb")))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "{name}");
        assert!(stderr(&out).contains(reason), "{name}: {}", stderr(&out));
    }
}

/// A forged creation refused first does not keep the genuine one out (issue 16, item 5).
#[test]
fn a_forged_creation_does_not_preempt_the_genuine_one() {
    let v = bundle_recipient();
    v.cmd()
        .arg("import")
        .arg(sync_dir().join("fail_4_forged_creation.kluisb"))
        .assert()
        .code(4);
    v.cmd()
        .arg("import")
        .arg(sync_dir().join("good_1_basic.kluisb"))
        .assert()
        .success();
    assert_eq!(names(&v), ["Vector Cliënt"]);
    let id = v.json(&["client", "list", "--json"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        v.json(&["client", "show", &id, "--json"])["assigned"],
        serde_json::json!(["w001", "w002"])
    );
}

/// A premature erasure is merged but not carried out: it waits, listed, and the dossier
/// stays (the file's name says what fails: the erasure).
#[test]
fn a_premature_erasure_vector_is_held_and_the_dossier_stays() {
    let v = bundle_recipient();
    v.cmd()
        .arg("import")
        .arg(sync_dir().join("good_1_basic.kluisb"))
        .assert()
        .success();
    let out = v
        .cmd()
        .arg("import")
        .arg(sync_dir().join("fail_held_premature_tombstone.kluisb"))
        .assert()
        .success();
    assert!(
        stderr(out.get_output()).contains("is held: the dossier is open here"),
        "{}",
        stderr(out.get_output())
    );
    assert_eq!(names(&v), ["Vector Cliënt"]);
}

/// Bundles of the older format are still read; only what their signer wrote counts.
#[test]
fn older_format_vectors_count_only_what_their_signer_wrote() {
    let v = bundle_recipient();
    let out = v.json(&[
        "import",
        sync_dir()
            .join("good_v1_forwarded.kluisb")
            .to_str()
            .unwrap(),
        "--json",
    ]);
    assert_eq!(out[0]["result"]["outcome"], "merged", "{out}");
    assert!(out[0]["result"]["left_out"].as_u64().unwrap() > 0, "{out}");
    assert_eq!(out[0]["result"]["ops_new"], 0, "{out}");
    assert!(names(&v).is_empty());
    v.cmd()
        .arg("import")
        .arg(sync_dir().join("good_v1_own.kluisb"))
        .assert()
        .success();
    assert_eq!(names(&v), ["Vector Cliënt"]);
}

/// The text vectors' twin without control characters imports: they are refused for their
/// text only.
#[test]
fn the_clean_twin_of_the_text_vectors_imports() {
    let v = bundle_recipient();
    v.cmd()
        .arg("import")
        .arg(sync_dir().join("twin_clean.kluisb"))
        .assert()
        .success();
    assert_eq!(names(&v), ["Vector Cliënt"]);
}

/// Writes the bundle vectors into tests/data/sync: `KLUIS_WRITE_VECTORS=1 cargo test
/// --locked --test it vectors::make_bundle_vectors -- --ignored`. Only on a deliberate
/// format change; say so in the commit.
#[test]
#[ignore = "writes tests/data/sync; run on purpose"]
fn make_bundle_vectors() {
    if std::env::var_os("KLUIS_WRITE_VECTORS").is_none() {
        return;
    }
    make::all(&sync_dir());
}

mod make {
    use std::collections::BTreeMap;
    use std::path::Path;

    use base64::Engine;
    use base64::prelude::BASE64_STANDARD;
    use ed25519_dalek::SigningKey;
    use kluis::merge::Op;
    use kluis::org;
    use kluis::secret::SecretString;
    use kluis::session::{Access, Session};
    use kluis::sync::raw;
    use kluis::sync::{Header, Payload, Version};

    use super::WEAK;

    const IT_PASS: &str = "Rood-Paard-Zeilboot-Kaasschaaf-19";

    struct Worker {
        vault: std::path::PathBuf,
        x: age::x25519::Identity,
        sk: SigningKey,
    }

    fn pass() -> SecretString {
        SecretString::from(crate::PASS.to_owned())
    }

    fn it() -> SecretString {
        SecretString::from(IT_PASS.to_owned())
    }

    /// Issues and enrolls a device for `id`; returns its vault and keys, its enrollment
    /// file and code, and its request to IT.
    fn enroll(
        org_dir: &Path,
        tmp: &Path,
        id: &str,
        file: &[u8],
        code: &SecretString,
        tag: &str,
    ) -> (Worker, Vec<u8>) {
        let e = org::open_enrollment(file, code, tmp).unwrap();
        let x = age::x25519::Identity::generate();
        let sk = SigningKey::generate(&mut rand::rngs::OsRng);
        let vault = tmp.join(format!("{id}{tag}.kluis"));
        let s = kluis::internals::create_enrolled_with_keys(&vault, &pass(), WEAK, &e, &x, &sk)
            .unwrap();
        let request = kluis::internals::meta(kluis::internals::store(&s), "device_request")
            .unwrap()
            .unwrap();
        s.close().unwrap();
        let _ = org_dir;
        (Worker { vault, x, sk }, request.into_bytes())
    }

    fn issue(org_dir: &Path, id: &str) -> (Vec<u8>, SecretString) {
        org::issue(
            org_dir,
            &it(),
            &org::IssueRequest {
                id,
                name: &format!("Medewerker {id}"),
                teams: &["wijkteam".to_owned()],
                role: org::Role::Worker,
                valid_until: None,
                code_params: WEAK,
            },
        )
        .unwrap()
    }

    fn roster_file(org_dir: &Path, tmp: &Path, name: &str) -> std::path::PathBuf {
        let signed = org::signed_roster(org_dir, &it()).unwrap();
        let path = tmp.join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(&signed).unwrap()).unwrap();
        path
    }

    fn open(w: &Worker) -> Session {
        Session::open(&w.vault, &pass(), Access::Write).unwrap()
    }

    /// The one bundle an export into a fresh folder wrote.
    fn export(w: &Worker, tmp: &Path, name: &str, only: Option<&[String]>) -> Vec<u8> {
        let dir = tmp.join(name);
        std::fs::create_dir(&dir).unwrap();
        let mut s = open(w);
        let (written, _) = kluis::sync::export(&mut s, &dir, only).unwrap();
        s.close().unwrap();
        assert_eq!(written.len(), 1, "{name}");
        std::fs::read(&written[0].file).unwrap()
    }

    fn header(author: &str, roster_version: u64, org_key: &str, to: &[&str]) -> Header {
        Header {
            kind: String::new(),
            id: uuid_v7(),
            author: author.into(),
            seq: 1,
            created: kluis::model::now_utc(),
            roster_version,
            org_public_key: org_key.into(),
            recipients: to.iter().map(|s| s.to_string()).collect(),
            payload_sha256: String::new(),
            payload_len: 0,
            log_head: None,
        }
    }

    fn uuid_v7() -> String {
        kluis::store::new_id()
    }

    fn hlc_now(author: &str, n: u32) -> String {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        kluis::merge::format_hlc(ms, n, author)
    }

    fn op(client: &str, field: &str, value: Option<&str>, author: &str, n: u32) -> Op {
        Op {
            id: uuid_v7(),
            client: client.into(),
            field: field.into(),
            value: value.map(Into::into),
            prev: None,
            hlc: hlc_now(author, n),
            author: author.into(),
        }
    }

    fn recipient(w: &Worker) -> age::x25519::Recipient {
        w.x.to_public()
    }

    fn write(out: &Path, name: &str, bytes: &[u8]) {
        std::fs::write(out.join(name), bytes).unwrap();
    }

    fn flip(data: &[u8], at: usize) -> Vec<u8> {
        let mut b = data.to_vec();
        b[at] ^= 1;
        b
    }

    pub fn all(out: &Path) {
        let tmp = tempfile::tempdir().unwrap();
        let tmp = tmp.path();
        let org_dir = tmp.join("org");
        org::init(&org_dir, "Gemeente Vectoren", &it(), WEAK).unwrap();
        let org_key = org::load_state(&org_dir).unwrap().public_key;
        let mut workers: BTreeMap<&str, Worker> = BTreeMap::new();
        let mut requests = Vec::new();
        let mut w002_file = (Vec::new(), String::new());
        for id in ["w001", "w002", "w003", "w004", "w005"] {
            let (file, code) = issue(&org_dir, id);
            let (w, req) = enroll(&org_dir, tmp, id, &file, &code, "");
            requests.push((tmp.join(format!("{id}.kluisreq")), req));
            if id == "w002" {
                use age::secrecy::ExposeSecret;
                w002_file = (file, code.expose_secret().to_owned());
            }
            workers.insert(id, w);
        }
        let admitted = org::admit(&org_dir, &it(), &requests, None).unwrap();
        assert_eq!(admitted.admitted.len(), 5);
        let early = roster_file(&org_dir, tmp, "early.json");
        for w in workers.values() {
            let mut s = open(w);
            s.import_roster(&early).unwrap();
            s.close().unwrap();
        }
        // w001's dossier, assigned to w002 and w005.
        let w = &workers["w001"];
        let mut s = open(w);
        let id = s
            .change(|st| {
                let id = st.add_client(&kluis::model::NewClient {
                    name: "Vector Cliënt".into(),
                    bsn: None,
                    birth_date: None,
                    address: None,
                    phone: None,
                    domain: kluis::model::Domain::Wmo,
                    opened_on: chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
                })?;
                st.add_note(&kluis::model::NewNote {
                    client_id: id.clone(),
                    kind: kluis::model::NoteKind::Huisbezoek,
                    occurred_at: chrono::NaiveDate::from_ymd_opt(2026, 1, 6)
                        .unwrap()
                        .and_hms_opt(10, 0, 0)
                        .unwrap(),
                    body: "Eerste huisbezoek (testvector).".into(),
                    supersedes: None,
                    special: false,
                })?;
                st.assign(&id, "w002", true)?;
                Ok(id)
            })
            .unwrap();
        s.close().unwrap();
        let good_1 = export(w, tmp, "b1", None);
        let mut s = open(w);
        s.change(|st| {
            st.edit_client(
                &id,
                &kluis::model::ClientPatch {
                    name: Some("Vector Cliënt-Jansen".into()),
                    phone: Some(Some("06-12345678".into())),
                    ..Default::default()
                },
            )
        })
        .unwrap();
        let other = s
            .change(|st| {
                let other = st.add_client(&kluis::model::NewClient {
                    name: "Alleen Voor W005".into(),
                    bsn: None,
                    birth_date: None,
                    address: None,
                    phone: None,
                    domain: kluis::model::Domain::Overig,
                    opened_on: chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
                })?;
                st.assign(&other, "w005", true)?;
                Ok(other)
            })
            .unwrap();
        s.close().unwrap();
        let good_2 = export(w, tmp, "b2", Some(std::slice::from_ref(&id)));
        let not_for_me = export(w, tmp, "b3", Some(std::slice::from_ref(&other)));
        let w002 = &workers["w002"];
        let (h1, p1) = raw::open(good_1.clone(), &w002.x).unwrap();
        let (_, p2) = raw::open(good_2.clone(), &w002.x).unwrap();
        let roster_now = h1.roster_version;
        let to_w002 = [recipient(w002)];
        let signed = |version: Version, by: &str, h: Header, p: &Payload| {
            raw::write(version, &workers[by].sk, h, p, &to_w002).unwrap()
        };
        let payload = |ops: Vec<Op>,
                       notes: Vec<kluis::store::NoteRow>,
                       seals: Vec<kluis::sync::Seal>,
                       version: Version,
                       h: &Header| Payload {
            kind: raw::payload_kind(version),
            bundle: h.id.clone(),
            ops,
            notes,
            blobs: Vec::new(),
            seals,
        };
        // w005 forwards w001's ops (both bundles) to w002: every op keeps w001's seal.
        let h = header("w005", roster_now, &org_key, &["w002", "w005"]);
        let all_ops: Vec<Op> = p1.ops.iter().chain(&p2.ops).cloned().collect();
        let all_notes: Vec<_> = p1.notes.iter().chain(&p2.notes).cloned().collect();
        let all_seals: Vec<_> = p1.seals.iter().chain(&p2.seals).cloned().collect();
        let p = payload(
            all_ops.clone(),
            all_notes.clone(),
            all_seals.clone(),
            Version::V2,
            &h,
        );
        let good_3 = signed(Version::V2, "w005", h, &p);
        // w005 writes a change in w001's name: its own key over a seal that says w001.
        let forged = op(&id, "phone", Some("06-66666666"), "w001", 0);
        let h = header("w005", roster_now, &org_key, &["w002", "w005"]);
        let mut seals = p1.seals.clone();
        seals.push(raw::seal(
            &workers["w005"].sk,
            "w001",
            &id,
            std::slice::from_ref(&forged),
        ));
        let mut ops = p1.ops.clone();
        ops.push(forged.clone());
        let p = payload(ops.clone(), p1.notes.clone(), seals, Version::V2, &h);
        let forged_in_name = signed(Version::V2, "w005", h, &p);
        // ... or under a seal of its own, which covers the op but names w005.
        let h = header("w005", roster_now, &org_key, &["w002", "w005"]);
        let mut seals = p1.seals.clone();
        seals.push(raw::seal(
            &workers["w005"].sk,
            "w005",
            &id,
            std::slice::from_ref(&forged),
        ));
        let p = payload(ops, p1.notes.clone(), seals, Version::V2, &h);
        let under_anothers_seal = signed(Version::V2, "w005", h, &p);
        // w005 claims to create w001's dossier (sealed properly, as w005).
        let mut creation = p1
            .ops
            .iter()
            .filter(|o| kluis::merge::is_register(&o.field) && !o.field.starts_with("assign/"))
            .cloned()
            .map(|mut o| {
                o.id = uuid_v7();
                o.author = "w005".into();
                o.hlc = hlc_now("w005", 0);
                o
            })
            .collect::<Vec<_>>();
        creation.push(op(&id, "assign/w002", Some("1"), "w005", 1));
        let h = header("w005", roster_now, &org_key, &["w002", "w005"]);
        let seal = raw::seal(&workers["w005"].sk, "w005", &id, &creation);
        let p = payload(creation, Vec::new(), vec![seal], Version::V2, &h);
        let forged_creation = signed(Version::V2, "w005", h, &p);
        // good_1's encrypted payload under a new header: replayed into another bundle.
        let (magic, rest) = good_1.split_at(good_1.iter().position(|b| *b == b'\n').unwrap() + 1);
        let mut parts = rest.splitn(3, |b| *b == b'\n');
        let (hl, _sig, enc) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let mut h: Header = serde_json::from_slice(hl).unwrap();
        h.id = uuid_v7();
        let replayed = replace_payload(magic, &h, enc, &workers["w001"].sk);
        // A premature erasure: w001 erases its open dossier.
        let h = header("w001", roster_now, &org_key, &["w001", "w002"]);
        let t = op(&id, "erased", Some("2026-06-01"), "w001", 0);
        let seal = raw::seal(&workers["w001"].sk, "w001", &id, std::slice::from_ref(&t));
        let p = payload(vec![t], Vec::new(), vec![seal], Version::V2, &h);
        let premature = signed(Version::V2, "w001", h, &p);
        // The older format: w001's own ops (unsealed), and w005 forwarding them.
        let h = header("w001", roster_now, &org_key, &["w001", "w002"]);
        let p = payload(
            p1.ops.clone(),
            p1.notes.clone(),
            Vec::new(),
            Version::V1,
            &h,
        );
        let v1_own = signed(Version::V1, "w001", h, &p);
        let h = header("w005", roster_now, &org_key, &["w002", "w005"]);
        let p = payload(
            p1.ops.clone(),
            p1.notes.clone(),
            Vec::new(),
            Version::V1,
            &h,
        );
        let v1_forwarded = signed(Version::V1, "w005", h, &p);
        // Text that would steer a terminal, in records w001 writes (sealed by w001), and
        // the same without it.
        let text = |note: Option<&str>, name: Option<&str>, goal: &str, reason: &str| {
            let mut ops = p1.ops.clone();
            let mut notes = p1.notes.clone();
            if let Some(body) = note {
                notes[0].body = body.into();
            }
            if let Some(name) = name {
                let i = ops.iter().position(|o| o.field == "name").unwrap();
                ops[i].value = Some(name.into());
            }
            let goal_id = "01a204d1-0000-7000-8000-0000000000a1";
            let assessment_id = "01a204d1-0000-7000-8000-0000000000a2";
            let created = "2026-11-22T19:52:30Z";
            let mut extra = vec![
                op(
                    &id,
                    &format!("goal/{goal_id}"),
                    Some(
                        &serde_json::json!({"id": goal_id, "client_id": id, "domain": "financiën",
                            "text": goal, "author": "Medewerker w001", "created_at": created})
                        .to_string(),
                    ),
                    "w001",
                    1,
                ),
                op(
                    &id,
                    &format!("assessment/{assessment_id}"),
                    Some(
                        &serde_json::json!({"id": assessment_id, "client_id": id,
                            "domain": "huisvesting", "score": 2, "reason": reason,
                            "at": "2026-11-20", "author": "Medewerker w001",
                            "created_at": created})
                        .to_string(),
                    ),
                    "w001",
                    2,
                ),
            ];
            // Re-sealed as w001 (the vector's changed values are w001's own writing).
            ops.append(&mut extra);
            let seal = raw::seal(&workers["w001"].sk, "w001", &id, &ops);
            let h = header("w001", roster_now, &org_key, &["w001", "w002"]);
            let p = payload(ops, notes, vec![seal], Version::V2, &h);
            signed(Version::V2, "w001", h, &p)
        };
        let twin = text(None, None, "Schulden op een rij", "Huurachterstand");
        let esc_note = text(
            Some("Notitie \u{1b}]52;c;SGFjaw==\u{7}"),
            None,
            "Schulden op een rij",
            "Huurachterstand",
        );
        let esc_name = text(
            None,
            Some("Vector \u{1b}[2JCliënt"),
            "Schulden op een rij",
            "Huurachterstand",
        );
        let c1_goal = text(
            None,
            None,
            "Schulden \u{9b}2J op een rij",
            "Huurachterstand",
        );
        let bel_reason = text(None, None, "Schulden op een rij", "Huur\u{7}achterstand");
        // Roster changes: w004's laptop is replaced (its old key retired), a copy of the
        // new enrollment file is used a second time, w003 is revoked.
        let (file4, code4) = org::reissue(&org_dir, &it(), "w004", WEAK).unwrap();
        let (w4b, req4b) = enroll(&org_dir, tmp, "w004", &file4, &code4, "b");
        let (w4c, req4c) = enroll(&org_dir, tmp, "w004", &file4, &code4, "c");
        let report = org::admit(&org_dir, &it(), &[(tmp.join("b.kluisreq"), req4b)], None).unwrap();
        assert_eq!(report.admitted.len(), 1);
        let report = org::admit(&org_dir, &it(), &[(tmp.join("c.kluisreq"), req4c)], None).unwrap();
        assert_eq!(report.second_devices.len(), 1, "the copy is not admitted");
        org::revoke(&org_dir, "w003", "testvector", kluis::model::now_utc()).unwrap();
        let final_roster = roster_file(&org_dir, tmp, "final.json");
        std::thread::sleep(std::time::Duration::from_millis(1500));
        // After the revocation, w003 (still on the early roster) writes and sends.
        let w3 = &workers["w003"];
        let mut s = open(w3);
        s.change(|st| {
            let c = st.add_client(&kluis::model::NewClient {
                name: "Van W003".into(),
                bsn: None,
                birth_date: None,
                address: None,
                phone: None,
                domain: kluis::model::Domain::Overig,
                opened_on: chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
            })?;
            st.assign(&c, "w002", true)
        })
        .unwrap();
        s.close().unwrap();
        let revoked = export(w3, tmp, "b4", None);
        // w004's old laptop writes after its key was retired.
        let w4a = &workers["w004"];
        let mut s = open(w4a);
        s.change(|st| {
            let c = st.add_client(&kluis::model::NewClient {
                name: "Oude Laptop".into(),
                bsn: None,
                birth_date: None,
                address: None,
                phone: None,
                domain: kluis::model::Domain::Overig,
                opened_on: chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
            })?;
            st.assign(&c, "w002", true)
        })
        .unwrap();
        s.close().unwrap();
        let retired = export(w4a, tmp, "b5", None);
        // The copy of w004's enrollment writes as w004 with keys no roster lists.
        let cid_op = uuid_v7();
        let cid = kluis::model::record::dossier_id("w004", &cid_op);
        let mut clone_ops = vec![
            op(&cid, "name", Some("Van De Kopie"), "w004", 0),
            op(&cid, "domain", Some("overig"), "w004", 1),
            op(&cid, "status", Some("open"), "w004", 2),
            op(&cid, "opened_on", Some("2026-01-05"), "w004", 3),
            op(&cid, "assign/w002", Some("1"), "w004", 5),
        ];
        let mut created = op(&cid, "created_at", Some("2026-01-05T10:00:00Z"), "w004", 4);
        created.id = cid_op;
        clone_ops.push(created);
        let h = header("w004", roster_now, &org_key, &["w002", "w004"]);
        let seal = raw::seal(&w4c.sk, "w004", &cid, &clone_ops);
        let p = payload(clone_ops, Vec::new(), vec![seal], Version::V2, &h);
        let clone = raw::write(Version::V2, &w4c.sk, h, &p, &to_w002).unwrap();
        // A genuine bundle of w001 written under a roster version the vectors do not have.
        let final_version = org::load_state(&org_dir).unwrap().version;
        let mut h = header("w001", final_version + 1, &org_key, &["w001", "w002"]);
        h.seq = 9;
        let p = payload(
            p1.ops.clone(),
            p1.notes.clone(),
            p1.seals.clone(),
            Version::V2,
            &h,
        );
        let needs_newer = signed(Version::V2, "w001", h, &p);
        let _ = w4b;

        // Write them all, and the byte-level tamperings of good_1.
        for entry in std::fs::read_dir(out).unwrap() {
            let p = entry.unwrap().path();
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            if ["kluisb", "kluisroster", "expect", "enroll", "code"].contains(&ext)
                || p.file_name()
                    .is_some_and(|n| n == "w002.keys.json" || n == "roster.json")
            {
                std::fs::remove_file(&p).unwrap();
            }
        }
        std::fs::copy(&final_roster, out.join("roster.json")).unwrap();
        std::fs::copy(&early, out.join("fail_4_roster_rolled_back.kluisroster")).unwrap();
        let mut changed: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&final_roster).unwrap()).unwrap();
        changed["body"] = serde_json::Value::String(
            changed["body"]
                .as_str()
                .unwrap()
                .replace("\"version\":", "\"version\":1"),
        );
        write(
            out,
            "fail_4_roster_changed.kluisroster",
            &serde_json::to_vec_pretty(&changed).unwrap(),
        );
        let other_org = tmp.join("other");
        org::init(&other_org, "Gemeente Vectoren", &it(), WEAK).unwrap();
        let foreign = org::signed_roster(&other_org, &it()).unwrap();
        write(
            out,
            "fail_4_roster_other_org.kluisroster",
            &serde_json::to_vec_pretty(&foreign).unwrap(),
        );
        write(out, "w002.enroll", &w002_file.0);
        write(out, "w002.code", format!("{}\n", w002_file.1).as_bytes());
        {
            use age::secrecy::ExposeSecret;
            let keys = serde_json::json!({
                "x25519": w002.x.to_string().expose_secret(),
                "ed25519": BASE64_STANDARD.encode(w002.sk.to_bytes()),
            });
            write(
                out,
                "w002.keys.json",
                &serde_json::to_vec_pretty(&keys).unwrap(),
            );
        }
        write(out, "good.expect", "Vector Cliënt-Jansen\n".as_bytes());
        for (name, bytes) in [
            ("good_1_basic", &good_1),
            ("good_2_edit", &good_2),
            ("good_3_forwarded", &good_3),
            ("good_v1_own", &v1_own),
            ("good_v1_forwarded", &v1_forwarded),
            ("twin_clean", &twin),
            ("fail_held_premature_tombstone", &premature),
            ("fail_4_forged_op_in_colleagues_name", &forged_in_name),
            ("fail_4_op_under_anothers_seal", &under_anothers_seal),
            ("fail_4_forged_creation", &forged_creation),
            ("fail_4_replayed_payload", &replayed),
            ("fail_4_revoked_author", &revoked),
            ("fail_4_retired_device", &retired),
            ("fail_4_clone_from_reused_enrollment", &clone),
            ("fail_4_needs_newer_roster", &needs_newer),
            ("fail_4_not_for_me", &not_for_me),
            ("fail_4_esc_in_note", &esc_note),
            ("fail_4_esc_in_name", &esc_name),
            ("fail_4_c1_in_goal", &c1_goal),
            ("fail_4_bel_in_assessment", &bel_reason),
        ] {
            write(out, &format!("{name}.kluisb"), bytes);
        }
        let good = &good_1;
        let (magic, rest) = good.split_at(good.iter().position(|b| *b == b'\n').unwrap());
        let rest = &rest[1..];
        let mut parts = rest.splitn(3, |b| *b == b'\n');
        let (hl, sig, enc) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let join = |parts: &[&[u8]]| parts.join(&b'\n');
        write(out, "fail_4_not_a_bundle.kluisb", b"hello\n");
        write(out, "fail_4_empty.kluisb", b"");
        write(out, "fail_4_flipped_magic.kluisb", &flip(good, 2));
        write(
            out,
            "fail_4_flipped_signature.kluisb",
            &join(&[magic, hl, &flip(sig, 10), enc]),
        );
        write(
            out,
            "fail_4_flipped_payload.kluisb",
            &flip(good, good.len() - 40),
        );
        write(out, "fail_4_truncated.kluisb", &good[..good.len() - 17]);
        write(
            out,
            "fail_4_appended_junk.kluisb",
            &[good.as_slice(), b"junk"].concat(),
        );
        let edited = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut h: serde_json::Value = serde_json::from_slice(hl).unwrap();
            f(&mut h);
            join(&[magic, &serde_json::to_vec(&h).unwrap(), sig, enc])
        };
        write(
            out,
            "fail_4_unknown_author.kluisb",
            &edited(&|h| h["author"] = "w999".into()),
        );
        write(
            out,
            "fail_4_recipients_changed.kluisb",
            &edited(&|h| h["recipients"] = serde_json::json!(["w002"])),
        );
        write(
            out,
            "fail_4_unknown_header_field.kluisb",
            &edited(&|h| h["extra"] = 1.into()),
        );
        write(
            out,
            "fail_4_header_too_long.kluisb",
            &join(&[magic, &[vec![b' '; 70_000], hl.to_vec()].concat(), sig, enc]),
        );
    }

    /// A bundle whose encrypted payload is taken from another one, under header `h` signed
    /// by `sk` (the payload still names its own bundle id).
    fn replace_payload(magic: &[u8], h: &Header, enc: &[u8], sk: &SigningKey) -> Vec<u8> {
        use ed25519_dalek::Signer;
        use sha2::Digest;
        let mut h = h.clone();
        h.payload_len = enc.len() as u64;
        h.payload_sha256 = kluis::model::hex(&sha2::Sha256::digest(enc));
        let line = serde_json::to_vec(&h).unwrap();
        let mut msg = b"kluis.nl/v2/bundle\0".to_vec();
        msg.extend_from_slice(&line);
        let sig = BASE64_STANDARD.encode(sk.sign(&msg).to_bytes());
        [magic, &line, b"\n", sig.as_bytes(), b"\n", enc].concat()
    }
}
