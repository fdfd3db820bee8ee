-- Bound verification (issue 8).
-- A key's own rate limit (both columns set, or neither: the tenant's
-- default, kept in the settings JSON, applies).
ALTER TABLE keys ADD COLUMN rate_limit_requests INTEGER;
ALTER TABLE keys ADD COLUMN rate_limit_window_seconds INTEGER;
-- Verifier tokens: service credentials of one tenant that may only call
-- /v1/verify. Only the keyed digest of a token is stored, as for users.
CREATE TABLE verifiers (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    name         TEXT NOT NULL,
    token_digest TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL
);
CREATE INDEX verifiers_tenant ON verifiers (tenant_id, created_at, id);
