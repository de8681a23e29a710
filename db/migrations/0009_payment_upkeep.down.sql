DROP TABLE referral_reversals;
ALTER TABLE referral_earnings
    DROP CONSTRAINT referral_earnings_reversed_within,
    DROP COLUMN reversed_kopecks;
DROP INDEX payments_reconcile_rotation_idx;
ALTER TABLE payments
    DROP COLUMN stuck_alerted_at,
    DROP COLUMN checked_at;
