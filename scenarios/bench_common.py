"""What every part of ``make bench`` shares: the bench fleet's environment, a fresh database, figures with their
targets, percentiles, the Kie limit's floor, progress lines, and reads of our database and the fakes' records.

A ``Figure`` is one measured value with its target and how it was measured; ``verdict`` says whether it meets the
target and, when it does not, by how much. Nothing here asserts: the bench measures and reports."""

from __future__ import annotations

import math
import os
import statistics
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg import sql as pgsql

from db.migrate import ensure_database, migrate_up
from scenarios import fleet
from settings import Settings

DB_NAME = "pinglass_bench"
RABBIT_QUEUES = ("bot", "kie", "kie_poll", "ops", "payments", "storage", "telegram")
_T0 = time.monotonic()
RUN = fleet.RUN_DIR / "bench"  # its own pid files and logs: never another fleet's
# Beside the Mini App's web on 8200, the same web app in more gunicorn processes (BENCH_WEB_POOLS, default
# "hooks,uploads", the deployed shape): `hooks` (deploy/launch.sh hooks), the providers' callbacks, CALLBACK_BASE_URL
# (Kie, T-Bank, Telegram); `uploads` (deploy/launch.sh uploads), the Mini App's selfie uploads, UPLOADS_BASE_URL;
# `none`: the web alone, callbacks and uploads included. Each pool: pid file and log under RUN/<pool>/.
POOLS = {"hooks": 8201, "uploads": 8202}
DEPLOYED_POOLS = "hooks,uploads"


def web_threads() -> str:
    """The web's threads per gunicorn process (``WEB_THREADS``; deploy/launch.sh's default when unset)."""
    return os.environ.get("WEB_THREADS", fleet.WEB_THREADS)


def progress(message: str) -> None:
    """One progress line, with the time since the bench started."""
    print(f"bench [{time.monotonic() - _T0:6.1f} s] {message}", flush=True)


@dataclass
class Figure:
    """One measured figure. ``op``: how the value compares with ``target`` (``<=`` or ``>=``); ``target`` None:
    reported without one. ``why``: when missed, the cause as measured (filled by the part that measured it)."""

    name: str
    value: float | None
    unit: str
    target: float | None
    op: str
    how: str
    why: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), **verdict(self.value, self.target, self.op)}


def verdict(value: float | None, target: float | None, op: str) -> dict[str, Any]:
    """``{"met": bool | None, "miss_by": float | None}``: None when there is no value or no target."""
    if value is None or target is None:
        return {"met": None, "miss_by": None}
    met = value <= target if op == "<=" else value >= target
    return {"met": met, "miss_by": None if met else round(abs(value - target), 3)}


def kie_floor_s(tasks: int, limit: int, window_s: float, accounts: int = 1) -> float:
    """The earliest the ``tasks``-th task can be accepted after the first, on a fresh budget of ``limit`` new tasks
    per sliding ``window_s`` per account: the first ``limit × accounts`` go at once, each further batch one window
    later."""
    if tasks <= 0 or limit <= 0:
        return 0.0
    return (math.ceil(tasks / (limit * accounts)) - 1) * window_s


def kie_utilization(accepted_ms: list[int], limit: int, window_s: float, accounts: int = 1) -> float | None:
    """The sustained share of the limit used: the tasks accepted after the first burst (the ``limit × accounts``
    a fresh budget lets through at once) ÷ what the limit allowed from the first task to the last. Counting whole
    windows instead would hide a budget taken in bursts a little over a window apart."""
    ordered = sorted(accepted_ms)
    first_burst = limit * accounts
    if len(ordered) <= first_burst or ordered[-1] == ordered[0]:
        return None
    allowed = limit * accounts * (ordered[-1] - ordered[0]) / 1000 / window_s
    return round((len(ordered) - first_burst) / allowed, 3)


def percentile(samples: list[float], q: float) -> float | None:
    """The nearest-rank percentile (``q`` in 0..1); None without samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def percentiles_ms(samples: list[float]) -> dict[str, Any]:
    """p50/p95/p99/mean in ms of samples in seconds."""
    if not samples:
        return {"n": 0}
    pick = lambda q: round((percentile(samples, q) or 0) * 1000, 1)  # noqa: E731
    return {"n": len(samples), "p50_ms": pick(0.5), "p95_ms": pick(0.95), "p99_ms": pick(0.99),
            "mean_ms": round(statistics.fmean(samples) * 1000, 1)}


def bench_env(broker: str, **overrides: str) -> dict[str, str]:
    """The bench fleet's environment on ``broker``: its own database, Redis db, ports and sandbox."""
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}", "REDIS_URL": "redis://127.0.0.1:6379/5",
        "BROKER": broker, "BROKER_NAMESPACE": "pinglass-bench", "WEB_PORT": "8200",
        "PUBLIC_BASE_URL": "http://127.0.0.1:8200",
        "KIE_BASE_URL": "http://127.0.0.1:9201", "TBANK_BASE_URL": "http://127.0.0.1:9202/v2",
        "TELEGRAM_API_BASE": "http://127.0.0.1:9203", "S3_ENDPOINT_URL": "http://127.0.0.1:9204",
        "WORKER_PROCESSES": "2", "WORKER_THREADS": "12",
        "SANDBOX_MODE": "1",  # the bench fleet runs on the fakes and their public secrets
        # Each fake in its own process: the bench measures the fleet, not four fakes sharing one GIL.
        "SANDBOX_SPLIT": "1",
        # The web's access log as in production (deploy/launch.sh): JSON lines with each request's own ms, so a
        # part can tell the web's time from the time a request waited before the web started on it.
        "GUNICORN_CMD_ARGS": "--config python:web.gunicorn_conf",
    })
    if broker == "rabbitmq":
        env["RABBITMQ_URL"] = rabbit_url()
    env.update(overrides)
    pools = web_pools(env)
    if "hooks" in pools:
        env["CALLBACK_BASE_URL"] = f"http://127.0.0.1:{POOLS['hooks']}"
    if "uploads" in pools:
        env["UPLOADS_BASE_URL"] = f"http://127.0.0.1:{POOLS['uploads']}"
    return env


