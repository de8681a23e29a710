ALTER TABLE payments
    DROP CONSTRAINT payments_telegram_charge_key,
    DROP CONSTRAINT payments_stars_amount_check,
    DROP CONSTRAINT payments_rail_check,
    DROP COLUMN telegram_payment_charge_id,
    DROP COLUMN amount_stars,
    DROP COLUMN rail;
