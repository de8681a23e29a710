from __future__ import annotations

import random

from rules.backoff import poll_delay_ms, retry_delay_ms


def test_polling_is_fast_at_first_then_slower_and_capped() -> None:
    random.seed(7)
    delays = [poll_delay_ms(n) for n in range(12)]
    assert 1800 <= delays[0] <= 2200
    assert all(later >= earlier * 0.8 for earlier, later in zip(delays, delays[1:], strict=False))
    assert max(delays) <= 33000 and delays[-1] >= 27000


def test_retry_backoff_grows_and_a_providers_retry_after_wins() -> None:
    random.seed(3)
    assert all(retry_delay_ms(0, min_ms=1000, max_ms=60000) <= 1000 for _ in range(50))
    assert all(retry_delay_ms(5, min_ms=1000, max_ms=60000) >= 16000 for _ in range(50))
    assert all(retry_delay_ms(30, min_ms=1000, max_ms=60000) <= 60000 for _ in range(50))
    assert 7000 <= retry_delay_ms(0, min_ms=1000, max_ms=60000, retry_after_s=7) <= 7250


def test_the_first_poll_waits_for_nine_in_ten_of_kies_recent_tasks() -> None:
    from rules.backoff import FIRST_POLL_CAP_MS, LEARN_AFTER_TASKS, first_poll_delay_ms

    assert first_poll_delay_ms(3000, recent_tasks=LEARN_AFTER_TASKS, recent_p90_s=12.5) == 12_500
    assert first_poll_delay_ms(3000, recent_tasks=LEARN_AFTER_TASKS, recent_p90_s=1.2) == 3000  # never sooner
    assert first_poll_delay_ms(3000, recent_tasks=500, recent_p90_s=400.0) == FIRST_POLL_CAP_MS  # nor later
    # too few recent tasks to tell, or none: KIE_FIRST_POLL_MS
    assert first_poll_delay_ms(3000, recent_tasks=LEARN_AFTER_TASKS - 1, recent_p90_s=12.5) == 3000
    assert first_poll_delay_ms(3000, recent_tasks=0, recent_p90_s=None) == 3000
