-- name: ensure_chunk
INSERT INTO deliveries (job_id, chunk, kind, photo_ids)
VALUES (%(job_id)s, %(chunk)s, %(kind)s, %(photo_ids)s)
ON CONFLICT ON CONSTRAINT deliveries_job_chunk_key DO NOTHING;

-- name: get_chunk
SELECT * FROM deliveries WHERE job_id = %(job_id)s AND chunk = %(chunk)s;

-- name: chunks_of_job
SELECT * FROM deliveries WHERE job_id = %(job_id)s ORDER BY chunk;

-- name: start_sending
-- Intent recorded before the Telegram call; a chunk already sent or blocked is never sent again.
UPDATE deliveries SET status = 'sending', attempts = attempts + 1
WHERE job_id = %(job_id)s AND chunk = %(chunk)s AND status = ANY(%(expected)s)
RETURNING *;

-- name: finish_chunk
UPDATE deliveries
SET status = %(status)s, telegram_message_ids = %(message_ids)s, last_error = %(error)s,
    sent_at = CASE WHEN %(status)s = 'sent' THEN now() ELSE sent_at END
WHERE job_id = %(job_id)s AND chunk = %(chunk)s AND status = ANY(%(expected)s)
RETURNING *;

-- name: delivery_counts
SELECT count(*) FILTER (WHERE status = 'sent') AS sent, count(*) AS total
FROM deliveries WHERE job_id = %(job_id)s;
