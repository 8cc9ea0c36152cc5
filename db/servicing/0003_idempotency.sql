-- The first answer to each write sent with an Idempotency-Key, stored in the write's own
-- transaction: a repeat (same caller, subject and key) gets this answer and changes nothing.
CREATE TABLE idempotency (
    caller       uuid NOT NULL,          -- the nil UUID for anonymous callers (signup)
    subject      text NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,         -- a different request under the same key is a 409
    reply        bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (caller, subject, key)
);
CREATE INDEX idempotency_expires_idx ON idempotency (expires_at);
