-- name: insert_dead_letter
INSERT INTO dead_letters (message_id, actor, queue_name, payload, error, traceback, attempts)
VALUES (%(message_id)s, %(actor)s, %(queue_name)s, %(payload)s, %(error)s, %(traceback)s, %(attempts)s)
ON CONFLICT ON CONSTRAINT dead_letters_message_actor_key
DO UPDATE SET error = EXCLUDED.error, traceback = EXCLUDED.traceback, attempts = EXCLUDED.attempts,
              created_at = now(), replayed_at = NULL, resolved_at = NULL, resolution = NULL
RETURNING id;

-- name: get_dead_letter
SELECT * FROM dead_letters WHERE id = %(id)s;

-- name: list_dead_letters
SELECT id, message_id, actor, queue_name, payload, error, attempts, created_at, replayed_at, replay_message_id,
       resolved_at, resolution
FROM dead_letters
WHERE (%(open_only)s IS FALSE OR (replayed_at IS NULL AND resolved_at IS NULL))
ORDER BY id DESC
LIMIT %(limit)s;

-- name: mark_replayed
-- Only an open dead letter is replayed, so two operators pressing "replay" at once publish one message.
UPDATE dead_letters SET replayed_at = now(), replay_message_id = %(replay_message_id)s
WHERE id = %(id)s AND replayed_at IS NULL AND resolved_at IS NULL
RETURNING id;

-- name: mark_resolved
-- Closed without a replay; like a replay, only an open letter, once.
UPDATE dead_letters SET resolved_at = now(), resolution = %(resolution)s
WHERE id = %(id)s AND replayed_at IS NULL AND resolved_at IS NULL
RETURNING id;
