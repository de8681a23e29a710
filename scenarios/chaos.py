"""``make chaos``: the fleet under faults, then every invariant checked from the database and the fakes.

``run(ChaosConfig())`` builds a fresh database (drop, create, migrate) and a throwaway Redis on a free port,
starts sandbox + web + scheduler with ``scenarios.fleet`` (in a run directory of its own) and two worker
process groups of its own, switches faults on at the fakes, drives purchases over HTTP as the Mini App and the
payer would, and plays a timeline of faults while they run (SIGKILL a worker group, stop Redis, SIGKILL the
web, ...). It then waits, bounded, until every paid job is terminal, checks the invariants
(``scenarios.chaos_checks``), writes ``chaos-latest.md`` and ``.json`` to ``report_dir`` and returns a
ChaosResult. Everything it started is stopped in a ``finally``; of the shared services it touches only its own
database. Everything listens on 127.0.0.1. ``python -m scenarios.chaos`` exits 0 only if every check passed;
its last line is ``chaos: ok ...`` or ``chaos: FAILED ...``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import redis
import requests
from psycopg import sql as pgsql

from db.migrate import ensure_database, migrate_up
from gateways.initdata import sign_init_data
from gateways.tbank import make_token
from gateways.telegram import TelegramClient
from rules.backoff import MAX_TASK_ATTEMPTS
from rules.catalog import parse_tiers
from scenarios import chaos_checks, fleet
from scenarios.chaos_checks import Check
from scenarios.demo import MiniApp, albums_in_chat, selfie
from settings import Settings

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FLEET = ["sandbox", "web", "scheduler"]
PAY_WAIT_S = 180.0  # the longest a buyer waits for the timeline event it pays on
BUSY_WAIT_S = 20.0  # a worker group is SIGKILLed once it holds work (or after this long)
DOOMED_SLOT = 14  # prompt index whose every attempt fails at Kie (only tiers with more photos have it)
QUIET_S = 3.0  # after the last job ends: refund notifications and late acknowledgements land
# A read-only audit query (the checks' own live in chaos_checks): how many of the paid jobs have ended.
SETTLE_SQL = ("SELECT count(*) FILTER (WHERE status IN ('delivered', 'delivered_partial', 'failed')) AS done, "
              "coalesce(sum(photos_stored), 0) AS stored FROM generation_jobs WHERE payment_id = ANY(%(ids)s)")


@dataclass(frozen=True)
class Buyer:
    """One purchase: the tier, the buyer (by index) whose invite link brought this one, and the timeline event
    on which this one pays (None: at once)."""

    tier: str
    invited_by: int | None = None
    pay_on: str | None = None


@dataclass(frozen=True)
class Step:
    """``at_s`` seconds after the purchases start: ``action`` (one of ``Faults.ACTIONS``) on ``target``."""

    at_s: float
    action: str
    target: str = ""


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
    report_dir: Path | None = ROOT / "bench" / "results"
    run_dir: Path = ROOT / ".run" / "chaos"
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
class Order:
    """One buyer's purchase as it went; ``error`` is set when the person could not complete it."""

    index: int
    buyer: Buyer
    telegram_id: int
    start_param: str | None = None
    payment_id: int | None = None
    provider_payment_id: str | None = None
    order_id: str = ""
    amount_kopecks: int = 0
    paid_at: float | None = None
    error: str = ""


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


class ThrowawayRedis:
    """A redis-server of this run's own on 127.0.0.1, without persistence: stopping it loses every queued
    message, as a crashed Redis would. The shared Redis on 6379 is never touched."""

    def __init__(self, port: int, run_dir: Path) -> None:
        self.port, self.log_path, self.proc = port, run_dir / "redis.log", None
        self.data_dir = tempfile.mkdtemp(prefix="pinglass-chaos-redis-")

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                          "--appendonly", "no", "--dir", self.data_dir], stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        (self.log_path.parent / "redis.pid").write_text(str(self.proc.pid))
        client, deadline = redis.Redis(port=self.port, socket_timeout=1), time.monotonic() + 10
        while True:
            try:
                client.ping()
                client.close()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not answer on port {self.port}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None:
            end_group(self.proc)
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


