-- name: latest_purchase_job
SELECT * FROM generation_jobs WHERE user_id = %(user_id)s AND kind = 'purchase' ORDER BY id DESC LIMIT 1;

-- name: task_stages
-- Progress by photo slot: each slot counts once, in the state of its latest attempt (a retried slot is
-- "queued" again, not "failed").
SELECT count(*) FILTER (WHERE status IN ('pending')) AS queued,
       count(*) FILTER (WHERE status IN ('submitting')) AS submitted,
       count(*) FILTER (WHERE status IN ('submitted', 'succeeded')) AS generating,
       count(*) FILTER (WHERE status = 'stored') AS stored,
       count(*) FILTER (WHERE status IN ('failed', 'given_up')) AS failed
FROM (SELECT DISTINCT ON (prompt_index) status
      FROM generation_tasks WHERE job_id = %(job_id)s
      ORDER BY prompt_index, attempt DESC) AS latest;

-- name: children_of_job
SELECT id, status, created_at FROM generation_jobs WHERE parent_job_id = %(job_id)s ORDER BY id;

-- name: jobs_of_avatar
SELECT id, status FROM generation_jobs WHERE avatar_id = %(avatar_id)s ORDER BY id;

-- name: insert_job
-- UNIQUE(payment_id) is the last guard of I1: a second job for one payment is silently not created.
INSERT INTO generation_jobs (payment_id, parent_job_id, kind, user_id, avatar_id, style_id, tier, total_photos,
                             correlation_id)
VALUES (%(payment_id)s, %(parent_job_id)s, %(kind)s, %(user_id)s, %(avatar_id)s, %(style_id)s, %(tier)s,
        %(total_photos)s, %(correlation_id)s)
ON CONFLICT (payment_id) DO NOTHING
RETURNING *;

-- name: get_job
SELECT * FROM generation_jobs WHERE id = %(id)s;

-- name: get_job_for_user
SELECT * FROM generation_jobs WHERE id = %(id)s AND user_id = %(user_id)s;

-- name: get_job_by_payment
SELECT * FROM generation_jobs WHERE payment_id = %(payment_id)s;

-- name: move_job
UPDATE generation_jobs
SET status = %(new)s, updated_at = now(),
    generating_at = CASE WHEN %(new)s = 'generating' THEN now() ELSE generating_at END,
    delivering_at = CASE WHEN %(new)s = 'delivering' THEN now() ELSE delivering_at END,
    finished_at = CASE WHEN %(new)s IN ('delivered', 'delivered_partial', 'failed') THEN now() ELSE finished_at END
WHERE id = %(id)s AND status = ANY(%(expected)s)
RETURNING *;

-- name: add_progress
UPDATE generation_jobs
SET photos_stored = photos_stored + %(stored)s, photos_failed = photos_failed + %(failed)s, updated_at = now()
WHERE id = %(id)s
RETURNING *;

-- name: use_regeneration
-- Conditional on the allowance, so two racing regenerate requests cannot both spend the last one.
UPDATE generation_jobs SET regenerations_used = regenerations_used + 1, updated_at = now()
WHERE id = %(id)s AND regenerations_used < %(allowance)s
RETURNING *;

-- name: insert_task
INSERT INTO generation_tasks (job_id, prompt_index, attempt, prompt)
VALUES (%(job_id)s, %(prompt_index)s, %(attempt)s, %(prompt)s)
ON CONFLICT ON CONSTRAINT generation_tasks_job_index_attempt_key DO NOTHING
RETURNING *;

-- name: get_task
SELECT *, extract(epoch FROM now() - submitted_at) AS submitted_age_s FROM generation_tasks WHERE id = %(id)s;

-- name: get_task_by_kie_id
SELECT * FROM generation_tasks WHERE kie_task_id = %(kie_task_id)s;

