-- CVV tokens (issue #19): the account API's cardCVVToken is a "SAKA token
-- for decryption of the Card Verification Value". A token is minted by the
-- token service for one tenant, resolves once, and lives a few minutes; the
-- CVV is held only sealed by the vault (bound to tenant and token) until the
-- token is used or expires. Nothing about a CVV is stored with a card.
CREATE TABLE cvv_tokens (
    token_mac   BYTEA PRIMARY KEY,       -- keyed HMAC of (tenant, token)
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    cvv_sealed  BYTEA NOT NULL,          -- the CVV, sealed by the vault
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX cvv_tokens_expiry ON cvv_tokens (expires_at);

-- The card no longer keeps the HMAC of the create-time CVV token: a
-- re-verification resolves a new token and checks the CVV against the card.
UPDATE payment_infos SET cvv_token_mac = ''::bytea;
