//! Team sync: importing one bundle of 10,000 records (1,000 dossiers with 9 notes each),
//! against the floor of just decrypting and parsing that bundle in the same run; and `sync`
//! on a folder of 1,000 bundles it has already imported and 1,000 workers' acknowledgements,
//! against listing the folder (issue 17: ≤ 50 ms).
//!
//! `cargo bench --bench sync`; `KLUIS_BENCH_RECORDS=2000` for a quick run.

use std::io::Read;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use kluis::model::{Domain, NewClient, NewNote, NoteKind};
use kluis::org;
use kluis::secret::SecretString;
use kluis::session::{Access, Session};
use kluis::sync;

#[path = "commit.rs"]
mod commit;
#[path = "synthetic.rs"]
mod synthetic;
use synthetic::*;

const IT_PASS: &str = "Rood-Paard-Zeilboot-Kaasschaaf-19";

/// Two enrolled workers' vaults: (w001, w002).
fn team(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let it = SecretString::from(IT_PASS.to_owned());
    let org_dir = dir.join("org");
    org::init(&org_dir, "Gemeente Bench", &it, WEAK).unwrap();
    let mut paths = Vec::new();
    for id in ["w001", "w002"] {
        let req = org::IssueRequest {
            id,
            name: id,
            teams: &[],
            role: org::Role::Worker,
            valid_until: None,
            code_params: WEAK,
        };
        let (sealed, code) = org::issue(&org_dir, &it, &req).unwrap();
        paths.push((sealed, code, dir.join(format!("{id}.kluis"))));
    }
    // Enroll after both are issued, so both rosters know both workers.
    let pass = SecretString::from(PASS.to_owned());
    let roster = org::signed_roster(&org_dir, &it).unwrap();
    let roster_text = serde_json::to_string(&roster).unwrap();
    let mut requests = Vec::new();
    for (sealed, code, path) in &paths {
        let mut e = org::open_enrollment(sealed, code, path).unwrap();
        e.roster = serde_json::from_str(&roster_text).unwrap();
        let s = sync::create_enrolled(path, &pass, WEAK, &e, path).unwrap();
        let request = kluis::internals::meta(kluis::internals::store(&s), "device_request")
            .unwrap()
            .unwrap();
        s.close().unwrap();
        requests.push((path.with_extension("kluisreq"), request.into_bytes()));
    }
    // IT admits both devices (issue 16); both vaults then take the roster that lists them.
    let admitted = org::admit(&org_dir, &it, &requests, None).unwrap();
    assert_eq!(admitted.admitted.len(), 2);
    let roster = dir.join("roster.json");
    std::fs::write(
        &roster,
        serde_json::to_vec(&org::signed_roster(&org_dir, &it).unwrap()).unwrap(),
    )
    .unwrap();
    for (_, _, path) in &paths {
        let mut s = Session::open(path, &pass, Access::Write).unwrap();
        s.import_roster(&roster).unwrap();
        s.close().unwrap();
    }
    (paths[0].2.clone(), paths[1].2.clone())
}

