"""``make chaos``: the fleet under faults, then every invariant checked from the database and the fakes.

``run(ChaosConfig())`` starts a PostgreSQL, a Redis and (``broker="rabbitmq"``) a RabbitMQ of the run's own on
free ports (``scenarios.chaos_services``; the shared ones are never touched), migrates a fresh database, starts
sandbox + web + scheduler with ``scenarios.fleet`` (in a run directory of its own) and two worker process groups,
switches faults on at the fakes, drives the purchases over HTTP as the Mini App and the payer would, by card and
in Stars (``scenarios.chaos_buyers``), and plays a timeline of faults while they run (stop and start Redis,
PostgreSQL, RabbitMQ; SIGKILL the web; Telegram floods; ``scenarios.chaos_faults``) while a ``Supervisor``
SIGKILLs a random worker group every few seconds and starts it again. It then waits, bounded, until every paid
job is terminal, checks the invariants (``scenarios.chaos_evidence`` reads, ``scenarios.chaos_checks`` judges and
tallies), writes ``chaos-latest.md`` and ``.json`` to ``report_dir`` (``scenarios.chaos_report``) and returns a
ChaosResult. Everything it started is stopped in a ``finally``. Everything listens on 127.0.0.1. ``python -m
scenarios.chaos`` (``BROKER=rabbitmq`` for RabbitMQ) exits 0 only if the tally is ok; its last line is
``chaos: ok ...`` or ``chaos: FAILED ...``.
"""

from __future__ import annotations

import dataclasses
import os
import random
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
from scenarios.chaos_faults import Faults, Step, Supervisor, ThrowawayRedis, WorkerGroup, stop_everything
from scenarios.chaos_services import ThrowawayPostgres, ThrowawayRabbitMQ
from scenarios.demo import albums_in_chat
from settings import Settings

FLEET = ["sandbox", "web", "scheduler"]
DOOMED_SLOT = 14  # prompt index whose every attempt fails at Kie (only tiers with more photos have it)
QUIET_S = 3.0  # after the last job ends: refund notifications and late acknowledgements land
# A read-only audit query (the checks' own live in chaos_evidence): how many of the paid jobs have ended.
SETTLE_SQL = ("SELECT count(*) FILTER (WHERE status IN ('delivered', 'delivered_partial', 'failed')) AS done, "
              "coalesce(sum(photos_stored), 0) AS stored FROM generation_jobs WHERE payment_id = ANY(%(ids)s)")

KIE_KEYS = ("sandbox-kie-key-1", "sandbox-kie-key-2", "sandbox-kie-key-3")  # one account; key 1 gets exhausted


def many_buyers(count: int = 100) -> tuple[Buyer, ...]:
    """``count`` purchases across the tiers (9 in 20 Starter, 7 Standard, 4 Premium) and both rails (every fourth
    in Stars); every fifth arrives through an earlier buyer's invite link, two pay while Redis is down, and one
    blocks the bot right after paying."""
    tiers = ("starter", "standard", "starter", "premium", "standard", "starter", "standard", "starter", "premium",
             "standard", "starter", "starter", "standard", "premium", "starter", "standard", "starter", "premium",
             "standard", "starter")
    buyers = []
    for i in range(count):
        buyers.append(Buyer(tiers[i % len(tiers)], invited_by=i // 2 if i % 5 == 4 else None,
                            pay_on="redis_down" if i in (7, 8) else None, rail="stars" if i % 4 == 3 else "card",
                            blocks_bot=i == 5))
    return tuple(buyers)


DEFAULT_BUYERS = many_buyers()
# Worker SIGKILLs come from the supervisor throughout; the timeline holds the once-per-run faults.
DEFAULT_TIMELINE = (Step(25, "telegram_429_burst"), Step(40, "stop_redis"), Step(48, "start_redis"),
                    Step(75, "kill_web"), Step(110, "stop_postgres"), Step(118, "start_postgres"),
                    Step(140, "telegram_album_flood"), Step(220, "telegram_429_burst"))
RABBITMQ_TIMELINE = (Step(160, "stop_rabbitmq"), Step(168, "start_rabbitmq"))


