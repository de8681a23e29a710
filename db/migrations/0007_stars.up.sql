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
