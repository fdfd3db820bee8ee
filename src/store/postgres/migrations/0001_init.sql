-- keydesk schema, version 1, for PostgreSQL: the tables of
-- src/store/migrations/0001_init.sql with BIGINT for every integer and time
-- (unix milliseconds), BOOLEAN for flags, and every text compared byte by
-- byte (COLLATE "C"), as SQLite compares: sorts and cursors order the same
-- on both backends, whatever the database's locale.
CREATE TABLE tenants (
    id               TEXT COLLATE "C" PRIMARY KEY,
    name             TEXT COLLATE "C" NOT NULL,
    settings         TEXT NOT NULL,
    settings_version BIGINT NOT NULL,
    created_at       BIGINT NOT NULL
);

CREATE TABLE users (
    id           TEXT COLLATE "C" PRIMARY KEY,
    tenant_id    TEXT COLLATE "C" REFERENCES tenants(id),
    name         TEXT COLLATE "C" NOT NULL,
    email        TEXT COLLATE "C" NOT NULL,
    roles        TEXT COLLATE "C" NOT NULL,
    licensed     BOOLEAN NOT NULL,
    token_digest TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL
);
CREATE INDEX users_tenant ON users (tenant_id, name);

CREATE TABLE keys (
    id                          TEXT COLLATE "C" PRIMARY KEY,
    tenant_id                   TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    name                        TEXT COLLATE "C" NOT NULL,
    description                 TEXT COLLATE "C" NOT NULL,
    owner_id                    TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    scopes                      TEXT COLLATE "C" NOT NULL,
    lifecycle                   TEXT COLLATE "C" NOT NULL,
    created_at                  BIGINT NOT NULL,
    created_by                  TEXT COLLATE "C" NOT NULL,
    updated_at                  BIGINT NOT NULL,
    updated_by                  TEXT COLLATE "C" NOT NULL,
    expires_at                  BIGINT,
    last_used_at                BIGINT,
    revoked_at                  BIGINT,
    revoked_by                  TEXT COLLATE "C",
    start                       TEXT COLLATE "C" NOT NULL,
    secret_digest               TEXT COLLATE "C" NOT NULL UNIQUE,
    encrypted_secret            TEXT,
    previous_secret_digest      TEXT COLLATE "C",
    previous_secret_valid_until BIGINT,
    version                     BIGINT NOT NULL
);
CREATE INDEX keys_status_order ON keys (tenant_id, lifecycle, expires_at, created_at, id);
CREATE INDEX keys_created ON keys (tenant_id, created_at, id);
CREATE INDEX keys_owner ON keys (tenant_id, owner_id);
CREATE INDEX keys_previous_digest ON keys (previous_secret_digest);

-- Ids come from a sequence, never reused (SQLite's AUTOINCREMENT). They are
-- handed out at insert time, so concurrent transactions could commit them
-- out of order: every write that inserts an event holds its tenant's lock
-- (or the lock of events without a tenant) until it commits (ARCHITECTURE:
-- a tenant's events commit in id order).
CREATE TABLE events (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   TEXT COLLATE "C",
    at          BIGINT NOT NULL,
    action      TEXT COLLATE "C" NOT NULL,
    actor_id    TEXT COLLATE "C" NOT NULL,
    actor_name  TEXT COLLATE "C" NOT NULL,
    target_id   TEXT COLLATE "C" NOT NULL,
    target_name TEXT COLLATE "C" NOT NULL,
    source      TEXT COLLATE "C" NOT NULL,
    changes     TEXT NOT NULL
);
CREATE INDEX events_tenant ON events (tenant_id, id);
CREATE INDEX events_target ON events (tenant_id, target_id, id);

CREATE TABLE key_usage (
    key_id  TEXT COLLATE "C" NOT NULL,
    minute  BIGINT NOT NULL,
    outcome TEXT COLLATE "C" NOT NULL,
    count   BIGINT NOT NULL,
    PRIMARY KEY (key_id, minute, outcome)
);

CREATE TABLE idempotency_keys (
    tenant_id    TEXT COLLATE "C" NOT NULL,
    user_id      TEXT COLLATE "C" NOT NULL,
    idem_key     TEXT COLLATE "C" NOT NULL,
    request_hash TEXT COLLATE "C" NOT NULL,
    key_id       TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, idem_key)
);
