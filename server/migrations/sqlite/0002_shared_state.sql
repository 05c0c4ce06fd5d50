-- State every node must share: the authentication-failure throttle, and at
-- most one active RSA key (two nodes starting on an empty database race to
-- create one; the loser reloads instead).
CREATE TABLE auth_failures (
    client        TEXT PRIMARY KEY,      -- client address
    window_start  INTEGER NOT NULL,      -- Unix seconds; a window is one day
    failures      INTEGER NOT NULL,
    blocked_until INTEGER NOT NULL
);
CREATE UNIQUE INDEX rsa_keys_one_active ON rsa_keys (status) WHERE status = 'active';
