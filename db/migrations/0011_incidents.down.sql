DROP INDEX admin_alerts_open_incident_key;
ALTER TABLE admin_alerts DROP COLUMN resolved_at, DROP COLUMN incident;
