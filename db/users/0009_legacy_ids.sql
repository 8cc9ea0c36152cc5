-- Users imported from the Django monolith (design.md §13) keep its integer id beside theirs (their
-- uuid is derived from it): what the import report and an operator look them up by. NULL for
-- every user made here; unique where set, so one legacy user is one row.
ALTER TABLE users ADD COLUMN legacy_id bigint;
CREATE UNIQUE INDEX users_legacy_id_key ON users (legacy_id) WHERE legacy_id IS NOT NULL;
