"""The close of business in SQL: starting a run (its batches and their work items), judging one
batch of accounts at the run's date (set-based: a few statements per batch, never one per
account), and the run's bookkeeping. The statements name no schema: they run on the servicing
pool, whose search path is its schema.

Delinquency at date b (design.md §11, the same rules as actors/servicing/ledger.py): an
installment not fully paid with due date < b is OVERDUE; days past due = b − the due date of
the oldest such installment (0 if none); bucket current (0), 1-30, 31-60, 61-90, 90+. A run is
judged once at its date: a run two months on does not replay each day in between.
"""

from __future__ import annotations

from actors.runtime.sql import Statement

# One run at a time: the business date's one row is locked by whoever starts a run.
LOCK_DATE = Statement("SELECT business_date FROM business_date FOR UPDATE")

RUN = Statement(
    """SELECT business_date AS date, status, batches, batches_done, accounts
       FROM cob_runs WHERE business_date = :date"""
)
RUNNING = Statement(
    """SELECT business_date AS date, status, batches, batches_done, accounts
       FROM cob_runs WHERE status = 'RUNNING' ORDER BY business_date LIMIT 1"""
)

# The run, its batches (loan id ranges of `batch_size` active accounts, in loan id order), one
# work item per batch in the outbox (the relay publishes it: queued if and only if this commits),
# and, with no active account at all, the run DONE and the business date moved at once.
START_RUN = Statement(
    """WITH numbered AS (
           SELECT loan_id, (row_number() OVER (ORDER BY loan_id) - 1) / :batch_size + 1 AS number
           FROM accounts WHERE status = 'ACTIVE'
       ), batches AS (
           SELECT number::int,
                  (array_agg(loan_id ORDER BY loan_id))[1] AS first_loan,
                  (array_agg(loan_id ORDER BY loan_id DESC))[1] AS last_loan,
                  count(*)::int AS accounts
           FROM numbered GROUP BY number
       ), run AS (
           INSERT INTO cob_runs (business_date, status, batches, accounts, requested_by, finished_at)
           SELECT :date::date, CASE WHEN count(*) = 0 THEN 'DONE' ELSE 'RUNNING' END, count(*),
                  COALESCE(sum(accounts), 0), :requested_by::uuid,
                  CASE WHEN count(*) = 0 THEN now() END
           FROM batches
           RETURNING business_date AS date, status, batches, batches_done, accounts
       ), stored AS (
           INSERT INTO cob_batches (business_date, number, first_loan, last_loan, accounts)
           SELECT :date::date, number, first_loan, last_loan, accounts FROM batches
       ), queued AS (
           INSERT INTO outbox (id, subject, payload)
           SELECT gen_random_uuid(), :work_subject,
                  convert_to(json_build_object('date', :date::date, 'number', number)::text, 'UTF8')
           FROM batches ORDER BY number
       ), moved AS (
           UPDATE business_date SET business_date = :date::date, updated_at = now()
           WHERE (SELECT status FROM run) = 'DONE'
       )
       SELECT * FROM run"""
)

# A batch's row, locked: of two deliveries of one item, the second waits and finds it done.
LOCK_BATCH = Statement(
    """SELECT first_loan, last_loan, done_at IS NOT NULL AS done FROM cob_batches
       WHERE business_date = :date AND number = :number FOR UPDATE"""
)

# The accounts of the batch still to be judged at the date, locked in loan id order before they
# are read (a repayment committed before the lock is then seen, one after it waits for this).
_TO_JUDGE = """status = 'ACTIVE' AND loan_id BETWEEN :first_loan AND :last_loan
               AND (cob_date IS NULL OR cob_date < :date::date)"""
LOCK_ACCOUNTS = Statement(
    f"""SELECT count(*) FROM (
            SELECT loan_id FROM accounts WHERE {_TO_JUDGE} ORDER BY loan_id FOR UPDATE) AS locked"""
)

