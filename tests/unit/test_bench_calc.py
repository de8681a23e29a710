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


def test_the_record_info_floor_serves_callbacks_in_arrival_order_at_the_limit() -> None:
    from scenarios.bench_budget import record_info_floor_s

    waits = record_info_floor_s([0.0] * 20, 10, 1.1)  # 20 callbacks at once, 10 calls per 1.1 s on one key
    assert waits[:10] == [0.0] * 10 and all(abs(w - 1.1) < 1e-9 for w in waits[10:])
    assert record_info_floor_s([0.0, 2.0, 4.0], 1, 1.0) == [0.0, 0.0, 0.0]  # spread out: nobody waits
    assert record_info_floor_s([0.0, 0.5], 1, 1.0) == [0.0, 0.5]


def test_people_reads_are_split_at_the_last_checkout() -> None:
    from scenarios.bench_buyers import Buyer
    from scenarios.bench_people import phases_text, read_phases

    buyer = Buyer(1, "starter")
    buyer.calls = [("GET /api/v1/avatars", 0.4, 200, 100.0), ("GET /api/v1/catalog", 0.5, 200, 104.0),
                   ("POST /api/v1/payments", 1.0, 200, 106.0), ("GET /api/v1/payments/<id>", 0.3, 200, 106.5),
                   ("GET /api/v1/generations/<id>", 0.01, 200, 107.5),
                   ("GET /api/v1/generations/<id>", 0.02, 200, 109.0)]
    phases = read_phases([buyer])
    assert phases["burst_s"] == 7.0  # from the first call to the checkout's answer (106 + 1 s)
    assert phases["opening"] == {"n": 2, "p50_ms": 400.0, "p99_ms": 500.0}  # the first 5 s
    assert phases["burst"] == {"n": 1, "p50_ms": 300.0, "p99_ms": 300.0}
    assert phases["after"] == {"n": 2, "p50_ms": 10.0, "p99_ms": 20.0}
    assert "opening 2 reads, p50 400.0 / p99 500.0 ms; burst 1 reads" in phases_text(phases)


def test_a_completion_is_paid_to_the_last_album_sent() -> None:
    from scenarios.bench_records import completion

    chunks = [{"chunk": 0, "kind": "album", "photo_ids": [1], "sent_at": 110.5, "created_at": 110.0},
              {"chunk": 1, "kind": "album", "photo_ids": [2], "sent_at": 112.0, "created_at": 111.0},
              {"chunk": 2, "kind": "text", "photo_ids": [], "sent_at": 130.0, "created_at": 129.0}]
    job = JobRecord(1, 2, "standard", "delivered", 15, 100.0, 99.0, 120.0, chunks=chunks)
    assert completion(job) == {"job_id": 1, "tier": "standard", "paid_to_album_s": 12.0}
    job.paid_at = None
    assert completion(job) is None
