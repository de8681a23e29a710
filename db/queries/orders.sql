-- name: orders_of_user
-- A person's orders, newest first: every payment that was paid or can still be paid, with its job's progress
-- and the storage key of its first photo (the order's cover). Checkouts that were never paid and whose link has
-- lapsed are left out: they are not orders, only abandoned carts.
SELECT p.id AS payment_id, p.status AS payment_status, p.tier, p.photo_count, p.style_id, p.avatar_id,
       p.rail, p.amount_kopecks, p.amount_stars, p.refunded_kopecks, p.created_at, a.name AS avatar_name,
       j.id AS job_id, j.status AS job_status, j.photos_stored, j.photos_failed, j.total_photos, j.finished_at,
       (SELECT gp.storage_key FROM generated_photos gp
        WHERE gp.job_id = j.id AND gp.deleted_at IS NULL ORDER BY gp.prompt_index LIMIT 1) AS cover_key
FROM payments p
JOIN avatars a ON a.id = p.avatar_id
LEFT JOIN generation_jobs j ON j.payment_id = p.id AND j.kind = 'purchase'
WHERE p.user_id = %(user_id)s
  AND (p.status NOT IN ('new', 'expired', 'rejected', 'canceled')
       OR (p.status = 'new' AND p.payment_url IS NOT NULL AND p.expires_at > now()))
ORDER BY p.created_at DESC, p.id DESC
LIMIT %(limit)s;
