-- name: insert_update
-- Telegram re-sends an update it thinks unanswered: the first copy is recorded, repeats return nothing.
INSERT INTO telegram_updates (update_id, raw, media_group_id)
VALUES (%(update_id)s, %(raw)s, %(media_group_id)s)
ON CONFLICT ON CONSTRAINT telegram_updates_pkey DO NOTHING
RETURNING update_id;

-- name: get_update
SELECT * FROM telegram_updates WHERE update_id = %(update_id)s;

-- name: mark_handled
-- Conditional, so a replayed handler message (a new message id for the same update) does nothing twice.
UPDATE telegram_updates SET handled_at = now()
WHERE update_id = %(update_id)s AND handled_at IS NULL
RETURNING update_id;

-- name: ensure_group
INSERT INTO bot_media_groups (chat_id, media_group_id, user_id, avatar_id)
VALUES (%(chat_id)s, %(media_group_id)s, %(user_id)s, %(avatar_id)s)
ON CONFLICT ON CONSTRAINT bot_media_groups_pkey DO NOTHING;

-- name: count_group_photo
-- The row lock of the subquery orders the album's photos: exactly one of them sees reply_pending false and
-- schedules the group's reply.
UPDATE bot_media_groups g
SET added = g.added + %(added)s, duplicates = g.duplicates + %(duplicates)s, rejected = g.rejected + %(rejected)s,
    over_limit = g.over_limit + %(over_limit)s, avatar_id = coalesce(%(avatar_id)s, g.avatar_id),
    reply_pending = true, updated_at = now()
FROM (SELECT reply_pending AS was_pending FROM bot_media_groups
      WHERE chat_id = %(chat_id)s AND media_group_id = %(media_group_id)s FOR UPDATE) AS old
WHERE g.chat_id = %(chat_id)s AND g.media_group_id = %(media_group_id)s
RETURNING old.was_pending;

-- name: group_progress
-- How many updates of the album arrived and are not handled yet, and how long ago the newest/oldest arrived.
SELECT count(*) FILTER (WHERE handled_at IS NULL) AS unhandled,
       extract(epoch FROM now() - max(received_at)) AS quiet_s,
       extract(epoch FROM now() - min(received_at)) AS age_s
FROM telegram_updates WHERE media_group_id = %(media_group_id)s;

-- name: claim_group_reply
-- Of any number of reply messages for one group, only the one that finds reply_pending answers; it takes the
-- counters with it, so a straggler's later reply counts only the straggler.
UPDATE bot_media_groups g
SET reply_pending = false, added = 0, duplicates = 0, rejected = 0, over_limit = 0, replies = g.replies + 1,
    replied_at = now(), updated_at = now()
FROM (SELECT added, duplicates, rejected, over_limit FROM bot_media_groups
      WHERE chat_id = %(chat_id)s AND media_group_id = %(media_group_id)s AND reply_pending FOR UPDATE) AS old
WHERE g.chat_id = %(chat_id)s AND g.media_group_id = %(media_group_id)s
RETURNING g.user_id, g.avatar_id, old.added, old.duplicates, old.rejected, old.over_limit;

-- name: purge_handled_updates
-- Telegram re-sends an unanswered update for at most a day; older handled ones can no longer come back.
DELETE FROM telegram_updates WHERE handled_at < now() - make_interval(secs => %(older_than_s)s);

-- name: purge_media_groups
DELETE FROM bot_media_groups WHERE reply_pending = false AND updated_at < now() - make_interval(secs => %(older_than_s)s);

-- name: earlier_unhandled_in_chat
-- An earlier update of the same chat not handled yet (within a bounded window, so one stuck update cannot
-- hold its chat for ever).
SELECT update_id FROM telegram_updates
WHERE raw #>> '{message,chat,id}' = %(chat_id)s AND update_id < %(update_id)s AND handled_at IS NULL
  AND received_at > now() - make_interval(secs => %(window_s)s)
ORDER BY update_id
LIMIT 1;
