//! Demo data: clearly fictitious clients and visit notes, generated (no real people, no BSN).
//! For trying kluis out, for screenshots, and for the benchmarks at scale.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use rand::{Rng, SeedableRng, rngs::StdRng};
use rusqlite::params;

use crate::error::Result;
use crate::model::{Domain, NoteKind};
use crate::store::{Store, new_id};

/// Fictitious first names.
pub const FIRST: &[&str] = &[
    "Fatima", "Jan", "Mohammed", "Anna", "Pieter", "Sanne", "Ahmed", "Lotte", "Kees", "Noor",
    "Bram", "Yasmina", "Henk", "Emma", "Sem", "Aylin", "Gerrit", "Iris", "Daan", "Esra", "Joyce",
    "Ruben", "Samira", "Wim", "Fenna", "Kofi", "Marieke", "Youssef", "Ilse", "Tim",
];
/// Fictitious surnames.
pub const LAST: &[&str] = &[
    "de Vries",
    "Jansen",
    "el Amrani",
    "Bakker",
    "Visser",
    "Smit",
    "Yilmaz",
    "de Boer",
    "Mulder",
    "de Jong",
    "Bouzid",
    "Meijer",
    "van Dijk",
    "Peters",
    "Hendriks",
    "Dekker",
    "Kaya",
    "Brouwer",
    "van Leeuwen",
    "Bos",
    "Vermeulen",
    "Asante",
    "Kok",
    "Postma",
];
const STREETS: &[&str] = &[
    "Dorpsstraat",
    "Kerkstraat",
    "Molenweg",
    "Schoolstraat",
    "Parklaan",
    "Beukenlaan",
    "Stationsweg",
];
const TOWNS: &[&str] = &["Voorbeeld", "Testdorp", "Oefenstad", "Proefwijk"];

const OPENINGS: &[&str] = &[
    "Huisbezoek aan de keukentafel.",
    "Telefonisch contact gehad.",
    "Gesprek op het wijkteamkantoor, op verzoek in een aparte ruimte.",
    "Samen met de partner gesproken.",
    "Kort contact na de afspraak van vorige week.",
];
const TOPICS: &[&str] = &[
    "De huurachterstand is opgelopen; de verhuurder heeft een brief gestuurd.",
    "Er liggen ongeopende brieven van de belastingdienst; samen geopend en gesorteerd.",
    "De aanvraag voor beschermingsbewind is ingediend.",
    "De kinderen gaan weer naar school; de jongste heeft moeite met slapen.",
    "Mantelzorg voor de moeder valt zwaar; respijtzorg besproken.",
    "De aanvraag voor een scootmobiel ligt bij de Wmo-consulent.",
    "Sollicitatie bij de supermarkt in de wijk, gesprek volgende week.",
    "De energierekening is hoog; een betalingsregeling afgesproken.",
    "Voedselbank aangevraagd voor de komende drie maanden.",
    "Zorgen over eenzaamheid; het buurthuis heeft een koffieochtend.",
    "De huisarts is op de hoogte en verwijst naar de praktijkondersteuner ggz.",
    "Afspraken uit het plan doorgenomen; de meeste acties lopen.",
];
const CLOSINGS: &[&str] = &[
    "Volgende afspraak over twee weken.",
    "Ik bel volgende week om te horen hoe het gaat.",
    "Cliënt is tevreden over de voortgang.",
    "Afgesproken dat cliënt zelf de verhuurder belt.",
    "Geen nieuwe zorgen op dit moment.",
];

fn pick<'a>(rng: &mut StdRng, list: &[&'a str]) -> &'a str {
    list[rng.gen_range(0..list.len())]
}

