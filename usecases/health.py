"""Readiness: is this process able to serve, and how are the parts it depends on?

Every part is checked with its status and latency. The required parts — the database, Redis and photo storage —
decide readiness (without them no request can be served well). The providers (Kie with each key's credit
balance, T-Bank, Telegram's getMe) are reported but do not fail readiness: when one is down, work waits for it
(``runtime/outages.py``) and taking the web out of rotation would only stop people from seeing their orders.
Provider checks are cached for ``PROVIDER_CACHE_S`` per process, so probes every few seconds cannot hammer the
providers. The worker processes' and the scheduler's heartbeats (``runtime.heartbeats``) are listed too."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateways.errors import ProviderError
from gateways.http import HttpClient
from gateways.kie import KieClient, KieError
from gateways.storage import Storage
from gateways.tbank import TBankClient, TBankError
from gateways.telegram import TelegramClient, TelegramError
from runtime import Services, heartbeats

REQUIRED = ("database", "redis", "storage")
PROVIDER_CACHE_S = 30.0
PROBE_TIMEOUT = (2.0, 3.0)  # (connect, read) seconds: a probe answers within a few seconds whatever hangs
PROBE_PAYMENT_ID = "0"  # GetState of a payment that does not exist: T-Bank answers (with an error) if it is up


@dataclass
class Probes:
    """Short-timeout clients of the providers, one set per process, and the cache of their last answers."""

    kie: KieClient
    tbank: TBankClient
    telegram: TelegramClient
    storage: Storage
    kie_keys: tuple[str, ...]
    cache: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def for_services(cls, services: Services) -> Probes:
        s = services.settings
        return cls(
            kie=KieClient(s.kie_base_url, s.kie_model,
                          http=HttpClient("kie", s.kie_base_url, error_type=KieError, timeout=PROBE_TIMEOUT)),
            tbank=TBankClient(s.tbank_base_url, s.tbank_terminal_key, s.tbank_password,
                              http=HttpClient("tbank", s.tbank_base_url, error_type=TBankError,
                                              timeout=PROBE_TIMEOUT)),
            telegram=TelegramClient(s.telegram_api_base, s.telegram_bot_token,
                                    http=HttpClient("telegram", s.telegram_api_base, error_type=TelegramError,
                                                    timeout=PROBE_TIMEOUT)),
            storage=Storage.from_settings(s, timeout=PROBE_TIMEOUT, max_attempts=1),
            kie_keys=s.kie_api_keys)


def readiness(services: Services, probes: Probes) -> tuple[bool, dict[str, Any]]:
    """(ready, the report): every part with ``status`` ("ok" or "error"), ``latency_ms``, ``required`` and a
    ``detail``; the live worker processes and the scheduler."""
    checks = {
        "database": _timed(lambda: _database(services)),
        "redis": _timed(lambda: services.redis.ping() and None),
        "storage": _timed(lambda: _storage(probes.storage)),
        "kie": _cached(probes, "kie", lambda: _kie(probes)),
        "tbank": _cached(probes, "tbank", lambda: _tbank(probes.tbank)),
        "telegram": _cached(probes, "telegram", lambda: _telegram(probes.telegram)),
    }
    for name, check in checks.items():
        check["required"] = name in REQUIRED
    ready = all(checks[name]["status"] == "ok" for name in REQUIRED)
    return ready, {"status": "ready" if ready else "unavailable", "checks": checks,
                   "processes": _processes(services)}


def _timed(probe: Callable[[], Any]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        detail = probe()
        status, error = "ok", None
    except Exception as exc:  # noqa: BLE001 — a probe reports, it never raises
        detail, status = None, "error"
        error = exc.message if isinstance(exc, ProviderError) else type(exc).__name__
    result: dict[str, Any] = {"status": status, "latency_ms": round((time.monotonic() - started) * 1000, 1)}
    if detail is not None:
        result["detail"] = detail
    if error is not None:
        result["error"] = error[:200]
    return result


def _cached(probes: Probes, name: str, probe: Callable[[], Any]) -> dict[str, Any]:
    with probes.lock:
        hit = probes.cache.get(name)
    if hit is not None and time.monotonic() - hit[0] < PROVIDER_CACHE_S:
        return {**hit[1], "cached": True}
    result = _timed(probe)
    with probes.lock:
        probes.cache[name] = (time.monotonic(), result)
    return {**result, "cached": False}


def _database(services: Services) -> None:
    with services.pool.connection(timeout=3) as conn:
        conn.execute("SELECT 1")


def _storage(storage: Storage) -> None:
    if not storage.bucket_exists():
        raise LookupError("the bucket does not exist")


def _kie(probes: Probes) -> dict[str, Any]:
    """Each key's credit balance (by key index, never the key)."""
    return {"credits": [probes.kie.credit(api_key=key) for key in probes.kie_keys]}


def _tbank(tbank: TBankClient) -> None:
    """T-Bank has no ping: GetState of a payment that does not exist. An answer naming that payment unknown
    proves the bank is up and our Token is accepted; a refused Token or no answer is an error."""
    try:
        tbank.get_state(PROBE_PAYMENT_ID)
    except TBankError as exc:
        if exc.retryable or exc.bad_token:
            raise


def _telegram(telegram: TelegramClient) -> dict[str, Any]:
    me = telegram.get_me()
    return {"username": me.get("username")}


def _processes(services: Services) -> dict[str, Any]:
    try:
        found = heartbeats.alive(services.redis, namespace=services.settings.broker_namespace)
    except Exception as exc:  # noqa: BLE001 — Redis down is reported by its own check
        return {"error": type(exc).__name__}
    workers = [p for p in found if p.get("role") == "worker"]
    return {"worker_hosts": sorted({str(p.get("host")) for p in workers}), "workers": workers,
            "scheduler": next((p for p in found if p.get("role") == "scheduler"), None)}
