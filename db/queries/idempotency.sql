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

-- name: claim_message
-- The dedup row of an actor's message, inserted in the same transaction as the actor's effect:
-- no row returned means a previous delivery of this message already committed its effect.
INSERT INTO processed_messages (message_id, actor) VALUES (%(message_id)s, %(actor)s)
ON CONFLICT ON CONSTRAINT processed_messages_pkey DO NOTHING
RETURNING message_id;

-- name: purge_processed
DELETE FROM processed_messages WHERE processed_at < now() - make_interval(secs => %(older_than_s)s);
