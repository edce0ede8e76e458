-- Schema v8: signals observed, the first step of the meldcode huiselijk geweld en
-- kindermishandeling: what was seen or heard and on which day; special-category data when
-- marked. A record kind like the others (model::record): journaled, synced, erased and
-- reported by the code that handles every kind. Never edit once landed.
CREATE TABLE signal (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL,
    observed_on TEXT NOT NULL,
    text        TEXT NOT NULL,
    special     INTEGER NOT NULL CHECK (special IN (0, 1)),
    author      TEXT NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;
CREATE INDEX signal_by_client ON signal (client_id);
