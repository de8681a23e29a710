"""Retry and polling schedules."""

from __future__ import annotations

import random

MAX_TASK_ATTEMPTS = 3  # a photo slot is tried as at most three provider tasks


FIRST_POLL_CAP_MS = 45_000  # below the sweeper's 90 s (SWEEP_IDLE_S + 30) after which an unpolled task is re-polled
LEARN_AFTER_TASKS = 20  # fewer recent tasks than this say too little about how long Kie takes now


def first_poll_delay_ms(floor_ms: int, *, recent_tasks: int, recent_p90_s: float | None) -> int:
    """When to poll a task Kie has just accepted. Kie's callback normally says first that the task ended (its
    one-off poll confirms it); the poll chain is the safety net for a callback that never comes. So the chain
    starts when nine in ten of Kie's recent tasks had ended (``recent_p90_s`` over ``recent_tasks``), not sooner
    than ``floor_ms`` (KIE_FIRST_POLL_MS) nor later than FIRST_POLL_CAP_MS: a poll before then would mostly find
    the task still running and cost a recordInfo call of the key's 10 per second. With too few recent tasks to
    tell, ``floor_ms``."""
    if recent_tasks < LEARN_AFTER_TASKS or recent_p90_s is None:
        return floor_ms
    return int(min(FIRST_POLL_CAP_MS, max(floor_ms, recent_p90_s * 1000)))


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
