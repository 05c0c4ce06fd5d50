-- Wallet provisioning (issue #17): per-tenant settings of the Apple Pay
-- in-app provisioning route (Apple root certificates, KDF party info) and of
-- the MDES route (Mastercard encryption key and fingerprint, TAV signing key).
-- One row per (tenant, setting); every value is sealed by the vault, bound
-- to the tenant and the setting's name. Written by `tenant wallet-…`.
CREATE TABLE wallet_settings (
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    name          TEXT NOT NULL,
    value_sealed  BLOB NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
