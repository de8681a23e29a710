"""``make chaos``: the fleet under faults, then every invariant checked from the database and the fakes.

``run(ChaosConfig())`` builds a fresh database (drop, create, migrate) and a throwaway Redis on a free port,
starts sandbox + web + scheduler with ``scenarios.fleet`` (in a run directory of its own) and two worker
process groups of its own, switches faults on at the fakes, drives purchases over HTTP as the Mini App and the
payer would (``scenarios.chaos_buyers``), and plays a timeline of faults while they run (SIGKILL a worker
group, stop Redis, SIGKILL the web, ...; ``scenarios.chaos_faults``). It then waits, bounded, until every paid
job is terminal, checks the invariants (``scenarios.chaos_evidence`` reads, ``scenarios.chaos_checks``
judges), writes ``chaos-latest.md`` and ``.json`` to ``report_dir`` (``scenarios.chaos_report``) and returns a
ChaosResult. Everything it started is stopped in a ``finally``; of the shared services it touches only its own
database. Everything listens on 127.0.0.1. ``python -m scenarios.chaos`` exits 0 only if every check passed;
its last line is ``chaos: ok ...`` or ``chaos: FAILED ...``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql as pgsql

from db.migrate import ensure_database, migrate_up
from gateways.telegram import TelegramClient
from rules.backoff import MAX_TASK_ATTEMPTS
from rules.catalog import parse_tiers
from sandbox.client import SandboxClient
from scenarios import chaos_checks, chaos_evidence, chaos_report, fleet
from scenarios.chaos_buyers import PAY_WAIT_S, Buyer, Order, forge_notification, make_orders, place_order
from scenarios.chaos_checks import Check
from scenarios.chaos_faults import Faults, Step, ThrowawayRedis, WorkerGroup, stop_everything
from scenarios.demo import albums_in_chat
from settings import Settings

FLEET = ["sandbox", "web", "scheduler"]
DOOMED_SLOT = 14  # prompt index whose every attempt fails at Kie (only tiers with more photos have it)
QUIET_S = 3.0  # after the last job ends: refund notifications and late acknowledgements land
# A read-only audit query (the checks' own live in chaos_evidence): how many of the paid jobs have ended.
SETTLE_SQL = ("SELECT count(*) FILTER (WHERE status IN ('delivered', 'delivered_partial', 'failed')) AS done, "
              "coalesce(sum(photos_stored), 0) AS stored FROM generation_jobs WHERE payment_id = ANY(%(ids)s)")

DEFAULT_BUYERS = (Buyer("starter"), Buyer("standard"), Buyer("premium"), Buyer("starter", invited_by=0),
                  Buyer("standard", invited_by=0), Buyer("premium"), Buyer("starter", pay_on="redis_down"),
                  Buyer("standard", invited_by=2, pay_on="redis_down"))
DEFAULT_TIMELINE = (Step(12, "kill_worker", "a"), Step(17, "start_worker", "a"), Step(28, "stop_redis"),
                    Step(36, "start_redis"), Step(42, "kill_web"), Step(48, "kill_worker", "b"),
                    Step(53, "start_worker", "b"))


@dataclass(frozen=True)
class ChaosConfig:
    """What to buy, which faults when, and where everything listens."""

    buyers: tuple[Buyer, ...] = DEFAULT_BUYERS
    timeline: tuple[Step, ...] = DEFAULT_TIMELINE
    web_port: int = 8300
    sandbox_ports: tuple[int, int, int, int] = (9301, 9302, 9303, 9304)  # kie, tbank, telegram, s3
    redis_port: int = 0  # 0: any free port
    database: str = "pinglass_chaos"
    namespace: str = "pinglass-chaos"
    sweep_idle_s: int = 10
    kie_latency_ms: tuple[int, int] = (4000, 15000)  # how long Kie takes per portrait: work stays in flight
    settle_timeout_s: float = 300.0
    report_dir: Path | None = fleet.ROOT / "bench" / "results"
    run_dir: Path = fleet.ROOT / ".run" / "chaos"
    keep_database: bool = True  # left for a post-mortem; the next run drops it first

    def __post_init__(self) -> None:
        announced = {Faults.ANNOUNCES[s.action] for s in self.timeline if s.action in Faults.ANNOUNCES}
        for step in self.timeline:
            if step.action not in Faults.ACTIONS:
                raise ValueError(f"unknown action {step.action!r}; known: {sorted(Faults.ACTIONS)}")
            if step.action.endswith("_worker") and step.target not in WorkerGroup.NAMES:
                raise ValueError(f"{step.action} needs a target among {WorkerGroup.NAMES}")
        ordered = sorted(self.timeline, key=lambda s: s.at_s)
        for subject in ("redis", *WorkerGroup.NAMES):
            moves = [s.action.split("_")[0] for s in ordered
                     if s.action.endswith("_redis" if subject == "redis" else "_worker") and s.target in ("", subject)]
            if any((move == "start") != (i % 2 == 1) for i, move in enumerate(moves)):
                raise ValueError(f"the timeline must stop {subject} before each start, and start it before each stop")
            if subject == "redis" and len(moves) % 2:
                raise ValueError("the timeline must start Redis again after stopping it")
        for index, buyer in enumerate(self.buyers):
            if buyer.pay_on is not None and buyer.pay_on not in announced:
                raise ValueError(f"buyer {index} pays on {buyer.pay_on!r}, which the timeline never announces")
            if buyer.invited_by is not None and not 0 <= buyer.invited_by < index:
                raise ValueError(f"buyer {index} must be invited by an earlier buyer")


@dataclass
class ChaosResult:
    """The verdict (``checks``), the measured windows, what happened when, and each order as it went."""

    checks: list[Check]
    windows: dict[str, Any]
    timeline: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    elapsed_s: float
    faults: dict[str, Any]
    report: Path | None = None

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


def chaos_settings(cfg: ChaosConfig, redis_port: int) -> Settings:
    """The fleet's Settings for this run: its own database, Redis, namespace and ports; shortened timing."""
    base = Settings.from_env(os.environ)
    kie, tbank, telegram, s3 = (f"http://127.0.0.1:{port}" for port in cfg.sandbox_ports)
    return base.with_overrides(
        sandbox_mode=True,  # the chaos fleet runs on the fakes and their public secrets
        database_url=base.database_url.rsplit("/", 1)[0] + "/" + cfg.database, broker="redis",
        redis_url=f"redis://127.0.0.1:{redis_port}/0", broker_namespace=cfg.namespace, kie_base_url=kie,
        tbank_base_url=f"{tbank}/v2", telegram_api_base=telegram, s3_endpoint_url=s3, web_port=cfg.web_port,
        public_base_url=f"http://127.0.0.1:{cfg.web_port}", sweep_idle_s=cfg.sweep_idle_s, job_deadline_s=240,
        kie_first_poll_ms=1000, kie_rate_limit=20, kie_rate_window_s=3.0)


