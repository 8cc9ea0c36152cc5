-- `amount` is what the customer pays: the sum of the schedule's payments, the EMI every month but
-- the last, which pays what is left and its interest (design.md §5, actors/loans/money.py). It
-- used to be EMI × months, which misses the last payment's rounding (52,317.96 where 50,000 over
-- 12 months collects 52,317.98). Every stored loan whose amount is not its schedule's sum gets
-- the sum, a new version and a history row 'amount_recomputed' {"amount": {"old", "new"}}.
--
-- changed_by of those rows is 00000000-0000-0000-0000-000000000006: no user, this migration
-- (0006). modified_at is left as it was: nobody changed the loan, and lists sorted by the newest
-- change would otherwise put every old loan first. Loans keep their status (an APPROVED loan's
-- schedule already collected the sum; only the figure that said so was wrong). No event is
-- emitted: the events' readers take the amount from the next change or from loans.get.
--
-- A one-month loan's EMI is its one payment; an EMI of the older code could be a cent short of it
-- when the payment was exactly a half cent (10,200 over 1 month: 10,271.825), so that EMI is set
-- to the payment too, in the same row.

ALTER TABLE loan_history DROP CONSTRAINT loan_history_change_check;
ALTER TABLE loan_history ADD CONSTRAINT loan_history_change_check
    CHECK (change IN ('created', 'edited', 'approved', 'rejected', 'amount_recomputed'));

WITH RECURSIVE paying AS (
    -- a loan after `paid_months` payments: the balance left and what the payments came to
    SELECT id, months, emi, interest AS rate, 0 AS paid_months,
           principal::numeric AS balance, 0::numeric AS paid
    FROM loans
  UNION ALL
    SELECT p.id, p.months, p.emi, p.rate, p.paid_months + 1,
           p.balance - this.principal, p.paid + this.interest + this.principal
    FROM paying AS p
    CROSS JOIN LATERAL (
        -- balance × rate is exact; divided at 20 decimal places, the quotient (a multiple of
        -- 0.0001 / 1200) stays on its side of every half cent, so round() (half away from zero,
        -- and interest is never negative) is the half-up of money.py
        SELECT round((p.balance * p.rate)::numeric(40, 20) / 1200, 2) AS interest) AS owed
    CROSS JOIN LATERAL (
        SELECT owed.interest,
               CASE WHEN p.paid_months + 1 = p.months THEN p.balance  -- the last clears the rest
                    ELSE least(p.emi - owed.interest, p.balance) END AS principal) AS this
    WHERE p.paid_months < p.months
),
recomputed AS (
    SELECT loans.id, loans.amount AS old_amount, paying.paid::numeric(14, 2) AS new_amount,
           loans.emi AS old_emi,
           CASE WHEN loans.months = 1 THEN paying.paid ELSE loans.emi END::numeric(14, 2) AS new_emi
    FROM loans JOIN paying ON paying.id = loans.id AND paying.paid_months = loans.months
),
changed AS (
    UPDATE loans SET amount = r.new_amount, emi = r.new_emi, version = loans.version + 1
    FROM recomputed AS r
    WHERE r.id = loans.id AND (r.new_amount <> r.old_amount OR r.new_emi <> r.old_emi)
    RETURNING loans.id, loans.version, r.old_amount, r.new_amount, r.old_emi, r.new_emi
)
INSERT INTO loan_history (loan_id, version, change, changed_by, changed_at, fields)
SELECT id, version, 'amount_recomputed', '00000000-0000-0000-0000-000000000006', now(),
       -- as actors/loans/records.py writes fields: only what changed, money as two-decimal text
       jsonb_strip_nulls(jsonb_build_object(
           'amount', CASE WHEN new_amount <> old_amount
                          THEN jsonb_build_object('old', old_amount::text, 'new', new_amount::text) END,
           'emi', CASE WHEN new_emi <> old_emi
                       THEN jsonb_build_object('old', old_emi::text, 'new', new_emi::text) END))
FROM changed;
