//! Privacy by design in the database: the hash-chained access log, consents, disclosures,
//! retention and erasure. No crypto beyond hashing and no files (see docs/privacy.md).

use chrono::NaiveDate;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{IdTable, Store, new_id};
use crate::error::{Error, Result};
use crate::i18n::t;
use crate::model::record::Record;
use crate::model::{
    self, Action, AuditEntry, Consent, Disclosure, Domain, GENESIS, NewConsent, TravellingEntry,
};

/// A closed dossier and the day it may be erased.
#[derive(Clone, Debug, Serialize)]
pub struct RetentionItem {
    /// The dossier.
    pub client_id: String,
    /// Its name.
    pub name: String,
    /// Its domain.
    pub domain: Domain,
    /// When it was closed.
    pub closed_on: NaiveDate,
    /// The last day it is kept.
    pub retention_until: NaiveDate,
    /// Whether that day has passed: it must be erased.
    pub due: bool,
}

impl Store {
    /// Records that this session acts on someone else's behalf (IT after a recovery).
    pub(in crate::engine) fn set_on_behalf(&self, who: Option<String>) {
        *self.on_behalf.borrow_mut() = who;
    }

    /// Who is at the keyboard, for the log: the worker id in a team vault, else the owner.
    pub(in crate::engine) fn user(&self) -> Result<String> {
        Ok(match self.meta("worker_id")? {
            Some(w) => w,
            // A code, not a word: what is stored never depends on the writer's language.
            None => self.meta("owner")?.unwrap_or_else(|| "me".to_owned()),
        })
    }

    /// Notes an unlock for the access log; it is written with the session's first change
    /// or entry (see `pending_unlock`).
    pub(in crate::engine) fn note_unlock(&self, detail: &str) {
        *self.pending_unlock.borrow_mut() = Some((self.now(), detail.to_owned()));
    }

    /// Writes a noted unlock (inside a transaction).
    pub(super) fn flush_unlock(&self) -> Result<()> {
        let Some((at, detail)) = self.pending_unlock.borrow_mut().take() else {
            return Ok(());
        };
        let user = self.user()?;
        let on_behalf = self.on_behalf.borrow().clone();
        self.append_entry(
            &new_id(),
            &at,
            Action::Unlock.code(),
            None,
            &user,
            on_behalf.as_deref(),
            &detail,
            None,
        )
    }

    /// Appends an entry to the access log. An entry about a dossier that travels (see
    /// [`Action::travels`]) is also an op, so it reaches every colleague the dossier goes to.
    /// Details name ids and organisations, never a client's personal data.
    pub(in crate::engine) fn log(
        &self,
        action: Action,
        client: Option<&str>,
        detail: &str,
    ) -> Result<String> {
        let user = self.user()?;
        self.log_by(&user, action, client, detail)
    }