_ENVELOPE_TIME = """to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""

# Judge the batch's accounts at :date in one statement: overdue marking, days past due and bucket,
# reminders; the events (installment.overdue once per installment, loan.delinquency_changed when
# the bucket moves, repayment.due once per installment) built here into the outbox, as envelopes
# whose data is AccountChanged; each account's version goes up by its events, cob_date = :date.
JUDGE = Statement(
    f"""WITH judged AS (
           SELECT loan_id, customer_id, agent_id, status, outstanding_principal,
                  bucket AS bucket_from, version
           FROM accounts WHERE {_TO_JUDGE}
       ), unpaid AS (
           SELECT i.loan_id, i.number, i.due_date, i.overdue_notified, i.reminded,
                  i.interest - i.paid_interest - i.waived_interest + i.principal - i.paid_principal AS owed
           FROM installments i JOIN judged USING (loan_id)
           WHERE i.status <> 'PAID'
             AND i.interest - i.paid_interest - i.waived_interest + i.principal - i.paid_principal > 0
       ), oldest AS (
           SELECT loan_id, min(due_date) AS due_date FROM unpaid
           WHERE due_date < :date::date GROUP BY loan_id
       ), delinquency AS (
           SELECT j.*, COALESCE(:date::date - o.due_date, 0) AS days_past_due
           FROM judged j LEFT JOIN oldest o USING (loan_id)
       ), bucketed AS (
           SELECT d.*, CASE WHEN days_past_due = 0 THEN 'current' WHEN days_past_due <= 30 THEN '1-30'
                            WHEN days_past_due <= 60 THEN '31-60' WHEN days_past_due <= 90 THEN '61-90'
                            ELSE '90+' END AS bucket_to
           FROM delinquency d
       ), happened AS (
           SELECT loan_id, 'servicing.installment.overdue' AS type, 1 AS kind, number, due_date, owed
           FROM unpaid WHERE due_date < :date::date AND NOT overdue_notified
           UNION ALL
           SELECT loan_id, 'servicing.loan.delinquency_changed', 2, NULL, NULL, NULL
           FROM bucketed WHERE bucket_to <> bucket_from
           UNION ALL
           SELECT loan_id, 'servicing.repayment.due', 3, number, due_date, owed
           FROM unpaid WHERE NOT reminded AND due_date >= :date::date
                         AND due_date - :reminder_days::int <= :date::date
       ), events AS (
           SELECT h.type, h.kind, h.number, h.due_date, h.owed, b.*, gen_random_uuid() AS id,
                  b.version + row_number() OVER (PARTITION BY h.loan_id ORDER BY h.kind, h.number)
                      AS event_version
           FROM happened h JOIN bucketed b USING (loan_id)
       ), marked AS (
           UPDATE installments i
           SET status = CASE WHEN u.due_date < :date::date THEN 'OVERDUE' ELSE i.status END,
               overdue_notified = i.overdue_notified OR u.due_date < :date::date,
               reminded = i.reminded OR u.due_date >= :date::date
           FROM unpaid u
           WHERE i.loan_id = u.loan_id AND i.number = u.number
             AND (u.due_date < :date::date AND (i.status <> 'OVERDUE' OR NOT i.overdue_notified)
                  OR NOT u.reminded AND u.due_date >= :date::date
                     AND u.due_date - :reminder_days::int <= :date::date)
       ), moved AS (
           UPDATE accounts a
           SET days_past_due = b.days_past_due, bucket = b.bucket_to, cob_date = :date::date,
               version = a.version + COALESCE(n.events, 0), updated_at = now()
           FROM bucketed b LEFT JOIN (SELECT loan_id, count(*)::int AS events FROM events GROUP BY loan_id) n
                USING (loan_id)
           WHERE a.loan_id = b.loan_id
           RETURNING a.loan_id
       ), sent AS (
           INSERT INTO outbox (id, subject, payload)
           SELECT id, :events_prefix || '.' || type, convert_to(json_build_object(
                      'id', id, 'type', type, 'occurred_at', {_ENVELOPE_TIME},
                      'aggregate_id', loan_id, 'version', event_version,
                      'data', json_build_object(
                          'loan_id', loan_id, 'customer_id', customer_id, 'agent_id', agent_id,
                          'status', status, 'business_date', :date::date,
                          'outstanding_principal', outstanding_principal::text,
                          'by', NULL, 'transaction_id', NULL, 'amount', owed::text, 'paid_on', NULL,
                          'reason', NULL, 'installment', number, 'due_date', due_date,
                          'bucket_from', CASE WHEN kind = 2 THEN bucket_from END,
                          'bucket_to', CASE WHEN kind = 2 THEN bucket_to END,
                          'days_past_due', CASE WHEN kind < 3 THEN days_past_due END,
                          'closed_on', NULL))::text, 'UTF8')
           FROM events ORDER BY loan_id, event_version
           RETURNING 1
       )
       SELECT (SELECT count(*) FROM moved)::int AS accounts, (SELECT count(*) FROM sent)::int AS events"""
)

# The batch done; the run one batch further; its last batch makes it DONE and moves the date.
FINISH_BATCH = Statement(
    """WITH batch AS (
           UPDATE cob_batches SET done_at = now(), done_by = :worker
           WHERE business_date = :date AND number = :number AND done_at IS NULL
           RETURNING number
       ), run AS (
           UPDATE cob_runs
           SET batches_done = batches_done + 1,
               status = CASE WHEN batches_done + 1 = batches THEN 'DONE' ELSE status END,
               finished_at = CASE WHEN batches_done + 1 = batches THEN now() END
           WHERE business_date = :date AND EXISTS (SELECT 1 FROM batch)
           RETURNING status
       ), moved AS (
           UPDATE business_date SET business_date = GREATEST(business_date, :date), updated_at = now()
           WHERE EXISTS (SELECT 1 FROM run WHERE status = 'DONE')
       )
       SELECT status FROM run"""
)
