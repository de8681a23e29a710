"""Fixtures on the real services: a fresh Postgres database per test (copied from a template the migrations
built once), a flushed Redis database, the sandbox fakes on ephemeral loopback ports, the services the actors
use, and an in-process Dramatiq worker. Only third parties are faked, and at the wire."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import dramatiq
import psycopg
import pytest
import redis
import requests
from flask import Flask
from flask.testing import FlaskClient
from psycopg import sql as pgsql

import runtime
from db.migrate import ensure_database, migrate_up
from gateways.initdata import sign_init_data
from sandbox.client import SandboxClient
from sandbox.runner import Sandbox, start_all
from sandbox.server import serve
from settings import Settings
from web import create_app
from workers import scheduler
from workers.boot import boot_broker

# The fleet processes tests start (deploy/launch.sh, scenarios.fleet) run at the same CPU weight as everything else:
# BATCH_NICE's default (10) is for a deployed host whose web must answer first (docs/deploy.md "Sharing a host");
# here the other pytest process is busy too, and a worker at a tenth of its weight missed a test's 60 s.
os.environ.setdefault("BATCH_NICE", "0")

PG_ADMIN = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
TEMPLATE_DB = f"pinglass_test_template_{os.getpid()}"  # per pytest process, like the namespace below
# Per pytest process, so parallel sessions on one machine never consume each other's messages or limits.
BROKER_NAMESPACE = f"pinglass-test-{os.getpid()}"


def _db_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def pytest_configure(config: pytest.Config) -> None:
    """Set the test broker before any test module is collected: a test module that imports an actor would
    otherwise declare it on Dramatiq's default broker."""
    if os.environ.get("PINGLASS_TEST_LOGS"):  # JSON logs of the fleet on stderr, for debugging a test
        from telemetry import logs

        logs.configure("INFO")
    boot_broker(Settings(redis_url=REDIS_TEST_URL), role="test", namespace=BROKER_NAMESPACE)


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    """A template database with every migration applied, built once per test session and dropped after."""
    _drop_stale_test_databases()
    ensure_database(_db_url(TEMPLATE_DB))
    migrate_up(_db_url(TEMPLATE_DB))
    yield TEMPLATE_DB
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(TEMPLATE_DB)))


def _drop_stale_test_databases() -> None:
    """Test databases left by a killed session (its pid is gone) are dropped; live sessions' are kept."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'pinglass_test_template_%'")]
        for name in names:
            pid = int(name.rsplit("_", 1)[1])
            if pid != os.getpid() and not os.path.exists(f"/proc/{pid}"):
                conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name)))


@pytest.fixture
def database_url(template_db: str) -> Iterator[str]:
    """A fresh database for this test, copied from the template (fast: a file copy, no migrations)."""
    name = f"pinglass_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(pgsql.SQL("CREATE DATABASE {} TEMPLATE {}").format(pgsql.Identifier(name),
                                                                         pgsql.Identifier(template_db)))
    yield _db_url(name)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name)))


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_TEST_URL)
    _forget_namespace(client)
    yield client
    _forget_namespace(client)
    client.close()


def _forget_namespace(client: redis.Redis) -> None:
    for key in client.scan_iter(match=f"{BROKER_NAMESPACE}*", count=1000):
        client.delete(key)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """Every fake, once per session, on ephemeral loopback ports (reset before each test that uses it)."""
    box = start_all(Settings(), {}, ephemeral=True)
    yield box
    box.stop()


def reset_sandbox(box: Sandbox) -> None:
    urls = box.settings_overrides()
    SandboxClient(kie=urls["kie_base_url"], tbank=urls["tbank_base_url"],
                  telegram=urls["telegram_api_base"]).reset_all()
    requests.post(f"{urls['s3_endpoint_url']}/moto-api/reset", timeout=5).raise_for_status()


@pytest.fixture
def settings(database_url: str, sandbox: Sandbox, redis_client: redis.Redis) -> Settings:
    """Settings of this test: its own database, the test Redis, the sandbox, and fast pipeline timing."""
    reset_sandbox(sandbox)
    port = free_port()
    return Settings(sandbox_mode=True, database_url=database_url, redis_url=REDIS_TEST_URL, kie_first_poll_ms=500,
                    sweep_idle_s=5, job_deadline_s=120, poll_give_up_s=60, web_port=port, kie_rate_window_s=2.0,
                    broker_namespace=BROKER_NAMESPACE,
                    public_base_url=f"http://127.0.0.1:{port}", **sandbox.settings_overrides())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def broker() -> dramatiq.Broker:
    """The test broker (Redis db 9, its own namespace), set in pytest_configure before any actor existed."""
    return dramatiq.get_broker()


@pytest.fixture
def services(settings: Settings, broker: dramatiq.Broker) -> Iterator[runtime.Services]:
    built = runtime.build(settings, pool_size=12)
    built.storage.ensure_bucket()
    runtime.install(built)
    yield built
    runtime.install(None)
    built.close()


@pytest.fixture
def worker(services: runtime.Services, broker: dramatiq.Broker) -> Iterator[dramatiq.Worker]:
    """The fleet in-process: a Dramatiq worker consuming the test queues and the scheduler (outbox relay and
    periodic messages) in a thread; both stopped, and the queues flushed, after the test."""
    broker.flush_all()
    running = dramatiq.Worker(broker, worker_threads=8, worker_timeout=100)
    running.start()
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(services.settings, stop),
                              kwargs={"relay_every_s": 0.2}, daemon=True)
    thread.start()
    yield running
    stop.set()
    thread.join(timeout=10)
    running.stop(timeout=10_000)
    broker.flush_all()


@pytest.fixture
def app(settings: Settings, services: runtime.Services, broker: dramatiq.Broker) -> Flask:
    return create_app(settings, services=services, broker=broker)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def live_web(app: Flask, settings: Settings) -> Iterator[str]:
    """The app served over real HTTP at ``settings.public_base_url`` (the fakes call it back there)."""
    handle = serve("web", app, port=settings.web_port)
    yield handle.url
    handle.stop()


def tma_header(settings: Settings, telegram_id: int, *, first_name: str = "Анна", start_param: str | None = None,
               auth_date: int | None = None) -> dict[str, str]:
    """The Authorization header a Mini App user would send (initData signed with our bot token)."""
    extra = {"start_param": start_param} if start_param else None
    init = sign_init_data({"id": telegram_id, "first_name": first_name, "username": f"user{telegram_id}",
                           "language_code": "ru"}, settings.telegram_bot_token,
                          auth_date=auth_date or int(time.time()), extra=extra)
    return {"Authorization": f"tma {init}"}
