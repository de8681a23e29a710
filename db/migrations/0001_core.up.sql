-- PinGlass core schema: users, avatars, payments and their events.
-- Constraints the code relies on are named; the comment beside each says which race or invariant it guards.

CREATE TABLE users (
    id               bigserial PRIMARY KEY,
    telegram_id      bigint NOT NULL,
    username         text,
    first_name       text,
    language_code    text,
    referral_code    text NOT NULL,
    referred_by      bigint REFERENCES users (id),
    bot_blocked      boolean NOT NULL DEFAULT false,
    draft_avatar_id  bigint,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    -- two first requests of one user race to register: the loser reads the winner's row
    CONSTRAINT users_telegram_id_key UNIQUE (telegram_id),
    CONSTRAINT users_referral_code_key UNIQUE (referral_code),
    CONSTRAINT users_not_self_referred CHECK (referred_by IS NULL OR referred_by <> id)
);

CREATE TABLE avatars (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    CONSTRAINT avatars_name_length CHECK (char_length(name) BETWEEN 1 AND 64)
);
CREATE INDEX avatars_user_idx ON avatars (user_id) WHERE deleted_at IS NULL;

ALTER TABLE users ADD CONSTRAINT users_draft_avatar_fkey
    FOREIGN KEY (draft_avatar_id) REFERENCES avatars (id) ON DELETE SET NULL;

CREATE TABLE reference_photos (
    id                       bigserial PRIMARY KEY,
    avatar_id                bigint NOT NULL REFERENCES avatars (id) ON DELETE CASCADE,
    storage_key              text NOT NULL,
    sha256                   text NOT NULL,
    width                    integer NOT NULL,
    height                   integer NOT NULL,
    size_bytes               integer NOT NULL,
    content_type             text NOT NULL,
    source                   text NOT NULL DEFAULT 'upload',
    telegram_file_unique_id  text,
    created_at               timestamptz NOT NULL DEFAULT now(),
    -- the same photo uploaded twice (or sent twice to the bot) is one reference
    CONSTRAINT reference_photos_avatar_sha_key UNIQUE (avatar_id, sha256),
    CONSTRAINT reference_photos_source_check CHECK (source IN ('upload', 'telegram'))
);

CREATE TABLE payments (
    id                   bigserial PRIMARY KEY,
    user_id              bigint NOT NULL REFERENCES users (id),
    avatar_id            bigint NOT NULL REFERENCES avatars (id),
    style_id             text NOT NULL,
    tier                 text NOT NULL,
    photo_count          integer NOT NULL CHECK (photo_count > 0),
    amount_kopecks       integer NOT NULL CHECK (amount_kopecks > 0),
    order_id             text NOT NULL,
    provider_payment_id  text,
    payment_url          text,
    status               text NOT NULL DEFAULT 'new',
    consumed             boolean NOT NULL DEFAULT false,
    consumed_at          timestamptz,
    refunded_kopecks     integer NOT NULL DEFAULT 0,
    expires_at           timestamptz NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payments_order_id_key UNIQUE (order_id),
    CONSTRAINT payments_provider_payment_id_key UNIQUE (provider_payment_id),
    CONSTRAINT payments_status_check CHECK (status IN
        ('new', 'authorized', 'confirmed', 'partially_refunded', 'refunded', 'canceled', 'expired', 'rejected')),
    -- I7: refunds never exceed what was paid
    CONSTRAINT payments_refund_within_amount CHECK (refunded_kopecks BETWEEN 0 AND amount_kopecks)
);
CREATE INDEX payments_user_idx ON payments (user_id, created_at DESC);
CREATE INDEX payments_open_idx ON payments (created_at) WHERE status IN ('new', 'authorized');

CREATE TABLE payment_events (
    id                   bigserial PRIMARY KEY,
    provider_payment_id  text NOT NULL,
    status               text NOT NULL,
    order_id             text NOT NULL,
    amount_kopecks       integer NOT NULL,
    raw                  jsonb NOT NULL,
    received_at          timestamptz NOT NULL DEFAULT now(),
    -- I5: T-Bank re-sends notifications; one (PaymentId, Status) is recorded and acted on once
    CONSTRAINT payment_events_payment_status_key UNIQUE (provider_payment_id, status)
);

CREATE TABLE referral_earnings (
    id                bigserial PRIMARY KEY,
    payment_id        bigint NOT NULL REFERENCES payments (id),
    referrer_user_id  bigint NOT NULL REFERENCES users (id),
    referred_user_id  bigint NOT NULL REFERENCES users (id),
    amount_kopecks    integer NOT NULL CHECK (amount_kopecks >= 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    -- I7: a referral is credited once per payment, however often consume_payment runs
    CONSTRAINT referral_earnings_payment_key UNIQUE (payment_id)
);
CREATE INDEX referral_earnings_referrer_idx ON referral_earnings (referrer_user_id);
