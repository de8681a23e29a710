-- Updates of one chat are handled in the order Telegram numbered them: a handler first looks for an earlier
-- update of the same chat still unhandled. This index makes that look-up cheap (only unhandled rows).
CREATE INDEX telegram_updates_unhandled_chat_idx
    ON telegram_updates ((raw #>> '{message,chat,id}'), update_id)
    WHERE handled_at IS NULL;