def fleet_env(settings: Settings) -> dict[str, str]:
    """The environment of every chaos process: exactly these Settings whatever the caller's environment says,
    the fakes' start knobs (Kie's window compressed like ours), and the rest of the caller's environment."""
    fields = dataclasses.fields(settings)
    names = {f.name.upper() for f in fields}
    env = {k: v for k, v in os.environ.items() if k not in names and not k.startswith("SANDBOX_")}
    for f in fields:
        value = getattr(settings, f.name)
        env[f.name.upper()] = ",".join(value) if isinstance(value, tuple) else str(value)
    env.update(SANDBOX_KIE_RATE_LIMIT=str(settings.kie_rate_limit), WEB_WORKERS="2", PYTHONUNBUFFERED="1",
               SANDBOX_KIE_RATE_WINDOW_S=str(settings.kie_rate_window_s), LOG_LEVEL=env.get("LOG_LEVEL", "INFO"))
    return env


def switch_faults_on(settings: Settings, cfg: ChaosConfig) -> dict[str, Any]:
    """Faults at the fakes (knobs: the docstrings of sandbox/kie.py, tbank.py, telegram.py); returns them."""
    photos = {tier.id: tier.photos for tier in parse_tiers(settings.tiers).values()}
    doomed = MAX_TASK_ATTEMPTS * sum(1 for b in cfg.buyers if photos[b.tier] > DOOMED_SLOT)
    rules = [{"method": "createTask", "error_code": 500, "http_status": 500, "times": 3},
             {"method": "createTask", "error_code": 455, "times": 3}]
    if doomed:
        rules.append({"method": "task", "times": doomed, "match": f"[#{DOOMED_SLOT + 1}]"})
    faults = {
        "kie": {"fail_rate": 0.15, "callback_duplicate_rate": 0.3, "callback_drop_rate": 0.3,
                "latency_ms_min": cfg.kie_latency_ms[0], "latency_ms_max": cfg.kie_latency_ms[1]},
        # A few 500s and 455s on createTask, and every attempt at one photo slot fails: the jobs that have that slot end
        # delivered_partial and must be refunded for it (the tiers without it must not be).
        "kie_rules": rules,
        "tbank": {"notify_duplicates": 2, "notify_seed": 0},  # each notification twice, in random order
        # Answers lost after the message was recorded (the measured duplicate-send window); a smaller chat burst
        # at the fake than ours makes Telegram itself answer 429 now and then.
        "telegram": {"lost_answer_rate": 0.08, "chat_burst": 12}}
    fakes = SandboxClient.from_settings(settings)
    fakes.kie.configure(**faults["kie"])
    fakes.kie.fail(*faults["kie_rules"])
    fakes.tbank.configure(**faults["tbank"])
    fakes.telegram.configure(**faults["telegram"])
    return faults


