-- name: set_control
INSERT INTO fleet_controls (name, value) VALUES (%(name)s, %(value)s)
ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
RETURNING *;

-- name: get_control
SELECT * FROM fleet_controls WHERE name = %(name)s;
