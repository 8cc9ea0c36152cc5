-- Revocation of tokens (issue 12 M6, design.md §16). Tokens are stateless JWTs: what refuses one
-- before it expires is recorded here and announced to every component (users.revocations.changed).

-- A logout: this token (its `jti`) is refused until `expires_at`, its own expiry; a row past
-- that refuses nothing any more and may be dropped.
CREATE TABLE revoked_tokens (
    jti        text PRIMARY KEY CHECK (length(jti) BETWEEN 1 AND 128),
    user_id    uuid NOT NULL REFERENCES users (id),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revoked_tokens_expires_idx ON revoked_tokens (expires_at);

-- A password change or a disabled admin: every token of the user issued before this is refused.
-- `disabled_at`: an admin disabled by another admin cannot log in (null: not disabled).
ALTER TABLE users ADD COLUMN tokens_valid_after timestamptz, ADD COLUMN disabled_at timestamptz;
-- The current revocations are read by that time (only those younger than the longest token life).
CREATE INDEX users_tokens_valid_after_idx ON users (tokens_valid_after) WHERE tokens_valid_after IS NOT NULL;
