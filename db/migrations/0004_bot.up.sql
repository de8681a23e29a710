-- The Telegram bot's bookkeeping: which updates were handled, and albums answered once per media group.

-- Albums arrive as separate updates sharing media_group_id; the group's reply waits until every update of the
-- group that has arrived is handled, so the webhook records the group and the handler marks each update done.
ALTER TABLE telegram_updates ADD COLUMN media_group_id text;
ALTER TABLE telegram_updates ADD COLUMN handled_at timestamptz;
CREATE INDEX telegram_updates_media_group_idx ON telegram_updates (media_group_id) WHERE media_group_id IS NOT NULL;

CREATE TABLE bot_media_groups (
    chat_id         bigint NOT NULL,
    media_group_id  text NOT NULL,
    user_id         bigint NOT NULL REFERENCES users (id),
    avatar_id       bigint REFERENCES avatars (id) ON DELETE SET NULL,  -- where the album's photos went
    added           integer NOT NULL DEFAULT 0,
    duplicates      integer NOT NULL DEFAULT 0,
    rejected        integer NOT NULL DEFAULT 0,
    over_limit      integer NOT NULL DEFAULT 0,
    -- set by the photo that schedules the group's reply, cleared by the reply: one reply message per group
    -- (a straggler arriving after the reply schedules one more, for itself)
    reply_pending   boolean NOT NULL DEFAULT false,
    replies         integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    replied_at      timestamptz,
    CONSTRAINT bot_media_groups_pkey PRIMARY KEY (chat_id, media_group_id)
);
