-- Schema v2: what happened to the vault itself (recovery by IT, later: the access log),
-- and the organisation's signed rosters. Never edit once landed.
CREATE TABLE event (
    id     TEXT PRIMARY KEY,
    at     TEXT NOT NULL,
    kind   TEXT NOT NULL,
    actor  TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE roster (
    version     INTEGER PRIMARY KEY,
    signed      TEXT NOT NULL,
    imported_at TEXT NOT NULL
) STRICT;
