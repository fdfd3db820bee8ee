-- Sorting by last use and by expiry reads an index, as the other sorts do
-- (ARCHITECTURE: no list query sorts a whole tenant). The expressions are
-- exactly those of the page query's ORDER BY, so SQLite walks these indexes
-- and stops when the page is full.
CREATE INDEX keys_last_used ON keys (tenant_id, COALESCE(last_used_at, -1), id);
CREATE INDEX keys_expires ON keys (tenant_id, COALESCE(expires_at, 9000000000000000), id);
