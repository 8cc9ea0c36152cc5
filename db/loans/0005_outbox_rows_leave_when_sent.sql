-- An outbox row now only waits: the relay deletes it in the transaction that commits once
-- JetStream has acknowledged it, instead of setting published_at and keeping it for ever (the
-- table grew by a row per write, and the UPDATE wrote a second copy of every payload and two
-- index entries). The stream keeps the events. Rows published before go with the column.
DELETE FROM outbox WHERE published_at IS NOT NULL;
DROP INDEX outbox_pending_idx;
ALTER TABLE outbox DROP COLUMN published_at;
-- Event ids are the writer's uuid4s and JetStream drops a repeated Nats-Msg-Id: the UNIQUE index
-- was one more B-tree insert per write, checking nothing that can happen.
ALTER TABLE outbox DROP CONSTRAINT outbox_id_key;
