-- Rotation with a grace period (as src/store/migrations/0004).
DROP INDEX keys_previous_digest;
CREATE UNIQUE INDEX keys_previous_secret_digest ON keys (previous_secret_digest)
    WHERE previous_secret_digest IS NOT NULL;
CREATE INDEX keys_rotating ON keys (tenant_id, previous_secret_valid_until)
    WHERE previous_secret_valid_until IS NOT NULL;