def settle(settings: Settings, orders: list[Order], timeout_s: float, say: Callable[[str], None]) -> bool:
    """Wait until every order the bank took money for has a terminal job here (False when time ran out)."""
    paid = [o.payment_id for o in orders if o.paid_at is not None]
    deadline, next_say = time.monotonic() + timeout_s, 0.0
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        while True:
            done, stored = conn.execute(SETTLE_SQL, {"ids": paid}).fetchone()
            if done == len(paid):
                time.sleep(QUIET_S)
                return True
            if time.monotonic() > deadline:
                return False
            if time.monotonic() >= next_say:
                say(f"chaos: waiting — {done}/{len(paid)} paid jobs terminal, {stored} photos stored")
                next_say = time.monotonic() + 10
            time.sleep(1)


def run(cfg: ChaosConfig | None = None, say: Callable[[str], None] = print) -> ChaosResult:
    """The whole chaos run (see the module docstring); raises only when the fleet cannot be set up."""
    cfg = cfg or ChaosConfig()
    started = time.monotonic()
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    redis_server = ThrowawayRedis(cfg.redis_port or free_port(), cfg.run_dir)
    settings = chaos_settings(cfg, redis_server.port)
    env, base = fleet_env(settings), settings.public_base_url
    workers = {name: WorkerGroup(name, env, cfg.run_dir) for name in WorkerGroup.NAMES}
    faults = Faults(settings, env, redis_server, workers, cfg.run_dir, say)
    watch = chaos_evidence.StatusWatch(settings.database_url)
    left_over = {name: fleet.pid_of(name, run_dir=cfg.run_dir) for name in [*FLEET, "redis", "worker-a", "worker-b"]}
    try:
        for name, pid in left_over.items():
            if pid is not None and fleet.group_alive(pid):
                raise RuntimeError(f"an earlier chaos run left {name} running (process group {pid}, pid files "
                                   f"in {cfg.run_dir}): stop it first, e.g. kill -- -{pid}")
        for old_log in cfg.run_dir.glob("*.log"):
            old_log.unlink()
        # As `make up` runs it: web and workers share one metrics directory, so /metrics shows them all.
        shutil.rmtree(cfg.run_dir / "metrics", ignore_errors=True)
        (cfg.run_dir / "metrics").mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(cfg.run_dir / "metrics")
        fresh_database(settings.database_url)
        redis_server.start()
        fleet.start(env, FLEET, run_dir=cfg.run_dir)
        fleet.wait_healthy(base)
        TelegramClient(settings.telegram_api_base, settings.telegram_bot_token).set_webhook(
            settings.public_url("/webhooks/telegram"), settings.telegram_webhook_secret)
        faults_on = switch_faults_on(settings, cfg)
        for group in workers.values():
            group.start()
        say(f"chaos: fleet up in {time.monotonic() - started:.1f} s (web {base}, Redis :{redis_server.port}, "
            f"database {cfg.database}, logs {cfg.run_dir}); {len(cfg.buyers)} purchases, "
            f"{len(cfg.timeline)} faults on the timeline")
        orders = make_orders(cfg.buyers, base, settings)
        watch.start()
        buyers = [threading.Thread(target=place_order, args=(base, settings, o, faults.happened), daemon=True)
                  for o in orders]
        for thread in buyers:
            thread.start()
        faults.play(time.monotonic(), cfg.timeline)
        deadline = time.monotonic() + PAY_WAIT_S
        for thread in buyers:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        settled = settle(settings, orders, cfg.settle_timeout_s, say)
        for watcher in faults.watchers:
            watcher.join(timeout=120)
        paid = [o for o in orders if o.paid_at is not None]
        forged = forge_notification(settings, paid[0]) if paid else None
        evidence = chaos_evidence.gather(settings, orders=[dataclasses.asdict(o) for o in orders],
                                         observed=watch.seen, kills=faults.kills, outage=faults.outage or None,
                                         forged=forged)
        checks, windows = chaos_checks.evaluate(evidence, settled=settled, settle_timeout_s=cfg.settle_timeout_s)
        windows["albums"] = {o.telegram_id: albums_in_chat(settings.telegram_api_base, o.telegram_id)
                             for o in orders}
    finally:
        watch.done.set()
        ours = [name for name in FLEET if fleet.pid_of(name, run_dir=cfg.run_dir) not in (None, left_over[name])]
        stop_everything(workers, ours, redis_server, cfg.run_dir, say)
        if not cfg.keep_database:
            drop_database(settings.database_url)
    windows["web_restart_s"] = faults.web_restart_s
    result = ChaosResult(checks, windows, faults.log, [dataclasses.asdict(o) for o in orders],
                         round(time.monotonic() - started, 1), faults_on)
    if cfg.report_dir is not None:
        result.report = chaos_report.write_report(cfg.report_dir, result, config=dataclasses.asdict(cfg))
    return result


