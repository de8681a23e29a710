-- name: insert
INSERT INTO outbox (message_id, actor_name, args, kwargs, delay_ms, correlation_id)
VALUES (%(message_id)s, %(actor_name)s, %(args)s, %(kwargs)s, %(delay_ms)s, %(correlation_id)s)
RETURNING id;

-- name: claim_ids
SELECT id, message_id, actor_name, args, kwargs, delay_ms, correlation_id,
       extract(epoch FROM created_at) AS created_epoch
FROM outbox
WHERE id = ANY(%(ids)s) AND published_at IS NULL
ORDER BY id
FOR UPDATE SKIP LOCKED;

-- name: claim_old
SELECT id, message_id, actor_name, args, kwargs, delay_ms, correlation_id,
       extract(epoch FROM created_at) AS created_epoch
FROM outbox
WHERE published_at IS NULL AND created_at < now() - make_interval(secs => %(older_than_s)s)
ORDER BY id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED;

-- name: mark_published
UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE id = ANY(%(ids)s);

-- name: backlog
SELECT count(*) AS n FROM outbox WHERE published_at IS NULL;

-- name: purge_published
DELETE FROM outbox WHERE published_at < now() - make_interval(secs => %(older_than_s)s);

-- name: claim_message
-- The dedup row of an actor's message, inserted in the same transaction as the actor's effect:
-- no row returned means a previous delivery of this message already committed its effect.
INSERT INTO processed_messages (message_id, actor) VALUES (%(message_id)s, %(actor)s)
ON CONFLICT ON CONSTRAINT processed_messages_pkey DO NOTHING
RETURNING message_id;

-- name: purge_processed
DELETE FROM processed_messages WHERE processed_at < now() - make_interval(secs => %(older_than_s)s);
