//! Every record by form (issue 19): entered with keys only, checked on the field, saved
//! through the store's own methods, changed, and kept across a lock while half filled in.

use chrono::NaiveDate;
use ratatui::crossterm::event::KeyCode;

use super::app::{App, Screen};
use super::tests::{CANARY, app, ctrl, fixture, key, render, typed, unlock, words};
use crate::i18n::Lang;
use crate::model::{
    ActionStatus, Assessment, Attachment, Consent, Contact, HouseholdMember, PlanAction, Relation,
    Visit,
};

fn records<R: crate::model::record::Record>(a: &mut App, client: &str) -> Vec<R> {
    a.session.as_mut().unwrap().records(client).unwrap()
}

fn on_form(a: &App) -> bool {
    matches!(a.screen, Screen::Form(_))
}

fn save(a: &mut App) {
    a.handle_key(ctrl('s'));
    assert!(
        matches!(a.screen, Screen::Dossier(_)),
        "not saved: {:?}\n{}",
        a.message,
        render(a)
    );
}

/// Opens Jan de Vries's dossier (the second client by name; it has nothing yet).
fn jan(a: &mut App) -> String {
    a.handle_key(key(KeyCode::Down));
    a.handle_key(key(KeyCode::Enter));
    let Screen::Dossier(d) = &a.screen else {
        panic!("no dossier")
    };
    d.client_id().to_owned()
}

