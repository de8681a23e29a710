"""Retry and polling schedules."""

from __future__ import annotations

import random

MAX_TASK_ATTEMPTS = 3  # a photo slot is tried as at most three provider tasks


def poll_delay_ms(poll_count: int, *, first_ms: int = 2000, cap_ms: int = 30000) -> int:
    """Adaptive poll backoff: fast at first (2 s), ×1.5 per poll, capped at 30 s, with ±10 % jitter."""
    base = min(cap_ms, first_ms * (1.5 ** max(0, poll_count)))
    return int(base * random.uniform(0.9, 1.1))


def retry_delay_ms(retries: int, *, min_ms: int, max_ms: int, retry_after_s: float | None = None) -> int:
    """Exponential backoff for a transient failure; a provider's retry_after wins when it is given."""
    if retry_after_s is not None:
        return int(retry_after_s * 1000) + random.randint(0, 250)
    base = min(max_ms, min_ms * (2 ** max(0, retries)))
    return int(random.uniform(base / 2, base))
