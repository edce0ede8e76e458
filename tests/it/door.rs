//! The session is the one door to dossier data: every public method that hands out a
//! dossier's content writes an access-log entry as it does, and the methods that write
//! nothing hand out no content. (That the store's own reads cannot be called from outside
//! the engine is shown by the `compile_fail` doctests in src/lib.rs.)

use kluis::model::{Contact, HouseholdMember, Visit};
use kluis::secret::SecretString;
use kluis::session::{Access, Reveal, Session};
use kluis::store::IdTable;

use crate::{CANARY, PASS, TestVault};

/// A vault whose every field and note holds the canary.
fn vault() -> (TestVault, String, String) {
    let v = TestVault::created();
    let name = format!("Fatima {CANARY}");
    let id = v
        .cmd()
        .args(["client", "add", "--name", &name, "--bsn", "111222333"])
        .args(["--address", &format!("Dorpsstraat 1 {CANARY}")])
        .output()
        .unwrap();
    let id = String::from_utf8(id.stdout).unwrap().trim().to_owned();
    v.add_note(&id, &format!("Keukentafel {CANARY}"));
    let special = v
        .cmd()
        .args(["note", "add", &id, "--special", "--text"])
        .arg(format!("Diagnose {CANARY}"))
        .output()
        .unwrap();
    let special = String::from_utf8(special.stdout).unwrap().trim().to_owned();
    for args in [
        vec![
            "household",
            "add",
            &id,
            "--name",
            CANARY,
            "--relation",
            "kind",
        ],
        vec!["contact", "add", &id, "--name", CANARY],
        vec![
            "visit",
            "add",
            &id,
            "--at",
            "2026-12-01 10:00",
            "--purpose",
            CANARY,
        ],
        vec![
            "plan",
            "goal",
            "add",
            &id,
            "--domain",
            "financiën",
            "--text",
            CANARY,
        ],
    ] {
        v.cmd().args(&args).assert().success();
    }
    (v, id, special)
}

/// A read through the door, shown as text (its Debug form).
type Door<'a> = Box<dyn FnMut(&mut Session) -> String + 'a>;

fn open(v: &TestVault) -> Session {
    let pass = SecretString::from(PASS.to_owned());
    Session::open(&v.path, &pass, Access::Write).unwrap()
}

#[test]
fn every_read_of_a_dossier_through_the_session_writes_the_access_log() {
    let (v, id, special) = vault();
    let mut s = open(&v);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    let entries = |s: &Session| s.audit(None).unwrap().len();
    let shows_canary = |text: String| text.contains(CANARY);

    // Each door: what it hands out holds the client's data, and the log grew.
    let mut doors: Vec<(&str, Door)> = vec![
        (
            "caseload",
            Box::new(|s| format!("{:?}", s.caseload(true).unwrap())),
        ),
        (
            "client",
            Box::new(|s| format!("{:?}", s.client(&id, false).unwrap())),
        ),
        (
            "dossier",
            Box::new(|s| format!("{:?}", s.dossier(&id).unwrap())),
        ),
        (
            "notes",
            Box::new(|s| format!("{:?}", s.notes(&id, false).unwrap())),
        ),
        (
            "household",
            Box::new(|s| format!("{:?}", s.records::<HouseholdMember>(&id).unwrap())),
        ),
        (
            "contacts",
            Box::new(|s| format!("{:?}", s.records::<Contact>(&id).unwrap())),
        ),
        (
            "visits",
            Box::new(|s| format!("{:?}", s.records::<Visit>(&id).unwrap())),
        ),
        ("plan", Box::new(|s| format!("{:?}", s.plan(&id).unwrap()))),
        (
            "search",
            Box::new(|s| {
                let q = kluis::model::fts_query("keukentafel").unwrap();
                format!("{:?}", s.search(&q, 10).unwrap())
            }),
        ),
        (
            "agenda",
            Box::new(move |s| format!("{:?}", s.agenda(today, 30).unwrap())),
        ),
        (
            "report",
            Box::new(|s| format!("{:?}", s.report(&id, Reveal::default(), "md").unwrap())),
        ),
        (
            "reveal_note",
            Box::new(|s| format!("{:?}", s.reveal_note(&special).unwrap())),
        ),
        (
            "reveal_bsn",
            Box::new(|s| {
                format!(
                    "{:?}",
                    s.reveal_bsn(&id, "test")
                        .unwrap()
                        .map(|b| b.digits().to_owned())
                )
            }),
        ),
    ];
    for (name, door) in &mut doors {
        let before = entries(&s);
        let shown = door(&mut s);
        let canary = if *name == "reveal_bsn" {
            shown.contains("111222333")
        } else {
            shows_canary(shown)
        };
        assert!(canary, "{name} handed out the dossier's data");
        assert!(entries(&s) > before, "{name} wrote no access-log entry");
    }

    // The masked reads hand out neither the special note's text nor the BSN's digits.
    let notes = format!("{:?}", s.notes(&id, false).unwrap());
    assert!(
        !notes.contains(&format!("Diagnose {CANARY}")),
        "special text masked"
    );
    let client = format!("{:?}", s.client(&id, false).unwrap());
    assert!(!client.contains("111222333") && client.contains("******333"));

    // What the session gives without logging holds no client data.
    let before = entries(&s);
    let quiet = format!(
        "{:?}",
        (
            s.resolve(IdTable::Client, &id[..8]).unwrap(),
            s.counts().unwrap(),
            s.conflict_count().unwrap(),
            s.identity().unwrap(),
            s.retention_dates(today).unwrap(),
            s.consents_ending(today, 30).unwrap(),
            s.contacts_per_month(&id, today, 12).unwrap(),
        )
    );
    let log = format!("{:?}", s.audit(None).unwrap());
    assert_eq!(entries(&s), before, "these write nothing");
    assert!(!quiet.contains(CANARY) && !log.contains(CANARY), "{quiet}");
    s.close().unwrap();
}

