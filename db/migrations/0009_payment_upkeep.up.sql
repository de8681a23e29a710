-- Payment upkeep (issue 9): a fair GetState rotation over open T-Bank payments, the 24 h alert, and referral
-- credits that follow refunds (docs/payments.md).

-- When reconcile_payments last asked T-Bank about the payment (NULL: never). The rotation takes the least
-- recently checked first, so however many checkouts are abandoned, each open payment is asked about within
-- settings.reconcile_interval_s. When the 24 h "still not final" alert was raised for it (once per payment).
ALTER TABLE payments
    ADD COLUMN checked_at        timestamptz,
    ADD COLUMN stuck_alerted_at  timestamptz;
CREATE INDEX payments_reconcile_rotation_idx ON payments (checked_at NULLS FIRST, id)
    WHERE status IN ('new', 'authorized') AND provider_payment_id IS NOT NULL AND rail = 'tbank';

-- Referral credits follow the money: a refund reverses the matching share of the payment's credit.
-- I7: what was reversed never exceeds what was credited, so a balance never goes below zero.
ALTER TABLE referral_earnings
    ADD COLUMN reversed_kopecks integer NOT NULL DEFAULT 0,
    ADD CONSTRAINT referral_earnings_reversed_within CHECK (reversed_kopecks BETWEEN 0 AND amount_kopecks);

CREATE TABLE referral_reversals (
    id              bigserial PRIMARY KEY,
    refund_id       bigint NOT NULL REFERENCES refunds (id),
    earning_id      bigint NOT NULL REFERENCES referral_earnings (id),
    amount_kopecks  integer NOT NULL CHECK (amount_kopecks >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- I7: a refund reverses the inviter's share once, however often the refund's path runs
    CONSTRAINT referral_reversals_refund_key UNIQUE (refund_id)
);
CREATE INDEX referral_reversals_earning_idx ON referral_reversals (earning_id);