@dataclass(frozen=True)
class ChaosConfig:
    """What to buy, which faults when, and where everything listens."""

    buyers: tuple[Buyer, ...] = DEFAULT_BUYERS
    timeline: tuple[Step, ...] = DEFAULT_TIMELINE
    broker: str = "redis"  # or "rabbitmq": a RabbitMQ node of the run's own
    # The supervisor SIGKILLs a random worker group every kill_every_s (a random span within the pair) from
    # supervise_s[0] to supervise_s[1] after the purchases start; None: only the timeline's kills.
    kill_every_s: tuple[float, float] | None = (6.0, 12.0)
    supervise_s: tuple[float, float] = (8.0, 300.0)
    buyers_spread_s: float = 150.0  # the buyers start evenly over this span
    web_port: int = 8300
    sandbox_ports: tuple[int, int, int, int] = (9301, 9302, 9303, 9304)  # kie, tbank, telegram, s3
    redis_port: int = 0  # 0: any free port (the same for PostgreSQL and RabbitMQ)
    database: str = "pinglass_chaos"
    namespace: str = "pinglass-chaos"
    sweep_idle_s: int = 10
    kie_latency_ms: tuple[int, int] = (4000, 15000)  # how long Kie takes per portrait: work stays in flight
    kie_rate: tuple[int, float] = (30, 3.0)  # new tasks per window (s) per Kie account, ours and the fake's
    kie_key_cap: int = 40  # the first Kie key (the one the limiter tries first) answers 433 after this many tasks
    telegram_lost_answer_rate: float = 0.03  # Telegram's answers lost after the send was recorded
    settle_timeout_s: float = 300.0
    max_total_s: float = 585.0  # the whole run, set-up to report, stays within this (settling is cut short)
    report_dir: Path | None = fleet.ROOT / "bench" / "results"
    run_dir: Path = fleet.ROOT / ".run" / "chaos"
    keep_database: bool = False  # keep the run's own PostgreSQL data directory for a post-mortem

    def __post_init__(self) -> None:
        if self.broker not in ("redis", "rabbitmq"):
            raise ValueError("broker must be redis or rabbitmq")
        if self.broker != "rabbitmq" and any(s.action.endswith("_rabbitmq") for s in self.timeline):
            raise ValueError("only a run on RabbitMQ can stop and start RabbitMQ")
        announced = {Faults.ANNOUNCES[s.action] for s in self.timeline if s.action in Faults.ANNOUNCES}
        for step in self.timeline:
            if step.action not in Faults.ACTIONS:
                raise ValueError(f"unknown action {step.action!r}; known: {sorted(Faults.ACTIONS)}")
            if step.action.endswith("_worker") and step.target not in WorkerGroup.NAMES:
                raise ValueError(f"{step.action} needs a target among {WorkerGroup.NAMES}")
        ordered = sorted(self.timeline, key=lambda s: s.at_s)
        services = ("redis", "postgres", "rabbitmq")
        for subject in (*services, *WorkerGroup.NAMES):
            suffix = f"_{subject}" if subject in services else "_worker"
            moves = [s.action.split("_")[0] for s in ordered
                     if s.action.endswith(suffix) and s.target in ("", subject)]
            if any((move == "start") != (i % 2 == 1) for i, move in enumerate(moves)):
                raise ValueError(f"the timeline must stop {subject} before each start, and start it before each stop")
            if subject in services and len(moves) % 2:
                raise ValueError(f"the timeline must start {subject} again after stopping it")
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
    config_broker: str = "redis"

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks) and bool(self.windows.get("tally", {}).get("ok"))


