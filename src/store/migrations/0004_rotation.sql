-- Rotation with a grace period: a regenerated key keeps the HMAC digest of
-- the secret it replaced (never the secret) in previous_secret_digest, and
-- when that secret stops verifying in previous_secret_valid_until (unix
-- milliseconds). Both columns exist since 0001 but no version before this
-- one set them, so there is nothing to convert.
-- Verification and lookup find a key by either digest: 0001's plain index is
-- replaced by a unique one over just the rows that have a previous digest.
DROP INDEX keys_previous_digest;
CREATE UNIQUE INDEX keys_previous_secret_digest ON keys (previous_secret_digest)
    WHERE previous_secret_digest IS NOT NULL;
-- `?rotating=true`: a tenant's keys whose grace has not ended yet.
CREATE INDEX keys_rotating ON keys (tenant_id, previous_secret_valid_until)
    WHERE previous_secret_valid_until IS NOT NULL;
