"""The chaos run's processes and faults: worker groups and a throwaway Redis of the run's own, what Dramatiq's
broker holds unacknowledged, ``Faults``, which plays the timeline of ``Step``s (SIGKILL a worker group, stop and
start Redis, PostgreSQL or RabbitMQ, SIGKILL the web, Telegram floods, ...) and records what each fault did, and
``Supervisor``, which SIGKILLs a random worker group every few seconds and starts every dead group again.

Everything here is started in its own process group, so a fault or a stop ends it whole; ``stop_everything``
stops exactly what the run started and nothing else.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from sandbox.client import SandboxClient
from scenarios import fleet
from scenarios.chaos_services import ThrowawayPostgres, ThrowawayRabbitMQ, group_tcp_ports
from settings import Settings

BIN = Path(sys.executable).parent
BUSY_WAIT_S = 20.0  # a worker group is SIGKILLed once it holds work (or after this long)
READY_WAIT_S = 90.0  # the longest an action buyers pay on waits for them to reach the payment page


@dataclass(frozen=True)
class Step:
    """``at_s`` seconds after the purchases start: ``action`` (one of ``Faults.ACTIONS``) on ``target``."""

    at_s: float
    action: str
    target: str = ""


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
                                          "8"], cwd=fleet.ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
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

    ACTIONS = frozenset({"kill_worker", "start_worker", "stop_redis", "start_redis", "kill_web", "stop_postgres",
                         "start_postgres", "stop_rabbitmq", "start_rabbitmq", "telegram_429_burst",
                         "telegram_album_flood"})
    ANNOUNCES = {"stop_redis": "redis_down", "start_redis": "redis_up", "kill_web": "web_restarted",
                 "stop_postgres": "postgres_down", "start_postgres": "postgres_up", "stop_rabbitmq": "rabbitmq_down",
                 "start_rabbitmq": "rabbitmq_up"}

    def __init__(self, settings: Settings, env: dict[str, str], redis_server: ThrowawayRedis,
                 workers: dict[str, WorkerGroup], run_dir: Path, say: Callable[[str], None], *,
                 postgres: ThrowawayPostgres | None = None, rabbitmq: ThrowawayRabbitMQ | None = None) -> None:
        self.settings, self.env, self.redis_server, self.workers = settings, env, redis_server, workers
        self.postgres, self.rabbitmq = postgres, rabbitmq
        self.run_dir, self.say, self.t0 = run_dir, say, time.monotonic()
        self.lock = threading.Lock()  # the timeline and the supervisor never act at the same moment
        self.down: set[str] = set()  # services stopped by the timeline right now
        self.unacked = Unacked(redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2),
                               settings.broker_namespace)
        self.watchers: list[threading.Thread] = []
        self.happened = {event: threading.Event() for event in self.ANNOUNCES.values()}
        self.log: list[dict[str, Any]] = []
        self.kills: list[dict[str, Any]] = []
        self.outage: dict[str, float] = {}  # Redis's
        self.outages: dict[str, dict[str, float]] = {}  # every stopped service's: down_at, up_at
        self.web_restart_s: float | None = None

    def play(self, t0: float, timeline: tuple[Step, ...],
             ready: dict[str, list[threading.Event]] | None = None) -> None:
        """The steps at their times, each kept at its distance from the one before when that one happened late.
        An action buyers pay on (``ready``: their events, by announcement) waits until each of them is at the
        payment page (bounded by READY_WAIT_S), and the rest of the timeline is shifted by that wait: on a loaded
        machine a buyer still uploading selfies would otherwise miss, say, Redis's whole outage."""
        self.t0 = t0
        shift = 0.0
        for step in sorted(timeline, key=lambda s: s.at_s):
            time.sleep(max(0.0, t0 + shift + step.at_s - time.monotonic()))
            waiting = (ready or {}).get(self.ANNOUNCES.get(step.action, ""), [])
            if waiting:
                began = time.monotonic()
                for event in waiting:
                    event.wait(max(0.0, began + READY_WAIT_S - time.monotonic()))
                if time.monotonic() - began > 0.5:
                    self.say(f"chaos: {step.action} held {time.monotonic() - began:.1f} s for its buyers")
            self.act(step.action, step.target)
            # an action done late (held for its buyers, or waiting for the supervisor's kill, which holds the lock
            # while it waits for the group to hold work) moves the steps after it too: Redis stopped 17 s late
            # must still be down for its 8 s, not started again at once
            shift = max(shift, time.monotonic() - (t0 + step.at_s))

    def act(self, action: str, target: str = "", **kwargs: Any) -> None:
        """Do one action now, record and announce it."""
        with self.lock:
            detail = getattr(self, action)(target, **kwargs)
        entry = {"t_s": round(time.monotonic() - self.t0, 1), "action": action, "target": target, "detail": detail}
        self.log.append(entry)
        self.say(f"chaos: t={entry['t_s']:5.1f}s {action} {target} — {detail}")
        if action in self.ANNOUNCES:
            self.happened[self.ANNOUNCES[action]].set()

    def kill_worker(self, target: str, busy_wait_s: float = BUSY_WAIT_S) -> str:
        """SIGKILL the group once every running group holds work (bounded by ``busy_wait_s``); which of the held
        messages were the dead group's is learnt in the background, from whose heartbeat stopped. On RabbitMQ the
        broker's count of the group's unacknowledged messages (by its channels) is known, not their ids."""
        if self.rabbitmq is not None:
            return self._kill_worker_rabbitmq(target, busy_wait_s)
        waited, running = time.monotonic(), sum(1 for g in self.workers.values() if g.running)
        while True:
            beats, held = self.unacked.beats(), self.unacked.held()
            live = [w for w in held if beats.get(w, 0) > time.time() * 1000 - 2000]
            if len(live) >= running or time.monotonic() - waited > busy_wait_s:
                break
            time.sleep(0.1)
        at, waited = time.time(), time.monotonic() - waited
        self.workers[target].kill()
        time.sleep(0.2)  # a command the dead group sent just before the kill still lands
        beats = self.unacked.beats()  # the dead group's last beats; the living beat again within a second
        kill = {"target": target, "at": at, "t_s": round(time.monotonic() - self.t0, 1), "in_flight": [],
                "held": 0, "by_actor": {}, "requeued_after_s": None}
        self.kills.append(kill)
        watcher = threading.Thread(target=self._watch_requeue, args=(kill, {w: held[w] for w in live}, beats),
                                   daemon=True)
        watcher.start()
        self.watchers.append(watcher)
        return f"SIGKILL to its process group ({waited:.1f} s waiting until every group held work)"

    def _kill_worker_rabbitmq(self, target: str, busy_wait_s: float) -> str:
        """SIGKILL the group once its own channels hold unacknowledged messages (bounded by ``busy_wait_s``):
        the broker's channels are told apart by their client ports, the group's ports read from /proc."""
        assert self.rabbitmq is not None
        group, waited = self.workers[target], time.monotonic()
        while True:
            ports = (group_tcp_ports(group.proc.pid, remote_port=self.rabbitmq.port) if group.proc is not None
                     else set())
            held = sum(n for port, n in (self.rabbitmq.unacked_by_client_port() or {}).items() if port in ports)
            if held > 0 or time.monotonic() - waited > busy_wait_s:
                break
            time.sleep(0.3)
        at, waited = time.time(), time.monotonic() - waited
        group.kill()
        gone, deadline = False, time.monotonic() + 30
        while not gone and time.monotonic() < deadline:  # the broker closes the dead connections: requeued
            left = self.rabbitmq.unacked_by_client_port()
            gone = left is not None and not set(left) & ports
            if not gone:
                time.sleep(0.2)
        requeued = round(time.time() - at, 1) if held and gone else None
        self.kills.append({"target": target, "at": at, "t_s": round(time.monotonic() - self.t0, 1), "in_flight": [],
                           "held": held, "by_actor": {}, "requeued_after_s": requeued})
        return (f"SIGKILL to its process group ({waited:.1f} s waiting until it held work): its channels held "
                f"{held} unacknowledged messages, back in their queues after {requeued} s")

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
            kill["held"] = len(messages)
            kill["by_actor"] = dict(Counter(m["actor"] for m in messages))
            while any(self.unacked.keys(w) for w in dead) and time.monotonic() < deadline:
                time.sleep(0.2)
            kill["requeued_after_s"] = round(time.time() - kill["at"], 1) if messages else None
        except redis.RedisError:
            pass  # Redis went down first: what the dead group held went with it

    def start_worker(self, target: str) -> str:
        self.workers[target].start()
        return f"started (pid {self.workers[target].proc.pid})"

    def _down(self, service: str) -> None:
        self.down.add(service)
        self.outages[service] = {"down_at": time.time()}

    def _up(self, service: str) -> float:
        self.down.discard(service)
        outage = self.outages.setdefault(service, {})
        outage["up_at"] = time.time()
        return outage["up_at"] - outage.get("down_at", outage["up_at"])

    def stop_redis(self, _: str) -> str:
        self._down("redis")
        self.outage["down_at"] = self.outages["redis"]["down_at"]
        self.redis_server.stop()
        return "SIGTERM; every queued and delayed message is lost with it" + (
            "" if self.rabbitmq is None else " (on RabbitMQ: only rate limits, heartbeats and marks)")

    def start_redis(self, _: str) -> str:
        self.redis_server.start()
        down_s = self._up("redis")
        self.outage["up_at"] = self.outages["redis"]["up_at"]
        return f"back, empty, after {down_s:.1f} s"

    def stop_postgres(self, _: str) -> str:
        if self.postgres is None:
            raise RuntimeError("this run has no PostgreSQL of its own to stop")
        self._down("postgres")
        self.postgres.stop()
        return "pg_ctl stop -m fast: every connection of every process cut"

    def start_postgres(self, _: str) -> str:
        assert self.postgres is not None
        self.postgres.start()
        return f"back after {self._up('postgres'):.1f} s"

    def stop_rabbitmq(self, _: str) -> str:
        if self.rabbitmq is None:
            raise RuntimeError("this run is not on RabbitMQ")
        self._down("rabbitmq")
        self.rabbitmq.stop()
        return "SIGTERM to the node: every connection closed; durable queues and persistent messages stay on disk"

    def start_rabbitmq(self, _: str) -> str:
        assert self.rabbitmq is not None
        self.rabbitmq.start()
        return f"back after {self._up('rabbitmq'):.1f} s"

    def telegram_429_burst(self, _: str, times: int = 12, retry_after: int = 2) -> str:
        """The next ``times`` sends of photos answer Telegram's 429 with ``retry_after``."""
        fakes = SandboxClient.from_settings(self.settings)
        rules = [{"method": method, "http_status": 429, "error_code": 429, "retry_after": retry_after,
                  "times": times // 2} for method in ("sendMediaGroup", "sendPhoto")]
        fakes.telegram.fail(*rules)
        return f"{times} sends answered 429 retry_after={retry_after}"

    def telegram_album_flood(self, _: str, times: int = 3, partial: int = 3) -> str:
        """The next ``times`` albums deliver their first ``partial`` photos, then answer 429 (a flood mid-album)."""
        SandboxClient.from_settings(self.settings).telegram.fail(
            {"method": "sendMediaGroup", "http_status": 429, "error_code": 429, "retry_after": 1, "times": times,
             "partial": partial})
        return f"{times} albums cut after {partial} photos by a 429"

    def kill_web(self, _: str) -> str:
        """SIGKILL gunicorn's whole group, then start it again with scenarios.fleet (needs Redis up: the web
        counts as healthy only with it)."""
        pid, started = fleet.pid_of("web", run_dir=self.run_dir), time.monotonic()
        if pid is None:
            raise RuntimeError(f"no web pid file in {self.run_dir}: the web was not started by this run")
        os.killpg(pid, signal.SIGKILL)
        while fleet.group_alive(pid) and time.monotonic() - started < 10:
            time.sleep(0.05)
        fleet.start(self.env, ["web"], run_dir=self.run_dir)
        fleet.wait_healthy(self.settings.public_base_url)
        self.web_restart_s = round(time.monotonic() - started, 1)
        return f"SIGKILL to gunicorn's group; restarted with scenarios.fleet, healthy after {self.web_restart_s} s"


class Supervisor(threading.Thread):
    """What a process manager does, with a chaos monkey inside: every ``every_s`` (a random span within the pair)
    from ``start_s`` to ``stop_s`` after the purchases start, SIGKILL a random worker group (only when every
    group runs and no service is down); twice a second, start again every group that is not running."""

    def __init__(self, faults: Faults, every_s: tuple[float, float], start_s: float, stop_s: float,
                 restart_after_s: float = 1.0, seed: int = 13) -> None:
        super().__init__(name="chaos-supervisor", daemon=True)
        self.faults, self.every_s, self.start_s, self.stop_s = faults, every_s, start_s, stop_s
        self.restart_after_s, self.random, self.done = restart_after_s, random.Random(seed), threading.Event()
        self.restarts, self.failed_starts = 0, 0

    def run(self) -> None:
        faults, workers = self.faults, self.faults.workers
        next_kill = self.start_s
        died: dict[str, float] = {}
        while not self.done.wait(0.5):
            elapsed = time.monotonic() - faults.t0
            for name, group in workers.items():
                if group.running:
                    died.pop(name, None)
                    continue
                if time.monotonic() - died.setdefault(name, time.monotonic()) < self.restart_after_s:
                    continue
                try:
                    faults.act("start_worker", name)
                    self.restarts += 1
                except Exception as exc:  # noqa: BLE001 — a database or broker away: try again next tick
                    self.failed_starts += 1
                    faults.say(f"chaos: supervisor could not start worker {name} yet ({exc})")
                    if group.running:
                        group.kill()
            if (self.start_s <= elapsed < self.stop_s and elapsed >= next_kill and not faults.down
                    and all(g.running for g in workers.values())):
                target = self.random.choice(sorted(workers))
                try:
                    faults.act("kill_worker", target, busy_wait_s=3.0)
                except Exception as exc:  # noqa: BLE001 — e.g. Redis went away meanwhile
                    faults.say(f"chaos: supervisor kill of {target} failed ({exc})")
                next_kill = elapsed + self.random.uniform(*self.every_s)


def stop_everything(workers: dict[str, WorkerGroup], fleet_names: list[str], redis_server: ThrowawayRedis,
                    run_dir: Path, say: Callable[[str], None]) -> None:
    """Stop exactly what this run started: its worker groups, the fleet processes it started (their pid files
    in ``run_dir``), its Redis."""
    for group in workers.values():
        group.stop()
    stopped = fleet.stop(fleet_names, run_dir=run_dir) if fleet_names else []  # no names: fleet.stop stops all
    redis_server.close()
    say(f"chaos: stopped worker groups {', '.join(workers)}, {', '.join(stopped) or 'no fleet process'}, Redis")
