-- A COB batch is a range of loan ids (random UUIDs). With the default statistics target (100
-- histogram bins) a 1,000-account range inside one bin of a million-account table is estimated
-- as one row or a whole bin, and the second guess picks a plan that scans every installment:
-- one batch in ten took 5-9 s instead of 0.1 s (bench/results/2026-12-02-servicing.md). 10,000
-- bins keep a batch's estimate within a few bins up to about ten million accounts.
ALTER TABLE accounts ALTER COLUMN loan_id SET STATISTICS 10000;
