-- name: claim_message
-- The dedup row of an actor's message, inserted in the same transaction as the actor's effect:
-- no row returned means a previous delivery of this message already committed its effect.
INSERT INTO processed_messages (message_id, actor) VALUES (%(message_id)s, %(actor)s)
ON CONFLICT ON CONSTRAINT processed_messages_pkey DO NOTHING
RETURNING message_id;

-- name: purge_processed
DELETE FROM processed_messages WHERE processed_at < now() - make_interval(secs => %(older_than_s)s);

-- name: insert_dead_letter
INSERT INTO dead_letters (message_id, actor, queue_name, payload, error, traceback, attempts)
VALUES (%(message_id)s, %(actor)s, %(queue_name)s, %(payload)s, %(error)s, %(traceback)s, %(attempts)s)
ON CONFLICT ON CONSTRAINT dead_letters_message_actor_key
DO UPDATE SET error = EXCLUDED.error, traceback = EXCLUDED.traceback, attempts = EXCLUDED.attempts,
              created_at = now(), replayed_at = NULL
RETURNING id;

-- name: get_dead_letter
SELECT * FROM dead_letters WHERE id = %(id)s;

-- name: list_dead_letters
SELECT id, message_id, actor, queue_name, payload, error, attempts, created_at, replayed_at, replay_message_id
FROM dead_letters
WHERE (%(open_only)s IS FALSE OR replayed_at IS NULL)
ORDER BY id DESC
LIMIT %(limit)s;

-- name: mark_replayed
-- Only an open dead letter is replayed, so two operators pressing "replay" at once publish one message.
UPDATE dead_letters SET replayed_at = now(), replay_message_id = %(replay_message_id)s
WHERE id = %(id)s AND replayed_at IS NULL
RETURNING id;

-- name: insert_alert
INSERT INTO admin_alerts (kind, severity, message, details, dedup_key)
VALUES (%(kind)s, %(severity)s, %(message)s, %(details)s, %(dedup_key)s)
ON CONFLICT ON CONSTRAINT admin_alerts_dedup_key DO NOTHING
RETURNING id;

-- name: get_alert
SELECT * FROM admin_alerts WHERE id = %(id)s;

-- name: mark_alert_sent
UPDATE admin_alerts SET sent_at = now() WHERE id = %(id)s AND sent_at IS NULL RETURNING id;

-- name: list_alerts
SELECT * FROM admin_alerts ORDER BY id DESC LIMIT %(limit)s;
