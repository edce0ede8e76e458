//! A team's life over one shared folder (issue 17): workers, dossiers, days of edits,
//! views, assignment changes, two revocations, one re-issued device (a lost laptop), closes
//! and purges, with syncs in random orders.
//! Used by the simulation test (`tests/it/simulation.rs`, small, in every `cargo test`; the
//! issue's full size with `--ignored`) and the benchmark `cargo bench --bench share`.
//!
//! At the end every worker syncs a few rounds, and the run checks: all vaults agree on every
//! dossier they share, no note a worker added (and kluis accepted) is missing from any
//! vault assigned to its dossier, no erased client is decryptable from any file in the
//! share with any key (the revoked workers' and the lost laptop's too), and how many files
//! and bytes the share holds
//! against the bound (≤ 3 files per worker plus what is not yet acknowledged; ≤ 2× the
//! bytes of the live data it carries).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use kluis::model::{ClientPatch, Domain, NewClient, NewNote, NoteKind};
use kluis::org;
use kluis::secret::SecretString;
use kluis::session::{Access, Session};
use kluis::sync;
use kluis::vault::KdfParams;

const PASS: &str = "Zonnebloem-Kraanwater-47-Lantaarn";
const IT_PASS: &str = "Rood-Paard-Zeilboot-Kaasschaaf-19";
const WEAK: KdfParams = KdfParams {
    memory_kib: 8 * 1024,
    iterations: 1,
    parallelism: 1,
};

/// The size of a run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Workers in the team.
    pub workers: usize,
    /// Dossiers made on the first day (more are made later).
    pub dossiers: usize,
    /// Working days.
    pub days: usize,
    /// Actions per worker per day.
    pub actions: usize,
    /// The seed of every random choice.
    pub seed: u64,
}

impl Config {
    /// Small: seconds in a debug build.
    pub fn small() -> Config {
        Config {
            workers: 4,
            dossiers: 16,
            days: 12,
            actions: 3,
            seed: 17,
        }
    }

    /// The issue's size: 10 workers, 400 dossiers, 250 working days.
    pub fn full() -> Config {
        Config {
            workers: 10,
            dossiers: 400,
            days: 250,
            actions: 12,
            seed: 17,
        }
    }
}