-- name: claim_fair_task
-- Fair across jobs: the pending task whose job has the fewest tasks already started goes first, so a small
-- order is not stuck behind large ones; among jobs equally served, the one with the fewest tasks left to start
-- (shortest job first: a Starter paid behind many Premium orders with nothing started takes its first slot in
-- the next window, not a window later); among those, the lowest portrait number, so that workers claiming in
-- the same instant (each sees the others' claims only once committed) take each equal job's first portrait
-- before anyone's second, not one job's tasks in id order. Served first stays the first key, so a stream of
-- small orders cannot starve a large one: each job still gets one slot per round. The counts are read once
-- per job with a pending task. SKIP LOCKED: concurrent workers never claim the same task. The claim records
-- which worker process holds it (``claimed_by``, its liveness row in worker_processes) and a fresh claim
-- token: only a result carrying this token moves the task on (usecases/generation.py). ``submitting_at`` is
-- the claim's own moment (clock_timestamp), not its transaction's start.
WITH waiting AS (
    SELECT job_id, count(*) FILTER (WHERE status <> 'pending') AS started,
           count(*) FILTER (WHERE status = 'pending') AS remaining
    FROM generation_tasks
    WHERE job_id IN (SELECT job_id FROM generation_tasks WHERE status = 'pending')
    GROUP BY job_id
), candidate AS (
    SELECT t.id
    FROM generation_tasks t
    JOIN waiting w ON w.job_id = t.job_id
    WHERE t.status = 'pending'
    ORDER BY w.started, w.remaining, t.prompt_index, t.id
    LIMIT 1
    FOR UPDATE OF t SKIP LOCKED
)
UPDATE generation_tasks g
SET status = 'submitting', api_key_index = %(api_key_index)s, submitting_at = clock_timestamp(), updated_at = now(),
    claimed_by = %(claimed_by)s, claim_token = gen_random_uuid()
FROM candidate
WHERE g.id = candidate.id
RETURNING g.*;

-- name: move_task
-- Conditional state change: of two deliveries racing on one task, exactly one sees its row returned. With a
-- claim token, only while the task is still that claim (a claimer's late result after its task was recovered
-- and claimed again moves nothing). Back to pending, the claim is cleared.
UPDATE generation_tasks
SET status = %(new)s, updated_at = now(),
    claimed_by = CASE WHEN %(new)s = 'pending' THEN NULL ELSE claimed_by END,
    claim_token = CASE WHEN %(new)s = 'pending' THEN NULL ELSE claim_token END,
    kie_task_id = COALESCE(%(kie_task_id)s, kie_task_id),
    result_url = COALESCE(%(result_url)s, result_url),
    fail_code = COALESCE(%(fail_code)s, fail_code),
    fail_msg = COALESCE(%(fail_msg)s, fail_msg),
    submitted_at = CASE WHEN %(new)s = 'submitted' THEN now() ELSE submitted_at END,
    finished_at = CASE WHEN %(new)s IN ('stored', 'failed', 'given_up') THEN now() ELSE finished_at END
WHERE id = %(id)s AND status = ANY(%(expected)s)
  AND (%(claim_token)s::uuid IS NULL OR claim_token = %(claim_token)s::uuid)
RETURNING *;

-- name: bump_poll
-- Only the poll chain holding the current count continues it; a callback-triggered poll does not fork it.
UPDATE generation_tasks SET poll_count = poll_count + 1, updated_at = now()
WHERE id = %(id)s AND status = 'submitted' AND poll_count = %(expected)s
RETURNING *;

-- name: recent_task_seconds
-- How long Kie's latest tasks took, submitted → photo stored: of the 200 newest photos (a bounded backward scan of
-- the primary key, however old they are), those stored in the last 15 minutes — how many and their 90th percentile.
SELECT count(*) AS tasks, percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds) AS p90_s
FROM (SELECT extract(epoch FROM p.created_at - t.submitted_at)::float8 AS seconds, p.created_at
      FROM (SELECT task_id, created_at FROM generated_photos ORDER BY id DESC LIMIT 200) AS p
      JOIN generation_tasks AS t ON t.id = p.task_id
      WHERE t.submitted_at IS NOT NULL) AS recent
WHERE created_at > now() - interval '15 minutes';

-- name: tasks_of_job
SELECT * FROM generation_tasks WHERE job_id = %(job_id)s ORDER BY prompt_index, attempt;

-- name: stuck_tasks
-- Tasks whose next message was lost (crash between commit and publish is covered by the outbox; this covers
-- a worker killed mid-call, e.g. between recording the intent and recording the result).
-- With the job's correlation id: the re-sent message continues the purchase's trace.
SELECT t.*, j.correlation_id AS job_correlation_id
FROM generation_tasks t JOIN generation_jobs j ON j.id = t.job_id
WHERE t.status = ANY(%(statuses)s) AND t.updated_at < now() - make_interval(secs => %(idle_s)s)
ORDER BY t.id LIMIT %(limit)s;

-- name: stale_jobs
SELECT * FROM generation_jobs
WHERE status = ANY(%(statuses)s) AND updated_at < now() - make_interval(secs => %(idle_s)s)
ORDER BY id LIMIT %(limit)s;

-- name: touch_task
-- Not a status change: only updated_at moves, so the sweeper re-tokens an idle task at most once per period.
UPDATE generation_tasks SET updated_at = now() WHERE id = %(id)s AND status = %(status)s
RETURNING *;

-- name: touch_job
UPDATE generation_jobs SET updated_at = now() WHERE id = %(id)s;

-- name: overdue_jobs
SELECT * FROM generation_jobs
WHERE status IN ('queued', 'generating') AND created_at < now() - make_interval(secs => %(deadline_s)s)
ORDER BY id LIMIT %(limit)s;

-- name: live_tasks_of_job
SELECT * FROM generation_tasks
WHERE job_id = %(job_id)s AND status IN ('pending', 'submitting', 'submitted', 'succeeded')
ORDER BY id;

-- name: any_pending_task
SELECT EXISTS (SELECT 1 FROM generation_tasks WHERE status = 'pending') AS found;
