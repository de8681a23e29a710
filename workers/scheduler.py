"""The scheduler: exactly one process that relays the outbox, sends the periodic messages and runs the watchdog
(``usecases/watchdog.py``: incidents told to the admins' chat).

``python -m workers.scheduler`` runs until SIGTERM/SIGINT. The outbox relay runs here directly (not as a
message), so rows left behind while Redis was down are published as soon as it is back.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass

import dramatiq

import runtime
from db import outbox
from runtime import heartbeats
from settings import Settings
from telemetry import metrics
from telemetry.logs import log
from usecases import liveness, payment_upkeep
from usecases.watchdog import Watchdog
from workers.boot import boot
from workers.publisher import publish, publish_quietly

logger = logging.getLogger("workers.scheduler")
RELAY_EVERY_S = 1.0
RELAY_MIN_AGE_S = 1.0  # younger rows are being published by their own unit of work
WATCH_EVERY_S = 5.0  # the watchdog's pass: an incident reaches the admins' chat within seconds
# A dead worker's 'submitting' tasks are pending again within SILENT_AFTER_S + this (usecases/liveness.py); the
# check reads a partial index of the few 'submitting' rows, so running it this often costs next to nothing.
RECOVER_EVERY_S = 2.0
ROUND_LATE_S = 2.0  # a round this late after the last one: this process was not running (see RecoveryHold)


@dataclass
class Periodic:
    actor_name: str
    every_s: float
    next_at: float = 0.0


SCHEDULE = [Periodic("sweep_stuck", 15), Periodic("reconcile_payments", 30), Periodic("clean_up", 3600),
            Periodic("expire_personal_data", 3600)]


class RecoveryHold:
    """Holds the recovery of silent claims back after this process itself was not running (a paused VM or
    container, a stopped process, a stall): every beat it would read is old then, the live claimers' too, and
    recovering their claims would make Kie create those tasks twice. A round's short wait that lasted over
    ``ROUND_LATE_S`` is such a gap (the round's own work is not counted: a slow relay is not a stall); recovery
    then waits ``liveness.SILENT_AFTER_S``, long enough for every live process to beat again, and a dead
    claimer's tasks come back that much later."""

    def __init__(self, hold_s: float = liveness.SILENT_AFTER_S) -> None:
        self.hold_s = hold_s
        self.waited_from: float | None = None
        self.held_until = 0.0

    def begin(self, now: float) -> bool:
        """A round begins at monotonic ``now``: True when recovery may run in it."""
        if self.waited_from is not None and now - self.waited_from > ROUND_LATE_S:
            self.held_until = now + self.hold_s
            log(logger, "recovery_held", level=logging.WARNING, gap_s=round(now - self.waited_from, 1),
                hold_s=self.hold_s)
        return now >= self.held_until

    def end(self, now: float) -> None:
        """The round's work is done; its wait begins."""
        self.waited_from = now


def schedule(settings: Settings) -> list[Periodic]:
    """The periodic messages of this process: ``SCHEDULE``'s own entries (a test makes one due by setting its
    ``next_at``), with ``reconcile_payments`` as often as its rotation needs to ask about every open payment
    within ``settings.reconcile_interval_s``."""
    for item in SCHEDULE:
        if item.actor_name == "reconcile_payments":
            item.every_s = payment_upkeep.run_every_s(settings)
    return SCHEDULE


def run(settings: Settings, stop: threading.Event, *, relay_every_s: float = RELAY_EVERY_S) -> None:
    """Relay the outbox and send periodic messages until ``stop`` is set."""
    broker = dramatiq.get_broker()
    services = runtime.current()
    next_relay = next_beat = next_recover = 0.0
    started_at = time.time()
    periodic = schedule(settings)
    hold = RecoveryHold()
    while not stop.is_set():
        now = time.monotonic()
        may_recover = hold.begin(now)
        if now >= next_beat:
            next_beat = now + heartbeats.BEAT_EVERY_S
            _beat(services, settings, started_at)
        if now >= next_relay:
            next_relay = now + relay_every_s
            relay_once(services, broker)
        if now >= next_recover and may_recover:
            next_recover = now + RECOVER_EVERY_S
            recover_once(services, broker)
        for item in periodic:
            if now >= item.next_at:
                item.next_at = now + item.every_s
                try:
                    broker.get_actor(item.actor_name).send()
                except Exception as exc:  # noqa: BLE001 — Redis down: try again next round
                    log(logger, "periodic_send_failed", level=logging.WARNING, actor=item.actor_name,
                        error=type(exc).__name__)
        hold.end(time.monotonic())
        stop.wait(0.2)
    try:
        heartbeats.forget(services.redis, namespace=settings.broker_namespace, role="scheduler")
    except Exception:  # noqa: BLE001 — Redis down: the heartbeat expires by itself
        pass


def _beat(services: runtime.Services, settings: Settings, started_at: float) -> None:
    """The scheduler is alive (``runtime.heartbeats``; /health/ready and the admin show it)."""
    try:
        heartbeats.beat(services.redis, namespace=settings.broker_namespace, role="scheduler",
                        started_at=started_at)
    except Exception as exc:  # noqa: BLE001 — Redis down: readiness shows the scheduler silent, as it is
        log(logger, "heartbeat_skipped", level=logging.WARNING, error=type(exc).__name__)


def watch(services: runtime.Services, stop: threading.Event, *, every_s: float = WATCH_EVERY_S) -> None:
    """The watchdog (``usecases.watchdog``) every ``every_s`` until ``stop``, on a thread of its own so a slow
    check (a provider, a database that does not answer) never holds up the outbox relay."""
    dog = Watchdog(services)
    while not stop.wait(every_s):
        try:
            dog.run_once()
        except Exception as exc:  # noqa: BLE001 — the next pass tries again
            log(logger, "watchdog_failed", level=logging.WARNING, error=type(exc).__name__)


def recover_once(services: runtime.Services, broker: dramatiq.Broker) -> int:
    """Tasks of dead claimers back to pending (``usecases.liveness``); their new tokens are published at once,
    not a relay period later."""
    unit = outbox.begin_unit()
    try:
        with services.pool.connection() as conn, conn.transaction():
            recovered = liveness.recover_silent_claims(conn)
    except Exception as exc:  # noqa: BLE001 — database down: the next round tries again
        outbox.end_unit(unit)
        log(logger, "recover_failed", level=logging.WARNING, error=type(exc).__name__)
        return 0
    ids = outbox.end_unit(unit)
    if recovered:
        publish_quietly(services.pool, broker, ids, via="recovery")
        log(logger, "silent_claims_recovered", tasks=recovered)
    return recovered


def relay_once(services: runtime.Services, broker: dramatiq.Broker) -> int:
    try:
        sent = publish(services.pool, broker, older_than_s=RELAY_MIN_AGE_S, via="relay")
        with services.pool.connection() as conn:
            metrics.OUTBOX_BACKLOG.set(outbox.backlog(conn))
    except Exception as exc:  # noqa: BLE001 — broker or database down: the rows stay, retried next round
        log(logger, "relay_failed", level=logging.WARNING, error=type(exc).__name__)
        return 0
    if sent:
        log(logger, "outbox_relayed", rows=sent)
    return sent


def main() -> None:
    booted = boot("scheduler", os.environ)
    settings = booted.settings
    runtime.install(booted.services)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log(logger, "scheduler_started")
    watchdog = threading.Thread(target=watch, args=(booted.services, stop), name="watchdog", daemon=True)
    watchdog.start()
    run(settings, stop)
    watchdog.join(timeout=10)
    runtime.current().close()


if __name__ == "__main__":
    main()
