-- name: beat
-- A worker process says it is alive (usecases/liveness.py); its first beat creates its row.
INSERT INTO worker_processes (id, host, pid) VALUES (%(id)s, %(host)s, %(pid)s)
ON CONFLICT (id) DO UPDATE SET beat_at = now();

-- name: forget_silent
-- Rows of processes gone long ago (a process never deletes its own: a claim it made may still be in flight).
DELETE FROM worker_processes WHERE beat_at < now() - make_interval(secs => %(older_than_s)s);

-- name: silent_claims
-- 'submitting' tasks whose claimer has not beaten for ``silent_s`` (or never did: a claim older than that by a
-- process without a row). Reads the partial index generation_tasks_submitting_idx. With the job's
-- correlation id: the re-sent token continues the purchase's trace.
SELECT t.*, j.correlation_id AS job_correlation_id
FROM generation_tasks t JOIN generation_jobs j ON j.id = t.job_id
WHERE t.status = 'submitting' AND t.claimed_by IS NOT NULL
  AND t.submitting_at < now() - make_interval(secs => %(silent_s)s)
  AND NOT EXISTS (SELECT 1 FROM worker_processes w
                  WHERE w.id = t.claimed_by AND w.beat_at > now() - make_interval(secs => %(silent_s)s))
ORDER BY t.submitting_at LIMIT %(limit)s;

-- name: stuck_claims
-- The idle sweep's fallback for 'submitting' tasks idle ``idle_s`` (usecases/sweeps.py): a claim without a
-- claimer, or whose claimer has been silent ``silent_s``, or one older than ``hung_s`` (no provider call is in
-- flight that long). A live claimer's younger claim is left alone: its call may still be answered, and moving it
-- would make the provider create the task twice.
SELECT t.*, j.correlation_id AS job_correlation_id
FROM generation_tasks t JOIN generation_jobs j ON j.id = t.job_id
WHERE t.status = 'submitting' AND t.updated_at < now() - make_interval(secs => %(idle_s)s)
  AND (t.submitting_at < now() - make_interval(secs => %(hung_s)s)
       OR NOT EXISTS (SELECT 1 FROM worker_processes w
                      WHERE w.id = t.claimed_by AND w.beat_at > now() - make_interval(secs => %(silent_s)s)))
ORDER BY t.id LIMIT %(limit)s;
