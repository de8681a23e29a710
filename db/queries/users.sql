-- name: lock_user
-- Serialises the updates of one user that create a draft avatar, so an album makes one avatar, not ten.
SELECT * FROM users WHERE id = %(id)s FOR UPDATE;

-- name: commit_without_waiting
-- This transaction's COMMIT does not wait for its WAL to reach the disk (a crash may lose it; see its caller).
SET LOCAL synchronous_commit TO off;

-- name: upsert_user
-- Two first requests of one user race to register: ON CONFLICT makes the loser update the same row.
INSERT INTO users (telegram_id, username, first_name, language_code, referral_code, referred_by)
VALUES (%(telegram_id)s, %(username)s, %(first_name)s, %(language_code)s, %(referral_code)s, %(referred_by)s)
ON CONFLICT ON CONSTRAINT users_telegram_id_key DO UPDATE
SET username = EXCLUDED.username, first_name = EXCLUDED.first_name, language_code = EXCLUDED.language_code,
    updated_at = now()
RETURNING *;

-- name: get_user
SELECT * FROM users WHERE id = %(id)s;

-- name: get_user_by_telegram_id
SELECT * FROM users WHERE telegram_id = %(telegram_id)s;

-- name: get_user_by_referral_code
SELECT * FROM users WHERE referral_code = %(referral_code)s;

-- name: set_referrer
-- The inviter is set once, never to oneself, and only for someone who has not paid yet.
UPDATE users SET referred_by = %(referrer_id)s, updated_at = now()
WHERE id = %(id)s AND referred_by IS NULL AND id <> %(referrer_id)s
  AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.user_id = %(id)s AND p.status <> 'new')
RETURNING *;

-- name: set_bot_blocked
UPDATE users SET bot_blocked = %(blocked)s, updated_at = now() WHERE id = %(id)s;

-- name: set_draft_avatar
UPDATE users SET draft_avatar_id = %(avatar_id)s, updated_at = now() WHERE id = %(id)s;
