-- Schema v4: team sync. Every change to a dossier is also an operation with a hybrid logical
-- clock (HLC) version, so vaults that saw the same operations in any order agree. Never edit
-- once landed.
CREATE TABLE op (
    id        TEXT PRIMARY KEY,
    -- Local arrival order, for "what has this recipient set not had yet".
    seq       INTEGER NOT NULL UNIQUE,
    client_id TEXT NOT NULL,
    -- A client column ('name', 'phone', ...), 'assign/WORKER', 'note/NOTE_ID' or
    -- 'resolve/OP_ID' (a conflict confirmed).
    field     TEXT NOT NULL,
    value     TEXT,
    -- The HLC of the version this operation replaced, as its author saw it.
    prev      TEXT,
    hlc       TEXT NOT NULL,
    author    TEXT NOT NULL,
    -- Recipient set of the bundle it arrived in (NULL: made here), so it is not echoed back.
    via       TEXT
) STRICT;
CREATE INDEX op_by_field ON op (client_id, field, hlc);

-- Who may see a dossier, materialized from the 'assign/…' operations.
CREATE TABLE assignment (
    id        TEXT PRIMARY KEY, -- client_id '/' worker
    client_id TEXT NOT NULL,
    worker    TEXT NOT NULL,
    assigned  INTEGER NOT NULL CHECK (assigned IN (0, 1))
) STRICT;
CREATE INDEX assignment_by_client ON assignment (client_id);

-- What went out: per dossier and recipient set, the last operation (op.seq) exported.
CREATE TABLE sent (
    id   TEXT PRIMARY KEY, -- client_id '|' sorted worker ids joined by ','
    upto INTEGER NOT NULL
) STRICT;

-- Bundles already handled, by file content hash, so `sync` never reads them again. A refused
-- one is read again only once the roster changed (its author may have become known).
CREATE TABLE bundle_seen (
    hash      TEXT PRIMARY KEY,
    bundle_id TEXT NOT NULL,
    author    TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    status    TEXT NOT NULL CHECK (status IN ('imported', 'own', 'not_for_me', 'refused')),
    roster_version INTEGER NOT NULL DEFAULT 0,
    seen_at   TEXT NOT NULL
) STRICT;

-- A note that arrived before its dossier (bundles arrive in any order) waits here; `row` is
-- emptied once the note is in place (change records are upserts, so rows are not deleted).
CREATE TABLE note_pending (
    id        TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    row       TEXT NOT NULL,
    done      INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1))
) STRICT;
CREATE INDEX note_pending_by_client ON note_pending (client_id) WHERE done = 0;

-- Two workers may each correct the same note while offline; both corrections are kept.
DROP INDEX note_by_supersedes;
CREATE INDEX note_by_supersedes ON note (supersedes) WHERE supersedes IS NOT NULL;

-- Existing dossiers become operations by the vault's owner, versioned at their last change.
CREATE TEMP TABLE backfill_node AS
    SELECT coalesce((SELECT value FROM meta WHERE key = 'worker_id'),
                    (SELECT value FROM meta WHERE key = 'owner'), 'me') AS node,
           (SELECT value FROM meta WHERE key = 'worker_id') AS worker;
CREATE TEMP TABLE backfill AS
    WITH fields (client_id, field, value, at) AS (
        SELECT id, 'name', name, updated_at FROM client
        UNION ALL SELECT id, 'bsn', bsn, updated_at FROM client
        UNION ALL SELECT id, 'birth_date', birth_date, updated_at FROM client
        UNION ALL SELECT id, 'address', address, updated_at FROM client
        UNION ALL SELECT id, 'phone', phone, updated_at FROM client
        UNION ALL SELECT id, 'domain', domain, updated_at FROM client
        UNION ALL SELECT id, 'status', status, updated_at FROM client
        UNION ALL SELECT id, 'opened_on', opened_on, updated_at FROM client
        UNION ALL SELECT id, 'closed_on', closed_on, updated_at FROM client
        UNION ALL SELECT id, 'created_at', created_at, created_at FROM client
        UNION ALL SELECT client_id, 'note/' || id, NULL, created_at FROM note
        UNION ALL SELECT id, 'assign/' || (SELECT worker FROM backfill_node), '1', created_at
            FROM client WHERE (SELECT worker FROM backfill_node) IS NOT NULL
    )
    SELECT client_id, field, value,
           printf('%013d.%04d.%s', CAST((julianday(at) - 2440587.5) * 86400000 AS INTEGER), 0,
                  (SELECT node FROM backfill_node)) AS hlc
    FROM fields;
INSERT INTO op (id, seq, client_id, field, value, prev, hlc, author)
    SELECT lower(hex(randomblob(16))), row_number() OVER (ORDER BY hlc, client_id, field),
           client_id, field, value, NULL, hlc, (SELECT node FROM backfill_node)
    FROM backfill;
INSERT INTO assignment (id, client_id, worker, assigned)
    SELECT client_id || '/' || substr(field, 8), client_id, substr(field, 8), 1
    FROM backfill WHERE field LIKE 'assign/%';
DROP TABLE backfill;
DROP TABLE backfill_node;