fn main() {
    commit::print("sync");
    let records = env_usize("KLUIS_BENCH_RECORDS", 10_000);
    let old_bundles = env_usize("KLUIS_BENCH_BUNDLES", 1_000);
    let tmp = tempfile::tempdir().unwrap();
    let (a_path, b_path) = team(tmp.path());
    let pass = SecretString::from(PASS.to_owned());

    // A: 1 dossier in 10 records, 9 notes each, all assigned to B.
    let mut a = Session::open(&a_path, &pass, Access::Write).unwrap();
    let mut rng = Rng(7);
    let vocabulary = vocabulary();
    let clients = records / 10;
    a.change(|s| {
        for c in 0..clients {
            let id = s.add_client(&NewClient {
                name: format!("Cliënt {c}"),
                bsn: None,
                birth_date: None,
                address: Some(format!("Dorpsstraat {c}")),
                phone: Some("06-12345678".into()),
                domain: Domain::Wmo,
                opened_on: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            })?;
            s.assign(&id, "w002", true)?;
            for n in 0..9 {
                let body: Vec<&str> = (0..40)
                    .map(|_| vocabulary[zipf(&mut rng, vocabulary.len())].as_str())
                    .collect();
                s.add_note(&NewNote {
                    client_id: id.clone(),
                    kind: NoteKind::Huisbezoek,
                    occurred_at: chrono::NaiveDate::from_ymd_opt(2026, 2, 1 + n)
                        .unwrap()
                        .and_hms_opt(9, 0, 0)
                        .unwrap(),
                    body: body.join(" "),
                    supersedes: None,
                    special: false,
                })?;
            }
        }
        Ok(())
    })
    .unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let t = Instant::now();
    let (written, _) = sync::export(&mut a, &out, None).unwrap();
    let export_time = t.elapsed();
    let bundle = written[0].file.clone();
    let size = std::fs::metadata(&bundle).unwrap().len();
    println!(
        "bundle: {clients} dossiers + {} notes = {records} records, {} ops, {:.1} MiB; export {:.0} ms",
        clients * 9,
        written[0].ops,
        size as f64 / 1048576.0,
        ms(export_time)
    );

    // The floor: verify nothing, just decrypt, inflate and parse what import must.
    let b = Session::open(&b_path, &pass, Access::Read).unwrap();
    let identity = age::x25519::Identity::from_str(
        &kluis::internals::meta(kluis::internals::store(&b), "worker_x25519_identity")
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    drop(b);
    let mut floor = Vec::new();
    let mut import = Vec::new();
    let mut with_save = Vec::new();
    for run in 0..5 {
        let bytes = std::fs::read(&bundle).unwrap();
        let t = Instant::now();
        let payload = &bytes[bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(2)
            .unwrap()
            .0
            + 1..];
        let d = age::Decryptor::new(payload).unwrap();
        let mut r = d
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .unwrap();
        let mut plain = Vec::new();
        r.read_to_end(&mut plain).unwrap();
        let p = sync::payload_from_plaintext(&plain, std::path::Path::new("b")).unwrap();
        assert_eq!(p.ops.len(), written[0].ops);
        floor.push(t.elapsed());

        let copy = tmp.path().join(format!("b{run}.kluis"));
        std::fs::copy(&b_path, &copy).unwrap();
        let mut s = Session::open(&copy, &pass, Access::Write).unwrap();
        let t = Instant::now();
        let outcome = sync::import(&mut s, &bundle, true).unwrap();
        import.push(t.elapsed());
        s.close().unwrap();
        with_save.push(t.elapsed());
        if run == 0 {
            println!(
                "import result: {}",
                serde_json::to_string(&outcome).unwrap()
            );
        }
    }
    let (f, i, w) = (median(floor), median(import), median(with_save));
    println!(
        "import of {records} records: median {:.0} ms (decrypt+parse floor {:.0} ms, ratio {:.1}x); with the save that folds it into the vault {:.0} ms",
        ms(i),
        ms(f),
        i.as_secs_f64() / f.as_secs_f64(),
        ms(w)
    );

    // A folder of old bundles: A writes one per edit; B imports them once, then syncs again.
    let folder = tmp.path().join("shared");
    std::fs::create_dir(&folder).unwrap();
    let first = kluis::internals::assignments(kluis::internals::store(&a))
        .unwrap()
        .into_keys()
        .next()
        .unwrap();
    for n in 0..old_bundles {
        a.change(|s| {
            s.edit_client(
                &first,
                &kluis::model::ClientPatch {
                    phone: Some(Some(format!("06-{n:08}"))),
                    ..Default::default()
                },
            )
        })
        .unwrap();
        sync::export(&mut a, &folder, Some(std::slice::from_ref(&first))).unwrap();
    }
    a.close().unwrap();
    let mut b = Session::open(&b_path, &pass, Access::Write).unwrap();
    let t = Instant::now();
    let first_sync = sync::sync(&mut b, &folder).unwrap();
    let first_time = t.elapsed();
    assert_eq!(first_sync.imported.len(), old_bundles);
    // A team of 1,000: beside B's own acknowledgement (written by the sync above), one per
    // colleague. B reads a colleague's only while a bundle of its own waits for it, which
    // none does here, so their contents do not matter; their names are what acks are named.
    let workers = 1_000;
    for w in 1..workers {
        let name = kluis::sync::ack_name(&format!("w{:04}", w + 1000));
        std::fs::write(folder.join(name), format!("kluis-ack/v1\n{w}\n")).unwrap();
    }
    let mut again = Vec::new();
    let mut listing = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let r = sync::sync(&mut b, &folder).unwrap();
        again.push(t.elapsed());
        assert_eq!(r.known, old_bundles);
        assert!(r.imported.is_empty());
        let t = Instant::now();
        let n = std::fs::read_dir(&folder).unwrap().count();
        listing.push(t.elapsed());
        assert_eq!(n, old_bundles + workers);
    }
    b.close().unwrap();
    let (g, l) = (median(again), median(listing));
    println!(
        "sync on {old_bundles} bundles: first (imports all) {:.0} ms; again (all known, and {workers} workers' acknowledgements) median {:.1} ms against listing the folder {:.2} ms (ratio {:.1}x; target <= 50 ms)",
        ms(first_time),
        ms(g),
        ms(l),
        g.as_secs_f64() / l.as_secs_f64().max(1e-9)
    );
    let _ = Duration::ZERO;
}
