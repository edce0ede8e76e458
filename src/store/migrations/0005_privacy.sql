-- Schema v5: privacy by design. Consents, disclosures, the hash-chained access log,
-- retention dates, special-category notes and erasure tombstones. Never edit once landed.

-- Consent (toestemming) to share a dossier with another organisation for one purpose.
CREATE TABLE consent (
    id           TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL,
    org          TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('notes', 'details', 'all')),
    -- Explicit consent for special-category data (AVG art. 9(2)(a)), which otherwise stays.
    special      INTEGER NOT NULL DEFAULT 0 CHECK (special IN (0, 1)),
    given_on     TEXT NOT NULL,
    until        TEXT,
    evidence     TEXT,
    withdrawn_on TEXT,
    recorded_by  TEXT NOT NULL,
    created_at   TEXT NOT NULL
) STRICT;
CREATE INDEX consent_by_client ON consent (client_id);

-- What went to another organisation, on which consent or legal ground.
CREATE TABLE disclosure (
    id           TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL,
    org          TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('notes', 'details', 'all')),
    consent_id   TEXT,
    legal_ground TEXT,
    recipient    TEXT NOT NULL,
    file_sha256  TEXT NOT NULL,
    at           TEXT NOT NULL,
    by           TEXT NOT NULL,
    CHECK ((consent_id IS NULL) <> (legal_ground IS NULL))
) STRICT;
CREATE INDEX disclosure_by_client ON disclosure (client_id);

-- A dossier erased at the end of its retention: no personal data, only that it was.
CREATE TABLE erased (
    client_id TEXT PRIMARY KEY,
    erased_on TEXT NOT NULL,
    by        TEXT NOT NULL
) STRICT;

-- The access log (NEN 7513 style). Append-only and hash-chained in local order: `hash` covers
-- `prev` and every column except `detail`, which it covers through `detail_hash`, so erasure
-- can empty a detail without breaking the chain. `origin` is NULL for entries made here and
-- the author's worker id for entries that arrived with a synced dossier.
CREATE TABLE access_log (
    id          TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL UNIQUE,
    at          TEXT NOT NULL,
    action      TEXT NOT NULL,
    client_id   TEXT,
    user        TEXT NOT NULL,
    on_behalf   TEXT,
    detail      TEXT,
    detail_hash TEXT NOT NULL,
    origin      TEXT,
    prev        TEXT NOT NULL,
    hash        TEXT NOT NULL
) STRICT;
CREATE INDEX access_log_by_client ON access_log (client_id, seq);

CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
-- Only an erased dossier's details may be emptied; nothing else in an entry ever changes.
CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
WHEN NOT (new.detail IS NULL AND old.client_id IS NOT NULL
          AND EXISTS (SELECT 1 FROM erased WHERE client_id = old.client_id)
          AND (new.id, new.seq, new.at, new.action, new.client_id, new.user,
               coalesce(new.on_behalf, ''), new.detail_hash, coalesce(new.origin, ''),
               new.prev, new.hash)
           IS (old.id, old.seq, old.at, old.action, old.client_id, old.user,
               coalesce(old.on_behalf, ''), old.detail_hash, coalesce(old.origin, ''),
               old.prev, old.hash))
BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;

-- The day a closed dossier may (and must) be erased, set when it is closed.
ALTER TABLE client ADD COLUMN retention_until TEXT;

-- A note with special-category data (health, for example): masked until revealed. The
-- note being written keeps the mark when the vault locks.
ALTER TABLE note ADD COLUMN special INTEGER NOT NULL DEFAULT 0 CHECK (special IN (0, 1));
ALTER TABLE draft ADD COLUMN special INTEGER NOT NULL DEFAULT 0 CHECK (special IN (0, 1));

-- Notes stay append-only, except that an erased dossier's notes go.
DROP TRIGGER note_append_only_delete;
CREATE TRIGGER note_append_only_delete BEFORE DELETE ON note
WHEN NOT EXISTS (SELECT 1 FROM erased WHERE client_id = old.client_id)
BEGIN SELECT RAISE(ABORT, 'notes are append-only'); END;
