-- Generation: jobs, provider tasks (one row per attempt), stored photos, delivery chunks, refunds.

CREATE TABLE generation_jobs (
    id                 bigserial PRIMARY KEY,
    payment_id         bigint REFERENCES payments (id),
    parent_job_id      bigint REFERENCES generation_jobs (id),
    kind               text NOT NULL DEFAULT 'purchase',
    user_id            bigint NOT NULL REFERENCES users (id),
    avatar_id          bigint NOT NULL REFERENCES avatars (id),
    style_id           text NOT NULL,
    tier               text NOT NULL,
    total_photos       integer NOT NULL CHECK (total_photos > 0),
    photos_stored      integer NOT NULL DEFAULT 0,
    photos_failed      integer NOT NULL DEFAULT 0,
    regenerations_used integer NOT NULL DEFAULT 0,
    status             text NOT NULL DEFAULT 'queued',
    correlation_id     text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    generating_at      timestamptz,
    delivering_at      timestamptz,
    finished_at        timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    -- I1: one payment -> at most one generation job, however many requests race (regenerations have no payment)
    CONSTRAINT generation_jobs_payment_id_key UNIQUE (payment_id),
    CONSTRAINT generation_jobs_kind_check CHECK (kind IN ('purchase', 'regeneration')),
    CONSTRAINT generation_jobs_payment_for_purchase CHECK ((kind = 'purchase') = (payment_id IS NOT NULL)),
    CONSTRAINT generation_jobs_status_check CHECK (status IN
        ('queued', 'generating', 'delivering', 'delivered', 'delivered_partial', 'failed')),
    -- I2: never more photos than ordered
    CONSTRAINT generation_jobs_progress_bounds CHECK (photos_stored + photos_failed <= total_photos)
);
CREATE INDEX generation_jobs_user_idx ON generation_jobs (user_id, created_at DESC);
CREATE INDEX generation_jobs_open_idx ON generation_jobs (updated_at)
    WHERE status IN ('queued', 'generating', 'delivering');

CREATE TABLE generation_tasks (
    id             bigserial PRIMARY KEY,
    job_id         bigint NOT NULL REFERENCES generation_jobs (id),
    prompt_index   integer NOT NULL CHECK (prompt_index >= 0),
    attempt        integer NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    status         text NOT NULL DEFAULT 'pending',
    prompt         text NOT NULL,
    api_key_index  integer,
    kie_task_id    text,
    result_url     text,
    fail_code      text,
    fail_msg       text,
    poll_count     integer NOT NULL DEFAULT 0,
    submitting_at  timestamptz,
    submitted_at   timestamptz,
    finished_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    -- a photo slot is retried as a new attempt; the same attempt is never created twice
    CONSTRAINT generation_tasks_job_index_attempt_key UNIQUE (job_id, prompt_index, attempt),
    CONSTRAINT generation_tasks_kie_task_id_key UNIQUE (kie_task_id),
    CONSTRAINT generation_tasks_status_check CHECK (status IN
        ('pending', 'submitting', 'submitted', 'succeeded', 'stored', 'failed', 'given_up'))
);
CREATE INDEX generation_tasks_pending_idx ON generation_tasks (created_at) WHERE status = 'pending';
CREATE INDEX generation_tasks_active_idx ON generation_tasks (updated_at)
    WHERE status IN ('submitting', 'submitted', 'succeeded');

CREATE TABLE generated_photos (
    id            bigserial PRIMARY KEY,
    job_id        bigint NOT NULL REFERENCES generation_jobs (id),
    prompt_index  integer NOT NULL,
    task_id       bigint NOT NULL REFERENCES generation_tasks (id),
    storage_key   text NOT NULL,
    sha256        text NOT NULL,
    width         integer NOT NULL,
    height        integer NOT NULL,
    size_bytes    integer NOT NULL,
    content_type  text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    -- I2: one photo per prompt slot of a job; a duplicate store of the same result is refused here
    CONSTRAINT generated_photos_job_index_key UNIQUE (job_id, prompt_index)
);

CREATE TABLE deliveries (
    id                    bigserial PRIMARY KEY,
    job_id                bigint NOT NULL REFERENCES generation_jobs (id),
    chunk                 integer NOT NULL,
    kind                  text NOT NULL,
    photo_ids             bigint[] NOT NULL DEFAULT '{}',
    status                text NOT NULL DEFAULT 'pending',
    telegram_message_ids  bigint[] NOT NULL DEFAULT '{}',
    attempts              integer NOT NULL DEFAULT 0,
    last_error            text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    sent_at               timestamptz,
    -- a retried delivery never re-sends a chunk that was sent
    CONSTRAINT deliveries_job_chunk_key UNIQUE (job_id, chunk),
    CONSTRAINT deliveries_kind_check CHECK (kind IN ('album', 'photo', 'summary', 'notice')),
    CONSTRAINT deliveries_status_check CHECK (status IN ('pending', 'sending', 'sent', 'blocked', 'failed'))
);

CREATE TABLE refunds (
    id                   bigserial PRIMARY KEY,
    payment_id           bigint NOT NULL REFERENCES payments (id),
    job_id               bigint REFERENCES generation_jobs (id),
    amount_kopecks       integer NOT NULL CHECK (amount_kopecks > 0),
    photos_refunded      integer NOT NULL DEFAULT 0,
    reason               text NOT NULL,
    external_request_id  text NOT NULL,
    status               text NOT NULL DEFAULT 'pending',
    provider_status      text,
    last_error           text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    completed_at         timestamptz,
    -- the refund's idempotency key at T-Bank is also ours: one refund per key
    CONSTRAINT refunds_external_request_id_key UNIQUE (external_request_id),
    CONSTRAINT refunds_status_check CHECK (status IN ('pending', 'succeeded', 'failed'))
);
CREATE INDEX refunds_payment_idx ON refunds (payment_id);
