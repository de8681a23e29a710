-- A dead letter an operator closes without replaying it (the work was done by hand, or is no longer wanted):
-- when and why. Open = neither replayed nor resolved.
ALTER TABLE dead_letters
    ADD COLUMN resolved_at  timestamptz,
    ADD COLUMN resolution   text;
DROP INDEX dead_letters_open_idx;
CREATE INDEX dead_letters_open_idx ON dead_letters (created_at) WHERE replayed_at IS NULL AND resolved_at IS NULL;
