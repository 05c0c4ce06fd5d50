-- PaySecure vault schema (SQLite). Portable types only: TEXT, INTEGER
-- (0/1 for flags, Unix seconds for times) and BLOB, so that the same DML
-- runs on PostgreSQL (BIGINT/BYTEA) through sqlx's Any driver.

CREATE TABLE tenants (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    api_key_hash  BLOB NOT NULL UNIQUE,   -- SHA-256 of the API key
    cvk_sealed    BLOB NOT NULL,          -- CVK pair, sealed by the vault
    created_at    INTEGER NOT NULL
);

CREATE TABLE rsa_keys (
    key_id        TEXT PRIMARY KEY,
    status        TEXT NOT NULL CHECK (status IN ('active', 'previous', 'retired')),
    public_spki   BLOB NOT NULL,
    private_sealed BLOB NOT NULL,         -- PKCS#8, sealed by the vault
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    retired_at    INTEGER
);

CREATE TABLE cards (
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    token           TEXT NOT NULL PRIMARY KEY,
    pan_index       BLOB NOT NULL,        -- HMAC-SHA256(tenant, PAN)
    pan_sealed      BLOB NOT NULL,
    pan_first6      TEXT NOT NULL,
    pan_last4       TEXT NOT NULL,
    pan_length      INTEGER NOT NULL,
    brand           TEXT NOT NULL,
    expiry_month    INTEGER,
    expiry_year     INTEGER,
    status          TEXT NOT NULL,
    account_id      TEXT,
    customer_id     TEXT,
    customer_ref    TEXT,
    cardholder_name TEXT,
    pin_sealed      BLOB,                 -- ISO 9564 format-2 block, sealed
    pin_tries       INTEGER NOT NULL DEFAULT 0,
    pin_blocked     INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    UNIQUE (tenant_id, pan_index)
);
CREATE INDEX cards_account ON cards (tenant_id, account_id);
CREATE INDEX cards_customer ON cards (tenant_id, customer_id);
CREATE INDEX cards_customer_ref ON cards (tenant_id, customer_ref);

CREATE TABLE ephemeral_keys (
    key_hash    BLOB PRIMARY KEY,         -- SHA-256 of the key
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    token       TEXT NOT NULL,
    scopes      TEXT NOT NULL,            -- space-separated
    expires_at  INTEGER NOT NULL
);

-- Session ids already used (SHA-256), kept until their RSA key retires.
CREATE TABLE used_session_ids (
    id_hash   BLOB PRIMARY KEY,
    key_id    TEXT NOT NULL,
    used_at   INTEGER NOT NULL
);
