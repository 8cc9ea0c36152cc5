-- Users of the back office: customers, agents (approved by an admin) and admins.
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    password_hash text NOT NULL,
    first_name    text NOT NULL CHECK (length(first_name) BETWEEN 1 AND 100),
    last_name     text NOT NULL CHECK (length(last_name) BETWEEN 1 AND 100),
    role          text NOT NULL CHECK (role IN ('customer', 'agent', 'admin')),
    status        text NOT NULL CHECK (status IN ('active', 'pending', 'rejected')),
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz
);

-- Emails are compared case-insensitively, and a deleted user's email stays taken (records are kept).
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
-- Lists filter by role and status and show the newest (approvals: the oldest) first.
CREATE INDEX users_role_status_created_idx ON users (role, status, created_at) WHERE deleted_at IS NULL;
