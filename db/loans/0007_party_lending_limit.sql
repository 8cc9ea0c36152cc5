-- The read model keeps each agent's lending limit as the users actor's events carry it
-- (NULL: none, and for every customer), so a loan over it is refused without asking users.
ALTER TABLE parties ADD COLUMN lending_limit numeric(14, 2);
