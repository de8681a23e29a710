ALTER TABLE payments DROP COLUMN correlation_id;
