-- The merchant tokenisation APIs: Paythru Card Tokenisation API v3 (seed 002)
-- and Verifone-style token management (seed 004).

-- Paythru API credentials of a tenant (seed 002 §2.4, §2.5).
CREATE TABLE paythru_credentials (
    api_key        TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    password_hash  BYTEA NOT NULL,          -- SHA-256 of the API password
    sha_key_sealed BYTEA NOT NULL,          -- the signing key, sealed (needed in clear to verify)
    methods        TEXT NOT NULL,          -- space-separated methods it may call
    revoked_at     BIGINT,
    created_at     BIGINT NOT NULL
);

-- Stored cards of both APIs: Paythru card keys and Verifone reuse tokens.
CREATE TABLE stored_cards (
    token           TEXT PRIMARY KEY,      -- cardKey or reuse_token
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    api             TEXT NOT NULL CHECK (api IN ('paythru', 'verifone')),
    scope           TEXT NOT NULL,         -- Verifone token_scope; '' for Paythru
    pan_index       BYTEA NOT NULL,         -- HMAC-SHA256(tenant, PAN)
    pan_sealed      BYTEA NOT NULL,
    pan_first6      TEXT NOT NULL,
    pan_last4       TEXT NOT NULL,
    pan_length      BIGINT NOT NULL,
    brand           TEXT NOT NULL,
    expiry_month    BIGINT NOT NULL,
    expiry_year     BIGINT NOT NULL,
    customer_ref    TEXT,                  -- Paythru merchantCustomerReference
    status          TEXT NOT NULL,         -- ACTIVE, DISABLED (Paythru), SUSPENDED (Verifone)
    details_sealed  BYTEA NOT NULL,         -- names, address, e-mail: JSON, sealed
    analytics_token TEXT NOT NULL,
    token_expiry    TEXT,                  -- Verifone token_expiry_date, YYYY-MM-DD
    version         BIGINT NOT NULL,      -- optimistic concurrency
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX stored_cards_scope_pan ON stored_cards (tenant_id, scope, pan_index) WHERE api = 'verifone';
CREATE INDEX stored_cards_ref ON stored_cards (tenant_id, api, customer_ref);

-- Client POST sessions (seed 002 §3.7): a card captured in the browser waits
-- here, sealed, until the merchant tokenises the session.
CREATE TABLE capture_sessions (
    session_hash  BYTEA PRIMARY KEY,        -- SHA-256 of the session key
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    customer_ref  TEXT,
    card_sealed   BYTEA,                    -- NULL until the card is captured
    expires_at    BIGINT NOT NULL
);
