-- name: insert_alert
INSERT INTO admin_alerts (kind, severity, message, details, dedup_key)
VALUES (%(kind)s, %(severity)s, %(message)s, %(details)s, %(dedup_key)s)
ON CONFLICT ON CONSTRAINT admin_alerts_dedup_key DO NOTHING
RETURNING id;

-- name: get_alert
SELECT * FROM admin_alerts WHERE id = %(id)s;

-- name: mark_alert_sent
UPDATE admin_alerts SET sent_at = now() WHERE id = %(id)s AND sent_at IS NULL RETURNING id;

-- name: list_alerts
SELECT * FROM admin_alerts ORDER BY id DESC LIMIT %(limit)s;

-- name: lock_alert_group
-- Serialises raisers of one alert group until their transaction ends (two workers, one window, one alert).
SELECT pg_advisory_xact_lock(hashtext('admin_alerts:' || %(group)s)) IS NOT NULL AS locked;

-- name: insert_alert_per_window
-- A new alert of the group unless one was raised within the window; its dedup_key is <group>@<microseconds>.
INSERT INTO admin_alerts (kind, severity, message, details, dedup_key)
SELECT %(kind)s, %(severity)s, %(message)s, %(details)s,
       %(group)s || '@' || (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
WHERE NOT EXISTS (SELECT 1 FROM admin_alerts
                  WHERE dedup_key LIKE %(prefix)s AND created_at > now() - make_interval(secs => %(window_s)s))
ON CONFLICT ON CONSTRAINT admin_alerts_dedup_key DO NOTHING
RETURNING id;

-- name: count_alert_repeat
-- A repeat inside the window: counted on the group's latest alert (details.repeats), not announced.
UPDATE admin_alerts
SET details = jsonb_set(details, '{repeats}', to_jsonb(COALESCE((details->>'repeats')::int, 0) + 1))
WHERE id = (SELECT id FROM admin_alerts WHERE dedup_key LIKE %(prefix)s ORDER BY id DESC LIMIT 1)
RETURNING id;

-- name: open_incident
-- The condition's alert, unless one is open already (admin_alerts_open_incident_key).
INSERT INTO admin_alerts (kind, severity, message, details, incident)
VALUES (%(kind)s, %(severity)s, %(message)s, %(details)s, %(incident)s)
ON CONFLICT (incident) WHERE incident IS NOT NULL AND resolved_at IS NULL DO NOTHING
RETURNING id;

-- name: open_incidents
SELECT * FROM admin_alerts WHERE incident IS NOT NULL AND resolved_at IS NULL ORDER BY id;

-- name: resolve_incident
UPDATE admin_alerts SET resolved_at = now() WHERE id = %(id)s AND resolved_at IS NULL RETURNING *;
