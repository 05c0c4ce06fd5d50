-- Key separation and lifecycle (issue #13): each RSA key pair serves one
-- purpose ('session': V2/V3 session ids and JWE captures with RSA-OAEP;
-- 'v1': V1 session ids with PKCS#1 v1.5, only for tenants that enable V1),
-- one active key per purpose; keys can be revoked; expires_at is enforced.
ALTER TABLE rsa_keys ADD COLUMN purpose TEXT NOT NULL DEFAULT 'session';
ALTER TABLE rsa_keys ADD COLUMN revoked_at BIGINT;
DROP INDEX rsa_keys_one_active;
CREATE UNIQUE INDEX rsa_keys_one_active ON rsa_keys (purpose) WHERE status = 'active';
-- V1 is off unless the tenant enables it.
ALTER TABLE tenants ADD COLUMN v1_enabled BIGINT NOT NULL DEFAULT 0;
-- A Client POST capture session is claimed before its card is decrypted,
-- so a failed capture uses the session up.
ALTER TABLE capture_sessions ADD COLUMN claimed_at BIGINT;
-- Replay records are now keyed by a fingerprint of the unwrapped session
-- key, not of the header text.
