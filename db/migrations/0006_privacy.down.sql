DROP INDEX IF EXISTS shared_galleries_user_idx;
DROP INDEX IF EXISTS generated_photos_live_job_idx;
DROP INDEX IF EXISTS payments_avatar_idx;
DROP INDEX IF EXISTS generation_jobs_avatar_idx;
ALTER TABLE users DROP COLUMN IF EXISTS privacy_policy_version;
ALTER TABLE users DROP COLUMN IF EXISTS privacy_accepted_at;
