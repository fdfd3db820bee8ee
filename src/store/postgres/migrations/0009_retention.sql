-- Retention (as src/store/migrations/0009).
CREATE INDEX events_at ON events (at);
CREATE INDEX idempotency_created ON idempotency_keys (created_at);