def chaos_settings(cfg: ChaosConfig, redis_port: int, postgres_url: str | None = None,
                   rabbitmq_url: str | None = None) -> Settings:
    """The fleet's Settings for this run: its own database (on ``postgres_url``'s server), Redis, broker,
    namespace and ports; shortened timing."""
    base = Settings.from_env(os.environ)
    kie, tbank, telegram, s3 = (f"http://127.0.0.1:{port}" for port in cfg.sandbox_ports)
    server = (postgres_url or base.database_url).rsplit("/", 1)[0]
    return base.with_overrides(
        sandbox_mode=True,  # the chaos fleet runs on the fakes and their public secrets
        database_url=f"{server}/{cfg.database}", broker=cfg.broker, rabbitmq_url=rabbitmq_url or base.rabbitmq_url,
        redis_url=f"redis://127.0.0.1:{redis_port}/0", broker_namespace=cfg.namespace, kie_base_url=kie,
        tbank_base_url=f"{tbank}/v2", telegram_api_base=telegram, s3_endpoint_url=s3, web_port=cfg.web_port,
        public_base_url=f"http://127.0.0.1:{cfg.web_port}", sweep_idle_s=cfg.sweep_idle_s, job_deadline_s=300,
        kie_first_poll_ms=1000, kie_rate_limit=cfg.kie_rate[0], kie_rate_window_s=cfg.kie_rate[1],
        kie_api_keys=KIE_KEYS, kie_key_accounts=("chaos",) * len(KIE_KEYS), reconcile_interval_s=15)


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
    rules = [{"method": "createTask", "error_code": 455, "times": 3}]
    if doomed:
        rules.append({"method": "task", "times": doomed, "match": f"[#{DOOMED_SLOT + 1}]"})
    kie: dict[str, Any] = {"fail_rate": 0.05, "error_500_rate": 0.10, "callback_duplicate_rate": 0.3,
                           "callback_drop_rate": 0.3, "latency_ms_min": cfg.kie_latency_ms[0],
                           "latency_ms_max": cfg.kie_latency_ms[1]}
    if cfg.kie_key_cap:  # one key (of one account) exhausted after kie_key_cap tasks: 433, the fleet rests it
        kie.update(key_cap=cfg.kie_key_cap, key_cap_window_s=3600.0, key_cap_keys=[0])
    faults = {
        # 10 % of Kie's answers 5xx, 5 % of tasks fail; a few 455s on createTask; every attempt at one photo slot
        # fails: the jobs that have that slot end delivered_partial and must be refunded (card) or credited (Stars)
        # for it, the tiers without it must not be; callbacks dropped and duplicated.
        "kie": kie,
        "kie_rules": rules,
        "tbank": {"notify_duplicates": 2, "notify_seed": 0},  # each notification twice, in random order
        # Answers lost after the message was recorded (the measured duplicate-send window); a smaller chat burst
        # at the fake than ours makes Telegram itself answer 429 now and then; the timeline adds 429 bursts and
        # albums cut short by a flood; one person blocks the bot (403).
        "telegram": {"lost_answer_rate": cfg.telegram_lost_answer_rate, "chat_burst": 12}}
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
    while True:
        try:
            with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=5) as conn:
                done, stored = conn.execute(SETTLE_SQL, {"ids": paid}).fetchone()
        except psycopg.OperationalError:
            done, stored = -1, -1  # the database is restarting
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
    for old_log in cfg.run_dir.glob("*.log"):
        old_log.unlink()
    redis_server = ThrowawayRedis(cfg.redis_port or free_port(), cfg.run_dir)
    postgres = ThrowawayPostgres(free_port(), cfg.run_dir)
    rabbitmq = ThrowawayRabbitMQ(free_port(), cfg.run_dir) if cfg.broker == "rabbitmq" else None
    settings = chaos_settings(cfg, redis_server.port, postgres.url, rabbitmq.url if rabbitmq else None)
    env, base = fleet_env(settings), settings.public_base_url
    workers = {name: WorkerGroup(name, env, cfg.run_dir) for name in WorkerGroup.NAMES}
    faults = Faults(settings, env, redis_server, workers, cfg.run_dir, say, postgres=postgres, rabbitmq=rabbitmq)
    supervisor = None
    if cfg.kill_every_s is not None:
        supervisor = Supervisor(faults, cfg.kill_every_s, *cfg.supervise_s)
    watch = chaos_evidence.StatusWatch(settings.database_url)
    left_over = {name: fleet.pid_of(name, run_dir=cfg.run_dir) for name in [*FLEET, "redis", "worker-a", "worker-b"]}
    orders: list[Order] = []
    try:
        for name, pid in left_over.items():
            if pid is not None and fleet.group_alive(pid):
                raise RuntimeError(f"an earlier chaos run left {name} running (process group {pid}, pid files "
                                   f"in {cfg.run_dir}): stop it first, e.g. kill -- -{pid}")
        # As `make up` runs it: web and workers share one metrics directory, so /metrics shows them all.
        shutil.rmtree(cfg.run_dir / "metrics", ignore_errors=True)
        (cfg.run_dir / "metrics").mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(cfg.run_dir / "metrics")
        postgres.start()
        if rabbitmq is not None:
            rabbitmq.start()
        fresh_database(settings.database_url)
        redis_server.start()
        fleet.start(env, FLEET, run_dir=cfg.run_dir)
        fleet.wait_healthy(base)
        TelegramClient(settings.telegram_api_base, settings.telegram_bot_token).set_webhook(
            settings.callback_url("/webhooks/telegram"), settings.telegram_webhook_secret)
        faults_on = switch_faults_on(settings, cfg)
        for group in workers.values():
            group.start()
        say(f"chaos: fleet up in {time.monotonic() - started:.1f} s (web {base}, broker {cfg.broker}"
            f"{f' :{rabbitmq.port}' if rabbitmq else ''}, Redis :{redis_server.port}, PostgreSQL :{postgres.port} "
            f"database {cfg.database}, logs {cfg.run_dir}); {len(cfg.buyers)} purchases "
            f"({sum(1 for b in cfg.buyers if b.rail == 'stars')} in Stars), {len(cfg.timeline)} faults on the "
            f"timeline" + (f", a worker group SIGKILLed every {cfg.kill_every_s[0]:.0f}–{cfg.kill_every_s[1]:.0f} s"
                           if cfg.kill_every_s else ""))
        orders = make_orders(cfg.buyers, base, settings)
        watch.start()
        t0 = time.monotonic()
        faults.t0 = t0
        if supervisor is not None:
            supervisor.start()
        at_payment = {o.index: threading.Event() for o in orders if o.buyer.pay_on}
        buyers = [threading.Thread(target=_place_later, args=(base, settings, o, faults.happened,
                                                              t0 + cfg.buyers_spread_s * i / max(1, len(orders)),
                                                              at_payment.get(o.index)),
                                   daemon=True) for i, o in enumerate(orders)]
        for thread in buyers:
            thread.start()
        ready: dict[str, list[threading.Event]] = {}
        for order in orders:
            if order.buyer.pay_on:
                ready.setdefault(order.buyer.pay_on, []).append(at_payment[order.index])
        faults.play(t0, cfg.timeline, ready)
        deadline = time.monotonic() + PAY_WAIT_S
        for thread in buyers:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        left = cfg.max_total_s - (time.monotonic() - started) - 30  # gathering, stopping and the report
        settled = settle(settings, orders, max(10.0, min(cfg.settle_timeout_s, left)), say)
        if supervisor is not None:
            supervisor.done.set()
            supervisor.join(timeout=60)
        for watcher in faults.watchers:
            watcher.join(timeout=max(1.0, 120 - (time.monotonic() - t0)))
        paid = [o for o in orders if o.paid_at is not None]
        forged = forge_notification(settings, paid[0]) if paid else None
        evidence = chaos_evidence.gather(settings, orders=[dataclasses.asdict(o) for o in orders],
                                         observed=watch.seen, kills=faults.kills, outage=faults.outage or None,
                                         forged=forged)
        checks, windows = chaos_checks.evaluate(evidence, settled=settled, settle_timeout_s=cfg.settle_timeout_s)
        windows["albums"] = {o.telegram_id: albums_in_chat(settings.telegram_api_base, o.telegram_id)
                             for o in orders}
        windows["outages"] = faults.outages
        windows["supervisor"] = ({"kills": len(faults.kills), "restarts": supervisor.restarts,
                                  "failed_starts": supervisor.failed_starts} if supervisor else None)
    finally:
        watch.done.set()
        if supervisor is not None:
            supervisor.done.set()
            supervisor.join(timeout=60)
        ours = [name for name in FLEET if fleet.pid_of(name, run_dir=cfg.run_dir) not in (None, left_over[name])]
        stop_everything(workers, ours, redis_server, cfg.run_dir, say)
        if rabbitmq is not None:
            rabbitmq.close()
        if cfg.keep_database:
            postgres.stop()
            say(f"chaos: the run's PostgreSQL data directory is kept in {postgres.data} (port {postgres.port})")
        else:
            postgres.close()
    windows["web_restart_s"] = faults.web_restart_s
    result = ChaosResult(checks, windows, faults.log, [dataclasses.asdict(o) for o in orders],
                         round(time.monotonic() - started, 1), faults_on, config_broker=cfg.broker)
    if cfg.report_dir is not None:
        result.report = chaos_report.write_report(cfg.report_dir, result, config=dataclasses.asdict(cfg))
    return result


