-- Loans imported from the Django monolith (design.md §13) keep its integer id (their uuid is
-- derived from it); NULL for every loan made here, unique where set.
ALTER TABLE loans ADD COLUMN legacy_id bigint;
CREATE UNIQUE INDEX loans_legacy_id_key ON loans (legacy_id) WHERE legacy_id IS NOT NULL;

-- The import writes the monolith's history as it was, then one row of its own: 'imported', whose
-- fields hold the monolith's figures where the import's rules gave others (an EMI recomputed,
-- the schedule's amount, an end date), so nothing the monolith said is lost.
ALTER TABLE loan_history DROP CONSTRAINT loan_history_change_check;
ALTER TABLE loan_history ADD CONSTRAINT loan_history_change_check
    CHECK (change IN ('created', 'edited', 'approved', 'rejected', 'amount_recomputed', 'imported'));
