-- The account payment-information API (seed 003).

-- A tenant's data key for encrypted bodies sent without a Session-Id.
CREATE TABLE tenant_data_keys (
    tenant_id   TEXT PRIMARY KEY REFERENCES tenants(id),
    key_sealed  BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);

-- A user's stored payment cards.
CREATE TABLE payment_infos (
    id              TEXT PRIMARY KEY,      -- paymentInfoId (a UUID)
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    account_uuid    TEXT NOT NULL,         -- the user's uuid
    order_id        TEXT NOT NULL,         -- the order that created it
    status          TEXT NOT NULL,         -- ACTIVE, INACTIVE, FRAUD
    is_default      INTEGER NOT NULL,
    pan_index       BLOB NOT NULL,
    pan_sealed      BLOB NOT NULL,
    pan_first6      TEXT NOT NULL,
    pan_last4       TEXT NOT NULL,
    pan_length      INTEGER NOT NULL,
    brand           TEXT NOT NULL,
    expiry_month    INTEGER NOT NULL,
    expiry_year     INTEGER NOT NULL,
    details_sealed  BLOB NOT NULL,         -- billingInfo, holder, nickname, device: JSON, sealed
    cvv_token_mac   BLOB NOT NULL,         -- HMAC of cardCVVToken
    cvv_failures    INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    registered_at   INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX payment_infos_order ON payment_infos (tenant_id, account_uuid, order_id);
CREATE INDEX payment_infos_account ON payment_infos (tenant_id, account_uuid);

-- Nonces of encrypted bodies already accepted (replay refusal), kept for
-- longer than the 5-minute freshness window.
CREATE TABLE used_body_nonces (
    nonce_hash  BLOB PRIMARY KEY,          -- SHA-256(key fingerprint || nonce)
    used_at     INTEGER NOT NULL
);
