"""Provider outages: waiting, not failing (issue 10 item 10).

A provider that is down (S3, Kie, Kie's result host) used to turn into a storm: every message burnt its retries
and became a dead letter and an alert, while the sweeper re-sent every stuck task each 15 s. Now each gateway
the workers use is wrapped in an ``OutageGuard``:

- a retryable failure without the provider's own ``retry_after`` counts towards ``TRIP_AFTER`` consecutive
  failures in this process; at that point, or when another process has already declared the outage (a Redis
  key ``<ns>:outage:<provider>``, ``OUTAGE_TTL_S`` after the last failure), the error is re-raised as a
  *waiting* error: the same error type (the actor code handles it as before) that is also a ``Defer``, so the
  worker runs the message again after ``WAIT_MS`` without spending its retry budget — no dead letter for work
  that simply waited (MAX_DEFERRALS and the job's deadline bound the wait);
- a success ends the outage (the key is deleted).

The sweeper reads ``outages()`` and does not re-send work waiting on a provider that is down (the waiting
messages are alive) and raises one ``provider_outage`` alert per incident.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any

import redis

from gateways.errors import ProviderError
from runtime.outcomes import Defer
from telemetry.logs import log

logger = logging.getLogger("runtime.outages")

TRIP_AFTER = 3
OUTAGE_TTL_S = 60
WAIT_MS = (10_000, 20_000)
PROVIDERS = ("storage", "kie", "files")
NOT_OUTAGE_CODES = frozenset({429, 433})  # rate limits: the limiter's business, not an outage

_waiting_types: dict[type, type] = {}


def outage_key(namespace: str, provider: str) -> str:
    return f"{namespace}:outage:{provider}"


def waiting(err: ProviderError, delay_ms: int) -> ProviderError:
    """``err`` as an instance of its own type that is also a Defer of ``delay_ms``."""
    cls = type(err)
    kind = _waiting_types.get(cls)
    if kind is None:
        kind = _waiting_types.setdefault(cls, type(f"{cls.__name__}Waiting", (cls, Defer), {}))
    copy: Any = Exception.__new__(kind)  # an instance of the made-up subclass, filled in below
    copy.__dict__.update(err.__dict__)
    copy.args = (f"{err} — provider down, waiting {delay_ms} ms",)
    copy.delay_ms, copy.reason = delay_ms, f"{getattr(err, 'provider', '?')} outage"
    return copy


class OutageGuard:
    """Wraps a gateway client: every public method is called through ``_guarded``."""

    def __init__(self, provider: str, target: Any, store: redis.Redis, namespace: str) -> None:
        self._provider, self._target, self._store, self._key = provider, target, store, outage_key(namespace,
                                                                                                     provider)
        self._lock = threading.Lock()
        self._failures = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if name.startswith("_") or not callable(attr):
            return attr
        return lambda *args, **kwargs: self._guarded(attr, *args, **kwargs)

    def __repr__(self) -> str:
        return f"OutageGuard({self._target!r})"

    def _guarded(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            result = call(*args, **kwargs)
        except ProviderError as err:
            if (not err.retryable or err.retry_after is not None or isinstance(err, Defer)
                    or err.code in NOT_OUTAGE_CODES):
                raise
            if self._failed():
                raise waiting(err, random.randint(*WAIT_MS)) from None
            raise
        self._succeeded()
        return result

    def _failed(self) -> bool:
        """Count a failure; True when the provider is down (here or as another process declared)."""
        with self._lock:
            self._failures += 1
            tripped = self._failures >= TRIP_AFTER
        try:
            if tripped:
                if self._store.set(self._key, "1", ex=OUTAGE_TTL_S, nx=True):
                    log(logger, "provider_outage_started", level=logging.WARNING, provider=self._provider)
                else:
                    self._store.expire(self._key, OUTAGE_TTL_S)
                return True
            return bool(self._store.exists(self._key))
        except redis.RedisError:
            return tripped

    def _succeeded(self) -> None:
        with self._lock:
            was_failing, self._failures = self._failures > 0, 0
        if was_failing:
            try:
                if self._store.delete(self._key):
                    log(logger, "provider_outage_ended", provider=self._provider)
            except redis.RedisError:
                pass


def outages(store: redis.Redis, namespace: str) -> list[str]:
    """The providers some process has declared down (empty when Redis cannot say)."""
    try:
        return [p for p in PROVIDERS if store.exists(outage_key(namespace, p))]
    except redis.RedisError:
        return []