def _admin_url(database_url: str) -> tuple[str, str]:
    server, name = database_url.rsplit("/", 1)
    return server + "/postgres", name


def fresh_database(database_url: str) -> None:
    """Drop and recreate this run's own database, then apply every migration."""
    drop_database(database_url)
    ensure_database(database_url)
    migrate_up(database_url)


def drop_database(database_url: str) -> None:
    admin, name = _admin_url(database_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name)))


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that were free a moment ago."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def main() -> int:
    try:
        result = run()
    except KeyboardInterrupt:
        print("chaos: FAILED — interrupted (everything it started was stopped)")
        return 130
    except Exception as exc:  # noqa: BLE001 — the run could not finish (set-up, a fault, a fake); say why
        print(f"chaos: FAILED — {type(exc).__name__}: {exc}")
        return 1
    for line in chaos_report.summary_lines(result):
        print(line)
    failed = [c.name for c in result.checks if not c.passed]
    photos = sum(sum(sizes) for sizes in result.windows["albums"].values())
    if failed:
        print(f"chaos: FAILED — {'; '.join(failed)} — {result.elapsed_s:.0f} s (report {result.report})")
        return 1
    print(f"chaos: ok — {len(result.orders)} purchases, {len(result.checks)} checks passed, {photos} photos in the "
          f"chats, {result.elapsed_s:.0f} s (report {result.report})")
    return 0


if __name__ == "__main__":
    # Ctrl-C (even where a shell started us with it ignored) and TERM both end the run cleanly, in its finally.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sys.exit(main())
