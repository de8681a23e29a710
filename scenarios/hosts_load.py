"""What the fleet asks of the data host, for ``make hosts``: its Redis and its PostgreSQL serve this fleet only, so
their own counters (Redis ``total_commands_processed``, PostgreSQL ``pg_stat_database.xact_commit``) give the load
per stored photo; ``redis-benchmark`` and ``pgbench``, run from a worker host over the link against the same
servers in the same run, give what those servers do here at most. The quotient estimates how many photos per
second one Redis and one primary PostgreSQL carry before they are the ceiling. An estimate, said so in the
report: the benchmarks' operations are simpler than the fleet's (Lua scripts, multi-statement transactions), and
this PostgreSQL runs with fsync off on a shared 2-core machine.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import psycopg
import redis

from scenarios.hosts_net import DATA, WORKER1, in_host

PG_BIN = "/usr/lib/postgresql/15/bin"


@dataclass
class Sample:
    at: float
    redis_commands: int
    pg_commits: int
    photos: int


def sample(database_url: str, redis_url: str) -> Sample:
    commands = int(redis.Redis.from_url(redis_url, socket_timeout=5).info("stats")["total_commands_processed"])
    with psycopg.connect(database_url, autocommit=True) as conn:
        commits = conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        pg_commits = int(commits.fetchone()[0])  # type: ignore[index]
        photos = int(conn.execute("SELECT count(*) FROM generated_photos").fetchone()[0])  # type: ignore[index]
    return Sample(time.monotonic(), commands, pg_commits, photos)


def per_photo(idle_from: Sample, idle_to: Sample, start: Sample, end: Sample) -> dict[str, Any]:
    """Load per stored photo between ``start`` and ``end``, the idle fleet's background rate (measured between
    ``idle_from`` and ``idle_to``: workers fetching, heartbeats, the scheduler's relay and watchdog) taken off."""
    idle_s = max(idle_to.at - idle_from.at, 1e-6)
    busy_s = end.at - start.at
    idle_redis = (idle_to.redis_commands - idle_from.redis_commands) / idle_s
    idle_pg = (idle_to.pg_commits - idle_from.pg_commits) / idle_s
    photos = max(end.photos - start.photos, 1)
    redis_total = end.redis_commands - start.redis_commands
    pg_total = end.pg_commits - start.pg_commits
    return {
        "photos": end.photos - start.photos, "busy_s": round(busy_s, 1),
        "idle_redis_commands_per_s": round(idle_redis, 1), "idle_pg_commits_per_s": round(idle_pg, 1),
        "redis_commands_per_photo": round(max(redis_total - idle_redis * busy_s, 0) / photos, 1),
        "redis_commands_per_photo_with_idle": round(redis_total / photos, 1),
        "pg_commits_per_photo": round(max(pg_total - idle_pg * busy_s, 0) / photos, 1),
        "pg_commits_per_photo_with_idle": round(pg_total / photos, 1),
    }


def redis_ceiling(requests: int = 40000, clients: int = 32) -> dict[str, Any]:
    """``redis-benchmark`` from worker1 against the data host's Redis: requests per second per command."""
    answer = subprocess.run(in_host(WORKER1, "redis-benchmark", "-h", DATA.address, "-p", "6379", "-c", str(clients),
                                    "-n", str(requests), "-t", "set,get,incr,lpush,rpop", "--csv"),
                            capture_output=True, text=True, timeout=120, check=True)
    per_command = {}
    for line in answer.stdout.splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if len(cells) > 1 and cells[0] != "test":
            try:
                per_command[cells[0]] = round(float(cells[1]))
            except ValueError:
                continue
    values = sorted(per_command.values())
    return {"per_command_rps": per_command, "median_rps": values[len(values) // 2] if values else None,
            "clients": clients, "requests": requests}


def pg_ceiling(admin_url: str, seconds: int = 8, clients: int = 8) -> dict[str, Any]:
    """``pgbench -N`` (one small multi-statement write transaction each) from worker1 against the data host's
    PostgreSQL, in a database of its own: transactions per second."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS pgbench")
        conn.execute("CREATE DATABASE pgbench")
    base = ["-h", DATA.address, "-p", "5432", "-U", "postgres"]
    subprocess.run(in_host(WORKER1, f"{PG_BIN}/pgbench", *base, "-i", "-s", "1", "-q", "pgbench"),
                   capture_output=True, text=True, timeout=120, check=True)
    answer = subprocess.run(in_host(WORKER1, f"{PG_BIN}/pgbench", *base, "-N", "-c", str(clients), "-j", "2",
                                    "-T", str(seconds), "pgbench"),
                            capture_output=True, text=True, timeout=seconds + 60, check=True)
    found = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", answer.stdout)
    return {"tps": round(float(found.group(1))) if found else None, "clients": clients, "seconds": seconds,
            "mode": "pgbench -N (simple update: 3 statements + 1 insert per transaction)",
            "server": "fsync=off, synchronous_commit=off"}


def estimate(load: dict[str, Any], redis_max: dict[str, Any], pg_max: dict[str, Any]) -> dict[str, Any]:
    """Photos per second each server would carry at its benchmark ceiling, at this run's load per photo."""
    out: dict[str, Any] = {}
    if redis_max.get("median_rps") and load["redis_commands_per_photo"]:
        out["redis_photos_per_s"] = round(redis_max["median_rps"] / load["redis_commands_per_photo"], 1)
    if pg_max.get("tps") and load["pg_commits_per_photo"]:
        out["pg_photos_per_s"] = round(pg_max["tps"] / load["pg_commits_per_photo"], 1)
    return out
