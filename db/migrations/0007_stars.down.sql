ALTER TABLE telegram_updates DROP COLUMN answer;
DROP TABLE portrait_credits;
DROP TABLE portrait_credit_balances;
ALTER TABLE generation_jobs DROP CONSTRAINT generation_jobs_kind_check,
    ADD CONSTRAINT generation_jobs_kind_check CHECK (kind IN ('purchase', 'regeneration'));
DROP INDEX payments_stars_open_idx;
ALTER TABLE payments
    DROP CONSTRAINT payments_telegram_charge_key,
    DROP CONSTRAINT payments_stars_amount_check,
    DROP CONSTRAINT payments_rail_check,
    DROP COLUMN telegram_payer_id,
    DROP COLUMN telegram_payment_charge_id,
    DROP COLUMN amount_stars,
    DROP COLUMN rail;
