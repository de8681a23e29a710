"""Readiness (issue 11, "Health"): ``/health/ready`` reports every part with status and latency; 503 when any
required part — the database, Redis, storage — is down (each taken down for real: a stopped PostgreSQL of the
test's own, nothing listening where Redis or S3 should be); a provider being down is reported but leaves the web
ready, and a provider is asked at most once per cache period; worker processes appear by their heartbeat."""

from __future__ import annotations

import dataclasses

import dramatiq
import redis

import runtime
from db.migrate import migrate_up
from runtime import Services
from sandbox.client import SandboxClient
from settings import Settings
from tests.conftest import free_port
from tests.own_postgres import OwnPostgres
from web import create_app


def _ready(settings: Settings, services: Services, broker: dramatiq.Broker) -> tuple[int, dict]:
    response = create_app(settings, services=services, broker=broker).test_client().get("/health/ready")
    return response.status_code, response.get_json()


def test_every_part_ok_and_the_running_worker_is_listed(settings, services, broker, worker) -> None:
    code, body = _ready(settings, services, broker)

    assert code == 200 and body["status"] == "ready", body
    assert set(body["checks"]) == {"database", "redis", "storage", "kie", "tbank", "telegram"}
    for name, check in body["checks"].items():
        assert check["status"] == "ok", (name, check)
        assert check["latency_ms"] >= 0 and check["required"] == (name in ("database", "redis", "storage"))
    assert body["checks"]["kie"]["detail"]["credits"][0] > 0
    assert body["checks"]["telegram"]["detail"]["username"]
    assert body["processes"]["worker_hosts"], "the in-process worker's heartbeat is missing"
    assert body["processes"]["scheduler"] is not None, "the scheduler's heartbeat is missing"


def test_redis_down_is_503(settings, services, broker) -> None:
    nowhere = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1, socket_timeout=1)
    code, body = _ready(settings, dataclasses.replace(services, redis=nowhere), broker)
    assert code == 503 and body["checks"]["redis"]["status"] == "error", body
    assert body["checks"]["database"]["status"] == "ok"


def test_storage_down_is_503(settings, services, broker) -> None:
    ours = settings.with_overrides(s3_endpoint_url=f"http://127.0.0.1:{free_port()}")
    code, body = _ready(ours, dataclasses.replace(services, settings=ours), broker)
    assert code == 503 and body["checks"]["storage"]["status"] == "error", body
    assert body["checks"]["redis"]["status"] == "ok"


def test_database_down_is_503(own_postgres: OwnPostgres, settings, broker) -> None:
    migrate_up(own_postgres.url)
    ours = settings.with_overrides(database_url=own_postgres.url)
    services = runtime.build(ours, pool_size=2, pool_timeout_s=2.0)
    services.storage.ensure_bucket()
    try:
        assert _ready(ours, services, broker)[0] == 200
        own_postgres.stop()
        code, body = _ready(ours, services, broker)
        assert code == 503 and body["checks"]["database"]["status"] == "error", body
    finally:
        services.close()


def test_a_provider_down_is_reported_not_fatal_and_asked_once_per_period(settings, services, broker) -> None:
    fakes = SandboxClient.from_settings(settings)
    fakes.kie.fail({"method": "credit", "error_code": 500, "times": 10})
    app = create_app(settings, services=services, broker=broker).test_client()

    first = app.get("/health/ready")
    second = app.get("/health/ready")

    assert first.status_code == 200 and second.status_code == 200
    kie = first.get_json()["checks"]["kie"]
    assert kie["status"] == "error" and not kie["required"] and not kie["cached"], kie
    assert second.get_json()["checks"]["kie"]["cached"] is True
    assert fakes.kie.counts()["credit_calls"] == 1  # the second probe did not reach Kie


def test_liveness_answers_without_any_dependency(settings, services, broker) -> None:
    nowhere = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    app = create_app(settings, services=dataclasses.replace(services, redis=nowhere), broker=broker)
    assert app.test_client().get("/health/live").get_json() == {"status": "ok"}
