"""The bench's own arithmetic: the Kie limit's floor, budget utilisation, verdicts, percentiles and the Telegram
flood limit's earliest album time (scenarios.bench_common, scenarios.bench_records)."""

from __future__ import annotations

from scenarios.bench_common import kie_floor_s, kie_utilization, percentile, verdict
from scenarios.bench_records import JobRecord, chunk_forced_end


def test_the_floor_is_one_window_per_batch_after_the_first() -> None:
    assert kie_floor_s(23, 20, 10.0) == 10.0
    assert kie_floor_s(20, 20, 10.0) == 0.0
    assert kie_floor_s(41, 20, 10.0) == 20.0
    assert kie_floor_s(23, 20, 10.0, accounts=2) == 0.0
    assert kie_floor_s(0, 20, 10.0) == 0.0


def test_utilization_is_the_sustained_share_after_the_first_burst() -> None:
    steady = [i * 500 for i in range(61)]  # 2 per second for 30 s: exactly 20 / 10 s
    assert kie_utilization(steady, 20, 10.0) == round(41 / 60, 3)  # the first 20 are not a burst here
    bursts = [k * 11_000 for k in range(6) for _ in range(20)]  # 20 at once every 11 s: 20 / 11 s sustained
    assert kie_utilization(bursts, 20, 10.0) == round(100 / (20 * 5.5), 3)
    assert kie_utilization([0] * 20, 20, 10.0) is None


def test_verdict_says_by_how_much_a_target_is_missed() -> None:
    assert verdict(13.0, 10.5, "<=") == {"met": False, "miss_by": 2.5}
    assert verdict(0.97, 0.95, ">=") == {"met": True, "miss_by": None}
    assert verdict(None, 1, "<=") == {"met": None, "miss_by": None}
    assert verdict(3, None, "") == {"met": None, "miss_by": None}


def test_percentile_is_nearest_rank() -> None:
    samples = [float(i) for i in range(1, 101)]
    assert percentile(samples, 0.5) == 50.0
    assert percentile(samples, 0.99) == 99.0
    assert percentile([], 0.5) is None


def test_the_flood_limit_delays_an_album_beyond_the_burst() -> None:
    job = JobRecord(1, 1, "premium", "delivered", 23, 0.0, 0.0, None)
    job.photos = {i: 1.0 for i in range(1, 21)} | {21: 2.0, 22: 2.0, 23: 2.0}
    job.chunks = [{"chunk": 1, "kind": "album", "photo_ids": list(range(1, 11)), "sent_at": 1.1},
                  {"chunk": 2, "kind": "album", "photo_ids": list(range(11, 21)), "sent_at": 1.2},
                  {"chunk": 3, "kind": "album", "photo_ids": [21, 22, 23], "sent_at": 5.5}]
    # 20 tokens spent at t=1; 3 more at 1/s: the earliest is t=4 (refilled from t=1)
    assert chunk_forced_end(job, 1.0, 20) == 4.0
    assert chunk_forced_end(job, 100.0, 20) == 2.0
