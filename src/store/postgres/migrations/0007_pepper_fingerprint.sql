-- The pepper's fingerprint (as src/store/migrations/0007).
CREATE TABLE pepper (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
