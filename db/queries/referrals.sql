-- name: insert_referral
INSERT INTO referral_earnings (payment_id, referrer_user_id, referred_user_id, amount_kopecks)
VALUES (%(payment_id)s, %(referrer_user_id)s, %(referred_user_id)s, %(amount_kopecks)s)
ON CONFLICT ON CONSTRAINT referral_earnings_payment_key DO NOTHING
RETURNING id;

-- name: stats
-- Earnings are credited once per payment (UNIQUE referral_earnings.payment_id); refunds reverse part of a
-- credit (reversed_kopecks); nothing is paid out yet, so the balance is what was credited less what was reversed.
SELECT (SELECT count(*) FROM users WHERE referred_by = %(user_id)s) AS invited,
       (SELECT count(DISTINCT referred_user_id) FROM referral_earnings
        WHERE referrer_user_id = %(user_id)s) AS paying,
       (SELECT coalesce(sum(amount_kopecks), 0) FROM referral_earnings
        WHERE referrer_user_id = %(user_id)s) AS earned_kopecks,
       (SELECT coalesce(sum(reversed_kopecks), 0) FROM referral_earnings
        WHERE referrer_user_id = %(user_id)s) AS reversed_kopecks;

-- name: lock_earning_of_payment
-- Two refunds of one payment may settle at once: the earning row is locked so each computes its reversal
-- from the totals the other left.
SELECT e.*, p.amount_kopecks AS paid_kopecks,
       (SELECT coalesce(sum(r.amount_kopecks), 0) FROM referral_reversals v JOIN refunds r ON r.id = v.refund_id
        WHERE v.earning_id = e.id) AS refunded_before_kopecks
FROM referral_earnings e JOIN payments p ON p.id = e.payment_id
WHERE e.payment_id = %(payment_id)s
FOR UPDATE OF e;

-- name: insert_reversal
-- The ledger row first: a refund already reversed conflicts on referral_reversals_refund_key and returns
-- nothing, so the same refund never reverses twice.
INSERT INTO referral_reversals (refund_id, earning_id, amount_kopecks)
VALUES (%(refund_id)s, %(earning_id)s, %(amount_kopecks)s)
ON CONFLICT ON CONSTRAINT referral_reversals_refund_key DO NOTHING
RETURNING id;

-- name: add_reversed
-- referral_earnings_reversed_within refuses a sum above the credit, whatever raced.
UPDATE referral_earnings SET reversed_kopecks = reversed_kopecks + %(amount_kopecks)s
WHERE id = %(id)s
RETURNING *;

-- name: referrer_balances
-- Per referrer, for the admin: what their invitations earned, what refunds took back, and the balance.
SELECT e.referrer_user_id, u.telegram_id, u.username, count(*) AS payments,
       count(DISTINCT e.referred_user_id) AS paying,
       sum(e.amount_kopecks) AS earned_kopecks, sum(e.reversed_kopecks) AS reversed_kopecks,
       sum(e.amount_kopecks - e.reversed_kopecks) AS balance_kopecks
FROM referral_earnings e JOIN users u ON u.id = e.referrer_user_id
GROUP BY e.referrer_user_id, u.telegram_id, u.username
ORDER BY balance_kopecks DESC, e.referrer_user_id
LIMIT %(limit)s;
