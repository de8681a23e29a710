-- name: insert_share
INSERT INTO shared_galleries (job_id, user_id, token_hash, expires_at)
VALUES (%(job_id)s, %(user_id)s, %(token_hash)s, now() + make_interval(secs => %(ttl_s)s))
RETURNING *;

-- name: get_live_share
-- Only the hash of a token is stored, so a leaked table does not open anyone's gallery.
SELECT s.*, j.user_id AS owner_id
FROM shared_galleries s JOIN generation_jobs j ON j.id = s.job_id
WHERE s.token_hash = %(token_hash)s AND s.revoked_at IS NULL AND s.expires_at > now();

-- name: revoke_shares_of_job
UPDATE shared_galleries SET revoked_at = now()
WHERE job_id = %(job_id)s AND user_id = %(user_id)s AND revoked_at IS NULL
RETURNING id;

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

-- name: delivery_counts
SELECT count(*) FILTER (WHERE status = 'sent') AS sent, count(*) AS total
FROM deliveries WHERE job_id = %(job_id)s;

-- name: children_of_job
SELECT id, status, created_at FROM generation_jobs WHERE parent_job_id = %(job_id)s ORDER BY id;

-- name: jobs_of_avatar
SELECT id, status FROM generation_jobs WHERE avatar_id = %(avatar_id)s ORDER BY id;

-- name: erase_photos_of_jobs
-- The user's right to erase: the rows stay (they account for what was paid) but are marked deleted, so no
-- gallery, archive or share shows them again.
UPDATE generated_photos SET deleted_at = now()
WHERE job_id = ANY(%(job_ids)s) AND deleted_at IS NULL
RETURNING storage_key;

-- name: revoke_shares_of_jobs
UPDATE shared_galleries SET revoked_at = now()
WHERE job_id = ANY(%(job_ids)s) AND revoked_at IS NULL;

-- name: paid_unstarted_payments_of_avatar
-- Money taken (or about to be) for this avatar, with no job yet: erasing now would turn it into a refund.
SELECT count(*) AS n FROM payments
WHERE avatar_id = %(avatar_id)s AND consumed = false AND status IN ('authorized', 'confirmed');
