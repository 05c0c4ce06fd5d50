-- Paythru replay protection (issue #13): the optional profile of signed
-- requestTime / requestNonce parameters, required per credential or per
-- tenant (`tenant paythru-require-nonce`), off by default.
ALTER TABLE paythru_credentials ADD COLUMN require_nonce INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN paythru_require_nonce INTEGER NOT NULL DEFAULT 0;

-- Nonces accepted, once per credential; purged once no request carrying
-- them could still be inside the time window.
CREATE TABLE paythru_nonces (
    api_key  TEXT NOT NULL,
    nonce    TEXT NOT NULL,
    used_at  INTEGER NOT NULL,
    PRIMARY KEY (api_key, nonce)
);
CREATE INDEX paythru_nonces_used_at ON paythru_nonces (used_at);
