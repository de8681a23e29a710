-- name: insert_referral
INSERT INTO referral_earnings (payment_id, referrer_user_id, referred_user_id, amount_kopecks)
VALUES (%(payment_id)s, %(referrer_user_id)s, %(referred_user_id)s, %(amount_kopecks)s)
ON CONFLICT ON CONSTRAINT referral_earnings_payment_key DO NOTHING
RETURNING id;

-- name: stats
-- Earnings are credited once per payment (UNIQUE referral_earnings.payment_id); nothing is paid out yet, so
-- the balance is the same sum.
SELECT (SELECT count(*) FROM users WHERE referred_by = %(user_id)s) AS invited,
       (SELECT count(DISTINCT referred_user_id) FROM referral_earnings
        WHERE referrer_user_id = %(user_id)s) AS paying,
       (SELECT coalesce(sum(amount_kopecks), 0) FROM referral_earnings
        WHERE referrer_user_id = %(user_id)s) AS earned_kopecks;
