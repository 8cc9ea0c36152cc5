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

-- Events this actor has applied: recorded in the same transaction as the effect, so a redelivery
-- changes nothing.
CREATE TABLE inbox (
    event_id    uuid PRIMARY KEY,
    consumer    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- What happened to the loans a user borrowed or requested (the profile's activity list).
CREATE TABLE activity (
    event_id    uuid NOT NULL,
    user_id     uuid NOT NULL,
    type        text NOT NULL,
    loan_id     uuid NOT NULL,
    status      text NOT NULL,
    version     integer NOT NULL,
    by_user     uuid,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (event_id, user_id)
);
CREATE INDEX activity_user_idx ON activity (user_id, occurred_at DESC);

-- A message for the customer when their loan is decided.
CREATE TABLE notifications (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL,
    loan_id     uuid NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('loan_approved', 'loan_rejected')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    read_at     timestamptz
);
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC);
