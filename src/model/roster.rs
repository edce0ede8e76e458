//! The organisation's roster as data: who is a member, with which device keys, who was
//! revoked, whose keys were retired, and which dossiers IT reassigned. The roster is signed
//! by the organisation (`crate::org` checks the signature); what it says is read here, with
//! no IO and no crypto, so the store, sync and the command line all ask it the same
//! questions (docs/sync-format.md, docs/it-guide.md).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A worker's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A caseworker.
    Worker,
    /// A team lead.
    Lead,
}

/// Device keys a worker used before: still good for what they signed before `until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredKey {
    /// age X25519 recipient of the old device.
    pub x25519: String,
    /// Ed25519 public key (base64) of the old device.
    pub ed25519: String,
    /// From when nothing it signs counts (UTC, RFC 3339).
    pub until: String,
}

/// A worker as the organisation knows them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Worker id, chosen by IT (e.g. an employee number).
    pub id: String,
    /// Full name.
    pub name: String,
    /// Teams.
    pub teams: Vec<String>,
    /// Role.
    pub role: Role,
    /// age X25519 recipient of the worker's device, to receive data; empty until IT admits
    /// the device the worker enrolled (`org admit`).
    pub x25519: String,
    /// Ed25519 public key (base64) of the worker's device; empty until admitted.
    pub ed25519: String,
    /// When the keys were issued (UTC, RFC 3339).
    pub issued_at: String,
    /// Last day the membership is valid, if limited.
    pub valid_until: Option<String>,
    /// Keys of earlier devices (a lost laptop, a re-issued id).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired: Vec<RetiredKey>,
}

impl Member {
    /// Whether IT admitted a device for this worker.
    pub fn has_device(&self) -> bool {
        !self.ed25519.is_empty() && !self.x25519.is_empty()
    }
}

/// A revocation: from `effective_at` on, nothing signed by the worker is accepted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Revocation {
    /// Worker id.
    pub id: String,
    /// From when (UTC, RFC 3339).
    pub effective_at: String,
    /// Why, for the record.
    pub reason: String,
}

/// IT assigns a dossier to a worker with the organisation's key: for a dossier whose
/// assignees were all revoked or left (`org reassign`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reassignment {
    /// The dossier's id.
    pub client: String,
    /// The worker it is assigned to.
    pub to: String,
    /// When (UTC, RFC 3339): the assignment counts from then on.
    pub at: String,
    /// Why, for the record.
    pub reason: String,
}

/// The signed roster workers import.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Roster {
    /// Always `kluis-roster/v1`.
    pub kind: String,
    /// Organisation name.
    pub org: String,
    /// The signing key, base64.
    pub org_public_key: String,
    /// Version: a worker accepts only newer ones.
    pub version: u64,
    /// When it was signed.
    pub issued_at: String,
    /// Members.
    pub members: Vec<Member>,
    /// Revocations.
    pub revocations: Vec<Revocation>,
    /// Dossiers IT reassigned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reassignments: Vec<Reassignment>,
}

/// Why a worker may not sign or receive at some moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inactive {
    /// Not on this roster.
    Unknown,
    /// On the roster, but IT has not admitted a device yet.
    NoDevice,
    /// Revoked from this moment (as written on the roster).
    Revoked(String),
    /// The membership ended on this day.
    Expired(String),
}

/// How a signature key stands on the roster for a worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyStanding {
    /// The worker's current device key.
    Current,
    /// A retired key: it counts for what it signed before this moment.
    RetiredFrom(DateTime<Utc>),
}

