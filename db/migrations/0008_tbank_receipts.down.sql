DROP TABLE payment_receipts;
-- Several RECEIPT events of one payment cannot fit the old (PaymentId, Status) key: keep the first of each.
DELETE FROM payment_events e USING payment_events f
WHERE e.provider_payment_id = f.provider_payment_id AND e.status = f.status AND e.id > f.id;
ALTER TABLE payment_events
    DROP CONSTRAINT payment_events_payment_status_key,
    ADD CONSTRAINT payment_events_payment_status_key UNIQUE (provider_payment_id, status),
    DROP COLUMN event_key;
ALTER TABLE payments DROP COLUMN email;
