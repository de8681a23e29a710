"""The worker process's heartbeat (``runtime.heartbeats``): a daemon thread beats while the worker runs and the
heartbeat is removed when it shuts down. Redis being away only skips beats (the fleet's readiness then shows
the worker as silent, which is what it looks like from outside). On each beat the worker also looks for the
scheduler's heartbeat (``usecases.watchdog.SchedulerWatch``): the scheduler cannot report its own silence.

A second thread beats the process's liveness row in Postgres (``usecases.liveness``) every
``liveness.BEAT_EVERY_S``: the claims this process holds are its own while it beats, and are recovered within
seconds once it stops. It beats until the worker has shut down (its threads' last calls included), not only
until shutdown starts."""

from __future__ import annotations

import logging
import threading
import time

import redis
from dramatiq import Broker, Middleware, Worker
from psycopg_pool import ConnectionPool

import runtime
from db.pool import open_pool
from runtime import heartbeats
from settings import Settings
from telemetry.logs import log
from usecases import liveness
from usecases.watchdog import SchedulerWatch

logger = logging.getLogger("workers.heartbeat")


class Heartbeat(Middleware):
    def __init__(self, settings: Settings, namespace: str) -> None:
        self.settings, self.namespace = settings, namespace
        self.stop = threading.Event()
        self.live = threading.Event()  # set: stop beating the liveness row
        self.client: redis.Redis | None = None

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        self.stop.clear()
        self.client = redis.Redis.from_url(self.settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        threading.Thread(target=self._run, args=(self.client, time.time()), name="heartbeat", daemon=True).start()
        self.live.clear()
        threading.Thread(target=self._beat_liveness, name="liveness", daemon=True).start()

    def before_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        self.stop.set()
        if self.client is not None:
            try:
                heartbeats.forget(self.client, namespace=self.namespace, role="worker")
            except redis.RedisError:
                pass
            self.client.close()

    def after_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        self.live.set()

    def _beat_liveness(self) -> None:
        """Beat this process's liveness row until the worker has shut down, on a connection of its own (a busy
        shared pool must not make a live process look dead); a database away only skips beats (past
        ``liveness.SILENT_AFTER_S`` this process's claims are recovered, and its late results refused)."""
        pool: ConnectionPool | None = None
        while True:
            try:
                pool = pool or open_pool(runtime.current().settings.database_url, min_size=1, max_size=1,
                                         name="liveness", timeout_s=liveness.BEAT_EVERY_S)
                with pool.connection() as conn:
                    liveness.beat(conn)
            except RuntimeError:
                pass  # the services are not installed yet (the worker is booting)
            except Exception as exc:  # noqa: BLE001 — the database away: the next beat tries again
                log(logger, "liveness_beat_skipped", level=logging.WARNING, error=type(exc).__name__)
            if self.live.wait(liveness.BEAT_EVERY_S):
                break
        if pool is not None:
            pool.close()

    def _run(self, client: redis.Redis, started_at: float) -> None:
        watch: SchedulerWatch | None = None
        while not self.stop.is_set():
            try:
                heartbeats.beat(client, namespace=self.namespace, role="worker", started_at=started_at)
            except redis.RedisError as exc:
                log(logger, "heartbeat_skipped", level=logging.WARNING, error=type(exc).__name__)
            watch = self._watch_scheduler(watch)
            self.stop.wait(heartbeats.BEAT_EVERY_S)

    @staticmethod
    def _watch_scheduler(watch: SchedulerWatch | None) -> SchedulerWatch | None:
        """One look for the scheduler's heartbeat (never raises: the beat goes on whatever it finds)."""
        try:
            watch = watch or SchedulerWatch(runtime.current())
            watch.check()
        except RuntimeError:
            return None  # the services are not installed yet (the worker is booting)
        except Exception as exc:  # noqa: BLE001 — Redis or the database away: the watchdog's own incidents
            log(logger, "scheduler_watch_failed", level=logging.WARNING, error=type(exc).__name__)
        return watch
