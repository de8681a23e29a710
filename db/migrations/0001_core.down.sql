DROP TABLE IF EXISTS referral_earnings;
DROP TABLE IF EXISTS payment_events;
DROP TABLE IF EXISTS payments;
DROP TABLE IF EXISTS reference_photos;
ALTER TABLE IF EXISTS users DROP CONSTRAINT IF EXISTS users_draft_avatar_fkey;
DROP TABLE IF EXISTS avatars;
DROP TABLE IF EXISTS users;
