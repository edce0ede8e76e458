-- Schema v7: repairs vaults made while migrations 0005 and 0006 were still being edited
-- after they had landed (see docs/architecture.md, "Migrations are history"). A vault made
-- at commit 17d4321 is at version 6 without the tables below; vaults made at 56916a3 or
-- 2187ad2 are at version 5 without `consent.special` or `draft.special` (those two columns
-- are added by code, `store::REPAIRED_COLUMNS`, since SQL cannot add a column only when it
-- is missing). On a complete vault this changes nothing. Never edit once landed.

-- A planned visit (a kitchen-table appointment), for the agenda.
CREATE TABLE IF NOT EXISTS visit (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    at         TEXT NOT NULL,
    purpose    TEXT,
    author     TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS visit_by_at ON visit (at);
CREATE INDEX IF NOT EXISTS visit_by_client ON visit (client_id);

-- A warm handover: the colleague is assigned with a note; once their vault has the dossier it
-- says so (status 'received', through sync) and the sender's vault unassigns the sender.
CREATE TABLE IF NOT EXISTS handover (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL,
    from_worker TEXT NOT NULL,
    to_worker   TEXT NOT NULL,
    note_id     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'received')),
    received_at TEXT,
    created_at  TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS handover_by_client ON handover (client_id);

-- A file kept in the dossier (a signed consent form, a creditor's letter): what it is, and
-- separately its bytes (so lists never load them).
CREATE TABLE IF NOT EXISTS attachment (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    title      TEXT NOT NULL,
    filename   TEXT NOT NULL,
    size       INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    author     TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS attachment_by_client ON attachment (client_id);

CREATE TABLE IF NOT EXISTS attachment_blob (
    id        TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    data      BLOB NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS attachment_blob_by_client ON attachment_blob (client_id);

-- An evaluation: a note about how a goal of the plan is going, linked to that goal.
CREATE TABLE IF NOT EXISTS evaluation (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    goal_id    TEXT NOT NULL,
    note_id    TEXT NOT NULL,
    author     TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS evaluation_by_client ON evaluation (client_id);
