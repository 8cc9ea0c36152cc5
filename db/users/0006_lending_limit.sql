-- An agent's lending limit: the largest principal of one loan they may request (design.md §12).
-- NULL is no limit. Money as everywhere (NUMERIC(14,2)); only agents carry one.
ALTER TABLE users
    ADD COLUMN lending_limit numeric(14, 2)
        CONSTRAINT users_lending_limit_positive CHECK (lending_limit > 0)
        CONSTRAINT users_lending_limit_agents_only CHECK (lending_limit IS NULL OR role = 'agent');
