"""The container's health check: ``python deploy/healthcheck.py [web|worker|scheduler]``, exit 0 when healthy.

- web (the default, the Dockerfile's HEALTHCHECK): ``GET /health`` on this container's port answers 200 — the
  process serves and reaches the database and Redis, no provider is called;
- worker, scheduler (set per service in deploy/compose.yml): a process of this role on this host has a live
  heartbeat in Redis (``runtime.heartbeats``; a silent process's key expires within 15 s).

Reads PORT, REDIS_URL and BROKER_NAMESPACE from the environment, as the fleet does."""

from __future__ import annotations

import os
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

TIMEOUT_S = 4.0


def web_is_healthy(port: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=TIMEOUT_S) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def process_is_beating(role: str, redis_url: str, namespace: str) -> bool:
    import redis

    from runtime import heartbeats

    client = redis.Redis.from_url(redis_url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
    try:
        alive = heartbeats.alive(client, namespace=namespace)
    except redis.RedisError:
        return False
    finally:
        client.close()
    host = socket.gethostname()
    return any(entry.get("role") == role and entry.get("host") == host for entry in alive)


def main(argv: list[str]) -> int:
    role = argv[0] if argv else "web"
    if role == "web":
        healthy = web_is_healthy(os.environ.get("PORT") or "8000")
    elif role in ("worker", "scheduler"):
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the fleet's packages
        healthy = process_is_beating(role, os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
                                     os.environ.get("BROKER_NAMESPACE") or "pinglass")
    else:
        print(f"healthcheck: unknown role {role!r}", file=sys.stderr)
        return 2
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
