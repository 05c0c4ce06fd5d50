-- PaySecure vault schema (PostgreSQL): the same tables as the SQLite schema,
-- with BIGINT for INTEGER and BYTEA for BLOB, so that one set of DML runs on
-- both through sqlx's Any driver (0/1 for flags, Unix seconds for times).

CREATE TABLE tenants (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    api_key_hash  BYTEA NOT NULL UNIQUE,   -- SHA-256 of the API key
    cvk_sealed    BYTEA NOT NULL,          -- CVK pair, sealed by the vault
    created_at    BIGINT NOT NULL
);

CREATE TABLE rsa_keys (
    key_id        TEXT PRIMARY KEY,
    status        TEXT NOT NULL CHECK (status IN ('active', 'previous', 'retired')),
    public_spki   BYTEA NOT NULL,
    private_sealed BYTEA NOT NULL,         -- PKCS#8, sealed by the vault
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    retired_at    BIGINT
);

CREATE TABLE cards (
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    token           TEXT NOT NULL PRIMARY KEY,
    pan_index       BYTEA NOT NULL,        -- HMAC-SHA256(tenant, PAN)
    pan_sealed      BYTEA NOT NULL,
    pan_first6      TEXT NOT NULL,
    pan_last4       TEXT NOT NULL,
    pan_length      BIGINT NOT NULL,
    brand           TEXT NOT NULL,
    expiry_month    BIGINT,
    expiry_year     BIGINT,
    status          TEXT NOT NULL,
    account_id      TEXT,
    customer_id     TEXT,
    customer_ref    TEXT,
    cardholder_name TEXT,
    pin_sealed      BYTEA,                 -- ISO 9564 format-2 block, sealed
    pin_tries       BIGINT NOT NULL DEFAULT 0,
    pin_blocked     BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    UNIQUE (tenant_id, pan_index)
);
CREATE INDEX cards_account ON cards (tenant_id, account_id);
CREATE INDEX cards_customer ON cards (tenant_id, customer_id);
CREATE INDEX cards_customer_ref ON cards (tenant_id, customer_ref);

CREATE TABLE ephemeral_keys (
    key_hash    BYTEA PRIMARY KEY,         -- SHA-256 of the key
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    token       TEXT NOT NULL,
    scopes      TEXT NOT NULL,            -- space-separated
    expires_at  BIGINT NOT NULL
);

-- Session ids already used (SHA-256), kept until their RSA key retires.
CREATE TABLE used_session_ids (
    id_hash   BYTEA PRIMARY KEY,
    key_id    TEXT NOT NULL,
    used_at   BIGINT NOT NULL
);