/// The share on one day.
#[derive(Clone, Debug, Default)]
pub struct Day {
    /// The day.
    pub day: usize,
    /// Bundle files.
    pub bundles: usize,
    /// Acknowledgement files.
    pub acks: usize,
    /// Rosters and device requests (IT's files).
    pub it_files: usize,
    /// Bytes of all files.
    pub bytes: u64,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The share after every day.
    pub series: Vec<Day>,
    /// Bundles in the share at the end not yet acknowledged by every current recipient.
    pub unacknowledged: usize,
    /// The live data the share carries, in the payload's own form (JSON, before
    /// encryption): every op and note of every dossier not erased, counted once.
    pub live_bytes: u64,
    /// Dossiers erased.
    pub erased: usize,
    /// Notes added (and accepted).
    pub notes: usize,
    /// Syncs run.
    pub syncs: usize,
    /// Bundles removed and rewritten, summed over all syncs.
    pub removed: usize,
    /// Bundles rewritten without an erased dossier.
    pub rewritten: usize,
    /// Bundle files written, and their bytes, summed over all syncs.
    pub written: usize,
    /// Bytes of the bundle files written.
    pub written_bytes: u64,
    /// Notes the lost laptop made after its last sync: they never left it.
    pub lost_with_laptop: usize,
    /// The bundles in the share at the end, by author and creation time.
    pub left: Vec<(String, String)>,
    /// What does not hold; empty when all is well.
    pub problems: Vec<String>,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn wid(i: usize) -> String {
    format!("w{:03}", i + 1)
}

/// A new device for worker `id` (IT re-issued the id: the laptop was lost): enrolled,
/// admitted, and the roster that says so published into `share`. The old device's key no
/// longer counts from now on.
fn new_device(org_dir: &Path, share: &Path, id: &str, path: &Path) -> Session {
    let it = SecretString::from(IT_PASS.to_owned());
    let pass = SecretString::from(PASS.to_owned());
    let (sealed, code) = org::reissue(org_dir, &it, id, WEAK).unwrap();
    let e = org::open_enrollment(&sealed, &code, path).unwrap();
    let s = sync::create_enrolled(path, &pass, WEAK, &e, path).unwrap();
    let request = kluis::internals::meta(kluis::internals::store(&s), "device_request")
        .unwrap()
        .unwrap();
    s.close().unwrap();
    let admitted = org::admit(
        org_dir,
        &it,
        &[(path.with_extension("kluisreq"), request.into_bytes())],
        None,
    )
    .unwrap();
    assert_eq!(admitted.admitted.len(), 1);
    let signed = org::signed_roster(org_dir, &it).unwrap();
    sync::publish_roster(share, &signed).unwrap();
    Session::open(path, &pass, Access::Write).unwrap()
}

/// A worker id's enrolled, admitted vault, for every worker: the roster lists them all.
fn team(dir: &Path, n: usize) -> (PathBuf, Vec<PathBuf>) {
    let it = SecretString::from(IT_PASS.to_owned());
    let org_dir = dir.join("org");
    org::init(&org_dir, "Gemeente Simulatie", &it, WEAK).unwrap();
    let mut issued = Vec::new();
    for i in 0..n {
        let id = wid(i);
        let req = org::IssueRequest {
            id: &id,
            name: &id,
            teams: &[],
            role: org::Role::Worker,
            valid_until: None,
            code_params: WEAK,
        };
        let (sealed, code) = org::issue(&org_dir, &it, &req).unwrap();
        issued.push((sealed, code, dir.join(format!("{id}.kluis"))));
    }
    let pass = SecretString::from(PASS.to_owned());
    let roster = org::signed_roster(&org_dir, &it).unwrap();
    let roster_text = serde_json::to_string(&roster).unwrap();
    let mut requests = Vec::new();
    for (sealed, code, path) in &issued {
        let mut e = org::open_enrollment(sealed, code, path).unwrap();
        e.roster = serde_json::from_str(&roster_text).unwrap();
        let s = sync::create_enrolled(path, &pass, WEAK, &e, path).unwrap();
        let request = kluis::internals::meta(kluis::internals::store(&s), "device_request")
            .unwrap()
            .unwrap();
        s.close().unwrap();
        requests.push((path.with_extension("kluisreq"), request.into_bytes()));
    }
    let admitted = org::admit(&org_dir, &it, &requests, None).unwrap();
    assert_eq!(admitted.admitted.len(), n);
    let roster = dir.join("roster.json");
    std::fs::write(
        &roster,
        serde_json::to_vec(&org::signed_roster(&org_dir, &it).unwrap()).unwrap(),
    )
    .unwrap();
    for (_, _, path) in &issued {
        let mut s = Session::open(path, &pass, Access::Write).unwrap();
        s.import_roster(&roster).unwrap();
        s.close().unwrap();
    }
    (org_dir, issued.into_iter().map(|(_, _, p)| p).collect())
}

/// The dossiers `s`'s own worker is assigned to here, open ones only.
fn mine(s: &Session, me: &str) -> Vec<String> {
    let conn = kluis::internals::connection(kluis::internals::store(s));
    conn.prepare(
        "SELECT a.client_id FROM assignment a JOIN client c ON c.id = a.client_id
         WHERE a.worker = ?1 AND a.assigned = 1 AND c.status != 'closed' ORDER BY a.client_id",
    )
    .unwrap()
    .query_map([me], |r| r.get(0))
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

fn closed_here(s: &Session) -> Vec<String> {
    let conn = kluis::internals::connection(kluis::internals::store(s));
    conn.prepare("SELECT id FROM client WHERE status = 'closed' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// What must agree between vaults about one dossier.
fn dossier_state(s: &Session, id: &str) -> Option<String> {
    let conn = kluis::internals::connection(kluis::internals::store(s));
    let client: Option<String> = conn
        .query_row(
            "SELECT name || '|' || coalesce(phone, '') || '|' || status || '|'
                    || coalesce(closed_on, '') FROM client WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .ok();
    let notes: Vec<String> = conn
        .prepare("SELECT id || ':' || body FROM note WHERE client_id = ?1 ORDER BY id")
        .unwrap()
        .query_map([id], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let assigned: Vec<String> = conn
        .prepare(
            "SELECT worker || '=' || assigned FROM assignment WHERE client_id = ?1 ORDER BY worker",
        )
        .unwrap()
        .query_map([id], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    client.map(|c| format!("{c}\n{}\n{}", notes.join("\n"), assigned.join(",")))
}

fn assigned_here(s: &Session, id: &str, me: &str) -> bool {
    let conn = kluis::internals::connection(kluis::internals::store(s));
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM assignment WHERE client_id = ?1 AND worker = ?2
           AND assigned = 1)",
        [id, me],
        |r| r.get(0),
    )
    .unwrap()
}

fn has_note(s: &Session, id: &str) -> bool {
    let conn = kluis::internals::connection(kluis::internals::store(s));
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM note WHERE id = ?1)",
        [id],
        |r| r.get(0),
    )
    .unwrap()
}

/// Files in the share: (bundles, acknowledgements, IT's files, bytes).
fn measure(dir: &Path, day: usize) -> Day {
    let mut d = Day {
        day,
        ..Day::default()
    };
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        if name.starts_with('.') {
            continue;
        }
        d.bytes += e.metadata().unwrap().len();
        match name.rsplit('.').next() {
            Some("kluisb") => d.bundles += 1,
            Some("kluisack") => d.acks += 1,
            _ => d.it_files += 1,
        }
    }
    d
}

/// Bundles in the share that a recipient who is active now (other than the author) has not
/// named in their acknowledgement (read as the vaults wrote them).
fn unacknowledged(dir: &Path, active: &HashSet<String>) -> usize {
    let mut acked: HashMap<String, HashSet<String>> = HashMap::new();
    for w in active {
        let path = dir.join(sync::ack_name(w));
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let line = bytes.split(|b| *b == b'\n').nth(1).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_slice(line).unwrap_or_default();
        let merged = v["merged"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|h| h.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        acked.insert(w.clone(), merged);
    }
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_none_or(|x| x != "kluisb") {
            continue;
        }
        let hash = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let Ok(parsed) = sync::read_bundle(&path) else {
            n += 1;
            continue;
        };
        let waiting = parsed.header.recipients.iter().any(|w| {
            *w != parsed.header.author
                && active.contains(w)
                && !acked.get(w).is_some_and(|a| a.contains(&hash))
        });
        n += usize::from(waiting);
    }
    n
}

/// Every bundle any of `ids` can open, as text (ops, notes and files' bytes).
fn decryptable(dir: &Path, ids: &[age::x25519::Identity]) -> Vec<(PathBuf, String)> {
    use base64::Engine;
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_none_or(|x| x != "kluisb") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for id in ids {
            if let Ok((_, payload)) = sync::raw::open(bytes.clone(), id) {
                let mut text = serde_json::to_string(&payload.ops).unwrap();
                text.push_str(&serde_json::to_string(&payload.notes).unwrap());
                for b in &payload.blobs {
                    let data = base64::prelude::BASE64_STANDARD
                        .decode(&b.data)
                        .unwrap_or_default();
                    text.push_str(&String::from_utf8_lossy(&data));
                }
                out.push((path.clone(), text));
                break;
            }
        }
    }
    out
}

/// The marker that names a dossier in its name and every note: what must be gone from the
/// share once it is erased.
fn marker(n: usize) -> String {
    format!("Mk{n}x")
}

/// Runs a team's life in `tmp`.
pub fn run(cfg: &Config, tmp: &Path) -> Outcome {
    let mut out = Outcome::default();
    let mut rng = Rng(cfg.seed | 1);
    let (org_dir, paths) = team(tmp, cfg.workers);
    let share = tmp.join("share");
    std::fs::create_dir(&share).unwrap();
    let pass = SecretString::from(PASS.to_owned());
    let it = SecretString::from(IT_PASS.to_owned());
    let mut sessions: Vec<Session> = paths
        .iter()
        .map(|p| Session::open(p, &pass, Access::Write).unwrap())
        .collect();
    let ids: Vec<age::x25519::Identity> = sessions
        .iter()
        .map(|s| {
            sync::raw::device_keys(kluis::internals::store(s))
                .unwrap()
                .0
        })
        .collect();
    let mut ids = ids;
    let names: Vec<String> = (0..cfg.workers).map(wid).collect();
    // Two workers leave (revoked at half and three quarters of the run; their vaults, as IT
    // recovers them, sync now and then), and one loses their laptop at a third: IT issues
    // the id again, the new device starts empty and gets the dossiers from colleagues.
    let leaving = [
        (cfg.workers - 1, cfg.days / 2),
        (cfg.workers - 2, cfg.days * 3 / 4),
    ];
    let leaves = |w: usize| leaving.iter().any(|(l, _)| *l == w);
    let reissued_worker = 1;
    let reissue_day = cfg.days / 3;
    let mut revoked: HashSet<usize> = HashSet::new();
    let mut reissued_at: Option<String> = None;
    let today = chrono::Local::now().date_naive();
    let day0 = NaiveDate::from_ymd_opt(2000, 1, 3).unwrap();
    // Dossier markers by id, notes by id, erasures, and when each dossier was closed.
    let mut marker_of: HashMap<String, String> = HashMap::new();
    let mut notes: Vec<(String, String)> = Vec::new();
    let mut erased: BTreeSet<String> = BTreeSet::new();
    let mut closed_on_day: HashMap<String, usize> = HashMap::new();
    // What each vault did since its last sync (notes, erasures): a lost laptop takes it along.
    let mut unsynced: Vec<(HashSet<String>, HashSet<String>)> =
        vec![Default::default(); cfg.workers];
    let mut next = 0usize;
    let new_dossier = |s: &mut Session, me: usize, rng: &mut Rng, next: &mut usize| {
        let n = *next;
        *next += 1;
        let name = format!("Cliënt {}", marker(n));
        let colleagues: Vec<String> = (0..2)
            .map(|_| rng.below(cfg.workers))
            .filter(|w| *w != me && !leaves(*w))
            .map(wid)
            .collect();
        let id = s
            .change(|st| {
                let id = st.add_client(&NewClient {
                    name: name.clone(),
                    bsn: None,
                    birth_date: None,
                    address: Some(format!("Dorpsstraat {n}")),
                    phone: None,
                    domain: Domain::Wmo,
                    opened_on: day0,
                })?;
                for w in &colleagues {
                    st.assign(&id, w, true)?;
                }
                Ok(id)
            })
            .unwrap();
        (id, marker(n))
    };
    for i in 0..cfg.dossiers {
        let me = i % cfg.workers;
        let me = if leaves(me) { 0 } else { me };
        let (id, m) = new_dossier(&mut sessions[me], me, &mut rng, &mut next);
        marker_of.insert(id, m);
    }
    for day in 0..cfg.days {
        for &(w, on) in &leaving {
            if day == on && !revoked.contains(&w) {
                // The revocation is written to the second: what the worker did in the second
                // before it is theirs (a real team's days are not a second long).
                std::thread::sleep(std::time::Duration::from_millis(1100));
                org::revoke(&org_dir, &names[w], "vertrokken", kluis::model::now_utc()).unwrap();
                let signed = org::signed_roster(&org_dir, &it).unwrap();
                sync::publish_roster(&share, &signed).unwrap();
                revoked.insert(w);
            }
        }
        if day == reissue_day && cfg.workers > 2 {
            // The laptop is gone with what it did since its last sync; the new device's
            // first sync is on the day's syncs below, like anyone's.
            let w = reissued_worker;
            std::thread::sleep(std::time::Duration::from_millis(1100));
            let path = paths[w].with_extension("new.kluis");
            reissued_at = Some(kluis::model::now_utc());
            let fresh = new_device(&org_dir, &share, &names[w], &path);
            let old = std::mem::replace(&mut sessions[w], fresh);
            old.close().unwrap();
            let (lost_notes, lost_erasures) = std::mem::take(&mut unsynced[w]);
            out.lost_with_laptop = lost_notes.len();
            notes.retain(|(n, _)| !lost_notes.contains(n));
            for id in lost_erasures {
                erased.remove(&id);
            }
            ids.push(
                sync::raw::device_keys(kluis::internals::store(&sessions[w]))
                    .unwrap()
                    .0,
            );
        }
        for w in 0..cfg.workers {
            if revoked.contains(&w) {
                continue;
            }
            let me = names[w].clone();
            for _ in 0..cfg.actions {
                let s = &mut sessions[w];
                let list = mine(s, &me);
                let roll = rng.below(100);
                if list.is_empty() || roll < 2 {
                    let (id, m) = new_dossier(s, w, &mut rng, &mut next);
                    marker_of.insert(id, m);
                    continue;
                }
                let id = list[rng.below(list.len())].clone();
                let m = marker_of.get(&id).cloned().unwrap_or_default();
                match roll {
                    2..=45 => {
                        let _ = s.client(&id, false);
                    }
                    46..=80 => {
                        let body = format!("Gesprek {m} dag {day} door {me}");
                        let at = day0 + chrono::Days::new((day % 600) as u64);
                        let r = s.change(|st| {
                            st.add_note(&NewNote {
                                client_id: id.clone(),
                                kind: NoteKind::Huisbezoek,
                                occurred_at: at.and_hms_opt(10, 0, 0).unwrap(),
                                body: body.clone(),
                                supersedes: None,
                                special: false,
                            })
                        });
                        if let Ok(note) = r {
                            unsynced[w].0.insert(note.clone());
                            notes.push((note, id.clone()));
                        }
                    }
                    81..=88 => {
                        let phone = format!("06-{:08}", rng.below(100_000_000));
                        let _ = s.change(|st| {
                            st.edit_client(
                                &id,
                                &ClientPatch {
                                    phone: Some(Some(phone.clone())),
                                    ..Default::default()
                                },
                            )
                        });
                    }
                    89..=93 => {
                        let other = rng.below(cfg.workers);
                        if !revoked.contains(&other) {
                            let _ = s.change(|st| st.assign(&id, &names[other], true));
                        }
                    }
                    94..=96 => {
                        let other = rng.below(cfg.workers);
                        if other != w {
                            let _ = s.change(|st| st.assign(&id, &names[other], false));
                        }
                    }
                    _ => {
                        // Closed long ago on paper, so that its retention has ended.
                        let on = NaiveDate::from_ymd_opt(2002, 1, 1).unwrap();
                        if s.change(|st| st.close_client(&id, on)).is_ok() {
                            closed_on_day.insert(id.clone(), day);
                        }
                    }
                }
            }
            // Purges: a dossier closed here at least three days ago.
            let s = &mut sessions[w];
            for id in closed_here(s) {
                if erased.contains(&id)
                    || closed_on_day.get(&id).is_none_or(|d| day < d + 3)
                    || !assigned_here(s, &id, &me)
                {
                    continue;
                }
                if s.change(|st| st.erase_client(&id, today)).is_ok() {
                    unsynced[w].1.insert(id.clone());
                    erased.insert(id);
                }
            }
        }
        // Syncs, in a random order; the revoked workers' vaults (recovered by IT) now and then.
        let mut order: Vec<usize> = (0..cfg.workers).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        for w in order {
            let p = if revoked.contains(&w) { 20 } else { 70 };
            if rng.chance(p) {
                sync_one(&mut sessions[w], &share, &mut out);
                unsynced[w] = Default::default();
            }
        }
        out.series.push(measure(&share, day));
    }
    // Everyone syncs until nothing moves.
    for _ in 0..4 {
        for s in sessions.iter_mut() {
            sync_one(s, &share, &mut out);
        }
    }
    out.series.push(measure(&share, cfg.days));
    out.erased = erased.len();
    out.notes = notes.len();
    let active: HashSet<String> = names
        .iter()
        .enumerate()
        .filter(|(i, _)| !revoked.contains(i))
        .map(|(_, n)| n.clone())
        .collect();
    out.unacknowledged = unacknowledged(&share, &active);
    for e in std::fs::read_dir(&share).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "kluisb")
            && let Ok(parsed) = sync::read_bundle(&path)
        {
            out.left
                .push((parsed.header.author.clone(), parsed.header.created.clone()));
        }
    }
    out.left.sort();
    // The lost laptop never syncs again: its bundles leave through the new device.
    if let Some(at) = &reissued_at {
        for (author, created) in &out.left {
            if *author == names[reissued_worker] && created <= at {
                out.problems.push(format!(
                    "a bundle of {author}'s lost laptop ({created}) stayed"
                ));
            }
        }
    }

    // All vaults agree on every dossier they share.
    let live_workers: Vec<usize> = (0..cfg.workers).filter(|w| !revoked.contains(w)).collect();
    for id in marker_of.keys() {
        let mut states: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for &w in &live_workers {
            if assigned_here(&sessions[w], id, &names[w])
                && let Some(state) = dossier_state(&sessions[w], id)
            {
                states.entry(state).or_default().push(names[w].clone());
            }
        }
        if states.len() > 1 {
            out.problems.push(format!(
                "dossier {id}: {} different states: {states:#?}\n{}",
                states.len(),
                op_differences(&sessions, &names, &live_workers, id),
            ));
        }
    }
    // No accepted note lost: every vault assigned to its dossier has it.
    for (note, client) in &notes {
        if erased.contains(client) {
            continue;
        }
        for &w in &live_workers {
            if assigned_here(&sessions[w], client, &names[w]) && !has_note(&sessions[w], note) {
                out.problems
                    .push(format!("note {note} of {client} missing at {}", names[w]));
            }
        }
    }
    // No erased client decryptable from the share, with any key.
    let gone: Vec<&String> = erased.iter().filter_map(|id| marker_of.get(id)).collect();
    for (path, text) in decryptable(&share, &ids) {
        for m in &gone {
            if text.contains(m.as_str()) {
                out.problems
                    .push(format!("{} still holds erased dossier {m}", path.display()));
            }
        }
    }
    // The live data: every op and note of the dossiers not erased, counted once.
    let mut seen_ops = HashSet::new();
    let mut seen_notes = HashSet::new();
    for s in &sessions {
        let conn = kluis::internals::connection(kluis::internals::store(s));
        let mut stmt = conn
            .prepare(
                "SELECT id, length(id) + length(client_id) + length(field)
                    + coalesce(length(value), 0) + coalesce(length(prev), 0) + length(hlc)
                    + length(author) + 70
                 FROM op WHERE client_id NOT IN (SELECT client_id FROM erased)",
            )
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .unwrap();
        for row in rows {
            let (id, n) = row.unwrap();
            if seen_ops.insert(id) {
                out.live_bytes += n as u64;
            }
        }
        let mut stmt = conn
            .prepare(
                "SELECT id, length(CAST(body AS BLOB)) + length(author) + 200 FROM note
                 WHERE client_id NOT IN (SELECT client_id FROM erased)",
            )
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .unwrap();
        for row in rows {
            let (id, n) = row.unwrap();
            if seen_notes.insert(id) {
                out.live_bytes += n as u64;
            }
        }
    }
    for s in sessions {
        s.close().unwrap();
    }
    out
}

