-- keydesk schema, version 1. Portable SQL: TEXT, INTEGER, unix milliseconds
-- for times; the PostgreSQL backend uses the same tables with BIGINT times.
CREATE TABLE tenants (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    settings         TEXT NOT NULL,
    settings_version INTEGER NOT NULL,
    created_at       INTEGER NOT NULL
);

CREATE TABLE users (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT REFERENCES tenants(id),
    name         TEXT NOT NULL,
    email        TEXT NOT NULL,
    roles        TEXT NOT NULL,
    licensed     INTEGER NOT NULL,
    token_digest TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL
);
CREATE INDEX users_tenant ON users (tenant_id, name);

CREATE TABLE keys (
    id                          TEXT PRIMARY KEY,
    tenant_id                   TEXT NOT NULL REFERENCES tenants(id),
    name                        TEXT NOT NULL,
    description                 TEXT NOT NULL,
    owner_id                    TEXT NOT NULL REFERENCES users(id),
    scopes                      TEXT NOT NULL,
    lifecycle                   TEXT NOT NULL,
    created_at                  INTEGER NOT NULL,
    created_by                  TEXT NOT NULL,
    updated_at                  INTEGER NOT NULL,
    updated_by                  TEXT NOT NULL,
    expires_at                  INTEGER,
    last_used_at                INTEGER,
    revoked_at                  INTEGER,
    revoked_by                  TEXT,
    start                       TEXT NOT NULL,
    secret_digest               TEXT NOT NULL UNIQUE,
    encrypted_secret            TEXT,
    previous_secret_digest      TEXT,
    previous_secret_valid_until INTEGER,
    version                     INTEGER NOT NULL
);
-- Covers the default (status, newest first) sort without touching the table.
CREATE INDEX keys_status_order ON keys (tenant_id, lifecycle, expires_at, created_at, id);
CREATE INDEX keys_created ON keys (tenant_id, created_at, id);
CREATE INDEX keys_owner ON keys (tenant_id, owner_id);
CREATE INDEX keys_previous_digest ON keys (previous_secret_digest);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT,
    at          INTEGER NOT NULL,
    action      TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    target_name TEXT NOT NULL,
    source      TEXT NOT NULL,
    changes     TEXT NOT NULL
);
CREATE INDEX events_tenant ON events (tenant_id, id);
CREATE INDEX events_target ON events (tenant_id, target_id, id);

CREATE TABLE key_usage (
    key_id  TEXT NOT NULL,
    minute  INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (key_id, minute, outcome)
);

CREATE TABLE idempotency_keys (
    tenant_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, idem_key)
);