/// The doors of daily practice (group sessions, the meldcode, consent forms, the access
/// review, the agenda's reminders) log like every other; what they give without logging
/// (settings, numbers, ids, places in a text the worker typed) holds no client data.
#[test]
fn every_read_of_daily_practice_writes_the_access_log() {
    let v = TestVault::created();
    let run = |args: &[&str]| {
        let out = v.cmd().args(args).output().unwrap();
        assert!(out.status.success(), "{}", crate::stderr(&out));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let name = format!("Fatima {CANARY}");
    let id = run(&[
        "client",
        "add",
        "--name",
        &name,
        "--opened-on",
        "2020-01-01",
    ]);
    let other = run(&["client", "add", "--name", "Jan Jansen"]);
    let session = run(&[
        "group",
        "add",
        "--theme",
        CANARY,
        "--at",
        "2020-02-01",
        "--participant",
        &id,
        "--participant",
        &other,
        "--summary",
        "Samen geoefend.",
    ]);
    let signal = run(&[
        "meldcode",
        "signal",
        &id,
        "--at",
        "2020-03-01",
        "--text",
        CANARY,
    ]);
    run(&[
        "consent",
        "add",
        &id,
        "--org",
        CANARY,
        "--purpose",
        "zorg",
        "--given",
        "2020-04-01",
    ]);
    let mut s = open(&v);
    let today = chrono::Local::now().date_naive();
    let entries = |s: &Session| s.audit(None).unwrap().len();
    let mut doors: Vec<(&str, Door)> = vec![
        (
            "group_sessions",
            Box::new(|s| format!("{:?}", s.group_sessions().unwrap())),
        ),
        (
            "group_session",
            Box::new(|s| format!("{:?}", s.group_session(&session, false).unwrap())),
        ),
        (
            "meldcodes",
            Box::new(|s| format!("{:?}", s.meldcodes(&id, true).unwrap())),
        ),
        (
            "consents_with_forms",
            Box::new(|s| format!("{:?}", s.consents_with_forms(&id).unwrap())),
        ),
        (
            "consent_form",
            Box::new(|s| {
                let scope = kluis::model::Scope::Details;
                let f = s.consent_form(&id, "GGD", "zorg", scope, false, None, None, today);
                format!("{:?}", f.unwrap())
            }),
        ),
        (
            "access_review",
            Box::new(move |s| format!("{:?}", s.access_review(today, 6).unwrap())),
        ),
        (
            "reminders",
            Box::new(move |s| format!("{:?}", s.reminders(today, 7, 6).unwrap())),
        ),
    ];
    for (name, door) in &mut doors {
        let before = entries(&s);
        let shown = door(&mut s);
        assert!(
            shown.contains(CANARY),
            "{name} handed out the dossier's data"
        );
        assert!(entries(&s) > before, "{name} wrote no access-log entry");
    }
    // Masked unless revealed.
    let masked = format!("{:?}", s.meldcodes(&id, false).unwrap());
    assert!(!masked.contains(&format!("text: \"{CANARY}")), "{masked}");

    let before = entries(&s);
    let lexicon = kluis::model::nudge::Lexicon::builtin();
    let quiet = format!(
        "{:?}",
        (
            s.leaflet_facts(None).unwrap(),
            s.team_overview(today, 6).unwrap(),
            s.resolve_group(&session[..session.len() - 2]).unwrap(),
            s.meldcode_client(&signal).unwrap(),
            s.resolve_meldcode_record(&signal).unwrap(),
            s.group_nudges(
                std::slice::from_ref(&id),
                "Fatima oefende.",
                false,
                &lexicon
            )
            .unwrap(),
        )
    );
    assert_eq!(entries(&s), before, "these write nothing");
    assert!(!quiet.contains(CANARY), "{quiet}");
    s.close().unwrap();
}
