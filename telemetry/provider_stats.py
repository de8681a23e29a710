"""Provider call statistics the admin shows for the whole fleet: per provider and operation, over the last
minutes, how many calls, how many failed and the latency percentiles — across every web, worker and scheduler
process (Prometheus has the same per process; the admin page must not need Prometheus to answer).

Each process counts its calls in memory (``record``: a lock and a few additions, nothing on the network) and a
daemon thread adds the counts to Redis every ``FLUSH_EVERY_S``: one hash per minute, ``<ns>:provider_stats:<minute>``,
fields ``<provider>|<op>|n``, ``…|err`` and ``…|b<i>`` (a histogram over ``BUCKETS_MS``), kept ``KEEP_S``. Redis
being away loses those seconds' counts, never a call. ``summary`` reads the last minutes back (one HGETALL per
minute) and gives each percentile as the upper edge of the bucket it falls in: "p95 ≤ 250 ms"."""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import defaultdict
from typing import Any

import redis

logger = logging.getLogger("telemetry.provider_stats")

BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000)  # then "slower"
FLUSH_EVERY_S = 2.0
KEEP_S = 2 * 3600

_lock = threading.Lock()
_counts: dict[str, int] = defaultdict(int)
_target: tuple[redis.Redis, str] | None = None
_flusher: threading.Thread | None = None


def _minute_key(namespace: str, minute: int) -> str:
    return f"{namespace}:provider_stats:{minute}"


def bucket_of(latency_ms: float) -> int:
    for index, edge in enumerate(BUCKETS_MS):
        if latency_ms <= edge:
            return index
    return len(BUCKETS_MS)


def record(provider: str, op: str, latency_ms: float, *, failed: bool) -> None:
    """Count one call (``failed``: no usable answer — a transport error, a 5xx or a 429)."""
    prefix = f"{provider}|{op}|"
    with _lock:
        _counts[prefix + "n"] += 1
        _counts[prefix + f"b{bucket_of(latency_ms)}"] += 1
        if failed:
            _counts[prefix + "err"] += 1


def start(client: redis.Redis, *, namespace: str) -> None:
    """Flush this process's counts to ``client`` under ``namespace`` from now on (the last call wins)."""
    global _target, _flusher
    flush()  # what was counted for the previous target goes there, not here
    _target = (client, namespace)
    if _flusher is None or not _flusher.is_alive():
        _flusher = threading.Thread(target=_flush_forever, name="provider-stats", daemon=True)
        _flusher.start()


def flush() -> bool:
    """Add the counts so far to Redis; False (the counts dropped) when Redis did not take them."""
    target = _target
    with _lock:
        counts = dict(_counts)
        _counts.clear()
    if not counts or target is None:
        return True
    client, namespace = target
    key = _minute_key(namespace, int(time.time() // 60))
    try:
        with client.pipeline(transaction=False) as pipe:
            for field, value in counts.items():
                pipe.hincrby(key, field, value)
            pipe.expire(key, KEEP_S)
            pipe.execute()
    except redis.RedisError as exc:
        logger.debug("provider stats not flushed: %s", type(exc).__name__)
        return False
    return True


def _flush_forever() -> None:
    """The flusher never dies: a client closed under it (a shutdown, a test's teardown) makes redis-py raise
    AttributeError or ValueError, not RedisError, and one bad minute must not end the counts for good."""
    while True:
        time.sleep(FLUSH_EVERY_S)
        try:
            flush()
        except Exception as exc:  # noqa: BLE001 - see the docstring
            logger.debug("provider stats not flushed: %s", type(exc).__name__)


atexit.register(flush)


def summary(client: redis.Redis, *, namespace: str, minutes: int = 15) -> list[dict[str, Any]]:
    """Per provider and operation over the last ``minutes``: calls, errors, error rate and p50/p95/p99 (ms, the
    upper edge of the bucket; None above the last edge), busiest first."""
    now = int(time.time() // 60)
    with client.pipeline(transaction=False) as pipe:
        for minute in range(now - minutes + 1, now + 1):
            pipe.hgetall(_minute_key(namespace, minute))
        hashes = pipe.execute()
    totals: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for fields in hashes:
        for raw_field, raw_value in fields.items():
            provider, op, name = raw_field.decode().split("|", 2)
            totals[(provider, op)][name] += int(raw_value)
    rows = []
    for (provider, op), count in totals.items():
        calls = count.get("n", 0)
        histogram = [count.get(f"b{i}", 0) for i in range(len(BUCKETS_MS) + 1)]
        rows.append({"provider": provider, "op": op, "calls": calls, "errors": count.get("err", 0),
                     "error_rate": round(count.get("err", 0) / calls, 4) if calls else 0.0,
                     **{f"p{q}_ms": _quantile(histogram, q / 100) for q in (50, 95, 99)}})
    return sorted(rows, key=lambda r: (-r["calls"], r["provider"], r["op"]))


def _quantile(histogram: list[int], q: float) -> int | None:
    total = sum(histogram)
    if not total:
        return None
    rank, seen = q * total, 0
    for index, n in enumerate(histogram):
        seen += n
        if seen >= rank:
            return BUCKETS_MS[index] if index < len(BUCKETS_MS) else None
    return None
