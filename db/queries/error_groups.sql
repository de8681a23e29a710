-- name: record
-- One more occurrence of the group (created on its first); the latest message, traceback and correlation id win.
INSERT INTO error_groups (fingerprint, source, kind, location, message, traceback, last_correlation_id)
VALUES (%(fingerprint)s, %(source)s, %(kind)s, %(location)s, %(message)s, %(traceback)s, %(correlation_id)s)
ON CONFLICT (fingerprint) DO UPDATE
SET occurrences = error_groups.occurrences + 1, last_seen = now(), message = EXCLUDED.message,
    traceback = EXCLUDED.traceback, last_correlation_id = EXCLUDED.last_correlation_id
RETURNING occurrences;

-- name: recent
SELECT * FROM error_groups ORDER BY last_seen DESC LIMIT %(limit)s;

-- name: total_occurrences
SELECT coalesce(sum(occurrences), 0)::bigint AS n FROM error_groups;
