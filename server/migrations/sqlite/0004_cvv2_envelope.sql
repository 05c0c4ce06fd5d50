-- The Get CVV2 envelope API (seed 001): cards may carry an external id
-- (EXID) the tenant assigned, and a tenant may allow CVV2 in clear there.
ALTER TABLE cards ADD COLUMN exid TEXT;
CREATE UNIQUE INDEX cards_exid ON cards (tenant_id, exid);
ALTER TABLE tenants ADD COLUMN allow_plain_cvv2 INTEGER NOT NULL DEFAULT 0;
