-- name: insert_entry
-- portrait_credits_job_kind_key: a job grants (or a credit job spends) once, however often its step runs.
INSERT INTO portrait_credits (user_id, job_id, kind, photos)
VALUES (%(user_id)s, %(job_id)s, %(kind)s, %(photos)s)
ON CONFLICT ON CONSTRAINT portrait_credits_job_kind_key DO NOTHING
RETURNING *;

-- name: add_balance
INSERT INTO portrait_credit_balances (user_id, balance) VALUES (%(user_id)s, %(photos)s)
ON CONFLICT (user_id) DO UPDATE SET balance = portrait_credit_balances.balance + %(photos)s, updated_at = now()
RETURNING balance;

-- name: lock_balance
-- Two redemptions of one person serialise here; the second then sees what the first left.
SELECT balance FROM portrait_credit_balances WHERE user_id = %(user_id)s FOR UPDATE;

-- name: take_balance
-- portrait_credit_balances_nonnegative refuses a balance below zero even if a caller forgot the lock.
UPDATE portrait_credit_balances SET balance = balance - %(photos)s, updated_at = now()
WHERE user_id = %(user_id)s AND balance >= %(photos)s
RETURNING balance;

-- name: get_balance
SELECT balance FROM portrait_credit_balances WHERE user_id = %(user_id)s;

-- name: history
SELECT job_id, kind, photos, created_at FROM portrait_credits
WHERE user_id = %(user_id)s ORDER BY created_at DESC, id DESC LIMIT %(limit)s;
