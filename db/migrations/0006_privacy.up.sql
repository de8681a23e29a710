-- Privacy: the user's consent to how their selfies and portraits are handled, and the indexes the retention
-- sweep (usecases/privacy.py) reads through.

ALTER TABLE users ADD COLUMN privacy_accepted_at timestamptz;
ALTER TABLE users ADD COLUMN privacy_policy_version text;

-- The retention sweep and the erase read an avatar's jobs and payments; only live photos are ever candidates.
CREATE INDEX generation_jobs_avatar_idx ON generation_jobs (avatar_id);
CREATE INDEX payments_avatar_idx ON payments (avatar_id);
CREATE INDEX generated_photos_live_job_idx ON generated_photos (job_id) WHERE deleted_at IS NULL;
CREATE INDEX shared_galleries_user_idx ON shared_galleries (user_id) WHERE revoked_at IS NULL;
