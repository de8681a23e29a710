"""The chaos run's processes and faults: worker groups and a throwaway Redis of the run's own, what Dramatiq's
broker holds unacknowledged, and ``Faults``, which plays the timeline of ``Step``s (SIGKILL a worker group, stop
Redis, SIGKILL the web, ...) and records what each fault did.

Everything here is started in its own process group, so a fault or a stop ends it whole; ``stop_everything``
stops exactly what the run started and nothing else.
"""

from __future__ import annotations

import json
import os
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

from scenarios import fleet
from settings import Settings

BIN = Path(sys.executable).parent
BUSY_WAIT_S = 20.0  # a worker group is SIGKILLed once it holds work (or after this long)


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


def stop_everything(workers: dict[str, WorkerGroup], fleet_names: list[str], redis_server: ThrowawayRedis,
                    run_dir: Path, say: Callable[[str], None]) -> None:
    """Stop exactly what this run started: its worker groups, the fleet processes it started (their pid files
    in ``run_dir``), its Redis."""
    for group in workers.values():
        group.stop()
    stopped = fleet.stop(fleet_names, run_dir=run_dir) if fleet_names else []  # no names: fleet.stop stops all
    redis_server.close()
    say(f"chaos: stopped worker groups {', '.join(workers)}, {', '.join(stopped) or 'no fleet process'}, Redis")
