-- Errors grouped by cause (``usecases/error_groups.py``): an exception from any process, or a JavaScript error the
-- Mini App reports, counted under one fingerprint (source, type, where in our code) with its latest occurrence.
CREATE TABLE error_groups (
    fingerprint          text PRIMARY KEY,
    source               text NOT NULL,
    kind                 text NOT NULL,
    location             text NOT NULL,
    message              text NOT NULL,
    traceback            text,
    occurrences          integer NOT NULL DEFAULT 1,
    first_seen           timestamptz NOT NULL DEFAULT now(),
    last_seen            timestamptz NOT NULL DEFAULT now(),
    last_correlation_id  text,
    CONSTRAINT error_groups_source_check CHECK (source IN ('web', 'worker', 'scheduler', 'miniapp'))
);
CREATE INDEX error_groups_last_seen_idx ON error_groups (last_seen DESC);
