-- Bound verification (as src/store/migrations/0005).
ALTER TABLE keys ADD COLUMN rate_limit_requests BIGINT;
ALTER TABLE keys ADD COLUMN rate_limit_window_seconds BIGINT;
CREATE TABLE verifiers (
    id           TEXT COLLATE "C" PRIMARY KEY,
    tenant_id    TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    name         TEXT COLLATE "C" NOT NULL,
    token_digest TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    created_by   TEXT COLLATE "C" NOT NULL
);
CREATE INDEX verifiers_tenant ON verifiers (tenant_id, created_at, id);
