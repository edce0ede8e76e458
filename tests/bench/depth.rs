//! Dossier depth at the size of a full caseload: 2,000 clients with 200,000 notes, then a
//! household member, a contact, two goals with three actions, two scores and a visit for every
//! client, and 200 MB of attachments. Unlock (without the KDF) and save are timed before and
//! after in the same run, so the ratio shows what the new records cost.
//!
//! `cargo bench --bench depth`; `KLUIS_BENCH_NOTES=20000 KLUIS_BENCH_CLIENTS=200
//! KLUIS_BENCH_ATTACH_MB=20` for a quick run.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use kluis::model::{Contact, Relation};
use kluis::secret::SecretString;
use kluis::session::{Access, Session};
use kluis::vault::SealingKey;

#[path = "commit.rs"]
mod commit;
#[path = "synthetic.rs"]
mod synthetic;
use synthetic::*;

/// Median unlock (key already derived) and median save over `rounds`.
fn measure(path: &std::path::Path, key: &SealingKey, rounds: usize) -> (Duration, Duration) {
    let (mut open, mut save) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        let mut s = Session::open_with_key(path, key, Access::Write).unwrap();
        open.push(t.elapsed());
        let t = Instant::now();
        s.compact().unwrap();
        save.push(t.elapsed());
        s.close().unwrap();
    }
    (median(open), median(save))
}

fn main() {
    commit::print("depth");
    let notes = env_usize("KLUIS_BENCH_NOTES", 200_000);
    let clients = env_usize("KLUIS_BENCH_CLIENTS", 2_000);
    let attach_mb = env_usize("KLUIS_BENCH_ATTACH_MB", 200);
    let rounds = env_usize("KLUIS_BENCH_ROUNDS", 5);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("vault.kluis");
    generate_vault(&path, notes, clients);
    let pass = SecretString::from(PASS.to_owned());
    // The derived key, kept: unlock is measured without the KDF.
    let key = kluis::internals::read(&path, Some(&pass), None)
        .unwrap()
        .key;
    let (open0, save0) = measure(&path, &key, rounds);

    let t = Instant::now();
    let mut s = Session::open_with_key(&path, &key, Access::Write).unwrap();
    let ids: Vec<String> = s
        .caseload(true)
        .unwrap()
        .into_iter()
        .map(|r| r.client.id)
        .collect();
    let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    s.change(|st| {
        for (i, id) in ids.iter().enumerate() {
            st.add_household(id, &format!("Kind {i}"), Relation::Kind, None)?;
            st.add_contact(&Contact {
                id: String::new(),
                client_id: id.clone(),
                name: format!("Huisarts {i}"),
                org: Some("Praktijk".into()),
                role: Some("huisarts".into()),
                phone: None,
                email: None,
                author: String::new(),
                created_at: String::new(),
            })?;
            for domain in ["financiën", "huisvesting"] {
                let g = st.add_goal(id, domain, "Een doel met wat uitleg erbij")?;
                for a in 0..3 {
                    st.add_action(&g, &format!("Actie {a}"), "client", Some(day))?;
                }
                st.add_assessment(id, domain, 3, "Reden waarom het ertoe doet", day)?;
            }
            st.add_visit(id, day.and_hms_opt(10, 0, 0).unwrap(), Some("Huisbezoek"))?;
        }
        Ok(())
    })
    .unwrap();
    // 2 MB files of incompressible bytes, spread over the clients.
    let mut rng = Rng(0xa77a_c4ed);
    let files = attach_mb / 2;
    for f in 0..files {
        let data: Vec<u8> = (0..2 * 1024 * 1024).map(|_| rng.next() as u8).collect();
        let id = &ids[f % ids.len()];
        s.change(|st| st.add_attachment(id, "Scan", "scan.pdf", &data))
            .unwrap();
    }
    s.close().unwrap();
    println!(
        "added {} records per client and {files} attachments of 2 MB in {:.1} s",
        12,
        t.elapsed().as_secs_f64()
    );
    let size = std::fs::metadata(&path).unwrap().len();
    let (open1, save1) = measure(&path, &key, rounds);
    println!(
        "unlock without KDF: median {:.0} ms before, {:.0} ms after (ratio {:.2}); vault file {:.0} MB",
        ms(open0),
        ms(open1),
        open1.as_secs_f64() / open0.as_secs_f64(),
        size as f64 / 1e6
    );
    println!(
        "save: median {:.0} ms before, {:.0} ms after (ratio {:.2})",
        ms(save0),
        ms(save1),
        save1.as_secs_f64() / save0.as_secs_f64()
    );
}
