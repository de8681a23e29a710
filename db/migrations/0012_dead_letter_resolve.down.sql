DROP INDEX dead_letters_open_idx;
CREATE INDEX dead_letters_open_idx ON dead_letters (created_at) WHERE replayed_at IS NULL;
ALTER TABLE dead_letters DROP COLUMN resolution, DROP COLUMN resolved_at;
