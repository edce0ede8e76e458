-- Schema v10: a file kept in a dossier lives beside the vault, not inside its image
-- (`VAULT.files/ID`, an age file to its own X25519 recipient), so unlocking and saving do not
-- grow with the files a caseload holds. This table holds each file's identity (its key): the
-- file is readable only with the vault, erased for real by deleting the row (the file without
-- its key is noise, and is removed too), and IT's recovery key reaches it through the vault.
-- `attachment_blob` stays for vaults made before; their files move out at the first write.
-- Never edit once landed.
CREATE TABLE attachment_key (
    id        TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    identity  TEXT NOT NULL
) STRICT;
CREATE INDEX attachment_key_by_client ON attachment_key (client_id);
