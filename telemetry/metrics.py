"""Prometheus metrics of the fleet. Label sets are bounded: provider, operation, actor, outcome — never ids."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PROVIDER_CALLS = Counter("pinglass_provider_calls_total", "Calls to outside services",
                         ["provider", "op", "outcome"])
PROVIDER_LATENCY = Histogram("pinglass_provider_latency_seconds", "Latency of calls to outside services",
                             ["provider", "op"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
MESSAGES = Counter("pinglass_messages_total", "Actor messages processed", ["actor", "outcome"])
MESSAGE_DURATION = Histogram("pinglass_message_duration_seconds", "Actor message processing time", ["actor"],
                             buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
DEAD_LETTERS = Counter("pinglass_dead_letters_total", "Messages that exhausted their retries", ["actor"])
OUTBOX_PUBLISHED = Counter("pinglass_outbox_published_total", "Outbox messages published", ["via"])
RATE_LIMIT_WAITS = Counter("pinglass_rate_limit_waits_total", "Times a limiter made work wait", ["limiter"])
JOBS_FINISHED = Counter("pinglass_jobs_finished_total", "Generation jobs that reached a terminal state", ["status"])
PHOTOS_STORED = Counter("pinglass_photos_stored_total", "Generated photos stored in our storage")
REFUNDS = Counter("pinglass_refunds_total", "Refunds made", ["kind"])
WEBHOOKS = Counter("pinglass_webhooks_total", "Webhooks received", ["provider", "outcome"])
JOB_STAGE_SECONDS = Histogram(
    "pinglass_job_stage_seconds", "Time a finished job spent in each stage (queued, generating, delivering) and in "
    "all (total), by tier", ["tier", "stage"],
    buckets=(1, 2.5, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 1800, 3600))
STORE_LAG_SECONDS = Histogram(
    "pinglass_photo_store_lag_seconds", "From Kie's success recorded to the photo in our storage and database",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300))
OUTBOX_BACKLOG = Gauge("pinglass_outbox_backlog", "Outbox rows not yet published (set by the relay)",
                       multiprocess_mode="livemax")
