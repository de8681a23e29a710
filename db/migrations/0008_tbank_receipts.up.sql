-- 54-FZ receipts on the T-Bank rail (issue 9, docs/payments.md): the e-mail a receipt is sent to, and the
-- fiscal documents T-Bank reports (Status RECEIPT) kept where an operator can see them.

-- The buyer's e-mail for the receipt; asked at checkout only when TBANK_RECEIPTS is on (NULL otherwise).
ALTER TABLE payments ADD COLUMN email text;

-- One payment has several RECEIPT notifications (the payment's Income, then an IncomeReturn per refund), so
-- (PaymentId, Status) no longer identifies an event. event_key tells them apart ('' for every other status,
-- whose dedup is unchanged: I5, one (PaymentId, Status) acted on once).
ALTER TABLE payment_events ADD COLUMN event_key text NOT NULL DEFAULT '';
ALTER TABLE payment_events
    DROP CONSTRAINT payment_events_payment_status_key,
    ADD CONSTRAINT payment_events_payment_status_key UNIQUE (provider_payment_id, status, event_key);

CREATE TABLE payment_receipts (
    id                      bigserial PRIMARY KEY,
    payment_id              bigint NOT NULL REFERENCES payments (id),
    kind                    text NOT NULL,  -- T-Bank's Type: Income, IncomeReturn, ...
    amount_kopecks          integer NOT NULL CHECK (amount_kopecks >= 0),
    receipt_url             text,
    fiscal_number           text,
    fiscal_document_number  text,
    event_key               text NOT NULL,
    received_at             timestamptz NOT NULL DEFAULT now(),
    -- a re-sent RECEIPT notification records its fiscal document once
    CONSTRAINT payment_receipts_payment_event_key UNIQUE (payment_id, event_key)
);