def web_pools(env: Mapping[str, str]) -> dict[str, int]:
    """The extra web pools this bench runs (``BENCH_WEB_POOLS``, a comma list of ``POOLS``' names, or ``none``)
    and their ports; the deployed shape's ``hooks`` and ``uploads`` by default. An unknown name is refused rather
    than silently measured as the deployed shape."""
    names = [name.strip() for name in env.get("BENCH_WEB_POOLS", DEPLOYED_POOLS).split(",")
             if name.strip() and name.strip() != "none"]
    unknown = set(names) - set(POOLS)
    if unknown:
        raise ValueError(f"BENCH_WEB_POOLS: unknown pool {', '.join(sorted(unknown))} (known: {', '.join(POOLS)})")
    return {name: POOLS[name] for name in POOLS if name in names}


def rabbit_url() -> str:
    """The bench's own RabbitMQ vhost (queues are not namespaced: tests use the same names on ``/``), made once
    with rabbitmqctl when it is at hand; the default vhost otherwise (its queues are then purged first)."""
    import shutil
    import subprocess

    vhost = "pinglass-bench"
    ctl = shutil.which("rabbitmqctl")
    if ctl:
        try:
            listed = subprocess.run([ctl, "list_vhosts"], capture_output=True, text=True, timeout=30).stdout
            if vhost not in listed.split():
                subprocess.run([ctl, "add_vhost", vhost], capture_output=True, timeout=30, check=True)
                subprocess.run([ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
                               capture_output=True, timeout=30, check=True)
            return f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
        except (OSError, subprocess.SubprocessError):
            pass
    return "amqp://guest:guest@127.0.0.1:5672/%2F"


def fresh_database(url: str) -> None:
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(DB_NAME)))
    ensure_database(url)
    migrate_up(url)


def empty_broker(settings: Settings) -> None:
    """Forget the previous run's messages: the bench namespace in Redis, the fleet's queues in RabbitMQ."""
    import redis

    cache = redis.Redis.from_url(settings.redis_url)
    for key in cache.scan_iter(match=f"{settings.broker_namespace}*"):
        cache.delete(key)
    if settings.broker == "rabbitmq":
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(settings.rabbitmq_url))
        try:
            for queue in RABBIT_QUEUES:
                for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
                    channel = connection.channel()
                    try:
                        channel.queue_purge(name)
                    except pika.exceptions.ChannelClosedByBroker:
                        pass
        finally:
            connection.close()


class Fleet:
    """A fresh bench fleet (database, broker, processes) for one part, stopped on exit."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.settings = Settings.from_env(self.env)
        self.base = f"http://127.0.0.1:{self.settings.web_port}"
        self.pools = web_pools(self.env)
        # where the clients send selfies: the uploads role when there is one (UPLOADS_BASE_URL, as the Mini App does)
        self.uploads_base = f"http://127.0.0.1:{self.pools['uploads']}" if "uploads" in self.pools else self.base

    def __enter__(self) -> Fleet:
        RUN.mkdir(parents=True, exist_ok=True)
        self._stop()  # a bench fleet left over from an interrupted run (only its own pid files)
        fresh_database(self.settings.database_url)
        empty_broker(self.settings)
        try:
            fleet.start(self.env, run_dir=RUN)
            fleet.wait_healthy(self.base, timeout_s=120)
            self._start_pools()
            from gateways.telegram import TelegramClient
            TelegramClient(self.settings.telegram_api_base, self.settings.telegram_bot_token).set_webhook(
                self.settings.callback_url("/webhooks/telegram"), self.settings.telegram_webhook_secret)
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _start_pools(self) -> None:
        """The extra web pools of BENCH_WEB_POOLS: the fleet's web process on their own ports, sharing the
        fleet's metrics directory."""
        for pool, port in self.pools.items():
            env = {**self.env, "WEB_PORT": str(port),
                   "PROMETHEUS_MULTIPROC_DIR": str(RUN / f"metrics-{self.settings.web_port}"),
                   # the uploads role is a batch role (deploy/launch.sh's BATCH_NICE); the hooks role answers now
                   "FLEET_BATCH": "1" if pool == "uploads" else "0"}
            fleet.start(env, ["web"], run_dir=RUN / pool)
            fleet.wait_healthy(f"http://127.0.0.1:{port}", timeout_s=120)

    def _stop(self) -> None:
        for pool in POOLS:
            fleet.stop(run_dir=RUN / pool)
        fleet.stop(run_dir=RUN)

    def db(self) -> psycopg.Connection:
        return psycopg.connect(self.settings.database_url, autocommit=True)


def run_threads(targets: list[Any], timeout_s: float) -> None:
    threads = [threading.Thread(target=t, daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.join(timeout=max(0.1, deadline - time.monotonic()))


def process_group_rss_mb(leader_pid: int) -> dict[int, float]:
    """RSS in MB of every process in the group led by ``leader_pid`` (from /proc/<pid>/status VmRSS)."""
    found: dict[int, float] = {}
    for pid in fleet.group_pids(leader_pid):
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        found[pid] = round(int(line.split()[1]) / 1024, 1)
        except (OSError, IndexError, ValueError):
            continue
    return found


def machine_load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) / {five:.2f} (5 min) on {os.cpu_count()} cores"


def fail(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr)
