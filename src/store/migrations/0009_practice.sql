-- Schema v9: privacy in daily practice. Group sessions (each participant's dossier holds its
-- own copy, tied to the others only by session_id, so a copy names no one else, travels only
-- with its own dossier and is erased only with it), the meldcode's steps 2 to 5 (each tied
-- to the signal that started it), and a signal's ground for being kept out of the client's
-- own report. Record kinds like the others (model::record). Never edit once landed.
CREATE TABLE group_session (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    session_id TEXT NOT NULL,
    held_on    TEXT NOT NULL,
    theme      TEXT NOT NULL,
    summary    TEXT NOT NULL,
    special    INTEGER NOT NULL CHECK (special IN (0, 1)),
    author     TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX group_session_by_client ON group_session (client_id);
CREATE INDEX group_session_by_session ON group_session (session_id);

CREATE TABLE meldcode_step (
    id            TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL,
    signal_id     TEXT NOT NULL,
    step          TEXT NOT NULL CHECK (step IN ('consult', 'talk', 'weigh', 'decide')),
    taken_on      TEXT NOT NULL,
    text          TEXT NOT NULL,
    consulted     TEXT CHECK (consulted IN ('colleague', 'veilig_thuis', 'both')),
    report_needed INTEGER CHECK (report_needed IN (0, 1)),
    help_possible INTEGER CHECK (help_possible IN (0, 1)),
    decision      TEXT CHECK (decision IN ('report', 'help', 'report_and_help', 'close')),
    next_by       TEXT,
    special       INTEGER NOT NULL CHECK (special IN (0, 1)),
    withheld      TEXT CHECK (withheld IN ('safety', 'third_party')),
    author        TEXT NOT NULL,
    created_at    TEXT NOT NULL
) STRICT;
CREATE INDEX meldcode_step_by_client ON meldcode_step (client_id);

ALTER TABLE signal ADD COLUMN withheld TEXT CHECK (withheld IN ('safety', 'third_party'));
