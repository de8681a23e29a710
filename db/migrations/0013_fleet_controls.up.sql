-- Switches operators turn (``usecases/controls.py``): held in the database, so they survive a Redis loss and every
-- worker on every host reads the same.
CREATE TABLE fleet_controls (
    name        text PRIMARY KEY,
    value       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
