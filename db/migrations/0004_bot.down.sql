DROP TABLE IF EXISTS bot_media_groups;
DROP INDEX IF EXISTS telegram_updates_media_group_idx;
ALTER TABLE telegram_updates DROP COLUMN IF EXISTS handled_at;
ALTER TABLE telegram_updates DROP COLUMN IF EXISTS media_group_id;
