-- Schema v11: search at real sizes. Never edit once landed.
--
-- Special-category notes are not in the full-text index at all: its content is a view
-- without them, so no query can find them, not even by a word that only they contain, and
-- FTS5's integrity check can compare the index with exactly what it should hold.
--
-- Words are split by kluis's tokenizer `kluis`: FTS5's unicode61 without diacritics, then
-- the Dutch ĳ ligature as "ij" (so "ijsselmeer" finds "Ĳsselmeer") and typographic
-- ligatures as their letters. `note_impact` indexes the same text through `kluis_impact`:
-- per note, a marker for each word and two- and three-letter prefix it repeats (or each
-- one, in a note of at most 8 words), with how often and a band of the note's length, so a
-- search for one frequent word or prefix ranks all its notes without scoring each (see
-- src/store/search.rs). Both tokenizers are kluis's own: stock sqlite3 reads every table,
-- but cannot query these three (they hold nothing the tables do not).
--
-- Written to stand on its own: it drops whatever full-text tables and triggers exist and
-- builds them again from the notes and clients.
DROP TRIGGER IF EXISTS note_fts_insert;
DROP TRIGGER IF EXISTS client_fts_insert;
DROP TRIGGER IF EXISTS client_fts_update;
DROP TABLE IF EXISTS note_fts;
DROP TABLE IF EXISTS client_fts;

CREATE VIEW note_searchable (note_rowid, body) AS SELECT rowid, body FROM note WHERE NOT special;

CREATE VIRTUAL TABLE note_fts USING fts5 (
    body, content = 'note_searchable', content_rowid = 'note_rowid',
    tokenize = 'kluis remove_diacritics 2', prefix = '2 3'
);
CREATE VIRTUAL TABLE note_impact USING fts5 (
    body, content = 'note_searchable', content_rowid = 'note_rowid',
    tokenize = 'kluis_impact remove_diacritics 2', detail = none, columnsize = 0
);
-- Notes are append-only and a correction of a special note is special itself, so an insert
-- is the only change to follow; an erasure rebuilds all three tables (finish_erasure).
CREATE TRIGGER note_search_insert AFTER INSERT ON note WHEN NOT new.special BEGIN
    INSERT INTO note_fts (rowid, body) VALUES (new.rowid, new.body);
    INSERT INTO note_impact (rowid, body) VALUES (new.rowid, new.body);
END;
INSERT INTO note_fts (note_fts) VALUES ('rebuild');
INSERT INTO note_impact (note_impact) VALUES ('rebuild');

CREATE VIRTUAL TABLE client_fts USING fts5 (
    name, content = 'client', content_rowid = 'rowid', tokenize = 'kluis remove_diacritics 2',
    prefix = '2 3'
);
CREATE TRIGGER client_fts_insert AFTER INSERT ON client BEGIN
    INSERT INTO client_fts (rowid, name) VALUES (new.rowid, new.name);
END;
CREATE TRIGGER client_fts_update AFTER UPDATE OF name ON client BEGIN
    INSERT INTO client_fts (client_fts, rowid, name) VALUES ('delete', old.rowid, old.name);
    INSERT INTO client_fts (rowid, name) VALUES (new.rowid, new.name);
END;
INSERT INTO client_fts (client_fts) VALUES ('rebuild');
