-- Search and sort without per-row work (as src/store/migrations/0002):
-- lowercase copies written with each row (Unicode lowercase, made by the
-- server, so the database's locale does not matter).
ALTER TABLE keys ADD COLUMN name_lower TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE keys ADD COLUMN search_text TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN name_lower TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE keys SET name_lower = lower(name), search_text = lower(name) || ' ' || lower(id) || ' ' || lower(start);
UPDATE users SET name_lower = lower(name);
DROP INDEX keys_status_order;
DROP INDEX keys_created;
CREATE INDEX keys_lifecycle_created ON keys (tenant_id, lifecycle, created_at, id, expires_at, search_text, owner_id);
CREATE INDEX keys_created ON keys (tenant_id, created_at, id, lifecycle, expires_at, search_text, owner_id);
CREATE INDEX keys_name ON keys (tenant_id, name_lower, id, lifecycle, expires_at, search_text, owner_id);
CREATE INDEX keys_search ON keys (tenant_id, search_text, owner_id, lifecycle, expires_at, created_at, id);
CREATE INDEX users_name_lower ON users (name_lower);