    /// [`Store::log`] for someone other than the vault's user (IT during a recovery).
    pub(in crate::engine) fn log_by(
        &self,
        user: &str,
        action: Action,
        client: Option<&str>,
        detail: &str,
    ) -> Result<String> {
        self.flush_unlock()?;
        let id = new_id();
        let at = self.now();
        let user = user.to_owned();
        let on_behalf = self.on_behalf.borrow().clone();
        self.append_entry(
            &id,
            &at,
            action.code(),
            client,
            &user,
            on_behalf.as_deref(),
            detail,
            None,
        )?;
        if let Some(c) = client
            && action.travels()
            && !self.is_erased(c)?
            // A revoked worker's vault (recovered by IT to hand its dossiers over) keeps
            // its entries: colleagues would refuse them, and the handover with them.
            && !self.revoked_here()?
        {
            let value = serde_json::to_string(&TravellingEntry {
                at,
                action: action.code().to_owned(),
                user,
                on_behalf,
                detail: detail.to_owned(),
            })
            .map_err(|e| Error::invalid("log", e.to_string()))?;
            self.emit_new(c, &format!("log/{id}"), Some(&value))?;
        }
        Ok(id)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn append_entry(
        &self,
        id: &str,
        at: &str,
        action: &str,
        client: Option<&str>,
        user: &str,
        on_behalf: Option<&str>,
        detail: &str,
        origin: Option<&str>,
    ) -> Result<()> {
        let (seq, prev): (i64, String) = self
            .conn
            .prepare_cached("SELECT seq, hash FROM access_log ORDER BY seq DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .map_or((1, GENESIS.to_owned()), |(s, h): (i64, String)| (s + 1, h));
        let dh = model::detail_hash(detail);
        let hash = model::entry_hash(
            &prev, seq, id, at, action, client, user, on_behalf, &dh, origin,
        );
        self.conn
            .prepare_cached(
                "INSERT INTO access_log (id, seq, at, action, client_id, user, on_behalf, detail,
                                         detail_hash, origin, prev, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                id, seq, at, action, client, user, on_behalf, detail, dh, origin, prev, hash
            ])?;
        self.record("access_log", id)
    }

    /// Puts an entry that arrived with a synced dossier into this vault's chain, once: from
    /// the worker who signed the bundle, or forwarded from one who is or was assigned to the
    /// dossier (the author of a forwarded op is only claimed, so an unrelated member cannot
    /// put entries in a colleague's name).
    pub(super) fn import_entry(
        &self,
        id: &str,
        client: &str,
        author: &str,
        value: &str,
        signer: Option<&str>,
    ) -> Result<bool> {
        let vouched = signer.is_none_or(|s| s == author)
            || self
                .conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM assignment WHERE client_id = ?1 AND worker = ?2)",
                )?
                .query_row([client, author], |r| r.get::<_, bool>(0))?;
        if !vouched {
            return Ok(false);
        }
        let known: bool = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM access_log WHERE id = ?1)")?
            .query_row([id], |r| r.get(0))?;
        let Ok(e) = serde_json::from_str::<TravellingEntry>(value) else {
            return Ok(false);
        };
        if known || e.user != author || self.is_erased(client)? {
            return Ok(false);
        }
        self.append_entry(
            id,
            &e.at,
            &e.action,
            Some(client),
            &e.user,
            e.on_behalf.as_deref(),
            &e.detail,
            Some(author),
        )?;
        Ok(true)
    }

    /// The access log, oldest first; one dossier's with `client`.
    pub(in crate::engine) fn audit(&self, client: Option<&str>) -> Result<Vec<AuditEntry>> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, id, at, action, client_id, user, on_behalf, detail, origin, hash
             FROM access_log WHERE ?1 IS NULL OR client_id = ?1 ORDER BY seq",
        )?;
        let rows = stmt
            .query_map([client], |r| {
                Ok(AuditEntry {
                    seq: r.get(0)?,
                    id: r.get(1)?,
                    at: r.get(2)?,
                    action: r.get::<_, String>(3)?.parse().unwrap_or(Action::View),
                    client_id: r.get(4)?,
                    user: r.get(5)?,
                    on_behalf: r.get(6)?,
                    detail: r.get(7)?,
                    origin: r.get(8)?,
                    hash: r.get(9)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Checks the whole chain. Returns the number of entries, or the first broken link and
    /// what is wrong with it.
    pub(in crate::engine) fn verify_log(&self) -> Result<std::result::Result<u64, (i64, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, id, at, action, client_id, user, on_behalf, detail, detail_hash,
                    origin, prev, hash,
                    EXISTS (SELECT 1 FROM erased e WHERE e.client_id = access_log.client_id)
             FROM access_log ORDER BY seq",
        )?;
        let mut rows = stmt.query([])?;
        let mut prev = GENESIS.to_owned();
        let mut expected_seq = 1;
        let mut n = 0;
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            let text = |i: usize| r.get::<_, String>(i);
            let opt = |i: usize| r.get::<_, Option<String>>(i);
            let broken = |why: String| Ok(Err((seq, why)));
            if seq != expected_seq {
                return broken(t!("audit.gap", expected = expected_seq).into_owned());
            }
            if text(10)? != prev {
                return broken(t!("audit.prev").into_owned());
            }
            let detail_hash = text(8)?;
            match opt(7)? {
                Some(d) if model::detail_hash(&d) != detail_hash => {
                    return broken(t!("audit.detail").into_owned());
                }
                None if !r.get::<_, bool>(12)? => {
                    return broken(t!("audit.detail").into_owned());
                }
                _ => {}
            }
            let client = opt(4)?;
            let on_behalf = opt(6)?;
            let origin = opt(9)?;
            let hash = model::entry_hash(
                &prev,
                seq,
                &text(1)?,
                &text(2)?,
                &text(3)?,
                client.as_deref(),
                &text(5)?,
                on_behalf.as_deref(),
                &detail_hash,
                origin.as_deref(),
            );
            if hash != text(11)? {
                return broken(t!("audit.hash").into_owned());
            }
            prev = hash;
            expected_seq += 1;
            n += 1;
        }
        Ok(Ok(n))
    }

    /// Records a consent; returns its id.
    pub fn add_consent(&self, c: &NewConsent) -> Result<String> {
        self.client(&c.client_id)?;
        self.require_assigned(&c.client_id)?;
        if c.until.is_some_and(|u| u < c.given_on) {
            return Err(Error::invalid("until", t!("val.until_before_given")));
        }
        let consent = Consent {
            id: new_id(),
            client_id: c.client_id.clone(),
            org: c.org.clone(),
            purpose: c.purpose.clone(),
            scope: c.scope,
            special: c.special,
            given_on: c.given_on,
            until: c.until,
            evidence: c.evidence.clone(),
            withdrawn_on: None,
            recorded_by: self.user()?,
            created_at: self.now(),
        };
        self.write(&consent)?;
        self.log(
            Action::Create,
            Some(&c.client_id),
            &format!("consent {}", consent.id),
        )?;
        Ok(consent.id)
    }

    /// A client's consents, newest first.
    pub(in crate::engine) fn consents(&self, client: &str) -> Result<Vec<Consent>> {
        self.rows(client, "given_on DESC, id DESC")
    }

    /// Every dossier's consents, newest first, in one query.
    pub(in crate::engine) fn consents_by_client(
        &self,
    ) -> Result<std::collections::HashMap<String, Vec<Consent>>> {
        let mut out: std::collections::HashMap<String, Vec<Consent>> = Default::default();
        let cols = Consent::columns().join(", ");
        let rows: Vec<(Consent, String)> = self.rows_with(
            &format!(
                "SELECT {cols}, client_id FROM consent ORDER BY client_id, given_on DESC, id DESC"
            ),
            [],
        )?;
        for (c, client) in rows {
            out.entry(client).or_default().push(c);
        }
        Ok(out)
    }

    /// Every consent that is active on `today` and ends within `days` days, with its
    /// client's name.
    pub(in crate::engine) fn consents_expiring(
        &self,
        today: NaiveDate,
        days: u64,
    ) -> Result<Vec<(Consent, String)>> {
        let cols = Consent::columns()
            .iter()
            .map(|c| format!("k.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows: Vec<(Consent, String)> = self.rows_with(
            &format!(
                "SELECT {cols}, c.name FROM consent k JOIN client c ON c.id = k.client_id
                 WHERE k.until IS NOT NULL ORDER BY k.until"
            ),
            [],
        )?;
        Ok(rows
            .into_iter()
            .filter(|(c, _)| c.expires_within(today, days))
            .collect())
    }

    /// One consent by full id.
    pub(in crate::engine) fn consent(&self, id: &str) -> Result<Consent> {
        self.row(id)?.ok_or_else(|| Error::NotFound {
            what: IdTable::Consent.label(),
            id: id.to_owned(),
        })
    }

    /// Withdraws a consent from `on`; false when it was already withdrawn.
    pub fn withdraw_consent(&self, id: &str, on: NaiveDate) -> Result<bool> {
        let mut c = self.consent(id)?;
        self.require_assigned(&c.client_id)?;
        if c.withdrawn_on.is_some() {
            return Ok(false);
        }
        c.withdrawn_on = Some(on);
        self.write(&c)?;
        self.log(
            Action::Change,
            Some(&c.client_id),
            &format!("consent {} withdrawn", c.id),
        )?;
        Ok(true)
    }

    /// Records a disclosure (the file is written by the caller, after this committed).
    pub(in crate::engine) fn record_disclosure(&self, d: &Disclosure) -> Result<()> {
        self.write(d)?;
        // Ids only: which organisation a client's file went to can itself say too much.
        let ground = match &d.consent_id {
            Some(c) => format!("consent {c}"),
            None => "legal ground".to_owned(),
        };
        self.log(
            Action::Disclose,
            Some(&d.client_id),
            &format!("disclosure {} ({ground})", d.id),
        )?;
        Ok(())
    }

    /// A client's disclosures, newest first.
    pub(in crate::engine) fn disclosures(&self, client: &str) -> Result<Vec<Disclosure>> {
        self.rows(client, "at DESC, id DESC")
    }

    /// Years a closed dossier of `domain` is kept: the vault's policy, else the user's
    /// config (`set_retention_default`), else kluis's default.
    pub(in crate::engine) fn retention_years(&self, domain: Domain) -> Result<u32> {
        Ok(self.retention_policy(domain)?.0)
    }

    /// [`Store::retention_years`] and where it comes from: `vault`, `config` or `default`.
    pub(in crate::engine) fn retention_policy(
        &self,
        domain: Domain,
    ) -> Result<(u32, &'static str)> {
        if let Some(y) = self
            .meta(&format!("retention_years.{}", domain.code()))?
            .and_then(|v| v.parse().ok())
        {
            return Ok((y, "vault"));
        }
        if let Some(y) = self.retention_defaults.borrow().get(&domain).copied() {
            return Ok((y, "config"));
        }
        Ok((model::default_retention_years(domain), "default"))
    }

    /// A retention period from the user's config; the vault's own policy still wins.
    pub(in crate::engine) fn set_retention_default(&self, domain: Domain, years: u32) {
        self.retention_defaults.borrow_mut().insert(domain, years);
    }

    /// Sets the retention policy for a domain (dossiers closed from now on). Never below what
    /// the law requires.
    pub fn set_retention_years(&self, domain: Domain, years: u32) -> Result<()> {
        if let Some(min) = model::legal_minimum_years(domain)
            && years < min
        {
            return Err(Error::invalid(
                "years",
                t!("val.years_legal", domain = domain, min = min),
            ));
        }
        self.set_meta(
            &format!("retention_years.{}", domain.code()),
            &years.to_string(),
        )?;
        self.log(
            Action::Change,
            None,
            &format!("retention {} {years}", domain.code()),
        )?;
        Ok(())
    }

    /// Every closed dossier with the day it is kept until, soonest first. A dossier closed
    /// before kluis kept that day gets it from the current policy.
    pub(in crate::engine) fn retention(&self, today: NaiveDate) -> Result<Vec<RetentionItem>> {
        self.retention_of(today, None)
    }

    /// [`Store::retention`] for every closed dossier, or only `client` (erasing one dossier
    /// does not compute the whole list).
    pub(super) fn retention_of(
        &self,
        today: NaiveDate,
        client: Option<&str>,
    ) -> Result<Vec<RetentionItem>> {
        type Row = (String, String, String, Option<String>, Option<String>);
        let rows: Vec<Row> = self
            .conn
            .prepare_cached(
                "SELECT id, name, domain, closed_on, retention_until FROM client
                 WHERE status = 'closed' AND (?1 IS NULL OR id = ?1)",
            )?
            .query_map([client], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = Vec::new();
        for (id, name, domain, closed, until) in rows {
            let domain: Domain = domain.parse().unwrap_or(Domain::Overig);
            let Some(closed_on) = closed.and_then(|c| c.parse().ok()) else {
                continue;
            };
            let years = self.retention_years(domain)?;
            let mut retention_until = match until.and_then(|u| u.parse().ok()) {
                Some(u) => u,
                None => model::retention_end(closed_on, years),
            };
            // A note written after the close (a late report) keeps the dossier as long
            // as that note needs: the period runs from the newest data.
            let last_note: Option<String> = self
                .conn
                .prepare_cached(
                    "SELECT max(substr(occurred_at, 1, 10)) FROM note WHERE client_id = ?1",
                )?
                .query_row([&id], |r| r.get(0))?;
            if let Some(last) = last_note.and_then(|d| d.parse::<NaiveDate>().ok())
                && last > closed_on
            {
                retention_until = retention_until.max(model::retention_end(last, years));
            }
            out.push(RetentionItem {
                client_id: id,
                name,
                domain,
                closed_on,
                retention_until,
                due: retention_until < today,
            });
        }
        out.sort_by(|a, b| {
            (a.retention_until, &a.client_id).cmp(&(b.retention_until, &b.client_id))
        });
        Ok(out)
    }

    /// Whether a dossier was erased here (or a colleague's erasure reached this vault).
    pub(in crate::engine) fn is_erased(&self, client: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM erased WHERE client_id = ?1)")?
            .query_row([client], |r| r.get(0))?)
    }

    /// Erases a dossier whose retention ended: a tombstone without personal data stays (and
    /// travels to colleagues as an op), everything else about the client goes.
    pub fn erase_client(&self, client: &str, today: NaiveDate) -> Result<()> {
        let item = self.retention_of(today, Some(client))?.pop();
        match item {
            Some(i) if i.due => {}
            Some(i) => {
                return Err(Error::Refused {
                    reason: t!("retention.not_due", id = client, until = i.retention_until)
                        .into_owned(),
                });
            }
            None => {
                self.client(client)?;
                return Err(Error::Refused {
                    reason: t!("retention.not_closed", id = client).into_owned(),
                });
            }
        }
        // Any vault may erase its own copy of a due dossier; only an assigned worker's
        // erasure counts for colleagues (`apply_remote_erasure`).
        let counts = self.require_assigned(client).is_ok();
        let by = self.user()?;
        self.tombstone(client, &today.to_string(), &by)?;
        if counts {
            self.emit(client, "erased", Some(&today.to_string()))?;
        }
        self.log(Action::Erase, Some(client), "")?;
        Ok(())
    }

    pub(super) fn tombstone(&self, client: &str, on: &str, by: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO erased (client_id, erased_on, by) VALUES (?1, ?2, ?3)
                 ON CONFLICT (client_id) DO NOTHING",
            )?
            .execute(params![client, on, by])?;
        self.record("erased", client)?;
        self.scrub(client)?;
        Ok(())
    }

    /// Deletes every row with an erased client's data. The journal cannot carry deletes, so
    /// this marks the store: the session then saves a new generation (`finish_erasure`) and
    /// replaces the previous one too (`Session::change`). Returns whether anything was deleted.
    fn scrub(&self, client: &str) -> Result<bool> {
        let n = self.scrub_kinds(client)? + self.scrub_seals(client)?;
        if n > 0 {
            self.erased.set(true);
        }
        Ok(n > 0)
    }

    /// Scrubs every erased dossier again: a crash after the tombstone reached the journal
    /// but before the new generation was saved leaves data the journal could not delete.
    pub(in crate::engine) fn scrub_erased(&self) -> Result<bool> {
        let ids: Vec<String> = self
            .conn
            .prepare(
                "SELECT e.client_id FROM erased e
                 WHERE EXISTS (SELECT 1 FROM client WHERE id = e.client_id)
                    OR EXISTS (SELECT 1 FROM note WHERE client_id = e.client_id)
                    OR EXISTS (SELECT 1 FROM op WHERE client_id = e.client_id
                               AND field NOT IN ('erased', 'created_at', 'status', 'closed_on',
                                                 'retention_until')
                               AND field NOT LIKE 'assign/%')",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut any = false;
        for id in ids {
            any |= self.scrub(&id)?;
        }
        Ok(any)
    }

    /// Whether rows were deleted since the last save (and clears the mark).
    pub(in crate::engine) fn take_erased(&self) -> bool {
        self.erased.replace(false)
    }

    /// Completes erasures before the image is saved. The deleted rows' words already left
    /// the note indexes with the rows (`search::follow_deletes`, FTS5's secure-delete), and
    /// secure_delete zeroed every byte the rows held: the freed space in their pages, and
    /// freed pages whole. `client_fts` is rebuilt (a few thousand names cost nothing): a
    /// rename before its secure-delete was set left the old name behind a delete marker.
    /// A prefix of an erased word that FTS5 kept as a page's key is found and its index
    /// rewritten (`search::forget_separators`). Nothing of an erased dossier is in the next
    /// generation.
    ///
    /// VACUUM (which rewrites the whole image, several saves' worth of work at 200,000 notes)
    /// runs only when a quarter of the image or more is free pages, as after files moved out
    /// of it (`move_blobs_out`): an erased dossier's zeroed pages are reused by new rows.
    pub(in crate::engine) fn finish_erasure(&self) -> Result<()> {
        super::search::forget_separators(&self.conn)?;
        self.conn
            .execute_batch("INSERT INTO client_fts (client_fts) VALUES ('rebuild');")?;
        let free: i64 = self
            .conn
            .pragma_query_value(None, "freelist_count", |r| r.get(0))?;
        let pages: i64 = self
            .conn
            .pragma_query_value(None, "page_count", |r| r.get(0))?;
        if free * 4 >= pages {
            self.conn.execute_batch("VACUUM;")?;
        }
        Ok(())
    }
}
