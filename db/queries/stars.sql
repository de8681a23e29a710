-- name: insert_payment
-- A Stars checkout: amount_kopecks is the tier's card price (revenue, referrals), amount_stars what Telegram
-- charges. The order id is random, as on the card rail.
INSERT INTO payments (user_id, avatar_id, style_id, tier, photo_count, amount_kopecks, order_id, expires_at, rail,
                      amount_stars, correlation_id)
VALUES (%(user_id)s, %(avatar_id)s, %(style_id)s, %(tier)s, %(photo_count)s, %(amount_kopecks)s, %(order_id)s,
        now() + make_interval(secs => %(ttl_s)s), 'stars', %(amount_stars)s, %(correlation_id)s)
RETURNING *;

-- name: set_invoice_url
UPDATE payments SET payment_url = %(invoice_url)s, updated_at = now()
WHERE id = %(id)s AND rail = 'stars' AND payment_url IS NULL
RETURNING *;

-- name: get_payment
SELECT *, expires_at < now() AS expired_now FROM payments WHERE id = %(id)s;

-- name: record_charge
-- A duplicated successful_payment (or the update racing reconciliation) finds the charge id set and gets
-- nothing back; payments_telegram_charge_key keeps one charge on one payment.
UPDATE payments SET telegram_payment_charge_id = %(charge_id)s, telegram_payer_id = %(payer_id)s, updated_at = now()
WHERE id = %(id)s AND rail = 'stars' AND telegram_payment_charge_id IS NULL
RETURNING *;

-- name: open_payments
-- Stars payments nobody has paid yet as far as we know: what reconciliation looks for in getStarTransactions.
-- Recently expired ones too: a charge whose update was lost must not vanish because the row expired meanwhile
-- (applying it then raises an alert instead of starting a job).
SELECT id, created_at FROM payments
WHERE rail = 'stars' AND telegram_payment_charge_id IS NULL
  AND (status = 'new' OR (status = 'expired' AND created_at > now() - make_interval(days => 3)))
ORDER BY id;

-- name: record_update
-- An update decided in the webhook request: recorded once per update_id, handled at once, with our answer.
INSERT INTO telegram_updates (update_id, raw, answer, handled_at)
VALUES (%(update_id)s, %(raw)s, %(answer)s, now())
ON CONFLICT ON CONSTRAINT telegram_updates_pkey DO NOTHING
RETURNING update_id;