/// For a dossier the vaults disagree on: the ops some vault has and another lacks, with
/// where each vault that has it got it from (`via`) and its local sequence number.
fn op_differences(sessions: &[Session], names: &[String], live: &[usize], id: &str) -> String {
    let mut all: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut holders = Vec::new();
    for &w in live {
        let conn = kluis::internals::connection(kluis::internals::store(&sessions[w]));
        let rows: Vec<(String, String, String, i64, Option<String>)> = conn
            .prepare(
                "SELECT id, field || '=' || coalesce(value, ''), author, seq, via FROM op
                 WHERE client_id = ?1",
            )
            .unwrap()
            .query_map([id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        if rows.is_empty() {
            continue;
        }
        holders.push(names[w].clone());
        for (op, field, author, seq, via) in rows {
            all.entry(format!("{op} {field} by {author}"))
                .or_default()
                .push((names[w].clone(), format!("seq {seq} via {via:?}")));
        }
    }
    all.into_iter()
        .filter(|(_, at)| at.len() < holders.len())
        .map(|(op, at)| format!("{op}: {at:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn sync_one(s: &mut Session, share: &Path, out: &mut Outcome) {
    let r = sync::sync(s, share).unwrap();
    assert!(r.refused.is_empty(), "refused: {:?}", r.refused);
    out.syncs += 1;
    out.removed += r.forget.removed;
    out.rewritten += r.forget.rewritten;
    out.written += r.exported.len();
    out.written_bytes += r
        .exported
        .iter()
        .filter_map(|e| std::fs::metadata(&e.file).ok())
        .map(|m| m.len())
        .sum::<u64>();
}

impl Outcome {
    /// The share at the end.
    pub fn last(&self) -> &Day {
        self.series.last().expect("a day")
    }

    /// Whether the share holds at most 3 files per worker plus what is not yet
    /// acknowledged (bundles and acknowledgements; IT's rosters are counted apart).
    pub fn files_within(&self, workers: usize) -> bool {
        let d = self.last();
        d.bundles + d.acks <= 3 * workers + self.unacknowledged
    }

    /// The share's bytes against the live data it carries.
    pub fn bytes_ratio(&self) -> f64 {
        self.last().bytes as f64 / self.live_bytes.max(1) as f64
    }
}
