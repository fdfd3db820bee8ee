-- Search and sort without per-row work: lowercase copies written with each
-- row (Unicode lowercase: SQLite's lower() is replaced by a Unicode-aware
-- one on every connection, and PostgreSQL's already is), and indexes that
-- let every list page be an index-only scan that stops when the page is full.
ALTER TABLE keys ADD COLUMN name_lower TEXT NOT NULL DEFAULT '';
ALTER TABLE keys ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN name_lower TEXT NOT NULL DEFAULT '';
UPDATE keys SET name_lower = lower(name), search_text = lower(name) || ' ' || lower(id) || ' ' || lower(start);
UPDATE users SET name_lower = lower(name);
DROP INDEX keys_status_order;
DROP INDEX keys_created;
-- The default sort (status, then newest), one status group at a time.
CREATE INDEX keys_lifecycle_created ON keys (tenant_id, lifecycle, created_at, id, expires_at, search_text, owner_id);
-- The created and name sorts.
CREATE INDEX keys_created ON keys (tenant_id, created_at, id, lifecycle, expires_at, search_text, owner_id);
CREATE INDEX keys_name ON keys (tenant_id, name_lower, id, lifecycle, expires_at, search_text, owner_id);
-- Counting and reading the matches of a search.
CREATE INDEX keys_search ON keys (tenant_id, search_text, owner_id, lifecycle, expires_at, created_at, id);
CREATE INDEX users_name_lower ON users (name_lower);
