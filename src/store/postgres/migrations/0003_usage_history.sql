-- Usage history by hour (as src/store/migrations/0003).
CREATE TABLE key_usage_hourly (
    key_id  TEXT COLLATE "C" NOT NULL,
    hour    BIGINT NOT NULL,
    outcome TEXT COLLATE "C" NOT NULL,
    count   BIGINT NOT NULL,
    PRIMARY KEY (key_id, hour, outcome)
);
INSERT INTO key_usage_hourly (key_id, hour, outcome, count)
    SELECT key_id, minute / 60, outcome, SUM(count) FROM key_usage GROUP BY key_id, minute / 60, outcome;
CREATE INDEX key_usage_minute ON key_usage (minute);
CREATE INDEX key_usage_hourly_hour ON key_usage_hourly (hour);
