-- One correlation id follows a purchase from the checkout request through the provider's notification, every
-- actor and every provider call (docs/architecture.md): the payment keeps the id of the request that made it.
ALTER TABLE payments ADD COLUMN correlation_id text;
