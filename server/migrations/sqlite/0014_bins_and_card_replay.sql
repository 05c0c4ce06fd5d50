-- Issue #19: the BIN range table the operator loads (`bins load FILE`),
-- replaced as a whole in one transaction, and the record of encrypted cards
-- already used (per tenant, until their 15 minutes are over).
CREATE TABLE bin_ranges (
    low          TEXT NOT NULL,
    high         TEXT NOT NULL,
    scheme       TEXT NOT NULL,
    card_type    TEXT,
    variant      TEXT,
    issuer_name  TEXT,
    country      TEXT,
    currency     TEXT
);

-- One row: the table's version (bumped by every load), so each node knows
-- when to re-read it.
CREATE TABLE bin_table (
    id         INTEGER PRIMARY KEY,
    version    INTEGER NOT NULL,
    loaded_at  INTEGER NOT NULL,
    ranges     INTEGER NOT NULL
);

-- Keyed digests (HMAC under the vault) of tenant + encrypted_card text.
CREATE TABLE encrypted_card_uses (
    digest      BLOB PRIMARY KEY,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX encrypted_card_uses_expires_at ON encrypted_card_uses (expires_at);