/// Fills an empty store with `clients` fictitious clients of `notes_per_client` notes each,
/// spread over the two years before `today`. One transaction; nothing is journaled.
pub fn populate(
    store: &Store,
    clients: usize,
    notes_per_client: usize,
    today: NaiveDate,
    seed: u64,
) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let conn = store.connection();
    conn.execute_batch("BEGIN")?;
    let now = crate::model::now_utc();
    {
        let mut add_client = conn.prepare(
            "INSERT INTO client (id, name, birth_date, address, phone, domain, status, opened_on, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7, ?8, ?8)",
        )?;
        let mut add_note = conn.prepare(
            "INSERT INTO note (id, client_id, kind, occurred_at, body, author, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'demo', ?6)",
        )?;
        for _ in 0..clients {
            let id = new_id();
            let name = format!("{} {} (demo)", pick(&mut rng, FIRST), pick(&mut rng, LAST));
            let birth = NaiveDate::from_ymd_opt(
                rng.gen_range(1940..2008),
                rng.gen_range(1..=12),
                rng.gen_range(1..=28),
            );
            let address = format!(
                "{} {}, {}",
                pick(&mut rng, STREETS),
                rng.gen_range(1..200),
                pick(&mut rng, TOWNS)
            );
            let phone = format!("06-00{:06}", rng.gen_range(0..1_000_000));
            let domain = Domain::ALL[rng.gen_range(0..Domain::ALL.len())];
            let opened = today - Duration::days(rng.gen_range(30..730));
            add_client.execute(params![
                id,
                name,
                birth.map(|d| d.to_string()),
                address,
                phone,
                domain.code(),
                opened.to_string(),
                now
            ])?;
            let span = (today - opened).num_minutes().max(1);
            let mut times: Vec<NaiveDateTime> = (0..notes_per_client)
                .map(|_| {
                    opened.and_hms_opt(8, 0, 0).expect("valid time")
                        + Duration::minutes(rng.gen_range(0..span))
                })
                .collect();
            times.sort();
            for at in times {
                let kind = NoteKind::ALL[rng.gen_range(0..NoteKind::ALL.len())];
                let body = format!(
                    "{} {} {}",
                    pick(&mut rng, OPENINGS),
                    pick(&mut rng, TOPICS),
                    pick(&mut rng, CLOSINGS)
                );
                add_note.execute(params![
                    new_id(),
                    id,
                    kind.code(),
                    crate::model::format_datetime(at),
                    body,
                    now
                ])?;
            }
        }
    }
    conn.execute_batch("COMMIT")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo notes' false-positive rate (docs/user-guide.md, "Minder gegevens"): every
    /// note the demo can write (an opening, a topic and a closing), scanned by the nudges.
    /// One topic is special-category data (a GP and mental health care) and should be
    /// flagged; a warning on any other note is a false positive.
    #[test]
    fn false_positive_rate_on_the_demo_notes() {
        use crate::model::nudge::{Lexicon, scan};
        const SENSITIVE: &[&str] =
            &["De huisarts is op de hoogte en verwijst naar de praktijkondersteuner ggz."];
        let lex = Lexicon::builtin();
        let (mut notes, mut clean, mut false_pos, mut missed) = (0, 0, 0, 0);
        for o in OPENINGS {
            for t in TOPICS {
                for c in CLOSINGS {
                    let body = format!("{o} {t} {c}");
                    let flagged = !scan(&body, &lex).is_empty();
                    notes += 1;
                    if SENSITIVE.contains(t) {
                        missed += usize::from(!flagged);
                    } else {
                        clean += 1;
                        false_pos += usize::from(flagged);
                    }
                }
            }
        }
        println!(
            "demo notes: {false_pos} of {clean} notes without special data flagged ({:.1}%); \
             {missed} of {} with special data missed",
            100.0 * false_pos as f64 / clean as f64,
            notes - clean
        );
        assert_eq!(false_pos, 0, "the demo notes raise a warning for nothing");
        assert_eq!(missed, 0);
    }

    #[test]
    fn demo_data_is_fictitious_and_complete() {
        let store = Store::create("demo").unwrap();
        populate(
            &store,
            20,
            5,
            NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            7,
        )
        .unwrap();
        assert_eq!(store.counts().unwrap(), (20, 100));
        let clients = store.clients(true).unwrap();
        assert!(
            clients
                .iter()
                .all(|(c, n, _)| c.name.ends_with("(demo)") && c.bsn.is_none() && *n == 5)
        );
        assert!(store.integrity_problems().unwrap().is_empty());
        let hits = store
            .search(&crate::model::fts_query("huurachterstand").unwrap(), 5)
            .unwrap();
        assert!(!hits.is_empty());
    }
}
