-- Schema v1. Never edit this file once landed: add 0002_*.sql instead.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE client (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    bsn        TEXT,
    birth_date TEXT,
    address    TEXT,
    phone      TEXT,
    domain     TEXT NOT NULL CHECK (domain IN ('jeugd', 'wmo', 'participatie', 'schuldhulp', 'overig')),
    status     TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    opened_on  TEXT NOT NULL,
    closed_on  TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE note (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES client (id),
    kind        TEXT NOT NULL CHECK (kind IN ('huisbezoek', 'telefoon', 'observatie', 'overig')),
    occurred_at TEXT NOT NULL,
    body        TEXT NOT NULL,
    author      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    supersedes  TEXT REFERENCES note (id)
) STRICT;

CREATE INDEX note_by_client ON note (client_id, occurred_at);
-- A note is corrected at most once; a correction can itself be corrected (a chain).
CREATE UNIQUE INDEX note_by_supersedes ON note (supersedes) WHERE supersedes IS NOT NULL;

-- Notes are append-only: what was written stays readable.
CREATE TRIGGER note_append_only_update BEFORE UPDATE ON note
BEGIN SELECT RAISE(ABORT, 'notes are append-only'); END;
CREATE TRIGGER note_append_only_delete BEFORE DELETE ON note
BEGIN SELECT RAISE(ABORT, 'notes are append-only'); END;

CREATE TABLE recovery_recipient (
    recipient TEXT PRIMARY KEY,
    added_at  TEXT NOT NULL
) STRICT;

CREATE VIRTUAL TABLE client_fts USING fts5 (
    name, content = 'client', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);
CREATE TRIGGER client_fts_insert AFTER INSERT ON client BEGIN
    INSERT INTO client_fts (rowid, name) VALUES (new.rowid, new.name);
END;
CREATE TRIGGER client_fts_update AFTER UPDATE OF name ON client BEGIN
    INSERT INTO client_fts (client_fts, rowid, name) VALUES ('delete', old.rowid, old.name);
    INSERT INTO client_fts (rowid, name) VALUES (new.rowid, new.name);
END;

CREATE VIRTUAL TABLE note_fts USING fts5 (
    body, content = 'note', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);
CREATE TRIGGER note_fts_insert AFTER INSERT ON note BEGIN
    INSERT INTO note_fts (rowid, body) VALUES (new.rowid, new.body);
END;
