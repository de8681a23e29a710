-- name: insert_refund
-- The ExternalRequestId is derived from the job and reason, so a retried refund finds its own row.
INSERT INTO refunds (payment_id, job_id, amount_kopecks, photos_refunded, reason, external_request_id)
VALUES (%(payment_id)s, %(job_id)s, %(amount_kopecks)s, %(photos_refunded)s, %(reason)s, %(external_request_id)s)
ON CONFLICT ON CONSTRAINT refunds_external_request_id_key DO NOTHING
RETURNING *;

-- name: get_refund_by_key
SELECT * FROM refunds WHERE external_request_id = %(external_request_id)s;

-- name: finish_refund
UPDATE refunds SET status = %(status)s, provider_status = %(provider_status)s, last_error = %(error)s,
                   completed_at = CASE WHEN %(status)s = 'succeeded' THEN now() ELSE completed_at END
WHERE id = %(id)s AND status = ANY(%(expected)s)
RETURNING *;

-- name: refunds_of_job
SELECT * FROM refunds WHERE job_id = %(job_id)s ORDER BY id;

-- name: reopen_refund
-- An operator's retry of a refund the bank refused: same ExternalRequestId, so the bank still pays it once.
UPDATE refunds SET status = 'pending', last_error = NULL WHERE id = %(id)s AND status = ANY(%(expected)s)
RETURNING *;
