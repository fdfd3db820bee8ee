-- The fleet (PostgreSQL only: SQLite is one file for one server, so it has
-- no 0010). `keydesk_changes` is the commit-ordered change counter: every
-- write that inserts events bumps its one row just before it commits, so
-- the row lock hands out numbers in commit order across every instance.
-- Each event records the change that committed it, so an instance that
-- missed a notification re-reads `change > applied`. `keydesk_instances`
-- holds each instance's heartbeat and the change it has applied.
CREATE TABLE keydesk_changes (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    n   BIGINT NOT NULL
);
INSERT INTO keydesk_changes (one, n) VALUES (TRUE, 0);
ALTER TABLE events ADD COLUMN change BIGINT;
CREATE INDEX events_change ON events (change) WHERE change IS NOT NULL;
CREATE TABLE keydesk_instances (
    id             TEXT COLLATE "C" PRIMARY KEY,
    started_at     BIGINT NOT NULL,
    seen_at        BIGINT NOT NULL,
    applied_change BIGINT NOT NULL,
    applied_at     BIGINT NOT NULL,
    address        TEXT
);
