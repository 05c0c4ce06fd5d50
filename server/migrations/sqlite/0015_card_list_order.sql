-- Card-list pagination (issue #19): GET /v2/cards pages through a tenant's
-- cards in the order (created_at, token) with a keyset cursor; this index
-- serves both the order and the "after the cursor" condition without a sort
-- of the tenant's whole card table.
CREATE INDEX cards_list_order ON cards (tenant_id, created_at, token);
