-- The fleet's state as gauges for /metrics, read at scrape time (each an aggregate over small or indexed sets).

-- name: payments_by_status
SELECT rail, status, count(*) AS n FROM payments GROUP BY rail, status;

-- name: revenue
-- What the business kept, by rail: paid minus refunded, in kopecks (the Stars rail at its card price) and Stars.
SELECT rail, coalesce(sum(amount_kopecks - refunded_kopecks), 0) AS kopecks,
       coalesce(sum(amount_stars) FILTER (WHERE refunded_kopecks = 0), 0) AS stars
FROM payments WHERE status IN ('confirmed', 'partially_refunded', 'refunded') GROUP BY rail;

-- name: jobs_by_status
SELECT kind, status, count(*) AS n FROM generation_jobs GROUP BY kind, status;

-- name: tasks_by_status
SELECT status, count(*) AS n FROM generation_tasks GROUP BY status;

-- name: deliveries_by_status
SELECT status, count(*) AS n FROM deliveries GROUP BY status;

-- name: open_dead_letters
SELECT count(*) AS n FROM dead_letters WHERE replayed_at IS NULL AND resolved_at IS NULL;

-- name: outbox_lag
SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest_s
FROM outbox WHERE published_at IS NULL;

-- name: tbank_activity
-- Card checkouts opened (a PaymentId was given) and T-Bank notifications received within the window.
SELECT (SELECT count(*) FROM payments WHERE rail = 'tbank' AND provider_payment_id IS NOT NULL
        AND created_at > now() - make_interval(secs => %(window_s)s)) AS checkouts,
       (SELECT count(*) FROM payment_events
        WHERE received_at > now() - make_interval(secs => %(window_s)s)) AS notifications;
