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

-- name: payments
-- Payments for the operators' list, filtered by status and rail; the stuck ones first, each with why:
-- paid with no job started, money held but not confirmed, or open past the 24 h alert.
SELECT * FROM (
    SELECT id, user_id, tier, rail, status, amount_kopecks, amount_stars, refunded_kopecks, consumed,
           provider_payment_id, order_id, created_at, updated_at,
           CASE WHEN status = 'confirmed' AND NOT consumed AND updated_at < now() - interval '2 minutes'
                    THEN 'paid, no job started'
                WHEN status = 'authorized' AND updated_at < now() - interval '10 minutes'
                    THEN 'money held, not confirmed'
                WHEN status IN ('new', 'authorized') AND stuck_alerted_at IS NOT NULL
                    THEN 'open past the 24 h alert'
           END AS stuck
    FROM payments
    WHERE (%(status)s::text IS NULL OR status = %(status)s::text)
      AND (%(rail)s::text IS NULL OR rail = %(rail)s::text)
) listed
WHERE NOT %(stuck_only)s OR stuck IS NOT NULL
ORDER BY (stuck IS NOT NULL) DESC, id DESC
LIMIT %(limit)s;

-- name: open_dead_letters
SELECT count(*) AS n FROM dead_letters WHERE replayed_at IS NULL AND resolved_at IS NULL;

-- name: unsent_alerts
SELECT count(*) AS n FROM admin_alerts WHERE sent_at IS NULL;

-- name: outbox_backlog
SELECT count(*) AS n, extract(epoch FROM now() - min(created_at)) AS oldest_s
FROM outbox WHERE published_at IS NULL;

-- name: lookup
-- What an operator's search term may name: a payment (id, T-Bank PaymentId, OrderId, Telegram charge id), a job
-- (id), a person (id, Telegram id, username). Each kind at most a few rows.
SELECT 'payment' AS kind, id, user_id, status, created_at FROM payments
WHERE (%(number)s::bigint IS NOT NULL AND id = %(number)s::bigint)
   OR provider_payment_id = %(text)s OR order_id = %(text)s OR telegram_payment_charge_id = %(text)s
UNION ALL
SELECT 'job', id, user_id, status, created_at FROM generation_jobs
WHERE %(number)s::bigint IS NOT NULL AND id = %(number)s::bigint
UNION ALL
SELECT 'user', id, id, CASE WHEN bot_blocked THEN 'bot_blocked' ELSE 'active' END, created_at FROM users
WHERE (%(number)s::bigint IS NOT NULL AND (id = %(number)s::bigint OR telegram_id = %(number)s::bigint))
   OR lower(username) = lower(ltrim(%(text)s, '@'))
ORDER BY kind, id
LIMIT 30;

-- name: payment_events
SELECT status, amount_kopecks, event_key, received_at FROM payment_events
WHERE provider_payment_id = %(provider_payment_id)s ORDER BY id;

-- name: payment_refunds
SELECT id, job_id, amount_kopecks, photos_refunded, reason, status, provider_status, last_error AS error, created_at
FROM refunds WHERE payment_id = %(payment_id)s ORDER BY id;

-- name: payment_referral
SELECT e.referrer_user_id, e.amount_kopecks, e.reversed_kopecks FROM referral_earnings e
WHERE e.payment_id = %(payment_id)s;