#[test]
fn every_record_is_entered_by_form_and_kept() {
    let _words = words(Lang::En);
    let (dir, path, _) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    let jan = jan(&mut a);
    let today = super::tests::clock().date();

    // A household member: the relation chosen from its list, the birth date as people
    // write it.
    a.handle_key(key(KeyCode::Char('3')));
    assert!(
        render(&a).contains("Press a to add"),
        "an empty tab says what adds"
    );
    a.handle_key(key(KeyCode::Char('a')));
    a.handle_key(key(KeyCode::Enter));
    assert!(on_form(&a));
    typed(&mut a, "Noor de Vries");
    a.handle_key(key(KeyCode::Tab));
    a.handle_key(key(KeyCode::Char('c')));
    a.handle_key(key(KeyCode::Tab));
    typed(&mut a, "14-3-2015");
    save(&mut a);
    let h: Vec<HouseholdMember> = records(&mut a, &jan);
    assert_eq!(h.len(), 1);
    assert_eq!(
        (h[0].name.as_str(), h[0].relation, h[0].birth_date),
        (
            "Noor de Vries",
            Relation::Kind,
            NaiveDate::from_ymd_opt(2015, 3, 14)
        )
    );
    assert!(!h[0].author.is_empty() && !h[0].created_at.is_empty());

    // Someone from the network.
    a.handle_key(key(KeyCode::Char('a')));
    a.handle_key(key(KeyCode::Down));
    a.handle_key(key(KeyCode::Enter));
    for (i, v) in [
        "Dr. Bakker",
        "Huisartsenpraktijk",
        "GP",
        "038-7654321",
        "b@example.nl",
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            a.handle_key(key(KeyCode::Tab));
        }
        typed(&mut a, v);
    }
    save(&mut a);
    let c: Vec<Contact> = records(&mut a, &jan);
    assert_eq!(c[0].email.as_deref(), Some("b@example.nl"));

    // Changing the household member keeps who made it and when.
    a.handle_key(key(KeyCode::Home));
    a.handle_key(key(KeyCode::Enter));
    assert!(on_form(&a));
    a.handle_key(key(KeyCode::End));
    typed(&mut a, "-Bakker");
    save(&mut a);
    let h2: Vec<HouseholdMember> = records(&mut a, &jan);
    assert_eq!(h2[0].name, "Noor de Vries-Bakker");
    assert_eq!((&h2[0].id, &h2[0].created_at), (&h[0].id, &h[0].created_at));

    // A goal, its domain chosen from the list of life domains.
    a.handle_key(key(KeyCode::Char('2')));
    a.handle_key(key(KeyCode::Char('a')));
    a.handle_key(key(KeyCode::Enter));
    a.handle_key(key(KeyCode::Enter));
    a.handle_key(key(KeyCode::Enter));
    a.handle_key(key(KeyCode::Tab));
    typed(&mut a, "Schulden op een rij");
    save(&mut a);
    let plan = a.session.as_mut().unwrap().plan(&jan).unwrap();
    assert_eq!(plan.goals.len(), 1);
    assert_eq!(plan.goals[0].domain, "financiën");

    // An action for it (the goal is chosen already), due tomorrow.
    a.handle_key(key(KeyCode::Char('a')));
    a.handle_key(key(KeyCode::Down));
    a.handle_key(key(KeyCode::Enter));
    a.handle_key(key(KeyCode::Tab));
    typed(&mut a, "Brieven sorteren");
    a.handle_key(key(KeyCode::Tab));
    typed(&mut a, "client");
    a.handle_key(key(KeyCode::Tab));
    typed(&mut a, "morgen");
    save(&mut a);
    let actions: Vec<PlanAction> = records(&mut a, &jan);
    assert_eq!(actions[0].goal_id, plan.goals[0].id);
    assert_eq!(actions[0].due, today.succ_opt());
    assert!(
        render(&a).contains("Brieven sorteren (client)"),
        "the owner in words"
    );

    // Marked done: the action is selected after saving it.
    a.handle_key(key(KeyCode::Char('d')));
    assert!(on_form(&a));
    save(&mut a);
    let actions: Vec<PlanAction> = records(&mut a, &jan);
    assert_eq!(
        (actions[0].status, actions[0].done_on),
        (ActionStatus::Done, Some(today))
    );

    // An evaluation of the goal, and a visit.
    a.handle_key(key(KeyCode::Char('a')));
    a.handle_key(key(KeyCode::Down));
    a.handle_key(key(KeyCode::Down));
    a.handle_key(key(KeyCode::Enter));
    a.handle_key(key(KeyCode::Tab));
    typed(&mut a, "Overzicht is er");
    save(&mut a);
    let plan = a.session.as_mut().unwrap().plan(&jan).unwrap();
    assert_eq!(plan.evaluations.len(), 1);
    a.handle_key(key(KeyCode::Char('a')));
    a.handle_key(key(KeyCode::End));
    a.handle_key(key(KeyCode::Enter));
    typed(&mut a, "morgen 14:00");
    a.handle_key(key(KeyCode::Tab));
    typed(&mut a, "Keukentafelgesprek");
    save(&mut a);
    let v: Vec<Visit> = records(&mut a, &jan);
    assert_eq!(v[0].at, format!("{}T14:00:00", today.succ_opt().unwrap()));

    // A score needs a reason: refused on the field, then saved.
    a.handle_key(key(KeyCode::Char('4')));
    a.handle_key(key(KeyCode::Char('a')));
    a.handle_key(key(KeyCode::Char('f')));
    a.handle_key(key(KeyCode::Tab));
    a.handle_key(key(KeyCode::Char('3')));
    a.handle_key(ctrl('s'));
    assert!(on_form(&a), "saved without a reason");
    assert!(render(&a).contains("say why this domain matters"));
    typed(&mut a, "Beslag op loon");
    save(&mut a);
    let s: Vec<Assessment> = records(&mut a, &jan);
    assert_eq!((s[0].score, s[0].at), (3, today));

    // A consent, then withdrawn.
    a.handle_key(key(KeyCode::Char('6')));
    a.handle_key(key(KeyCode::Char('a')));
    typed(&mut a, "Schuldhulp Zwolle");
    a.handle_key(key(KeyCode::Tab));
    typed(&mut a, "schuldregeling");
    a.handle_key(key(KeyCode::Tab));
    a.handle_key(key(KeyCode::Right));
    save(&mut a);
    let consents: Vec<Consent> = records(&mut a, &jan);
    assert_eq!(consents[0].given_on, today);
    assert!(consents[0].withdrawn_on.is_none());
    a.handle_key(key(KeyCode::Char('x')));
    save(&mut a);
    let consents: Vec<Consent> = records(&mut a, &jan);
    assert_eq!(consents[0].withdrawn_on, Some(today));

    // A file kept from a path, then written out; never over an existing file.
    let file = dir.path().join("brief.txt");
    std::fs::write(&file, format!("brief {CANARY}")).unwrap();
    a.handle_key(key(KeyCode::Char('5')));
    a.handle_key(key(KeyCode::Char('a')));
    typed(&mut a, &file.display().to_string());
    save(&mut a);
    let files: Vec<Attachment> = records(&mut a, &jan);
    assert_eq!(files[0].filename, "brief.txt");
    let out = dir.path().join("uit.txt");
    a.handle_key(key(KeyCode::Char('o')));
    a.handle_key(ctrl('u'));
    typed(&mut a, &out.display().to_string());
    save(&mut a);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        format!("brief {CANARY}")
    );
    a.handle_key(key(KeyCode::Char('o')));
    a.handle_key(ctrl('u'));
    typed(&mut a, &out.display().to_string());
    a.handle_key(ctrl('s'));
    assert!(on_form(&a), "written over an existing file");
    assert!(render(&a).contains("already exists"));
    a.quit().unwrap();
}

