-- Transactional outbox: an event commits with the write that caused it; the relay publishes it.
CREATE TABLE outbox (
    seq          bigserial PRIMARY KEY,
    id           uuid NOT NULL UNIQUE,
    subject      text NOT NULL,
    payload      bytea NOT NULL,
    headers      jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_pending_idx ON outbox (seq) WHERE published_at IS NULL;

-- Events this actor has applied (same transaction as the effect: a redelivery changes nothing).
CREATE TABLE inbox (
    event_id    uuid PRIMARY KEY,
    consumer    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- The loans actor's own copy of the customers and agents it deals with, fed by user events
-- (falling back to a users.get request on a miss). `version` orders the events of one user.
CREATE TABLE parties (
    id          uuid PRIMARY KEY,
    role        text NOT NULL CHECK (role IN ('customer', 'agent', 'admin')),
    status      text NOT NULL CHECK (status IN ('active', 'pending', 'rejected')),
    email       text NOT NULL,
    first_name  text NOT NULL,
    last_name   text NOT NULL,
    deleted     boolean NOT NULL DEFAULT false,
    version     integer NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