-- name: funnel
-- The people who started in the period and how far each got, with when they reached each step: started (first
-- opened the app or wrote to the bot), avatar, selfies (an avatar with enough references; erased selfies no
-- longer count), checkout, paid, generated (a paid job reached delivering), delivered.
WITH people AS (
    SELECT u.id, u.created_at AS started,
           (SELECT min(a.created_at) FROM avatars a WHERE a.user_id = u.id) AS avatar,
           (SELECT min(r.created_at) FROM avatars a JOIN reference_photos r ON r.avatar_id = a.id
            WHERE a.user_id = u.id
              AND (SELECT count(*) FROM reference_photos r2 WHERE r2.avatar_id = a.id) >= %(min_references)s) AS selfies,
           (SELECT min(p.created_at) FROM payments p WHERE p.user_id = u.id) AS checkout,
           (SELECT min(j.created_at) FROM generation_jobs j WHERE j.user_id = u.id AND j.kind = 'purchase') AS paid,
           (SELECT min(j.delivering_at) FROM generation_jobs j WHERE j.user_id = u.id AND j.kind = 'purchase')
               AS generated,
           (SELECT min(j.finished_at) FROM generation_jobs j WHERE j.user_id = u.id AND j.kind = 'purchase'
              AND j.status IN ('delivered', 'delivered_partial')) AS delivered
    FROM users u
    WHERE u.created_at >= now() - make_interval(days => %(days)s)
)
SELECT count(*) AS started, count(avatar) AS avatar, count(selfies) AS selfies, count(checkout) AS checkout,
       count(paid) AS paid, count(generated) AS generated, count(delivered) AS delivered,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM avatar - started)) AS avatar_s,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM selfies - avatar)) AS selfies_s,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM checkout - selfies)) AS checkout_s,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM paid - checkout)) AS paid_s,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM generated - paid)) AS generated_s,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM delivered - generated)) AS delivered_s
FROM people;

-- name: revenue_by_tier
-- What the business kept from payments made in the period, by tier and rail (kopecks; Stars at the card price).
SELECT tier, rail, count(*) AS payments, sum(amount_kopecks) AS paid_kopecks,
       sum(refunded_kopecks) AS refunded_kopecks, sum(amount_kopecks - refunded_kopecks) AS kept_kopecks
FROM payments
WHERE status IN ('confirmed', 'partially_refunded', 'refunded')
  AND created_at >= now() - make_interval(days => %(days)s)
GROUP BY tier, rail ORDER BY tier, rail;

-- name: job_slots
-- Each photo slot of a job: its attempts, and the latest attempt's state.
SELECT DISTINCT ON (t.prompt_index) t.prompt_index, t.attempt, t.status, t.kie_task_id, t.api_key_index,
       t.fail_code, t.fail_msg, t.poll_count, t.created_at, t.submitted_at, t.finished_at,
       (SELECT count(*) FROM generation_tasks a WHERE a.job_id = t.job_id AND a.prompt_index = t.prompt_index)
           AS attempts,
       p.id AS photo_id
FROM generation_tasks t
LEFT JOIN generated_photos p ON p.job_id = t.job_id AND p.prompt_index = t.prompt_index
WHERE t.job_id = %(job_id)s
ORDER BY t.prompt_index, t.attempt DESC;

-- name: job_timeline
-- What happened to the job, in order: its own moves, each attempt submitted, stored or failed, each chunk sent
-- (moves made in one transaction share a time: then the order of the chain decides).
SELECT at, what FROM (
    SELECT created_at AS at, 0 AS step, 'job created' AS what FROM generation_jobs WHERE id = %(job_id)s
    UNION ALL SELECT generating_at, 1, 'generating' FROM generation_jobs WHERE id = %(job_id)s
    UNION ALL SELECT submitted_at, 2, 'portrait ' || (prompt_index + 1) || ' attempt ' || attempt
                                      || ' submitted to Kie'
              FROM generation_tasks WHERE job_id = %(job_id)s
    UNION ALL SELECT finished_at, 3, 'portrait ' || (prompt_index + 1) || ' attempt ' || attempt || ' ' || status
                                     || COALESCE(' (' || fail_code || ')', '')
              FROM generation_tasks WHERE job_id = %(job_id)s
    UNION ALL SELECT delivering_at, 4, 'delivering' FROM generation_jobs WHERE id = %(job_id)s
    UNION ALL SELECT sent_at, 5, kind || ' ' || chunk || ' ' || status FROM deliveries WHERE job_id = %(job_id)s
    UNION ALL SELECT finished_at, 6, 'finished: ' || status FROM generation_jobs WHERE id = %(job_id)s
) events
WHERE at IS NOT NULL
ORDER BY at, step, what;

-- name: job_deliveries
SELECT chunk, kind, status, attempts, cardinality(photo_ids) AS photos, last_error, sent_at
FROM deliveries WHERE job_id = %(job_id)s ORDER BY chunk;
