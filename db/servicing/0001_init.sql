-- Servicing (design.md §11): accounts of approved loans, their installments and transactions,
-- the business date, and the close-of-business runs that move it.

-- One row: the date repayments and delinquency are judged by. Only COB moves it, only forward.
CREATE TABLE business_date (
    only_row      boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    business_date date NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO business_date (business_date) VALUES ((now() AT TIME ZONE 'UTC')::date);

-- An approved loan being serviced. The money columns are sums of the installments' (kept with
-- them in each write), so the statement and the portfolio read one row per account.
CREATE TABLE accounts (
    loan_id               uuid PRIMARY KEY,
    customer_id           uuid NOT NULL,
    agent_id              uuid NOT NULL,
    principal             numeric(14,2) NOT NULL CHECK (principal > 0),
    interest              numeric(5,2) NOT NULL CHECK (interest >= 0),
    months                integer NOT NULL CHECK (months > 0),
    start_date            date NOT NULL,
    status                text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'CLOSED')),
    closed_on             date,
    outstanding_principal numeric(14,2) NOT NULL CHECK (outstanding_principal >= 0),
    paid_principal        numeric(14,2) NOT NULL DEFAULT 0,
    paid_interest         numeric(14,2) NOT NULL DEFAULT 0,
    waived_interest       numeric(14,2) NOT NULL DEFAULT 0,
    days_past_due         integer NOT NULL DEFAULT 0,
    bucket                text NOT NULL DEFAULT 'current'
                          CHECK (bucket IN ('current', '1-30', '31-60', '61-90', '90+')),
    cob_date              date,            -- the last COB date this account was judged at
    version               integer NOT NULL DEFAULT 1,  -- of its events (envelope version)
    opened_at             timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'CLOSED') = (closed_on IS NOT NULL)),
    CHECK (outstanding_principal = principal - paid_principal)
);
-- COB walks the active accounts in loan id order (its batches are loan id ranges).
CREATE INDEX accounts_active_idx ON accounts (loan_id) WHERE status = 'ACTIVE';
CREATE INDEX accounts_customer_idx ON accounts (customer_id);
CREATE INDEX accounts_agent_idx ON accounts (agent_id);

-- Row k of the schedule, due on start_date + k calendar months (clamped to the month's end).
CREATE TABLE installments (
    loan_id          uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    number           integer NOT NULL CHECK (number > 0),
    due_date         date NOT NULL,
    interest         numeric(14,2) NOT NULL CHECK (interest >= 0),
    principal        numeric(14,2) NOT NULL CHECK (principal >= 0),
    paid_interest    numeric(14,2) NOT NULL DEFAULT 0 CHECK (paid_interest >= 0),
    paid_principal   numeric(14,2) NOT NULL DEFAULT 0 CHECK (paid_principal >= 0),
    waived_interest  numeric(14,2) NOT NULL DEFAULT 0 CHECK (waived_interest >= 0),
    status           text NOT NULL DEFAULT 'DUE'
                     CHECK (status IN ('DUE', 'PARTIALLY_PAID', 'PAID', 'OVERDUE')),
    overdue_notified boolean NOT NULL DEFAULT false,  -- installment.overdue sent (once, ever)
    reminded         boolean NOT NULL DEFAULT false,  -- repayment.due sent
    PRIMARY KEY (loan_id, number),
    -- no installment is allocated more than it owes (design.md §11's invariant, kept by the schema)
    CHECK (paid_interest + waived_interest <= interest),
    CHECK (paid_principal <= principal)
);
-- What COB looks at: the installments not paid yet, by due date.
CREATE INDEX installments_open_idx ON installments (loan_id, due_date) WHERE status <> 'PAID';

-- Repayments as recorded; a reversal marks one, nothing is deleted. `seq` is the order they
-- were recorded in: a reversal allocates the others again in it.
CREATE TABLE transactions (
    id              uuid PRIMARY KEY,
    loan_id         uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
    seq             bigserial NOT NULL,
    type            text NOT NULL DEFAULT 'repayment' CHECK (type = 'repayment'),
    amount          numeric(14,2) NOT NULL CHECK (amount > 0),
    paid_on         date NOT NULL,
    reference       text CHECK (length(reference) <= 100),
    -- [{"installment", "interest", "principal"}]: written again when an earlier one is reversed
    allocation      jsonb NOT NULL,
    recorded_by     uuid NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    reversed        boolean NOT NULL DEFAULT false,
    reversal_reason text,
    reversed_by     uuid,
    reversed_at     timestamptz,
    CHECK (reversed = (reversed_at IS NOT NULL))
);
CREATE INDEX transactions_loan_idx ON transactions (loan_id, seq);

-- A close-of-business run to `business_date`, cut into batches of accounts (loan id ranges),
-- one work item each on the work-queue stream. DONE once every batch is; then the business
-- date is moved to it.
CREATE TABLE cob_runs (
    business_date date PRIMARY KEY,
    status        text NOT NULL DEFAULT 'RUNNING' CHECK (status IN ('RUNNING', 'DONE')),
    batches       integer NOT NULL,
    batches_done  integer NOT NULL DEFAULT 0,
    accounts      integer NOT NULL,
    requested_by  uuid,                   -- null: the run that starts by itself after midnight
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    CHECK (batches_done <= batches)
);
CREATE TABLE cob_batches (
    business_date date NOT NULL REFERENCES cob_runs ON DELETE CASCADE,
    number        integer NOT NULL,
    first_loan    uuid NOT NULL,
    last_loan     uuid NOT NULL,
    accounts      integer NOT NULL,
    done_at       timestamptz,             -- set in the transaction that did the batch's work
    done_by       text,                    -- which worker (for `loans cob status`)
    PRIMARY KEY (business_date, number)
);

-- The servicing actor's own copy of the agents' standing, fed by user events (falling back to
-- users.get on a miss), so a revoked agent stops acting on repayments as soon as the event lands.
CREATE TABLE agents (
    id         uuid PRIMARY KEY,
    status     text NOT NULL CHECK (status IN ('active', 'pending', 'rejected')),
    deleted    boolean NOT NULL DEFAULT false,
    version    integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
