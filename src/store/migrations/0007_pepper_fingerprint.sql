-- The fingerprint of the pepper this database's digests are keyed with
-- (Keyring::fingerprint: an HMAC of a fixed label under a key derived from
-- the pepper; never the pepper, nor anything it can be recovered from). At
-- start the server refuses a pepper whose fingerprint differs, instead of
-- serving a database on which no key or token would verify. One row; a
-- database created before this version gets it on its first start.
CREATE TABLE pepper (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL,
    recorded_at INTEGER NOT NULL
);
