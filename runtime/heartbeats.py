"""Heartbeats: each worker process and the scheduler say "alive" in Redis every few seconds, so readiness and
the admin can show which worker hosts and whether the scheduler are running (a silent one's key expires).

One key per process, ``<namespace>:heartbeat:<role>:<host>:<pid>``, holding when it beat and since when it runs;
it lives ``HEARTBEAT_TTL_S``, three beats: a process that stops beating disappears within that."""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

import redis

BEAT_EVERY_S = 5.0
HEARTBEAT_TTL_S = 15


def heartbeat_key(namespace: str, role: str, host: str, pid: int) -> str:
    return f"{namespace}:heartbeat:{role}:{host}:{pid}"


def beat(client: redis.Redis, *, namespace: str, role: str, started_at: float) -> None:
    """Say this process (``role``: "worker" or "scheduler") is alive; raises redis errors to the caller."""
    host, pid = socket.gethostname(), os.getpid()
    body = json.dumps({"role": role, "host": host, "pid": pid, "at": time.time(), "started_at": started_at})
    client.set(heartbeat_key(namespace, role, host, pid), body, ex=HEARTBEAT_TTL_S)


def forget(client: redis.Redis, *, namespace: str, role: str) -> None:
    """This process stops on purpose: its heartbeat goes at once instead of expiring."""
    client.delete(heartbeat_key(namespace, role, socket.gethostname(), os.getpid()))


def alive(client: redis.Redis, *, namespace: str) -> list[dict[str, Any]]:
    """Every process whose heartbeat has not expired, with ``age_s`` since its last beat (SCAN, never KEYS:
    the fleet's Redis must not block for a probe)."""
    now = time.time()
    found: list[dict[str, Any]] = []
    keys = list(client.scan_iter(match=f"{namespace}:heartbeat:*", count=200))
    for raw in client.mget(keys) if keys else []:
        if raw is None:
            continue  # expired between SCAN and MGET
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        entry["age_s"] = round(max(0.0, now - float(entry.get("at", now))), 1)
        found.append(entry)
    return sorted(found, key=lambda e: (e.get("role", ""), e.get("host", ""), e.get("pid", 0)))