class WorkerGroup:
    """One ``dramatiq workers.main --processes 1 --threads 8`` process group of this run's own, so that it can
    be SIGKILLed whole."""

    NAMES = ("a", "b")

    def __init__(self, name: str, env: dict[str, str], run_dir: Path) -> None:
        self.name, self.env, self.log_path = name, env, run_dir / f"worker-{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the group and wait (bounded: 30 s) until its worker process says it is ready."""
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([str(BIN / "dramatiq"), "workers.main", "--processes", "1", "--threads",
                                          "8"], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.log_path.with_suffix(".pid").write_text(str(self.proc.pid))
        deadline = time.monotonic() + 30
        while b"ready for action" not in self.log_path.read_bytes()[offset:]:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"worker group {self.name} did not start (see {self.log_path})")
            time.sleep(0.2)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        end_group(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        if self.running:
            end_group(self.proc)


class Unacked:
    """What Dramatiq's Redis broker holds unacknowledged per worker id (its ack sets) and the workers'
    heartbeats. A live worker fetches, and so beats, at least once a second."""

    def __init__(self, queue: redis.Redis, namespace: str) -> None:
        self.queue, self.namespace = queue, namespace

    def beats(self) -> dict[bytes, float]:
        return dict(self.queue.zrange(f"{self.namespace}:__heartbeats__", 0, -1, withscores=True))

    def keys(self, worker: bytes) -> list[bytes]:
        return list(self.queue.scan_iter(f"{self.namespace}:__acks__.".encode() + worker + b".*"))

    def held(self) -> dict[bytes, list[dict[str, str]]]:
        """Per worker id holding any: its unacked messages (running, prefetched, or delayed in its memory)."""
        held: dict[bytes, list[dict[str, str]]] = {}
        for worker in self.beats():
            for key in self.keys(worker):
                queue_name, ids = key.decode().split(f".{worker.decode()}.", 1)[1], list(self.queue.smembers(key))
                for raw in self.queue.hmget(f"{self.namespace}:{queue_name}.msgs", ids) if ids else []:
                    if raw:  # None: acknowledged meanwhile
                        message = json.loads(raw)
                        held.setdefault(worker, []).append({"message_id": message["message_id"],
                                                            "actor": message["actor_name"]})
        return held


def end_group(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout_s: float = 20) -> None:
    """Signal the process group that ``proc`` leads and reap it; SIGKILL what is left after ``timeout_s``."""
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        proc.wait()


class Faults:
    """Plays the timeline. Each action is done, stamped and announced (``happened``) for buyers who pay on it;
    SIGKILLs record the messages the group held and when Redis gave them back; Redis's outage is stamped."""

    ACTIONS = frozenset({"kill_worker", "start_worker", "stop_redis", "start_redis", "kill_web"})
    ANNOUNCES = {"stop_redis": "redis_down", "start_redis": "redis_up", "kill_web": "web_restarted"}

    def __init__(self, settings: Settings, env: dict[str, str], redis_server: ThrowawayRedis,
                 workers: dict[str, WorkerGroup], run_dir: Path, say: Callable[[str], None]) -> None:
        self.settings, self.env, self.redis_server, self.workers = settings, env, redis_server, workers
        self.run_dir, self.say, self.t0 = run_dir, say, time.monotonic()
        self.unacked = Unacked(redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2),
                               settings.broker_namespace)
        self.watchers: list[threading.Thread] = []
        self.happened = {event: threading.Event() for event in self.ANNOUNCES.values()}
        self.log: list[dict[str, Any]] = []
        self.kills: list[dict[str, Any]] = []
        self.outage: dict[str, float] = {}
        self.web_restart_s: float | None = None

    def play(self, t0: float, timeline: tuple[Step, ...]) -> None:
        self.t0 = t0
        for step in sorted(timeline, key=lambda s: s.at_s):
            time.sleep(max(0.0, t0 + step.at_s - time.monotonic()))
            detail = getattr(self, step.action)(step.target)
            entry = {"t_s": round(time.monotonic() - t0, 1), "action": step.action, "target": step.target,
                     "detail": detail}
            self.log.append(entry)
            self.say(f"chaos: t={entry['t_s']:5.1f}s {step.action} {step.target} — {detail}")
            if step.action in self.ANNOUNCES:
                self.happened[self.ANNOUNCES[step.action]].set()

    def kill_worker(self, target: str) -> str:
        """SIGKILL the group once every running group holds work (bounded); which of the held messages were the
        dead group's is learnt in the background, from whose heartbeat stopped."""
        waited, running = time.monotonic(), sum(1 for g in self.workers.values() if g.running)
        while True:
            beats, held = self.unacked.beats(), self.unacked.held()
            live = [w for w in held if beats.get(w, 0) > time.time() * 1000 - 2000]
            if len(live) >= running or time.monotonic() - waited > BUSY_WAIT_S:
                break
            time.sleep(0.1)
        at, waited = time.time(), time.monotonic() - waited
        self.workers[target].kill()
        time.sleep(0.2)  # a command the dead group sent just before the kill still lands
        beats = self.unacked.beats()  # the dead group's last beats; the living beat again within a second
        kill = {"target": target, "at": at, "t_s": round(time.monotonic() - self.t0, 1), "in_flight": [],
                "by_actor": {}, "requeued_after_s": None}
        self.kills.append(kill)
        watcher = threading.Thread(target=self._watch_requeue, args=(kill, {w: held[w] for w in live}, beats),
                                   daemon=True)
        watcher.start()
        self.watchers.append(watcher)
        return f"SIGKILL to its process group ({waited:.1f} s waiting until every group held work)"

    def _watch_requeue(self, kill: dict[str, Any], held: dict[bytes, list[dict[str, str]]],
                       beats: dict[bytes, float]) -> None:
        """Fill in the dead group's unacked messages — ``held`` by the workers live at the kill whose heartbeat
        then stopped — and when Redis handed them back (bounded: 120 s)."""
        deadline = time.monotonic() + 120
        try:
            time.sleep(3)
            now = self.unacked.beats()
            dead = [worker for worker in held if now.get(worker) == beats.get(worker)]
            messages = [message for worker in dead for message in held[worker]]
            kill["in_flight"] = [m["message_id"] for m in messages]
            kill["by_actor"] = dict(Counter(m["actor"] for m in messages))
            while any(self.unacked.keys(w) for w in dead) and time.monotonic() < deadline:
                time.sleep(0.2)
            kill["requeued_after_s"] = round(time.time() - kill["at"], 1) if messages else None
        except redis.RedisError:
            pass  # Redis went down first: what the dead group held went with it

    def start_worker(self, target: str) -> str:
        self.workers[target].start()
        return f"started (pid {self.workers[target].proc.pid})"

    def stop_redis(self, _: str) -> str:
        self.outage["down_at"] = time.time()
        self.redis_server.stop()
        return "SIGTERM; every queued and delayed message is lost with it"

    def start_redis(self, _: str) -> str:
        self.redis_server.start()
        self.outage["up_at"] = time.time()
        return f"back, empty, after {self.outage['up_at'] - self.outage.get('down_at', 0):.1f} s"

    def kill_web(self, _: str) -> str:
        """SIGKILL gunicorn's whole group, then start it again with scenarios.fleet (needs Redis up: the web
        counts as healthy only with it)."""
        pid, started = int((self.run_dir / "web.pid").read_text()), time.monotonic()
        os.killpg(pid, signal.SIGKILL)
        with reap([pid]):
            while fleet._group_alive(pid) and time.monotonic() - started < 10:
                time.sleep(0.05)
        fleet.start(self.env, ["web"])
        fleet.wait_healthy(self.settings.public_base_url)
        self.web_restart_s = round(time.monotonic() - started, 1)
        return f"SIGKILL to gunicorn's group; restarted with scenarios.fleet, healthy after {self.web_restart_s} s"


