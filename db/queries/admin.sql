-- name: job_counts
SELECT status, count(*) AS n FROM generation_jobs GROUP BY status;

-- name: payment_counts
SELECT status, count(*) AS n, coalesce(sum(amount_kopecks), 0) AS amount_kopecks FROM payments GROUP BY status;

-- name: money
-- Paid: every payment that was charged (confirmed, whatever was refunded of it since); refunds and referral
-- credits as recorded on our side (net of what refunds reversed).
SELECT (SELECT coalesce(sum(amount_kopecks), 0) FROM payments
        WHERE status IN ('confirmed', 'partially_refunded', 'refunded')) AS paid_kopecks,
       (SELECT coalesce(sum(refunded_kopecks), 0) FROM payments) AS refunded_kopecks,
       (SELECT coalesce(sum(amount_kopecks - reversed_kopecks), 0) FROM referral_earnings) AS referral_kopecks;

-- name: recent_jobs
SELECT id, kind, payment_id, parent_job_id, user_id, avatar_id, style_id, tier, status, total_photos,
       photos_stored, photos_failed, regenerations_used, correlation_id, created_at, generating_at, delivering_at,
       finished_at, extract(epoch FROM coalesce(finished_at, now()) - created_at) AS age_s
FROM generation_jobs
WHERE (%(status)s::text IS NULL OR status = %(status)s::text)
ORDER BY id DESC
LIMIT %(limit)s;

-- name: open_dead_letters
SELECT count(*) AS n FROM dead_letters WHERE replayed_at IS NULL;

-- name: unsent_alerts
SELECT count(*) AS n FROM admin_alerts WHERE sent_at IS NULL;

-- name: outbox_backlog
SELECT count(*) AS n, extract(epoch FROM now() - min(created_at)) AS oldest_s
FROM outbox WHERE published_at IS NULL;