#[test]
fn a_new_client_takes_a_birth_date_as_people_write_it() {
    let _words = words(Lang::En);
    let (_dir, path, _) = fixture();
    let mut a = app(&path, Lang::Nl, false);
    unlock(&mut a);
    a.handle_key(key(KeyCode::Char('n')));
    typed(&mut a, "Sara Yilmaz");
    a.handle_key(key(KeyCode::Tab));
    a.handle_key(key(KeyCode::Tab));
    typed(&mut a, "14-03-1980");
    // The domain is chosen from a list, not typed.
    a.handle_key(key(KeyCode::Tab));
    a.handle_key(key(KeyCode::Right));
    save(&mut a);
    let Screen::Dossier(d) = &a.screen else {
        unreachable!()
    };
    let c = &d.data.details.client;
    assert_eq!(c.birth_date, NaiveDate::from_ymd_opt(1980, 3, 14));
    assert_eq!(c.domain, crate::model::Domain::Jeugd);
}

/// What is typed into a form survives a lock (and an idle lock, the same path), kept in
/// the vault's draft table; nothing of it is in the vault file or the journal in plain.
#[test]
fn a_half_filled_form_survives_a_lock_and_is_kept_encrypted() {
    let _words = words(Lang::En);
    let (_dir, path, _) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    let jan = jan(&mut a);
    a.handle_key(key(KeyCode::Char('3')));
    a.handle_key(key(KeyCode::Char('a')));
    a.handle_key(key(KeyCode::Enter));
    let typed_name = format!("Half {CANARY}");
    typed(&mut a, &typed_name);
    let resume = a.lock().unwrap();
    assert_eq!(resume.client.as_deref(), Some(jan.as_str()));
    assert!(!render(&a).contains(CANARY));
    // Every file beside the vault, and in the folder of its files (VAULT.files/).
    let mut files = Vec::new();
    let mut dirs = vec![path.parent().unwrap().to_owned()];
    while let Some(d) = dirs.pop() {
        for f in std::fs::read_dir(d).unwrap() {
            let p = f.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                files.push(p);
            }
        }
    }
    for f in files {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
            "the form's text is on disk in plain"
        );
    }
    unlock(&mut a);
    assert!(on_form(&a), "the form did not come back");
    assert!(render(&a).contains(&typed_name));
    assert!(a.message.is_some());
    // Esc asks first; the second throws it away, for good.
    a.handle_key(key(KeyCode::Esc));
    assert!(on_form(&a));
    a.handle_key(key(KeyCode::Esc));
    assert!(matches!(a.screen, Screen::Dossier(_)));
    a.lock().unwrap();
    unlock(&mut a);
    assert!(
        matches!(a.screen, Screen::Dossier(_)),
        "a discarded form came back"
    );

    // A new client's form, before it has a dossier, too.
    a.handle_key(key(KeyCode::Esc));
    a.handle_key(key(KeyCode::Char('n')));
    typed(&mut a, "Nieuwe cliënt");
    a.lock().unwrap();
    unlock(&mut a);
    assert!(on_form(&a) && render(&a).contains("Nieuwe cliënt"));
    save(&mut a);
}

/// A kind the registry gains gets a form, a tab and a save without code of its own: the
/// generic path, shown here with a kind that also has its own (the network).
#[test]
fn the_generic_form_tab_and_save_work_for_any_register_kind() {
    let _words = words(Lang::En);
    use crate::model::record::{Cell, Kind};
    let (_dir, path, _) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    let jan = jan(&mut a);
    let ctx = a.ctx();
    let fields =
        super::views::fields::fields(super::nav::FormKind::Record(Kind::Contact), None, &[], &ctx);
    assert_eq!(fields.len(), 5, "name, org, role, phone, email");
    let mut row = vec![Cell::T(String::new()), Cell::T(jan.clone())];
    row.extend(
        super::views::fields::specs(Kind::Contact)
            .iter()
            .map(super::views::fields::default_cell),
    );
    row[2] = Cell::T(format!("Generiek {CANARY}"));
    let contact = <Contact as crate::model::record::Record>::from_cells(&row).unwrap();
    let session = a.session.as_mut().unwrap();
    let id = session.change(|s| s.add_record(&contact)).unwrap();
    let mut changed = contact.clone();
    changed.id = id.clone();
    changed.role = Some("buurvrouw".into());
    changed.author = "iemand anders".into();
    assert!(session.change(|s| s.edit_record(&changed)).unwrap());
    let stored: Vec<Contact> = session.records(&jan).unwrap();
    assert_eq!(stored[0].role.as_deref(), Some("buurvrouw"));
    assert_ne!(
        stored[0].author, "iemand anders",
        "who made it is not typed"
    );
    // Nothing changed: no new version.
    assert!(!session.change(|s| s.edit_record(&changed)).unwrap());
}