@contextmanager
def reap(pids: list[int]) -> Iterator[None]:
    """While the body runs, collect the exit status of these children (processes scenarios.fleet started and
    forgot): until reaped, a dead process still counts as running to fleet.stop and fleet.start."""
    done = threading.Event()

    def collect() -> None:
        left = set(pids)
        while left and not done.wait(0.05):
            for pid in list(left):
                try:
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        left.discard(pid)
                except ChildProcessError:
                    left.discard(pid)

    thread = threading.Thread(target=collect, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def chaos_settings(cfg: ChaosConfig, redis_port: int) -> Settings:
    """The fleet's Settings for this run: its own database, Redis, namespace and ports; shortened timing."""
    base = Settings.from_env(os.environ)
    kie, tbank, telegram, s3 = (f"http://127.0.0.1:{port}" for port in cfg.sandbox_ports)
    return base.with_overrides(
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
    rules = [{"kind": "500", "times": 3}, {"kind": "455", "times": 3}]
    if doomed:
        rules.append({"kind": "fail", "times": doomed, "prompt_contains": f"[#{DOOMED_SLOT + 1}]"})
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
    tbank = settings.tbank_base_url.rsplit("/v2", 1)[0]
    for url, body in ((f"{settings.kie_base_url}/_sandbox/config", faults["kie"]),
                      (f"{settings.kie_base_url}/_sandbox/faults", faults["kie_rules"]),
                      (f"{tbank}/_sandbox/config", faults["tbank"]),
                      (f"{settings.telegram_api_base}/_sandbox/config", faults["telegram"])):
        requests.post(url, json=body, timeout=10).raise_for_status()
    return faults


class ChaosApp(MiniApp):
    """The demo's Mini App user — arriving through an invite link when ``start_param`` is given — who simply
    tries again while the web is down; any HTTP answer outside ``expect`` is still an error."""

    RETRY_S = 30.0

    def __init__(self, base: str, settings: Settings, telegram_id: int, start_param: str | None = None) -> None:
        super().__init__(base, settings, telegram_id)
        if start_param:
            user = {"id": telegram_id, "first_name": "Demo", "username": f"demo{telegram_id}", "language_code": "ru"}
            init = sign_init_data(user, settings.telegram_bot_token, auth_date=int(time.time()),
                                  extra={"start_param": start_param})
            self.http.headers["Authorization"] = f"tma {init}"

    def call(self, method: str, path: str, expect: tuple[int, ...] = (200, 201), **kwargs: Any) -> dict:
        deadline = time.monotonic() + self.RETRY_S
        while True:
            try:
                return super().call(method, path, expect, **kwargs)
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


def make_orders(cfg: ChaosConfig, base: str, settings: Settings) -> list[Order]:
    """One order per buyer; inviters register first so the invited can arrive through their links."""
    first_id = 800_000_000 + int(time.time()) % 100_000 * 100
    orders = [Order(i, buyer, first_id + i) for i, buyer in enumerate(cfg.buyers)]
    for order in orders:
        if order.buyer.invited_by is not None:
            inviter = orders[order.buyer.invited_by]
            code = ChaosApp(base, settings, inviter.telegram_id).call("GET", "/api/v1/referrals/me")["code"]
            order.start_param = f"ref_{code}"
    return orders


def place_order(base: str, settings: Settings, order: Order, happened: dict[str, threading.Event]) -> None:
    """As the person would: an avatar with six selfies, checkout, then — once the buyer's timeline event has
    happened — pay on the T-Bank page. Any failure is kept on the order, never raised."""
    try:
        app = ChaosApp(base, settings, order.telegram_id, order.start_param)
        styles = app.call("GET", "/api/v1/catalog")["styles"]
        avatar = app.call("POST", "/api/v1/avatars", json={"name": f"Chaos {order.index}"})
        files = [("files", (f"selfie{i}.jpg", selfie(order.telegram_id + i), "image/jpeg")) for i in range(6)]
        app.call("POST", f"/api/v1/avatars/{avatar['id']}/references", files=files)
        payment = app.call("POST", "/api/v1/payments", json={
            "avatar_id": avatar["id"], "style_id": styles[order.index % len(styles)]["id"], "tier": order.buyer.tier})
        order.payment_id, order.provider_payment_id = payment["payment_id"], payment["provider_payment_id"]
        order.order_id, order.amount_kopecks = payment["order_id"], payment["amount_kopecks"]
        if order.buyer.pay_on and not happened[order.buyer.pay_on].wait(PAY_WAIT_S):
            raise RuntimeError(f"{order.buyer.pay_on} never happened")
        requests.get(payment["payment_url"], timeout=10).raise_for_status()
        requests.post(payment["payment_url"], json={"outcome": "success"}, timeout=10).raise_for_status()
        order.paid_at = time.time()
    except Exception as exc:  # noqa: BLE001 — reported by the purchases check
        order.error = f"{type(exc).__name__}: {exc}"[:300]


def forge_notification(settings: Settings, order: Order) -> dict[str, Any]:
    """I5's probe: a REFUNDED notification for a paid payment, signed with the wrong password. Our answer must
    refuse it, and the payment must not move (the checks compare it with the bank afterwards)."""
    body: dict[str, Any] = {"TerminalKey": settings.tbank_terminal_key, "OrderId": order.order_id,
                            "Success": True, "Status": "REFUNDED", "PaymentId": int(order.provider_payment_id or 0),
                            "ErrorCode": "0", "Amount": order.amount_kopecks}
    body["Token"] = make_token(body, "not-" + settings.tbank_password)
    answer = requests.post(settings.public_url("/webhooks/tbank"), json=body, timeout=10)
    return {"payment_id": order.payment_id, "http_status": answer.status_code}


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
    watch = chaos_checks.StatusWatch(settings.database_url)
    with own_fleet_dir(cfg.run_dir):
        left_over = {name: fleet._pid(name) for name in [*FLEET, "redis", "worker-a", "worker-b"]}
        try:
            for name, pid in left_over.items():
                if pid is not None and fleet._group_alive(pid):
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
            fleet.start(env, FLEET)
            fleet.wait_healthy(base)
            TelegramClient(settings.telegram_api_base, settings.telegram_bot_token).set_webhook(
                settings.public_url("/webhooks/telegram"), settings.telegram_webhook_secret)
            faults_on = switch_faults_on(settings, cfg)
            for group in workers.values():
                group.start()
            say(f"chaos: fleet up in {time.monotonic() - started:.1f} s (web {base}, Redis :{redis_server.port}, "
                f"database {cfg.database}, logs {cfg.run_dir}); {len(cfg.buyers)} purchases, "
                f"{len(cfg.timeline)} faults on the timeline")
            orders = make_orders(cfg, base, settings)
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
            evidence = chaos_checks.gather(settings, orders=[dataclasses.asdict(o) for o in orders],
                                           observed=watch.seen, kills=faults.kills, outage=faults.outage or None,
                                           forged=forged)
            checks, windows = chaos_checks.evaluate(evidence, settled=settled, settle_timeout_s=cfg.settle_timeout_s)
            windows["albums"] = {o.telegram_id: albums_in_chat(settings.telegram_api_base, o.telegram_id)
                                 for o in orders}
        finally:
            watch.done.set()
            ours = [name for name in FLEET if fleet._pid(name) not in (None, left_over[name])]
            stop_everything(workers, ours, redis_server, say)
            if not cfg.keep_database:
                drop_database(settings.database_url)
    windows["web_restart_s"] = faults.web_restart_s
    result = ChaosResult(checks, windows, faults.log, [dataclasses.asdict(o) for o in orders],
                         round(time.monotonic() - started, 1), faults_on)
    if cfg.report_dir is not None:
        result.report = chaos_checks.write_report(cfg.report_dir, result, config=dataclasses.asdict(cfg))
    return result


def stop_everything(workers: dict[str, WorkerGroup], fleet_names: list[str], redis_server: ThrowawayRedis,
                    say: Callable[[str], None]) -> None:
    """Stop exactly what this run started: its worker groups, the fleet processes it started, its Redis."""
    for group in workers.values():
        group.stop()
    pids = [pid for name in fleet_names if (pid := fleet._pid(name)) is not None]
    with reap(pids):  # the fleet's processes are our children: reaped, they stop counting as alive
        stopped = fleet.stop(fleet_names) if fleet_names else []
    redis_server.close()
    say(f"chaos: stopped worker groups {', '.join(workers)}, {', '.join(stopped) or 'no fleet process'}, Redis")


@contextmanager
def own_fleet_dir(path: Path) -> Iterator[None]:
    """scenarios.fleet keeps its pid files in one module-level directory (.run/) shared with `make up`, `make
    run` and `make bench`; pointing it elsewhere for this run keeps either side from stopping the other's
    processes. (Asked for instead: a ``run_dir`` parameter of fleet.start/stop.)"""
    previous = fleet.RUN_DIR
    fleet.RUN_DIR = path
    try:
        yield
    finally:
        fleet.RUN_DIR = previous


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
    for line in chaos_checks.summary_lines(result):
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
