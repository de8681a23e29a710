"""Prometheus exposition shared by the web's /metrics and a worker host's metrics server
(``workers/metrics_server.py``): the events of this machine's processes, and the scraper's credential check."""

from __future__ import annotations

import hmac
import os

from prometheus_client import CollectorRegistry, generate_latest, multiprocess


def events_text() -> bytes:
    """This process's metrics; in multiprocess mode (PROMETHEUS_MULTIPROC_DIR shared by the processes of a
    machine, as deploy/launch.sh sets it) the sum over every process of the machine."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()


def scraper_verdict(authorization: str, tokens: tuple[str, ...]) -> int:
    """200 when ``authorization`` is ``Bearer <one of tokens>``, 401 when nothing usable was sent, 403 otherwise.
    Every token is compared as bytes (compare_digest refuses non-ASCII text), each of them (no early exit)."""
    scheme, _, given = authorization.partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        return 401
    matches = [hmac.compare_digest(given.encode(), token.encode()) for token in tokens if token]
    return 200 if any(matches) else 403
