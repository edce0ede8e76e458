-- Sync you can trust (issue 16): every change signed by its author, and changes a revoked
-- worker made after the revocation taken out again. Never edit once landed.

-- A seal: one author's Ed25519 signature over the SHA-256s of ops they wrote in one
-- dossier (`merge::op_hash`). Ops travel with the seals that cover them, so a colleague
-- who forwards them cannot change them or write in someone else's name. Kept as received,
-- so this vault can forward them and need not check a signature twice.
CREATE TABLE seal (
    id        TEXT PRIMARY KEY, -- lower-case hex SHA-256 of the signature
    client_id TEXT NOT NULL,
    author    TEXT NOT NULL,
    -- The author's Ed25519 public key (base64) that the signature verified with.
    key       TEXT NOT NULL,
    -- The ops' SHA-256s, 32 bytes each, in the order signed.
    hashes    BLOB NOT NULL,
    signature BLOB NOT NULL
) STRICT;
CREATE INDEX seal_by_client ON seal (client_id, author);

-- What a newer roster took out again: ops a revoked worker wrote after the revocation (or
-- that a retired device key signed after it was retired), and the notes they brought.
CREATE TABLE withdrawn (
    id      TEXT PRIMARY KEY, -- an op id, or a note id
    what    TEXT NOT NULL CHECK (what IN ('op', 'note')),
    author  TEXT NOT NULL,
    hlc     TEXT NOT NULL,
    at      TEXT NOT NULL
) STRICT;

-- Notes stay append-only, except that an erased dossier's notes go, and so does a note
-- that a newer roster took out again.
DROP TRIGGER note_append_only_delete;
CREATE TRIGGER note_append_only_delete BEFORE DELETE ON note
WHEN NOT EXISTS (SELECT 1 FROM erased WHERE client_id = old.client_id)
 AND NOT EXISTS (SELECT 1 FROM withdrawn WHERE id = old.id AND what = 'note')
BEGIN SELECT RAISE(ABORT, 'notes are append-only'); END;

-- Finding a worker's ops from a moment on (a revocation), and their own ops to seal.
CREATE INDEX op_by_author ON op (author, hlc);
