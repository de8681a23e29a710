-- name: rotation_counts
-- The open T-Bank payments the rotation covers, and how many of them are due (never asked, or last asked
-- before ``due_after_s``): reconcile_payments sizes its run from these.
SELECT count(*) AS open,
       count(*) FILTER (WHERE checked_at IS NULL
                           OR checked_at < now() - make_interval(secs => %(due_after_s)s)) AS due
FROM payments
WHERE status IN ('new', 'authorized') AND provider_payment_id IS NOT NULL AND rail = 'tbank';

-- name: claim_for_check
-- The least recently checked open T-Bank payments, marked checked as they are claimed (so a failed GetState
-- still moves the payment to the back of the rotation). SKIP LOCKED: two overlapping runs never ask about the
-- same payment twice; the partial index payments_reconcile_rotation_idx serves the order.
UPDATE payments SET checked_at = now()
WHERE id IN (SELECT id FROM payments
             WHERE status IN ('new', 'authorized') AND provider_payment_id IS NOT NULL AND rail = 'tbank'
             ORDER BY checked_at NULLS FIRST, id
             LIMIT %(limit)s
             FOR UPDATE SKIP LOCKED)
RETURNING *, checked_at AS claimed_at;

-- name: due_for_alert
-- Open payments older than the alert age that have not been alerted. A T-Bank payment counts as stuck only
-- once the rotation asked about it past that age and it was still open (an abandoned checkout's link expires
-- at 24 h and the rotation closes it instead); a Stars payment has no bank to ask.
SELECT * FROM payments
WHERE status IN ('new', 'authorized') AND stuck_alerted_at IS NULL
  AND created_at < now() - make_interval(secs => %(alert_after_s)s)
  AND (rail = 'stars'
       OR (provider_payment_id IS NOT NULL
           AND checked_at >= created_at + make_interval(secs => %(alert_after_s)s)))
ORDER BY id
LIMIT %(limit)s;

-- name: mark_alerted
-- Conditional: of two runs racing on one payment only one raises its alert (and the dedup key backs it up).
UPDATE payments SET stuck_alerted_at = now()
WHERE id = %(id)s AND stuck_alerted_at IS NULL
RETURNING id;

-- name: due_for_cancel
-- Open payments past the cancel age that the bank knows of (a PaymentId) or that are Stars invoices; a
-- checkout whose Init never succeeded is expired by its link's life instead (payments.expire_unsent).
SELECT * FROM payments
WHERE status IN ('new', 'authorized')
  AND created_at < now() - make_interval(secs => %(cancel_after_s)s)
  AND (rail = 'stars' OR provider_payment_id IS NOT NULL)
ORDER BY id
LIMIT %(limit)s;
