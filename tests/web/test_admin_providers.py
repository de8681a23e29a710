"""Issue 11, the dashboard's provider statistics and health: calls, errors and latency percentiles per provider
operation, counted by every process (here: this one's real gateway calls to the fakes and another process's) and
read back from Redis; the readiness report on the same page."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sandbox.client import SandboxClient
from telemetry import provider_stats


@pytest.fixture
def admin(settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.admin_token}"}


def rows(client, admin) -> dict[tuple[str, str], dict]:
    body = client.get("/admin/api/providers?minutes=5", headers=admin).get_json()
    return {(r["provider"], r["op"]): r for r in body["providers"]}


def test_percentiles_come_from_the_buckets_of_every_call(client, services, admin) -> None:
    for latency in [20.0] * 90 + [300.0] * 9 + [3000.0]:
        provider_stats.record("kie", "bench_op", latency, failed=latency > 1000)

    row = rows(client, admin)[("kie", "bench_op")]

    assert (row["calls"], row["errors"], row["error_rate"]) == (100, 1, 0.01)
    assert (row["p50_ms"], row["p95_ms"], row["p99_ms"]) == (25, 500, 500)


def test_real_gateway_calls_and_another_process_are_counted(client, services, settings, admin) -> None:
    services.telegram.get_me()
    services.telegram.get_me()
    SandboxClient.from_settings(settings).telegram.fail(method="getMe", error_code=500, times=1)
    with pytest.raises(Exception):  # noqa: B017 — any TelegramError: the point is that it is counted
        services.telegram.get_me()
    code = ("import redis; from telemetry import provider_stats as p; "
            f"p.start(redis.Redis.from_url({settings.redis_url!r}), namespace={settings.broker_namespace!r}); "
            "p.record('tbank', 'GetState', 42.0, failed=False); assert p.flush()")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)

    found = rows(client, admin)

    get_me = found[("telegram", "getMe")]
    assert get_me["calls"] == 3 and get_me["errors"] == 1 and get_me["p50_ms"] is not None
    assert found[("tbank", "GetState")]["calls"] == 1 and found[("tbank", "GetState")]["p99_ms"] == 50


def test_the_dashboard_shows_health_and_providers(client, services, admin) -> None:
    provider_stats.record("s3", "put_object", 12.0, failed=False)

    page = client.get("/admin", headers=admin).get_data(as_text=True)

    assert 'id="health-database"' in page and 'id="health-kie"' in page and 'id="processes"' in page
    row = page[page.index('id="provider-s3-put_object"'):]
    assert "≤ 25 ms" in row[:600]
    assert client.get("/admin/api/providers?minutes=0", headers=admin).get_json()["error"]["code"] == \
        "INVALID_MINUTES"
