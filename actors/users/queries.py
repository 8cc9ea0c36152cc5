"""SQL of the users schema (search_path is `users`)."""

USER_COLUMNS = "id, email, first_name, last_name, role, status, created_at, version"

insert_user = f"""
INSERT INTO users (id, email, password_hash, first_name, last_name, role, status)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (lower(email)) DO NOTHING
RETURNING {USER_COLUMNS}"""

user_for_login = f"""
SELECT {USER_COLUMNS}, password_hash FROM users
WHERE lower(email) = lower($1) AND deleted_at IS NULL"""

live_user = f"SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL"

account_exists = "SELECT true FROM users WHERE id = $1 AND deleted_at IS NULL"

any_user = f"SELECT {USER_COLUMNS}, deleted_at IS NOT NULL AS deleted FROM users WHERE id = $1"

# One query per page with its total: count(*) OVER () rides along with each row.
list_customers = f"""
SELECT {USER_COLUMNS}, count(*) OVER () AS total FROM users
WHERE role = 'customer' AND status = 'active' AND deleted_at IS NULL
  AND ($1::text IS NULL
       OR lower(email) LIKE $1 ESCAPE '\\'
       OR lower(first_name || ' ' || last_name) LIKE $1 ESCAPE '\\')
ORDER BY created_at DESC, id DESC
LIMIT $2 OFFSET $3"""

list_users = f"""
SELECT {USER_COLUMNS}, count(*) OVER () AS total FROM users
WHERE role IN ('customer', 'agent') AND deleted_at IS NULL
  AND ($1::text IS NULL OR role = $1)
  AND ($2::text IS NULL OR status = $2)
ORDER BY created_at DESC, id DESC
LIMIT $3 OFFSET $4"""

list_pending_agents = f"""
SELECT {USER_COLUMNS}, count(*) OVER () AS total FROM users
WHERE role = 'agent' AND status = 'pending' AND deleted_at IS NULL
ORDER BY created_at ASC, id ASC
LIMIT $1 OFFSET $2"""

set_agent_status = f"""
UPDATE users SET status = $2, version = version + 1, updated_at = now()
WHERE id = $1 AND role = 'agent' AND deleted_at IS NULL AND status <> $2
RETURNING {USER_COLUMNS}"""

delete_agent = f"""
UPDATE users SET deleted_at = now(), version = version + 1, updated_at = now()
WHERE id = $1 AND role = 'agent' AND deleted_at IS NULL
RETURNING {USER_COLUMNS}"""

activity = """
SELECT type, loan_id, status, version, by_user AS by, occurred_at FROM activity
WHERE user_id = $1
ORDER BY occurred_at DESC, event_id
LIMIT 20"""

# One statement for a batch of events: each parameter is a column, unnest() zips them into rows.
insert_activity = """
INSERT INTO activity (event_id, user_id, type, loan_id, status, version, by_user, occurred_at)
SELECT * FROM unnest(
    $1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::integer[], $7::uuid[], $8::timestamptz[]
)
ON CONFLICT DO NOTHING"""

insert_notifications = """
INSERT INTO notifications (id, user_id, loan_id, kind)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[])"""
