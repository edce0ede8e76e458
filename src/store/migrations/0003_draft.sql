-- Schema v3: the note being written when the vault locked, so no text is lost. One row;
-- "discarded" instead of a delete so the journal can carry it. Never edit once landed.
CREATE TABLE draft (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL,
    supersedes  TEXT,
    kind        TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    body        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'discarded')),
    updated_at  TEXT NOT NULL
) STRICT;