fn utc(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

impl Roster {
    /// The member with this id.
    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    /// Why `worker` may not sign or receive at `at`, if they may not. A revocation whose
    /// time does not parse counts from the beginning.
    pub fn inactive(&self, worker: &str, at: DateTime<Utc>) -> Option<Inactive> {
        let Some(member) = self.member(worker) else {
            return Some(Inactive::Unknown);
        };
        if let Some(r) = self.revocation(worker)
            && utc(&r.effective_at).is_none_or(|from| from <= at)
        {
            return Some(Inactive::Revoked(r.effective_at.clone()));
        }
        if let Some(until) = &member.valid_until
            && NaiveDate::parse_from_str(until, "%Y-%m-%d").is_ok_and(|u| at.date_naive() > u)
        {
            return Some(Inactive::Expired(until.clone()));
        }
        if !member.has_device() {
            return Some(Inactive::NoDevice);
        }
        None
    }

    /// Whether `worker` may sign and receive at `at`.
    pub fn active(&self, worker: &str, at: DateTime<Utc>) -> bool {
        self.inactive(worker, at).is_none()
    }

    /// The worker's revocation, if any.
    pub fn revocation(&self, worker: &str) -> Option<&Revocation> {
        self.revocations.iter().find(|r| r.id == worker)
    }

    /// When nothing `worker` writes counts any more: the revocation, if any.
    pub fn revoked_from(&self, worker: &str) -> Option<DateTime<Utc>> {
        self.revocation(worker)
            .map(|r| utc(&r.effective_at).unwrap_or(DateTime::<Utc>::MIN_UTC))
    }

    /// How the Ed25519 key `key` (base64) stands for `worker`: their current device key, a
    /// retired one, or none of theirs.
    pub fn key_standing(&self, worker: &str, key: &str) -> Option<KeyStanding> {
        let m = self.member(worker)?;
        if !m.ed25519.is_empty() && m.ed25519 == key {
            return Some(KeyStanding::Current);
        }
        m.retired
            .iter()
            .find(|r| r.ed25519 == key)
            .map(|r| KeyStanding::RetiredFrom(utc(&r.until).unwrap_or(DateTime::<Utc>::MIN_UTC)))
    }

    /// Every Ed25519 key the roster lists for `worker`: the current one first, then the
    /// retired ones.
    pub fn keys_of(&self, worker: &str) -> Vec<&str> {
        self.member(worker)
            .map(|m| {
                std::iter::once(m.ed25519.as_str())
                    .filter(|k| !k.is_empty())
                    .chain(m.retired.iter().map(|r| r.ed25519.as_str()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The fingerprint people compare (IT with the worker, at `org admit`): the first 80 bits of
/// the SHA-256 of a base64 public key, in groups of four hex digits.
pub fn fingerprint(key_b64: &str) -> String {
    let h = super::sha256_hex(key_b64.trim().as_bytes());
    h.as_bytes()[..20]
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, key: &str) -> Member {
        Member {
            id: id.into(),
            name: id.into(),
            teams: vec![],
            role: Role::Worker,
            x25519: if key.is_empty() {
                "".into()
            } else {
                "age1x".into()
            },
            ed25519: key.into(),
            issued_at: "2026-01-01T00:00:00Z".into(),
            valid_until: None,
            retired: vec![RetiredKey {
                x25519: "age1old".into(),
                ed25519: "OLD".into(),
                until: "2026-06-01T00:00:00Z".into(),
            }],
        }
    }

    #[test]
    fn standing_follows_revocations_devices_and_retired_keys() {
        let r = Roster {
            kind: "kluis-roster/v1".into(),
            org: "o".into(),
            org_public_key: "k".into(),
            version: 3,
            issued_at: "2026-01-01T00:00:00Z".into(),
            members: vec![member("w1", "NEW"), member("w2", "")],
            revocations: vec![Revocation {
                id: "w1".into(),
                effective_at: "2026-09-01T00:00:00Z".into(),
                reason: String::new(),
            }],
            reassignments: vec![],
        };
        let t = |s: &str| utc(s).unwrap();
        assert_eq!(r.inactive("w1", t("2026-08-31T23:59:59Z")), None);
        assert!(matches!(
            r.inactive("w1", t("2026-09-01T00:00:00Z")),
            Some(Inactive::Revoked(_))
        ));
        assert_eq!(
            r.inactive("w2", t("2026-01-02T00:00:00Z")),
            Some(Inactive::NoDevice)
        );
        assert_eq!(
            r.inactive("w9", t("2026-01-02T00:00:00Z")),
            Some(Inactive::Unknown)
        );
        assert_eq!(r.key_standing("w1", "NEW"), Some(KeyStanding::Current));
        assert_eq!(
            r.key_standing("w1", "OLD"),
            Some(KeyStanding::RetiredFrom(t("2026-06-01T00:00:00Z")))
        );
        assert_eq!(r.key_standing("w1", "OTHER"), None);
        assert_eq!(r.keys_of("w2"), ["OLD"]);
        assert_eq!(fingerprint("abc").len(), 24);
    }
}