/// The kinds without a screen of their own share one tab ("More"), a heading each: a signal
/// is added by form (special unless said otherwise, as `kluis meldcode signal` does); meldcode
/// steps and group sessions only through their workflows, as on the command line, and the
/// tab says which command.
#[test]
fn the_more_tab_adds_a_signal_by_form_and_leaves_steps_and_groups_to_their_workflows() {
    let _words = words(Lang::En);
    use crate::model::record::Kind;
    use crate::model::{MeldcodeStep, Signal};
    assert!(Kind::Signal.typed_whole());
    assert!(!Kind::MeldcodeStep.typed_whole() && !Kind::GroupSession.typed_whole());
    let (_dir, path, _) = fixture();
    let mut a = app(&path, Lang::En, false);
    unlock(&mut a);
    let jan = jan(&mut a);
    let more = super::nav::Tab::all()
        .iter()
        .position(|t| *t == super::nav::Tab::Records)
        .unwrap();
    a.handle_key(key(KeyCode::Char(char::from(b'1' + more as u8))));
    let shown = render(&a);
    for word in [
        "Signals",
        "Meldcode",
        "Group sessions",
        "Press a to add a signal",
    ] {
        assert!(shown.contains(word), "{word}:\n{shown}");
    }
    // What the tab says about the workflows, at 120 columns (the render's), whole.
    let d = match &a.screen {
        Screen::Dossier(d) => d,
        _ => panic!("no dossier"),
    };
    let v = super::views::tabs::view(&d.data, super::nav::Tab::Records, &a.ctx(), false, 400);
    let text: String = v.lines.iter().map(|(_, l)| l.to_string() + "\n").collect();
    assert!(
        text.contains("kluis meldcode consult|talk|weigh|decide")
            && text.contains("kluis group add"),
        "{text}"
    );

    // `a` goes straight to the signal's form: the only kind here a person types whole.
    a.handle_key(key(KeyCode::Char('a')));
    assert!(on_form(&a), "{}", render(&a));
    // The day it was observed starts as today.
    a.handle_key(key(KeyCode::Tab));
    typed(&mut a, &format!("Blauwe plek {CANARY}"));
    save(&mut a);
    let signals: Vec<Signal> = records(&mut a, &jan);
    assert_eq!(signals.len(), 1);
    assert_eq!(
        (signals[0].observed_on, signals[0].special),
        (super::tests::clock().date(), true),
        "a signal is special-category data unless the worker says otherwise"
    );
    assert!(signals[0].text.contains(CANARY));
    // Shown masked (special), and not at all behind the privacy screen.
    let session = a.session.as_mut().unwrap();
    let mut d = session.dossier(&jan).unwrap();
    d.other = vec![(
        Kind::Signal,
        session.generic_records(Kind::Signal, &jan, false).unwrap(),
    )];
    let ctx = a.ctx();
    for hide in [false, true] {
        let v = super::views::tabs::view(&d, super::nav::Tab::Records, &ctx, hide, 80);
        assert_eq!(v.items, vec![(Kind::Signal, signals[0].id.clone())]);
        let text: String = v.lines.iter().map(|(_, l)| l.to_string()).collect();
        assert!(!text.contains(CANARY), "{text}");
    }

    // The store refuses a meldcode step made by the generic path, as `record add` does:
    // its order is its workflow's to keep.
    let mut values = std::collections::BTreeMap::new();
    values.insert("signal_id", serde_json::Value::from(signals[0].id.clone()));
    values.insert("step", serde_json::Value::from("talk"));
    values.insert("taken_on", serde_json::Value::from("2026-03-15"));
    values.insert("text", serde_json::Value::from("Gesprek"));
    values.insert("special", serde_json::Value::from(true));
    let step: MeldcodeStep = crate::model::record::build(
        &crate::store::new_id(),
        &jan,
        "w",
        &crate::model::now_utc(),
        values,
    )
    .unwrap();
    let session = a.session.as_mut().unwrap();
    let refused = session.change(|s| s.add_record(&step)).unwrap_err();
    assert!(
        matches!(&refused, crate::Error::Invalid { field, .. } if field.name() == "meldcode_step"),
        "{refused}"
    );
    assert!(session.records::<MeldcodeStep>(&jan).unwrap().is_empty());
}
