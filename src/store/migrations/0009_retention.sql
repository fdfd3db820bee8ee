-- Retention (serve --event-retention-days, --idempotency-retention-hours):
-- old events and idempotency records are deleted by time, read along these.
CREATE INDEX events_at ON events (at);
CREATE INDEX idempotency_created ON idempotency_keys (created_at);
