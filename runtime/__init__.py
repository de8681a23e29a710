"""The process's services (settings, pool, Redis, gateways), built once after the process boots.

The worker middleware installs them on boot; tests install their own. Actors read them with ``current()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from psycopg_pool import ConnectionPool

from db.pool import open_pool
from gateways.files import FileFetcher
from gateways.kie import KieClient
from gateways.storage import Storage
from gateways.tbank import TBankClient
from gateways.telegram import TelegramClient
from runtime.limits import KieKeyRests
from runtime.outages import OutageGuard
from settings import Settings
from telemetry import provider_stats


@dataclass
class Services:
    settings: Settings
    pool: ConnectionPool
    redis: redis.Redis
    kie: KieClient
    tbank: TBankClient
    telegram: TelegramClient
    storage: Storage
    files: FileFetcher

    def close(self) -> None:
        self.pool.close()
        self.redis.close()


_current: Services | None = None


def build(settings: Settings, *, pool_size: int = 10, pool_timeout_s: float = 10.0) -> Services:
    """Open the pool and the clients for ``settings``; Kie, S3 and result downloads behind an ``OutageGuard``
    (``runtime/outages.py``: a provider that is down makes work wait instead of failing). ``pool_timeout_s``: how
    long a caller waits for a working connection (the web waits less: a person is waiting, and a 503 with
    Retry-After is better than a hung request)."""
    store = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=3)
    ns = settings.broker_namespace
    provider_stats.start(store, namespace=ns)  # the admin's per-provider latency and errors, fleet-wide

    def guarded(provider: str, client: Any) -> Any:
        return OutageGuard(provider, client, store, ns)

    return Services(
        settings=settings,
        pool=open_pool(settings.database_url, max_size=pool_size, timeout_s=pool_timeout_s),
        redis=store,
        kie=guarded("kie", KieKeyRests(KieClient(settings.kie_base_url, settings.kie_model), store,
                                       api_keys=settings.kie_api_keys, namespace=ns)),
        tbank=TBankClient(settings.tbank_base_url, settings.tbank_terminal_key, settings.tbank_password),
        telegram=TelegramClient(settings.telegram_api_base, settings.telegram_bot_token,
                                https_only=not settings.sandbox_mode),
        storage=guarded("storage", Storage.from_settings(settings)),
        files=guarded("files", FileFetcher()),
    )


def install(services: Services | None) -> None:
    global _current
    _current = services


def installed() -> bool:
    return _current is not None


def current() -> Services:
    if _current is None:
        raise RuntimeError("services are not installed: the worker has not booted")
    return _current
