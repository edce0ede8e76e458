//! Privacy by design, at the size of a full caseload (2,000 clients, 200,000 notes): what an
//! access log entry adds to a durable change, how fast `audit verify` walks the chain, and
//! what a real erasure (delete, its words out of the full-text indexes, new generation,
//! previous generation replaced) costs against a plain save of the same vault, measured in the
//! same run.
//!
//! `cargo bench --bench privacy`; `KLUIS_BENCH_NOTES=20000` for a quick run.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use kluis::internals;
use kluis::model::{Action, Domain};
use kluis::secret::SecretString;
use kluis::session::{Access, Session};

#[path = "commit.rs"]
mod commit;
#[path = "synthetic.rs"]
mod synthetic;
use synthetic::*;

fn time<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let t = Instant::now();
    let v = f();
    (t.elapsed(), v)
}

fn main() {
    commit::print("privacy");
    let notes = env_usize("KLUIS_BENCH_NOTES", 200_000);
    let clients = env_usize("KLUIS_BENCH_CLIENTS", 2_000);
    let rounds = env_usize("KLUIS_BENCH_ROUNDS", 5);
    let entries = env_usize("KLUIS_BENCH_ENTRIES", 1_000);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("vault.kluis");
    generate_vault(&path, notes, clients);
    let pass = SecretString::from(PASS.to_owned());
    let mut s = Session::open(&path, &pass, Access::Write).unwrap();
    let ids: Vec<String> = internals::connection(internals::store(&s))
        .prepare("SELECT id FROM client ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();

    // 1. A logged view against the smallest journaled change, alternating so both see the
    //    same journal and page cache.
    let (mut logged, mut plain) = (Vec::new(), Vec::new());
    for i in 0..entries {
        let id = &ids[i % ids.len()];
        let (d, r) = time(|| s.change(|st| internals::log(st, Action::View, Some(id), "bench")));
        r.unwrap();
        logged.push(d);
        let (d, r) = time(|| s.change(|st| internals::set_meta(st, "bench", &i.to_string())));
        r.unwrap();
        plain.push(d);
    }
    let (lv, pv) = (median(logged), median(plain));
    println!(
        "log one view (durable): median {:.3} ms; baseline meta change {:.3} ms; ratio {:.2}",
        ms(lv),
        ms(pv),
        lv.as_secs_f64() / pv.as_secs_f64()
    );
    s.compact().unwrap();

    // 2. `audit verify` over the whole chain, against counting the same rows.
    let n = s.audit(None).unwrap().len();
    let mut verify = Vec::new();
    let mut count = Vec::new();
    for _ in 0..rounds {
        let (d, r) = time(|| s.verify_log().unwrap());
        assert_eq!(r, Ok(n as u64));
        verify.push(d);
        let (d, _) = time(|| {
            internals::connection(internals::store(&s))
                .query_row(
                    "SELECT count(*), max(length(hash)) FROM access_log",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .unwrap()
        });
        count.push(d);
    }
    let (v, c) = (median(verify), median(count));
    println!(
        "audit verify, {n} entries: median {:.1} ms ({:.0} entries/ms); baseline count {:.2} ms",
        ms(v),
        n as f64 / ms(v),
        ms(c)
    );

    // 3. Erasing one dossier (about 1/2,000 of the vault) against a plain save.
    // A one-year policy makes the synthetic dossiers due, in every domain the law lets keep
    // that short (youth dossiers are kept 20 years at least).
    s.change(|st| {
        for d in Domain::ALL {
            if kluis::model::legal_minimum_years(*d).is_none() {
                st.set_retention_years(*d, 1)?;
            }
        }
        Ok(())
    })
    .unwrap();
    let due: Vec<String> = internals::connection(internals::store(&s))
        .prepare("SELECT id FROM client WHERE domain <> 'jeugd' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // Closed after their last note (2025-12-28), erased on a day the year has passed.
    let old = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
    let today = NaiveDate::from_ymd_opt(2027, 6, 1).unwrap();
    let (mut erase, mut save) = (Vec::new(), Vec::new());
    for id in due.iter().take(rounds) {
        s.change(|st| st.close_client(id, old).map(|_| ())).unwrap();
        let (d, r) = time(|| s.change(|st| st.erase_client(id, today)));
        r.unwrap();
        erase.push(d);
        let (d, r) = time(|| s.compact());
        r.unwrap();
        save.push(d);
    }
    let (e, sv) = (median(erase), median(save));
    println!(
        "erase one dossier (delete, out of the indexes, save, replace .prev): median {:.0} ms; \
         baseline plain save {:.0} ms; ratio {:.2}",
        ms(e),
        ms(sv),
        e.as_secs_f64() / sv.as_secs_f64()
    );
    s.close().unwrap();
}