def _place_later(base: str, settings: Settings, order: Order, happened: dict[str, threading.Event],
                 at: float, ready: threading.Event | None) -> None:
    time.sleep(max(0.0, at - time.monotonic()))
    place_order(base, settings, order, happened, ready)


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
    """``count`` distinct loopback ports that were free a moment ago, each with the port above it free too (a
    RabbitMQ node's distribution port), all below the kernel's range of ephemeral ports: a service the run stops
    and starts again needs its port back, and an ephemeral port may meanwhile have become some client's local
    port (a RabbitMQ restart once found its distribution port so taken: ``dist_port_already_used``). The kernel
    never picks a client's port below that range."""
    low = ephemeral_low()
    pick = random.SystemRandom()
    chosen: list[int] = []
    while len(chosen) < count:
        port = pick.randrange(PORTS_FROM, low - 1)
        if any(abs(port - taken) <= 1 for taken in chosen):
            continue
        if _bindable(port) and _bindable(port + 1):
            chosen.append(port)
    return chosen


PORTS_FROM = 10_000


def ephemeral_low() -> int:
    """The lowest port the kernel gives a client socket (``ip_local_port_range``; 32768 when unreadable)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def main() -> int:
    broker = os.environ.get("BROKER", "redis")
    timeline = DEFAULT_TIMELINE + (RABBITMQ_TIMELINE if broker == "rabbitmq" else ())
    try:
        # each broker's report is kept: bench/results/ for Redis, bench/results/rabbitmq/ for RabbitMQ
        reports = fleet.ROOT / "bench" / "results" / ("rabbitmq" if broker == "rabbitmq" else "")
        result = run(ChaosConfig(broker=broker, timeline=timeline, report_dir=reports))
    except KeyboardInterrupt:
        print("chaos: FAILED — interrupted (everything it started was stopped)")
        return 130
    except Exception as exc:  # noqa: BLE001 — the run could not finish (set-up, a fault, a fake); say why
        print(f"chaos: FAILED — {type(exc).__name__}: {exc}")
        return 1
    for line in chaos_report.summary_lines(result):
        print(line)
    failed = [c.name for c in result.checks if not c.passed]
    tally = result.windows["tally"]
    numbers = (f"{tally['jobs']} jobs ({tally['terminal']} terminal, {tally['stuck']} stuck), photos "
               f"{tally['photos_expected']} expected / {tally['photos_stored']} stored / {tally['photos_delivered']} "
               f"delivered, {tally['lost_photos']} lost, {tally['duplicate_photos']} duplicate, "
               f"{tally['duplicate_telegram_items']} duplicate Telegram items of {tally['telegram_items_sent']}, "
               f"{len(result.windows['redelivery'])} worker SIGKILLs, {result.elapsed_s:.0f} s")
    if not tally["ok"]:
        print(f"chaos: FAILED — {'; '.join(failed) or 'the tally is not ok'} — {numbers} (report {result.report})")
        return 1
    print(f"chaos: ok — {len(result.orders)} purchases on {result.config_broker}, {len(result.checks)} checks "
          f"passed, {numbers} (report {result.report})")
    return 0


if __name__ == "__main__":
    # Ctrl-C (even where a shell started us with it ignored) and TERM both end the run cleanly, in its finally.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sys.exit(main())
