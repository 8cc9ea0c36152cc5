-- Loans and their history. Nothing here refers to the users schema: users are known by id only.

CREATE TABLE loans (
    id             uuid PRIMARY KEY,
    customer_id    uuid NOT NULL,
    customer_email text NOT NULL,
    customer_name  text NOT NULL,
    agent_id       uuid NOT NULL,
    agent_email    text NOT NULL,
    principal      numeric(14, 2) NOT NULL CHECK (principal BETWEEN 10000 AND 100000000),
    interest       numeric(5, 2) NOT NULL CHECK (interest >= 0),
    months         integer NOT NULL CHECK (months BETWEEN 1 AND 480),
    emi            numeric(14, 2) NOT NULL CHECK (emi > 0),
    amount         numeric(14, 2) NOT NULL CHECK (amount > 0),
    status         text NOT NULL CHECK (status IN ('NEW', 'APPROVED', 'REJECTED')),
    start_date     date,
    end_date       date,
    version        integer NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    modified_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'APPROVED') = (start_date IS NOT NULL AND end_date IS NOT NULL))
);

-- Every list filters by one of these and sorts newest change first (customers: newest first);
-- the id breaks ties so pages are stable.
CREATE INDEX loans_modified_idx ON loans (modified_at DESC, id DESC);
CREATE INDEX loans_status_modified_idx ON loans (status, modified_at DESC, id DESC);
CREATE INDEX loans_agent_modified_idx ON loans (agent_id, modified_at DESC, id DESC);
CREATE INDEX loans_customer_modified_idx ON loans (customer_id, modified_at DESC, id DESC);
CREATE INDEX loans_customer_created_idx ON loans (customer_id, created_at DESC, id DESC);

-- One row per change: who, when, which fields went from what to what, and the version it made.
CREATE TABLE loan_history (
    loan_id    uuid NOT NULL REFERENCES loans (id),
    version    integer NOT NULL,
    change     text NOT NULL CHECK (change IN ('created', 'edited', 'approved', 'rejected')),
    changed_by uuid NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    fields     jsonb NOT NULL,
    PRIMARY KEY (loan_id, version)
);
