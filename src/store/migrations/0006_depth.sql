-- Schema v6: the dossier beyond notes. Household, network, support plan (goals and actions)
-- and life-domain assessments. Each row also travels as a register op (`household/ID`, ...)
-- whose value is the row as JSON, so a later version (an action done) wins. Never edit once
-- landed.
CREATE TABLE household (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    relation   TEXT NOT NULL CHECK (relation IN ('partner', 'kind', 'ouder', 'overig')),
    birth_date TEXT,
    author     TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX household_by_client ON household (client_id);

CREATE TABLE contact (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    org        TEXT,
    role       TEXT,
    phone      TEXT,
    email      TEXT,
    author     TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX contact_by_client ON contact (client_id);

CREATE TABLE goal (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    domain     TEXT NOT NULL,
    text       TEXT NOT NULL,
    author     TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX goal_by_client ON goal (client_id);

CREATE TABLE plan_action (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    goal_id    TEXT NOT NULL,
    text       TEXT NOT NULL,
    owner      TEXT NOT NULL,
    due        TEXT,
    status     TEXT NOT NULL CHECK (status IN ('open', 'done')),
    done_on    TEXT,
    author     TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX plan_action_by_client ON plan_action (client_id);
CREATE INDEX plan_action_due ON plan_action (status, due);

CREATE TABLE assessment (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    domain     TEXT NOT NULL,
    score      INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    reason     TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    at         TEXT NOT NULL,
    author     TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX assessment_by_client ON assessment (client_id, domain, at);

-- A planned visit (a kitchen-table appointment), for the agenda.
CREATE TABLE visit (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    at         TEXT NOT NULL,
    purpose    TEXT,
    author     TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX visit_by_at ON visit (at);
CREATE INDEX visit_by_client ON visit (client_id);

-- A warm handover: the colleague is assigned with a note; once their vault has the dossier it
-- says so (status 'received', through sync) and the sender's vault unassigns the sender.
CREATE TABLE handover (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL,
    from_worker TEXT NOT NULL,
    to_worker   TEXT NOT NULL,
    note_id     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'received')),
    received_at TEXT,
    created_at  TEXT NOT NULL
) STRICT;
CREATE INDEX handover_by_client ON handover (client_id);

-- A file kept in the dossier (a signed consent form, a creditor's letter): what it is, and
-- separately its bytes (so lists never load them).
CREATE TABLE attachment (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    title      TEXT NOT NULL,
    filename   TEXT NOT NULL,
    size       INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    author     TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX attachment_by_client ON attachment (client_id);

CREATE TABLE attachment_blob (
    id        TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    data      BLOB NOT NULL
) STRICT;
CREATE INDEX attachment_blob_by_client ON attachment_blob (client_id);

-- An evaluation: a note about how a goal of the plan is going, linked to that goal.
CREATE TABLE evaluation (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    goal_id    TEXT NOT NULL,
    note_id    TEXT NOT NULL,
    author     TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX evaluation_by_client ON evaluation (client_id);
