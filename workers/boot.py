"""The one boot sequence of every process role: settings, logging, the broker set, then the actors declared.

The order matters: an actor module declares its actors on whatever broker is set when it is imported, so the
broker comes first. Each role then opens what it needs: the worker's services open in each worker process after
it forks (``ServicesLifecycle``); the web and the scheduler open theirs here.

- ``web.wsgi.build`` → ``boot("web", os.environ)``
- ``workers.main`` (``dramatiq workers.main``) → ``boot("worker", os.environ)``
- ``workers.scheduler.main`` → ``boot("scheduler", os.environ)``
- the tests → ``boot_broker(settings, role="test", namespace=...)`` from ``pytest_configure``
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import dramatiq

import actors
import runtime
from settings import Settings
from telemetry import logs, sentry
from workers.broker import build_broker

POOL_SIZES = {"web": 10, "scheduler": 3}  # the worker's pool opens per process, sized by its threads
WEB_POOL_TIMEOUT_S = 4.0  # a person is waiting: past this, 503 DATABASE_UNAVAILABLE with Retry-After


@dataclass(frozen=True)
class Booted:
    settings: Settings
    broker: dramatiq.Broker
    services: runtime.Services | None  # None for the worker role: its processes open their own after forking


def boot_broker(settings: Settings, *, role: str, namespace: str | None = None) -> dramatiq.Broker:
    """Build and set the broker for ``role``, then declare the actors on it. Only the worker's broker manages
    services (opens them in each worker process); the web, the scheduler and the tests manage their own."""
    broker = build_broker(settings, namespace=namespace or settings.broker_namespace,
                          manage_services=role == "worker")
    dramatiq.set_broker(broker)
    actors.load()
    return broker


def boot(role: str, environ: Mapping[str, str]) -> Booted:
    """Boot a process of ``role`` ("web", "worker" or "scheduler") from its environment."""
    if role not in ("web", "worker", "scheduler"):
        raise ValueError(f"unknown process role {role!r}")
    settings = Settings.from_env(environ)
    settings.check_for_production()  # no process serves on a sandbox secret outside sandbox mode
    logs.configure(environ.get("LOG_LEVEL", "INFO"))
    sentry.start(settings.sentry_dsn, role=role, environment="sandbox" if settings.sandbox_mode else "production")
    broker = boot_broker(settings, role=role)
    services = None
    if role != "worker":
        pool_size = int(environ.get(f"{role.upper()}_POOL_SIZE", POOL_SIZES[role]))
        # The web waits at most WEB_POOL_TIMEOUT_S for a connection, then answers 503 DATABASE_UNAVAILABLE
        # with Retry-After (web/errors.py); the scheduler waits as long as a worker would.
        services = runtime.build(settings, pool_size=pool_size,
                                 pool_timeout_s=WEB_POOL_TIMEOUT_S if role == "web" else 10.0)
    return Booted(settings, broker, services)
