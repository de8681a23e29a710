"""A hanging Redis does not stall the API (issue 10, item 8): with the limiter's Redis paused (SIGSTOP of a
redis-server of this test's own, never the shared one), GET /api/v1/catalog keeps answering fast — the limiter
gives up after ~150 ms once, then skips Redis while its breaker is open — and it is limited again once Redis is
back."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from runtime import limits
from runtime.limits import API_LIMIT_TIMEOUT_S, BREAKER_OPEN_S, ApiLimit
from tests.conftest import BROKER_NAMESPACE as NAMESPACE
from tests.conftest import free_port, tma_header
from web import create_app


@pytest.fixture
def paused_redis() -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    probe = redis.Redis(port=port)
    for _ in range(100):
        try:
            probe.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        proc.wait(timeout=10)


def test_catalog_stays_fast_while_the_limiters_redis_hangs(settings, services, broker, paused_redis) -> None:
    url, proc = paused_redis
    hanging = dataclasses.replace(services, redis=redis.Redis.from_url(url, socket_timeout=5,
                                                                      socket_connect_timeout=3))
    app = create_app(settings, services=hanging, broker=broker)
    app.config["API_RATE_LIMIT"] = ApiLimit(rate_per_s=1, burst=3)
    client = app.test_client()
    headers = tma_header(settings, 8_100_001)
    assert client.get("/api/v1/catalog", headers=headers).status_code == 200  # the limiter's connection is up

    os.kill(proc.pid, signal.SIGSTOP)
    latencies = []
    for _ in range(40):
        started = time.monotonic()
        response = client.get("/api/v1/catalog", headers=headers)
        latencies.append(time.monotonic() - started)
        assert response.status_code == 200
        assert latencies[-1] < 1.0, f"a request took {latencies[-1]:.2f} s while Redis hung"
    print(f"max {max(latencies) * 1000:.0f} ms, median {sorted(latencies)[20] * 1000:.1f} ms over 40 requests")
    assert max(latencies) < API_LIMIT_TIMEOUT_S + 0.35
    assert sum(latencies) < 2.0  # one request waited for the timeout; the others skipped Redis

    os.kill(proc.pid, signal.SIGCONT)
    time.sleep(BREAKER_OPEN_S + 0.2)
    statuses = [client.get("/api/v1/catalog", headers=headers).status_code for _ in range(6)]
    assert 429 in statuses  # the limit holds again once Redis answers


def test_a_failed_limiter_call_leaves_the_connections_other_threads_are_using(redis_client) -> None:
    """The breaker drops idle connections, never one another request is reading on (closing it under the reader
    turned that request's answer into a 500)."""
    twin = limits._fail_fast_for(redis_client)
    pool = twin.client.connection_pool
    busy = pool.get_connection()  # another request's connection, mid-command
    busy.connect()
    subject = f"wrong-type-{time.monotonic_ns()}"
    key = f"{NAMESPACE}:limit:api:{subject}"
    redis_client.rpush(key, "x")  # the bucket's key holds a list: the script fails, as a broken Redis would
    try:
        assert limits.take_api_request(redis_client, subject, ApiLimit(), namespace=NAMESPACE) == 0.0
        assert time.monotonic() < twin.open_until  # the breaker opened
        assert busy._sock is not None, "a connection in use was closed under its reader"
    finally:
        twin.open_until = 0.0
        pool.release(busy)
        redis_client.delete(key)
