-- The account payment-information API (seed 003).

-- A tenant's data key for encrypted bodies sent without a Session-Id.
CREATE TABLE tenant_data_keys (
    tenant_id   TEXT PRIMARY KEY REFERENCES tenants(id),
    key_sealed  BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);

-- A user's stored payment cards.
CREATE TABLE payment_infos (
    id              TEXT PRIMARY KEY,      -- paymentInfoId (a UUID)
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    account_uuid    TEXT NOT NULL,         -- the user's uuid
    order_id        TEXT NOT NULL,         -- the order that created it
    status          TEXT NOT NULL,         -- ACTIVE, INACTIVE, FRAUD
    is_default      BIGINT NOT NULL,
    pan_index       BYTEA NOT NULL,
    pan_sealed      BYTEA NOT NULL,
    pan_first6      TEXT NOT NULL,
    pan_last4       TEXT NOT NULL,
    pan_length      BIGINT NOT NULL,
    brand           TEXT NOT NULL,
    expiry_month    BIGINT NOT NULL,
    expiry_year     BIGINT NOT NULL,
    details_sealed  BYTEA NOT NULL,         -- billingInfo, holder, nickname, device: JSON, sealed
    cvv_token_mac   BYTEA NOT NULL,         -- HMAC of cardCVVToken
    cvv_failures    BIGINT NOT NULL,
    version         BIGINT NOT NULL,
    registered_at   BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX payment_infos_order ON payment_infos (tenant_id, account_uuid, order_id);
CREATE INDEX payment_infos_account ON payment_infos (tenant_id, account_uuid);

-- Nonces of encrypted bodies already accepted (replay refusal), kept for
-- longer than the 5-minute freshness window.
CREATE TABLE used_body_nonces (
    nonce_hash  BYTEA PRIMARY KEY,          -- SHA-256(key fingerprint || nonce)
    used_at     BIGINT NOT NULL
);
