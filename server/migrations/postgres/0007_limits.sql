-- Attempt limit of CVV2 verification (issue #13): consecutive wrong CVV2s
-- per card, and the block they set at the limit (cleared by a tenant's
-- unblock). Shared by every node; updated by single conditional UPDATEs.
ALTER TABLE cards ADD COLUMN cvv2_tries BIGINT NOT NULL DEFAULT 0;
ALTER TABLE cards ADD COLUMN cvv2_blocked BIGINT NOT NULL DEFAULT 0;
