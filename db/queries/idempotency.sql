-- name: claim
-- Two requests with one key race here: the second waits for the first's transaction, then finds its row
-- (ON CONFLICT DO NOTHING returns nothing) and replays the stored answer instead of acting again.
INSERT INTO idempotency_keys (user_id, endpoint, key, request_hash)
VALUES (%(user_id)s, %(endpoint)s, %(key)s, %(request_hash)s)
ON CONFLICT ON CONSTRAINT idempotency_keys_pkey DO NOTHING
RETURNING *;

-- name: get
SELECT * FROM idempotency_keys WHERE user_id = %(user_id)s AND endpoint = %(endpoint)s AND key = %(key)s;

-- name: store_response
UPDATE idempotency_keys SET response_status = %(status)s, response_body = %(body)s
WHERE user_id = %(user_id)s AND endpoint = %(endpoint)s AND key = %(key)s;
