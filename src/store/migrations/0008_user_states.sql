-- Users can be disabled (their management token is refused until they are
-- enabled) and deleted. A deleted user stays as a row, out of every list
-- and lookup, so the keys they own stay owned as before and read with
-- their name. A user without a token (revoked, or deleted) holds
-- '-' || id in token_digest: NOT NULL UNIQUE, and never an HMAC digest,
-- which is hex.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
ALTER TABLE users ADD COLUMN deleted_at INTEGER;
