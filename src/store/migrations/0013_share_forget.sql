-- A shared folder that forgets (issue 17): what this vault wrote into the shared folder, so
-- that it removes its own bundles once every current recipient has acknowledged them, and
-- rewrites them without a dossier erased here. Never edit once landed.

-- One row per bundle this vault wrote. Rows are updated, never deleted (the journal carries
-- upserts only); `contents` is emptied once the file has left the share.
CREATE TABLE share_file (
    hash       TEXT PRIMARY KEY, -- SHA-256 of the file, lower-case hex: its name in the share
    -- The recipient set it was encrypted to: worker '#' key fingerprint, joined by ','
    -- (`sync::set_key`), so a worker on a new device no longer counts for it.
    recipients TEXT NOT NULL,
    -- What it carried, as JSON [[dossier, after op seq, up to op seq], ...]: enough to write
    -- it again without a dossier that was erased since.
    contents   TEXT NOT NULL,
    bytes      INTEGER NOT NULL,
    written_at TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('present', 'removed', 'rewritten')),
    left_at    TEXT
) STRICT;
CREATE INDEX share_file_present ON share_file (state) WHERE state = 'present';
