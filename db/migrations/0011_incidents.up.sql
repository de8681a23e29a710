-- Incidents: an alert for a condition the watchdog checks (outbox lag, workers silent, a Kie key resting, ...) is
-- open while the condition holds and resolved when it clears; the next incident of the condition is a new alert.
ALTER TABLE admin_alerts
    ADD COLUMN incident     text,
    ADD COLUMN resolved_at  timestamptz;
-- one open incident per condition
CREATE UNIQUE INDEX admin_alerts_open_incident_key ON admin_alerts (incident)
    WHERE incident IS NOT NULL AND resolved_at IS NULL;
