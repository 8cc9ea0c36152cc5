-- Notifications of servicing's events too, each recorded once per event, and mailed (design.md §12):
-- what the templates fill in, and the mailer's delivery log on each row.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind IN (
    'loan_approved', 'loan_rejected', 'repayment_due', 'installment_overdue', 'loan_closed'));

-- The event a notification tells of: the same event applied again (a second consumer, a replay)
-- never makes a second one. Rows from before have none, and NULLs never collide.
ALTER TABLE notifications ADD COLUMN event_id uuid UNIQUE;
-- What actors/users/templates.py fills in (amounts, dates, the installment), as the event said it.
ALTER TABLE notifications ADD COLUMN facts jsonb NOT NULL DEFAULT '{}';

-- The delivery log. `attempts` counts the tries (each claim is one); `last_error` is the SMTP
-- server's answer (or why it could not be reached) of the last try that failed; `delivered_at`
-- is when the server accepted the mail; `failed` means given up (a 5xx answer).
-- `next_attempt_at` is when the mailer should try (again): null once delivered or given up. Added
-- without a default first, so rows from before the mailer stay unsent (nobody was promised those
-- mails, and a first start must not send every old decision at once).
ALTER TABLE notifications
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN last_error text,
    ADD COLUMN delivered_at timestamptz,
    ADD COLUMN failed boolean NOT NULL DEFAULT false,
    ADD COLUMN next_attempt_at timestamptz;
ALTER TABLE notifications ALTER COLUMN next_attempt_at SET DEFAULT now();

-- Newest first, in the order they were recorded: the rows of one batch of events share created_at
-- (the transaction's time), and `seq` keeps their order.
ALTER TABLE notifications ADD COLUMN seq bigserial;
DROP INDEX notifications_user_idx;
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC, seq DESC);

-- What the mailer claims: only rows waiting to be sent are in it, so an idle poll reads nothing.
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
