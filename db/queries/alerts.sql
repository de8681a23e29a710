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
