-- name: paid_unstarted_payments_of_avatar
-- Money taken (or about to be) for this avatar, with no job yet: erasing now would turn it into a refund.
SELECT count(*) AS n FROM payments
WHERE avatar_id = %(avatar_id)s AND consumed = false AND status IN ('authorized', 'confirmed');

-- name: lock_checkouts_of_user
-- Serialises one person's checkouts (transaction-scoped): two concurrent checkouts cannot both count the same
-- open payments and both pass the limit. Other people's checkouts are not held up.
SELECT pg_advisory_xact_lock(hashtext('checkouts:' || %(user_id)s::text)) IS NOT NULL AS locked;

-- name: count_open_checkouts
-- Open checkouts of either rail: payable now (a link handed out and not past its life) or an Init / invoice
-- still in flight (no link yet, minutes old). A checkout whose Init failed has no link and stops counting
-- once in_flight_s is over, so failed provider calls do not lock a person out for a day.
SELECT count(*) AS n FROM payments
WHERE user_id = %(user_id)s AND status IN ('new', 'authorized') AND expires_at > now()
  AND (payment_url IS NOT NULL OR created_at > now() - make_interval(secs => %(in_flight_s)s));

-- name: insert
INSERT INTO payments (user_id, avatar_id, style_id, tier, photo_count, amount_kopecks, order_id, expires_at, email,
                      correlation_id)
VALUES (%(user_id)s, %(avatar_id)s, %(style_id)s, %(tier)s, %(photo_count)s, %(amount_kopecks)s, %(order_id)s,
        now() + make_interval(secs => %(ttl_s)s), %(email)s, %(correlation_id)s)
RETURNING *;

-- name: set_provider
UPDATE payments SET provider_payment_id = %(provider_payment_id)s, payment_url = %(payment_url)s, updated_at = now()
WHERE id = %(id)s AND provider_payment_id IS NULL
RETURNING *;

-- name: get
SELECT *, expires_at < now() AS expired_now FROM payments WHERE id = %(id)s;

-- name: get_for_user
SELECT * FROM payments WHERE id = %(id)s AND user_id = %(user_id)s;

-- name: get_by_provider_id
SELECT * FROM payments WHERE provider_payment_id = %(provider_payment_id)s;

-- name: lock
SELECT * FROM payments WHERE id = %(id)s FOR UPDATE;

-- name: move_status
-- Monotonic: moves only from an allowed source status, so an old or repeated notification never moves back.
UPDATE payments SET status = %(new)s, updated_at = now()
WHERE id = %(id)s AND status = ANY(%(expected)s)
RETURNING *;

-- name: consume
-- Atomic consume: of any number of racing requests/actors exactly one flips consumed and gets the row back.
UPDATE payments SET consumed = true, consumed_at = now(), updated_at = now()
WHERE id = %(id)s AND consumed = false AND status = 'confirmed'
RETURNING *;

-- name: add_refunded
-- The CHECK payments_refund_within_amount refuses a sum above the amount even if two refunds race.
-- 'refunded' is allowed too: T-Bank's REFUNDED notification can overtake our own bookkeeping of that refund,
-- and the kopecks must still be counted (the status never moves back from what the bank said).
UPDATE payments SET refunded_kopecks = refunded_kopecks + %(amount)s,
                    status = CASE WHEN status = 'refunded' OR refunded_kopecks + %(amount)s >= amount_kopecks
                                  THEN 'refunded' ELSE 'partially_refunded' END,
                    updated_at = now()
WHERE id = %(id)s AND status IN ('confirmed', 'partially_refunded', 'refunded')
RETURNING *;

-- name: insert_event
-- T-Bank re-sends notifications; the first (PaymentId, Status, event_key) wins, repeats return nothing.
-- event_key is '' except for RECEIPT, of which one payment has several (its Income, an IncomeReturn per refund).
INSERT INTO payment_events (provider_payment_id, status, order_id, amount_kopecks, raw, event_key)
VALUES (%(provider_payment_id)s, %(status)s, %(order_id)s, %(amount_kopecks)s, %(raw)s, %(event_key)s)
ON CONFLICT ON CONSTRAINT payment_events_payment_status_key DO NOTHING
RETURNING id;

-- name: insert_receipt
-- A fiscal document T-Bank reported for the payment; a re-sent notification finds it recorded.
INSERT INTO payment_receipts (payment_id, kind, amount_kopecks, receipt_url, fiscal_number, fiscal_document_number,
                              event_key)
VALUES (%(payment_id)s, %(kind)s, %(amount_kopecks)s, %(receipt_url)s, %(fiscal_number)s,
        %(fiscal_document_number)s, %(event_key)s)
ON CONFLICT ON CONSTRAINT payment_receipts_payment_event_key DO NOTHING
RETURNING *;

-- name: receipts_of_payment
SELECT * FROM payment_receipts WHERE payment_id = %(payment_id)s ORDER BY id;

-- name: list_open
SELECT * FROM payments
WHERE status IN ('new', 'authorized') AND provider_payment_id IS NOT NULL
  AND updated_at < now() - make_interval(secs => %(idle_s)s)
ORDER BY id LIMIT %(limit)s;

-- name: confirmed_unconsumed
-- Paid but no job: consume_payment was lost or failed; the sweeper re-sends it (under the purchase's id).
SELECT id, correlation_id FROM payments
WHERE status = 'confirmed' AND consumed = false AND updated_at < now() - make_interval(secs => %(idle_s)s)
ORDER BY id LIMIT %(limit)s;

-- name: expire_unsent
-- Checkouts whose T-Bank Init never succeeded have no link to pay: once past their life they are expired.
UPDATE payments SET status = 'expired', updated_at = now()
WHERE status = 'new' AND provider_payment_id IS NULL AND expires_at < now();
