-- Usage history: the usage flush adds every count both to its minute row
-- (key_usage) and to its hour row here, so a 7-day window reads at most 168
-- rows per outcome. Minute rows are kept 48 hours, hour rows 8 days (the
-- 7-day window and a day to spare); the flush task deletes older rows.
CREATE TABLE key_usage_hourly (
    key_id  TEXT NOT NULL,
    -- Unix hour: unix seconds / 3600.
    hour    INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (key_id, hour, outcome)
);
INSERT INTO key_usage_hourly (key_id, hour, outcome, count)
    SELECT key_id, minute / 60, outcome, SUM(count) FROM key_usage GROUP BY key_id, minute / 60, outcome;
-- Pruning by age, without reading every row.
CREATE INDEX key_usage_minute ON key_usage (minute);
CREATE INDEX key_usage_hourly_hour ON key_usage_hourly (hour);
