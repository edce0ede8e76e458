-- Schema v15: how many notes each dossier has and when the last contact was, kept as notes
-- are written and deleted. Never edit once landed.
--
-- The caseload (`kluis client list`, the terminal app's list) shows both for every dossier.
-- Counting them from `note` read the whole note index at each listing, most of what the
-- command cost beyond its unlock (docs/benchmarks.md, the CLI benchmark). The tally is
-- derived data, like the full-text indexes: not journaled, kept by these triggers when
-- notes are replayed or merged, and emptied with the dossier's notes at erasure.
--
-- Notes are append-only (migration 0001): a row is only inserted, or deleted when its
-- dossier is erased or the note withdrawn, so these two triggers see every change.
CREATE TABLE note_tally (
    client_id    TEXT PRIMARY KEY,
    notes        INTEGER NOT NULL CHECK (notes > 0),
    last_contact TEXT NOT NULL
) STRICT, WITHOUT ROWID;

INSERT INTO note_tally (client_id, notes, last_contact)
SELECT client_id, count(*), max(occurred_at) FROM note GROUP BY client_id;

CREATE TRIGGER note_tally_insert AFTER INSERT ON note
BEGIN
    INSERT INTO note_tally (client_id, notes, last_contact)
    VALUES (new.client_id, 1, new.occurred_at)
    ON CONFLICT (client_id) DO UPDATE
    SET notes = notes + 1, last_contact = max(last_contact, excluded.last_contact);
END;

-- The last of a dossier's notes takes its row with it; otherwise the count goes down and the
-- last contact is read again from the index on (client_id, occurred_at), one seek.
CREATE TRIGGER note_tally_delete AFTER DELETE ON note
BEGIN
    DELETE FROM note_tally WHERE client_id = old.client_id AND notes = 1;
    UPDATE note_tally
    SET notes = notes - 1,
        last_contact = (SELECT max(occurred_at) FROM note WHERE client_id = old.client_id)
    WHERE client_id = old.client_id;
END;
