"""Where a bench part's time went, measured in the same run: CPU seconds per fleet process (each sandbox fake,
web, worker, scheduler), the bench's own clients and the rest of the machine (Postgres, the broker, anyone else on
the shared cores), and the web's own time per route (its JSON access log's ``ms``) beside what the clients saw.

A client's latency minus the web's own time for the same route is time spent before the web started on the
request (waiting for a free gunicorn thread, or the client's own process starved of CPU); the CPU shares say
which process used the two cores meanwhile."""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scenarios import fleet
from scenarios.bench_common import POOLS, RUN, percentile

TICK_S = 1 / os.sysconf("SC_CLK_TCK")
_ID = re.compile(r"/\d+(?=/|$)")
SERVICES = {"postgres": "postgres (all databases)", "redis-server": "redis", "beam.smp": "rabbitmq"}


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds used so far: per fleet process (by pid-file name, its whole process group), by the shared
    services (Postgres, Redis, RabbitMQ: every process of that name, whoever it serves), by this process (the
    bench and its client threads), and by the whole machine (busy and all, from /proc/stat). A process that
    exits between two snapshots (a short-lived Postgres backend) drops out of its line and shows in ``others``."""

    at: float
    groups: dict[str, float]
    services: dict[str, float]
    bench: float
    machine_busy: float
    machine_all: float


def snapshot(run_dir: Path = RUN) -> CpuSnapshot:
    groups: dict[str, float] = {}
    for path in sorted([*run_dir.glob("*.pid"), *run_dir.glob("*/*.pid")]):  # the web pools' under RUN/<pool>/
        try:
            leader = int(path.read_text())
        except (OSError, ValueError):
            continue
        name = str(path.relative_to(run_dir).with_suffix(""))
        groups[name] = sum(process_cpu_s(pid) for pid in fleet.group_pids(leader))
    busy, total = machine_cpu_s(Path("/proc/stat").read_text())
    return CpuSnapshot(time.monotonic(), groups, services_cpu_s(), time.process_time(), busy, total)


def services_cpu_s() -> dict[str, float]:
    """CPU seconds of every running process named as a shared service (``SERVICES``), summed per service."""
    found = dict.fromkeys(SERVICES.values(), 0.0)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat.split("(", 1)[1].rsplit(")", 1)[0]
        if name in SERVICES:
            found[SERVICES[name]] += stat_cpu_s(stat)
    return found


def process_cpu_s(pid: int) -> float:
    """utime + stime of one process in seconds (0 when it is gone)."""
    try:
        return stat_cpu_s(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return 0.0


def stat_cpu_s(stat: str) -> float:
    """utime + stime from a /proc/<pid>/stat line; the command may hold spaces and parentheses, so the fields
    are counted after its last ``)`` (state is field 3, utime 14, stime 15)."""
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


def machine_cpu_s(proc_stat: str) -> tuple[float, float]:
    """(busy, all) CPU seconds of the machine from /proc/stat's ``cpu`` line; idle and iowait are not busy."""
    values = [int(v) for v in proc_stat.splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) * TICK_S, sum(values[:8]) * TICK_S


def cpu_shares(start: CpuSnapshot, end: CpuSnapshot, *, clients_cpu_s: float = 0.0) -> dict[str, Any]:
    """CPU seconds each used between two snapshots, with the wall time, the cores' capacity in that time and
    what the machine used beyond those named (``others``: other runs, the kernel, exited processes);
    ``clients_cpu_s``: what the bench's client processes used, counted with the bench's own."""
    used = {name: round(end.groups[name] - start.groups.get(name, 0.0), 1) for name in end.groups}
    used.update({name: round(max(0.0, end.services[name] - start.services.get(name, 0.0)), 1)
                 for name in end.services})
    used["bench clients"] = round(end.bench - start.bench + clients_cpu_s, 1)
    busy = end.machine_busy - start.machine_busy
    used["others"] = round(max(0.0, busy - sum(used.values())), 1)
    wall = end.at - start.at
    return {"wall_s": round(wall, 1), "capacity_cpu_s": round(wall * (os.cpu_count() or 1), 1),
            "busy_cpu_s": round(busy, 1), "idle_share": round(1 - busy / max(end.machine_all - start.machine_all,
                                                                              1e-9), 3),
            "cpu_s": dict(sorted(used.items(), key=lambda kv: -kv[1]))}


def route_of(method: str, path: str) -> str:
    """``GET /api/v1/payments/42`` → ``GET /api/v1/payments/<id>``: the route a request counts under."""
    return f"{method} {_ID.sub('/<id>', path)}"


def server_ms(log_lines: list[str]) -> dict[str, list[float]]:
    """The web's own milliseconds per route, from its JSON access lines (``event: http_request``)."""
    found: dict[str, list[float]] = {}
    for line in log_lines:
        if '"http_request"' not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") != "http_request" or record.get("ms") is None:
            continue
        found.setdefault(route_of(str(record.get("method")), str(record.get("path"))), []).append(
            float(record["ms"]))
    return found


def server_table(samples: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    """Per route: count, p50 and p99 of the web's own time in ms."""
    return {route: {"n": len(v), "p50_ms": percentile(v, 0.5), "p99_ms": percentile(v, 0.99)}
            for route, v in sorted(samples.items())}


class WebLog:
    """The bench web's logs (its pools' too) from a point on: the files are appended to by every fleet of the
    run, so only what was written after this object was made is read."""

    def __init__(self, run_dir: Path = RUN) -> None:
        self.paths = [run_dir / "web.log", *(run_dir / pool / "web.log" for pool in POOLS)]
        self.offsets = {path: path.stat().st_size if path.exists() else 0 for path in self.paths}

    def lines(self) -> list[str]:
        found: list[str] = []
        for path, offset in self.offsets.items():
            if not path.exists():
                continue
            with open(path, "rb") as log:
                log.seek(offset)
                found.extend(log.read().decode("utf-8", "replace").splitlines())
        return found


def pre_checkout_waits(telegram_state: dict[str, Any]) -> dict[str, Any]:
    """How long the Telegram fake waited for our web's answer to each pre_checkout_query (its own record of each
    webhook POST: ``elapsed_ms``, ``error``), against Telegram's 10 s: a Stars payment fails when it is past."""
    queries = {u["update_id"] for u in telegram_state.get("updates", []) if "pre_checkout_query" in u}
    posts = [d for d in telegram_state.get("deliveries", []) if d.get("update_id") in queries]
    waits = [float(d["elapsed_ms"]) for d in posts if d.get("elapsed_ms") is not None]
    errors: dict[str, int] = {}
    for post in posts:
        if post.get("error"):
            errors[post["error"]] = errors.get(post["error"], 0) + 1
    return {"n": len(posts), "p50_ms": percentile(waits, 0.5), "max_ms": max(waits, default=None),
            "over_10s": sum(w > 10_000 for w in waits), "errors": errors}
