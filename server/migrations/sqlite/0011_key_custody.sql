-- Key custody (issue #18): PINs at rest as ISO 9564 format-4 blocks under a
-- PIN key held by the key custody (software, or an HSM through PKCS#11),
-- and the custody's own key references.
--
-- cards.pin_format: the format of the stored PIN block. NULL: the format-2
-- text block sealed by the vault (before this migration); 4: a format-4
-- block (AES, bound to the PAN) under the custody's PIN key, sealed by the
-- vault. The server re-encrypts every NULL row at start (and with
-- `keys migrate-pins`); each row is rewritten only if it still holds the
-- value that was read, so no concurrent change is lost.
ALTER TABLE cards ADD COLUMN pin_format INTEGER;

-- Keys the custody made, by name (`pin-key`): the software custody's key
-- sealed by the vault, or the PKCS#11 object id of a key inside the token.
-- The row is the agreement between nodes on which key is in use: the
-- first node to insert it wins, and a loser discards the key it made.
CREATE TABLE custody_keys (
    name        TEXT PRIMARY KEY,
    custody     TEXT NOT NULL,
    reference   BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
