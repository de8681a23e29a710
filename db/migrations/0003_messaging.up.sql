-- Exactly-once plumbing and operations: dedup, outbox, dead letters, alerts, sharing, idempotency keys.

CREATE TABLE processed_messages (
    message_id    text NOT NULL,
    actor         text NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    -- a redelivered message finds its row and changes nothing (inserted in the effect's transaction)
    CONSTRAINT processed_messages_pkey PRIMARY KEY (message_id, actor)
);
CREATE INDEX processed_messages_age_idx ON processed_messages (processed_at);

CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    message_id    text NOT NULL,
    actor_name    text NOT NULL,
    args          jsonb NOT NULL DEFAULT '[]',
    kwargs        jsonb NOT NULL DEFAULT '{}',
    delay_ms      integer NOT NULL DEFAULT 0,
    correlation_id text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    attempts      integer NOT NULL DEFAULT 0,
    -- message ids are fixed at insert so a re-published message is recognised downstream
    CONSTRAINT outbox_message_id_key UNIQUE (message_id)
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;

CREATE TABLE dead_letters (
    id                 bigserial PRIMARY KEY,
    message_id         text NOT NULL,
    actor              text NOT NULL,
    queue_name         text NOT NULL,
    payload            jsonb NOT NULL,
    error              text NOT NULL,
    traceback          text,
    attempts           integer NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    replayed_at        timestamptz,
    replay_message_id  text,
    CONSTRAINT dead_letters_message_actor_key UNIQUE (message_id, actor)
);
CREATE INDEX dead_letters_open_idx ON dead_letters (created_at) WHERE replayed_at IS NULL;

CREATE TABLE admin_alerts (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL,
    severity    text NOT NULL DEFAULT 'error',
    message     text NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}',
    dedup_key   text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    CONSTRAINT admin_alerts_dedup_key UNIQUE (dedup_key),
    CONSTRAINT admin_alerts_severity_check CHECK (severity IN ('info', 'warning', 'error', 'critical'))
);

CREATE TABLE shared_galleries (
    id          bigserial PRIMARY KEY,
    job_id      bigint NOT NULL REFERENCES generation_jobs (id),
    user_id     bigint NOT NULL REFERENCES users (id),
    token_hash  text NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT shared_galleries_token_hash_key UNIQUE (token_hash)
);

CREATE TABLE idempotency_keys (
    user_id          bigint NOT NULL REFERENCES users (id),
    endpoint         text NOT NULL,
    key              text NOT NULL,
    request_hash     text NOT NULL,
    response_status  integer,
    response_body    jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- the same key from the same user on the same endpoint gets the first answer
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, endpoint, key)
);

CREATE TABLE telegram_updates (
    update_id    bigint NOT NULL,
    raw          jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    -- Telegram re-sends unanswered updates: each update_id is handled once
    CONSTRAINT telegram_updates_pkey PRIMARY KEY (update_id)
);
