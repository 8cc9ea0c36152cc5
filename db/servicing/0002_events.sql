-- Transactional outbox and inbox, as every actor's schema has them (db/loans/0002_events.sql).
CREATE TABLE outbox (
    seq        bigserial PRIMARY KEY,
    id         uuid NOT NULL,
    subject    text NOT NULL,
    payload    bytea NOT NULL,
    headers    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE inbox (
    event_id   uuid PRIMARY KEY,
    consumer   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
