-- Privacy: consent, the retention sweep's facts and the person's erasure. These queries read facts and
-- write rows; what is due and what is allowed is decided in usecases/privacy.py.

-- name: accept_privacy
-- Idempotent: a repeated acceptance of the same policy keeps the first time; a new policy version is a new
-- acceptance.
UPDATE users
SET privacy_accepted_at = CASE WHEN privacy_accepted_at IS NULL OR privacy_policy_version IS DISTINCT FROM %(version)s
                               THEN %(now)s ELSE privacy_accepted_at END,
    privacy_policy_version = %(version)s, updated_at = now()
WHERE id = %(id)s
RETURNING *;

-- name: lock_user
SELECT * FROM users WHERE id = %(id)s FOR UPDATE;

-- name: lock_avatar_nowait
-- An avatar busy with an upload, an erase or the bot is skipped (the next sweep takes it), never waited on.
SELECT id FROM avatars WHERE id = %(id)s FOR UPDATE SKIP LOCKED;

-- name: avatars_with_selfies
SELECT DISTINCT avatar_id AS id FROM reference_photos
WHERE avatar_id > %(after_id)s ORDER BY id LIMIT %(limit)s;

-- name: selfie_retention
-- Per avatar: when it was last used (created, given a selfie, paid for, a job started or finished) and whether
-- it is busy (a job running, money taken with no job yet); open_payment_until is the latest expiry of a
-- payment link not paid yet, which may still become an order.
SELECT a.id AS avatar_id,
       GREATEST(a.created_at,
                (SELECT max(r.created_at) FROM reference_photos r WHERE r.avatar_id = a.id),
                (SELECT max(GREATEST(j.created_at, j.finished_at)) FROM generation_jobs j WHERE j.avatar_id = a.id),
                (SELECT max(p.created_at) FROM payments p WHERE p.avatar_id = a.id
                   AND p.status IN ('authorized', 'confirmed', 'partially_refunded', 'refunded'))) AS last_used_at,
       EXISTS (SELECT 1 FROM generation_jobs j WHERE j.avatar_id = a.id
                 AND j.status IN ('queued', 'generating', 'delivering'))
       OR EXISTS (SELECT 1 FROM payments p WHERE p.avatar_id = a.id AND p.consumed = false
                    AND p.status IN ('authorized', 'confirmed')) AS busy,
       (SELECT max(p.expires_at) FROM payments p WHERE p.avatar_id = a.id AND p.status = 'new') AS open_payment_until
FROM avatars a WHERE a.id = ANY(%(avatar_ids)s)
ORDER BY a.id;

-- name: jobs_with_live_photos
SELECT DISTINCT job_id AS id FROM generated_photos
WHERE deleted_at IS NULL AND job_id > %(after_id)s ORDER BY id LIMIT %(limit)s;

-- name: jobs_by_ids
SELECT id, avatar_id, user_id, status, finished_at FROM generation_jobs WHERE id = ANY(%(job_ids)s) ORDER BY id;

-- name: avatars_of_user
-- Every avatar the person ever had (erased ones too: their storage prefixes are swept again), locked so an
-- upload or a bot photo cannot add a selfie while the person is being erased.
SELECT id, deleted_at FROM avatars WHERE user_id = %(user_id)s ORDER BY id FOR UPDATE;

-- name: jobs_of_user
SELECT id, status FROM generation_jobs WHERE user_id = %(user_id)s ORDER BY id;

-- name: user_busy
SELECT EXISTS (SELECT 1 FROM generation_jobs WHERE user_id = %(user_id)s
                 AND status IN ('queued', 'generating', 'delivering'))
       OR EXISTS (SELECT 1 FROM payments WHERE user_id = %(user_id)s AND consumed = false
                    AND status IN ('authorized', 'confirmed')) AS busy;

-- name: delete_references_of_avatars
DELETE FROM reference_photos WHERE avatar_id = ANY(%(avatar_ids)s) RETURNING storage_key;

-- name: soft_delete_avatars_of_user
UPDATE avatars SET deleted_at = %(now)s WHERE user_id = %(user_id)s AND deleted_at IS NULL RETURNING id;

-- name: revoke_shares_of_user
UPDATE shared_galleries SET revoked_at = %(now)s WHERE user_id = %(user_id)s AND revoked_at IS NULL;

-- name: forget_payment_emails
-- The receipt e-mails (54-FZ): the receipts were issued with them; an erased person's payments keep no address.
UPDATE payments SET email = NULL, updated_at = now() WHERE user_id = %(user_id)s AND email IS NOT NULL;

-- name: blank_user
-- What stays of an erased person: the row payments, refunds and referral credits point at (telegram_id keeps
-- a returning person from being registered twice; referral_code keeps their invitees' credits valid).
UPDATE users
SET username = NULL, first_name = NULL, language_code = NULL, draft_avatar_id = NULL,
    privacy_accepted_at = NULL, privacy_policy_version = NULL, updated_at = now()
WHERE id = %(id)s
RETURNING *;

-- name: forget_bot_updates
-- Handled updates carry the sender's names and the photos' file ids; unhandled ones are still being worked on.
DELETE FROM telegram_updates
WHERE handled_at IS NOT NULL
  AND (raw #>> '{message,from,id}' = %(telegram_id)s OR raw #>> '{my_chat_member,from,id}' = %(telegram_id)s);

-- name: claim_consent_notice
-- An album sent before consent is answered once: the first of its photos inserts the group's row.
INSERT INTO bot_media_groups (chat_id, media_group_id, user_id, rejected, replies, replied_at)
VALUES (%(chat_id)s, %(media_group_id)s, %(user_id)s, 1, 1, now())
ON CONFLICT ON CONSTRAINT bot_media_groups_pkey DO NOTHING
RETURNING chat_id;
