-- Telegram Stars (XTR), the second rail beside T-Bank (docs/payments.md).
-- amount_kopecks stays the order's price in kopecks on both rails (revenue, referrals, proration); a Stars
-- payment also carries the Stars it was sold for. Telegram's charge id identifies a paid Stars payment once.
ALTER TABLE payments
    ADD COLUMN rail                        text NOT NULL DEFAULT 'tbank',
    ADD COLUMN amount_stars                integer,
    ADD COLUMN telegram_payment_charge_id  text,
    ADD CONSTRAINT payments_rail_check CHECK (rail IN ('tbank', 'stars')),
    ADD CONSTRAINT payments_stars_amount_check CHECK ((rail = 'stars') = (amount_stars IS NOT NULL AND amount_stars > 0)),
    -- I1/I5 for Stars: a duplicated successful_payment confirms one payment once
    ADD CONSTRAINT payments_telegram_charge_key UNIQUE (telegram_payment_charge_id);

-- Who paid a Stars invoice (Telegram's user id): refundStarPayment returns the charge to that user only. An
-- invoice link can be paid by anyone holding it, so this is not necessarily the payment's owner.
ALTER TABLE payments ADD COLUMN telegram_payer_id bigint;
CREATE INDEX payments_stars_open_idx ON payments (id) WHERE rail = 'stars' AND status = 'new';

-- The partial policy of the Stars rail (refundStarPayment returns whole charges only): the portraits a job could
-- not make are credited to the person as free portraits, redeemed later as a job of kind 'credit' (no payment).
ALTER TABLE generation_jobs DROP CONSTRAINT generation_jobs_kind_check,
    ADD CONSTRAINT generation_jobs_kind_check CHECK (kind IN ('purchase', 'regeneration', 'credit'));

CREATE TABLE portrait_credit_balances (
    user_id     bigint PRIMARY KEY REFERENCES users (id),
    balance     integer NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    -- credits are never spent twice: two redemptions racing for the last ones cannot both pass
    CONSTRAINT portrait_credit_balances_nonnegative CHECK (balance >= 0)
);

CREATE TABLE portrait_credits (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id),
    job_id      bigint NOT NULL REFERENCES generation_jobs (id),
    kind        text NOT NULL,
    photos      integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT portrait_credits_kind_check CHECK (kind IN ('granted', 'spent')),
    CONSTRAINT portrait_credits_photos_positive CHECK (photos > 0),
    -- a job grants its missing portraits once (however often its delivery or refund runs) and a credit job
    -- spends once
    CONSTRAINT portrait_credits_job_kind_key UNIQUE (job_id, kind)
);
CREATE INDEX portrait_credits_user_idx ON portrait_credits (user_id, created_at DESC);

-- Updates decided in the webhook request itself (a Stars pre_checkout_query, a successful_payment): what we
-- answered or did, beside the update as it came.
ALTER TABLE telegram_updates ADD COLUMN answer jsonb;
