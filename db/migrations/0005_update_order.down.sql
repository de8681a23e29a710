DROP INDEX IF EXISTS telegram_updates_unhandled_chat_idx;
