-- Who holds a task in 'submitting', and whether that worker process still lives (``usecases/liveness.py``).
-- A worker process beats its row every LIVENESS_BEAT_S from a thread of its own; a task whose claimer has
-- been silent past SILENT_AFTER_S goes back to pending within seconds instead of waiting for the idle sweep.
-- Held in Postgres, not Redis, so a Redis restart neither forgets the claims nor makes live workers look dead.
CREATE TABLE worker_processes (
    id          text PRIMARY KEY,  -- host:pid:nonce, fixed when the process first claims or beats
    host        text NOT NULL,
    pid         integer NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    beat_at     timestamptz NOT NULL DEFAULT now()
);

-- claimed_by: the worker process that set 'submitting'; claim_token: a fresh value per claim, so a result that
-- arrives after its task was recovered and claimed again is recognised as stale and moves nothing.
ALTER TABLE generation_tasks ADD COLUMN claimed_by text, ADD COLUMN claim_token uuid;
-- The liveness check reads only the few 'submitting' rows, oldest claim first.
CREATE INDEX generation_tasks_submitting_idx ON generation_tasks (submitting_at) WHERE status = 'submitting';
