-- Tenant API keys in a table of their own, so that a tenant can hold more
-- than one key (rotation with an overlap window) and keys can be revoked
-- (issue #13). A key authenticates while revoked_at IS NULL and
-- (expires_at IS NULL OR expires_at > now).
CREATE TABLE tenant_api_keys (
    key_hash    BYTEA PRIMARY KEY,         -- SHA-256 of the key
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,                    -- set by a rotation: end of the overlap
    revoked_at  BIGINT                     -- set by revoke-key
);
CREATE INDEX tenant_api_keys_tenant ON tenant_api_keys (tenant_id);

INSERT INTO tenant_api_keys (key_hash, tenant_id, created_at)
    SELECT api_key_hash, id, created_at FROM tenants;

-- tenants.api_key_hash is no longer read. It stays (NOT NULL UNIQUE, as on
-- SQLite, where dropping it needs a table rebuild) and holds the tenant
-- id's bytes from now on: nothing derived from a credential.
UPDATE tenants SET api_key_hash = convert_to(id, 'UTF8');
