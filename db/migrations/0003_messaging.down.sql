DROP TABLE IF EXISTS telegram_updates;
DROP TABLE IF EXISTS idempotency_keys;
DROP TABLE IF EXISTS shared_galleries;
DROP TABLE IF EXISTS admin_alerts;
DROP TABLE IF EXISTS dead_letters;
DROP TABLE IF EXISTS outbox;
DROP TABLE IF EXISTS processed_messages;
