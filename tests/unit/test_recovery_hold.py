"""The scheduler recovers no claim right after it was itself not running: every beat looks old then."""

from __future__ import annotations

from workers.scheduler import ROUND_LATE_S, RecoveryHold


def test_recovery_runs_while_the_rounds_come_on_time() -> None:
    hold = RecoveryHold(hold_s=6)
    now = 100.0
    for _ in range(50):
        assert hold.begin(now)
        now += 1.5  # a slow round's own work (a relay) is not a gap
        hold.end(now)
        now += 0.2


def test_recovery_waits_a_silence_period_after_the_process_was_not_running() -> None:
    hold = RecoveryHold(hold_s=6)
    assert hold.begin(100.0)
    hold.end(100.1)
    now = 100.1 + ROUND_LATE_S + 10  # the wait lasted 12 s: paused, stopped or stalled
    allowed = []
    for _ in range(40):  # then rounds every 0.2 s again
        allowed.append((round(now - 112.1, 1), hold.begin(now)))
        hold.end(now)
        now += 0.2
    assert [at for at, may in allowed if not may] == [round(0.2 * k, 1) for k in range(30)]  # 0 … 5.8 s held
    assert all(may for at, may in allowed if at >= 6.0)
