-- Sorting by last use and by expiry reads an index (as
-- src/store/migrations/0006): the expressions are those of the page query.
CREATE INDEX keys_last_used ON keys (tenant_id, (COALESCE(last_used_at, -1)), id);
CREATE INDEX keys_expires ON keys (tenant_id, (COALESCE(expires_at, 9000000000000000)), id);
