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

-- name: erase_photos_of_jobs
-- The user's right to erase: the rows stay (they account for what was paid) but are marked deleted, so no
-- gallery, archive or share shows them again.
UPDATE generated_photos SET deleted_at = now()
WHERE job_id = ANY(%(job_ids)s) AND deleted_at IS NULL
RETURNING storage_key;

-- name: revoke_shares_of_jobs
UPDATE shared_galleries SET revoked_at = now()
WHERE job_id = ANY(%(job_ids)s) AND revoked_at IS NULL;

-- name: insert_photo
INSERT INTO generated_photos (job_id, prompt_index, task_id, storage_key, sha256, width, height, size_bytes,
                              content_type)
VALUES (%(job_id)s, %(prompt_index)s, %(task_id)s, %(storage_key)s, %(sha256)s, %(width)s, %(height)s,
        %(size_bytes)s, %(content_type)s)
ON CONFLICT ON CONSTRAINT generated_photos_job_index_key DO NOTHING
RETURNING *;

-- name: photos_of_job
SELECT * FROM generated_photos WHERE job_id = %(job_id)s AND deleted_at IS NULL ORDER BY prompt_index;

-- name: get_photo
SELECT p.*, j.user_id FROM generated_photos p JOIN generation_jobs j ON j.id = p.job_id
WHERE p.id = %(id)s AND p.deleted_at IS NULL;
