"""The watchdog: conditions no single message would report, checked by the scheduler every few seconds and told
to the admins' Telegram chat as incidents — an alert when a condition starts, one only while it lasts, marked
resolved (and said so) when it clears, a new alert at its next start (``admin_alerts_open_incident_key``).

Conditions: the outbox not draining (``outbox_lag``), no worker process alive (``workers_silent``), a Kie key
resting after a 433 (``kie_key_resting:<i>``), Kie credits low (``kie_credits_low``), checkouts being opened while
T-Bank sends no notification (``tbank_silent``), errors recorded faster than usual (``error_rate_spike``: the
error groups' occurrences over the last minute, from every process), Redis unreachable (``redis_unreachable``)
and the database unreachable (``database_unreachable``). The watchdog announces by itself (the Bot API needs
neither Redis nor the database, and an incident about either must not wait for them); an incident the database
could not hold while it was away is recorded, opened and resolved, once it is back.

The scheduler's own silence is seen from outside: every worker process looks for its heartbeat on each of its
own beats (``SchedulerWatch``, called by ``workers.heartbeat``); the first worker to find it silent past
``SCHEDULER_SILENT_AFTER_S`` opens the ``scheduler_silent`` incident (one open incident, however many workers
see it) and tells it; the scheduler's first pass when it is back resolves it, as it resolves every incident whose
condition no longer holds."""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from db import alerts, error_groups, fleet_state
from gateways.kie import KieClient
from gateways.telegram import TelegramError
from runtime import Services, heartbeats
from runtime.limits import kie_key_health
from telemetry.logs import log

logger = logging.getLogger("usecases.watchdog")

OUTBOX_LAG_ALERT_S = 60.0  # the oldest unpublished outbox row older than this: the relay or Redis is stuck
WORKERS_SILENT_AFTER_S = 30.0  # no worker heartbeat this long (a heartbeat lives 15 s)
KIE_CREDITS_LOW = 200.0  # credits left on a key below this (a purchase takes up to 23)
KIE_CREDITS_EVERY_S = 60.0  # the balance is asked at most this often
TBANK_WINDOW_S = 3600.0
TBANK_SILENT_CHECKOUTS = 10  # this many card checkouts in the window and not one notification
ERROR_SPIKE_WINDOW_S = 60.0
ERROR_SPIKE_AT = 20  # errors recorded (every process, every group) within the window: a spike
SCHEDULER_SILENT_AFTER_S = 60.0  # no scheduler heartbeat this long, as a worker sees it


@dataclass(frozen=True)
class Condition:
    incident: str
    kind: str
    severity: str
    message: str


@dataclass
class Watchdog:
    """One per scheduler process: the memory a pass needs between passes (when a silence began, the last Kie
    balance, incidents the database could not record while it was away)."""

    services: Services
    kie: KieClient | None = None
    workers_silent_since: float | None = None
    credits: tuple[float, list[float]] | None = None  # (when asked, the balances)
    unrecorded: dict[str, tuple[Condition, float]] = field(default_factory=dict)
    error_window_s: float = ERROR_SPIKE_WINDOW_S
    error_totals: deque[tuple[float, int]] = field(default_factory=deque)  # (when, occurrences so far)

    def run_once(self) -> dict[str, int]:
        """One pass: what holds now against what is open; returns counts of opened and resolved incidents."""
        holding = {c.incident: c for c in self._conditions()}
        if "database_unreachable" in holding:
            return self._database_away(holding["database_unreachable"])
        opened: list[dict[str, Any]] = []
        resolved: list[dict[str, Any]] = []
        with self.services.pool.connection() as conn, conn.transaction():
            for condition, began in self.unrecorded.values():  # what happened while the database was away
                row = alerts.open_incident(conn, incident=condition.incident, kind=condition.kind,
                                           severity=condition.severity, message=condition.message,
                                           details={"began_at": began, "recorded_late": True})
                if row is not None:
                    alerts.mark_alert_sent(conn, id=row["id"])
                    resolved += [r for r in [alerts.resolve_incident(conn, id=row["id"])] if r]
            self.unrecorded.clear()
            current = {a["incident"]: a for a in alerts.open_incidents(conn)}
            for key, condition in holding.items():
                if key not in current:
                    row = alerts.open_incident(conn, incident=key, kind=condition.kind, severity=condition.severity,
                                               message=condition.message, details={})
                    if row is not None:
                        opened.append({"id": row["id"], **condition.__dict__})
                elif current[key]["sent_at"] is None:  # its announcement failed before: try again
                    opened.append({"id": current[key]["id"], **Condition(key, current[key]["kind"],
                                   current[key]["severity"], current[key]["message"]).__dict__})
            for key, alert in current.items():
                if key not in holding and (row := alerts.resolve_incident(conn, id=alert["id"])) is not None:
                    resolved.append(row)
        for item in opened:
            if self._say(f"⚠️ [{item['severity']}] {item['kind']}: {item['message']}"):
                with self.services.pool.connection() as conn:
                    alerts.mark_alert_sent(conn, id=item["id"])
        for row in resolved:
            self._say(f"✅ resolved: {row['kind']} ({row['message'][:200]})")
        if opened or resolved:
            log(logger, "watchdog", opened=[i["incident"] for i in opened], resolved=[r["incident"] for r in resolved])
        return {"opened": len(opened), "resolved": len(resolved)}

    # -- conditions ------------------------------------------------------------------------------------------

    def _conditions(self) -> list[Condition]:
        """What holds now. The database and Redis are asked first; the checks that need one that is down are
        skipped (they would only wait for it, and the pass must tell its incident within seconds)."""
        database, redis_ = self._checked(self._database), self._checked(self._redis)
        checks = [self._kie_credits]
        if not database:
            checks += [self._outbox, self._tbank, self._error_rate]
        if not redis_:
            checks += [self._workers, self._kie_keys]
        found = database + redis_
        for check in checks:
            found += self._checked(check)
        return found

    @staticmethod
    def _checked(check: Any) -> list[Condition]:
        try:
            return list(check())
        except Exception as exc:  # noqa: BLE001 — one check failing never hides the others
            log(logger, "watchdog_check_failed", level=logging.WARNING, check=check.__name__,
                error=type(exc).__name__)
            return []

    def _database(self) -> list[Condition]:
        try:
            with self.services.pool.connection(timeout=3) as conn:
                conn.execute("SELECT 1")
        except Exception as exc:  # noqa: BLE001 — unreachable is the finding
            return [Condition("database_unreachable", "database_unreachable", "critical",
                              f"the database does not answer ({type(exc).__name__}); nothing can be recorded")]
        return []

    def _redis(self) -> list[Condition]:
        try:
            self.services.redis.ping()
        except Exception as exc:  # noqa: BLE001
            return [Condition("redis_unreachable", "redis_unreachable", "critical",
                              f"Redis does not answer ({type(exc).__name__}): no message moves, the outbox keeps "
                              "them")]
        return []

    def _outbox(self) -> list[Condition]:
        with self.services.pool.connection(timeout=3) as conn:
            lag = fleet_state.outbox_lag(conn)
        if lag["n"] and float(lag["oldest_s"]) > OUTBOX_LAG_ALERT_S:
            return [Condition("outbox_lag", "outbox_lag", "critical",
                              f"{lag['n']} outbox messages unpublished, the oldest {float(lag['oldest_s']):.0f} s: "
                              "is the scheduler's relay or Redis stuck?")]
        return []

    def _workers(self) -> list[Condition]:
        alive = [p for p in heartbeats.alive(self.services.redis, namespace=self.services.settings.broker_namespace)
                 if p.get("role") == "worker"]
        now = time.monotonic()
        if alive:
            self.workers_silent_since = None
            return []
        self.workers_silent_since = self.workers_silent_since or now
        if now - self.workers_silent_since < WORKERS_SILENT_AFTER_S:
            return []
        return [Condition("workers_silent", "workers_silent", "critical",
                          f"no worker process has been alive for {now - self.workers_silent_since:.0f} s: "
                          "nothing is being generated or delivered")]

    def _kie_keys(self) -> list[Condition]:
        s = self.services.settings
        health = kie_key_health(self.services.redis, key_count=len(s.kie_api_keys), namespace=s.broker_namespace)
        return [Condition(f"kie_key_resting:{key['key_index']}", "kie_key_resting", "warning",
                          f"Kie key #{key['key_index']} answered 433 (over its own cap) and rests; "
                          "the account's other keys carry on")
                for key in health if float(key["resting_s"]) > 0]  # type: ignore[arg-type]

    def _kie_credits(self) -> list[Condition]:
        now = time.monotonic()
        if self.credits is None or now - self.credits[0] >= KIE_CREDITS_EVERY_S:
            kie = self.kie or KieClient(self.services.settings.kie_base_url, self.services.settings.kie_model)
            self.kie = kie
            self.credits = (now, [kie.credit(api_key=key) for key in self.services.settings.kie_api_keys])
        low = [(i, balance) for i, balance in enumerate(self.credits[1]) if balance < KIE_CREDITS_LOW]
        if not low:
            return []
        listed = ", ".join(f"#{i}: {balance:.0f}" for i, balance in low)
        return [Condition("kie_credits_low", "kie_credits_low", "warning",
                          f"Kie credits are running low ({listed}; below {KIE_CREDITS_LOW:.0f}): top up")]

    def _tbank(self) -> list[Condition]:
        with self.services.pool.connection(timeout=3) as conn:
            activity = fleet_state.tbank_activity(conn, window_s=TBANK_WINDOW_S)
        if activity["checkouts"] >= TBANK_SILENT_CHECKOUTS and activity["notifications"] == 0:
            return [Condition("tbank_silent", "tbank_silent", "critical",
                              f"{activity['checkouts']} card checkouts in the last hour and not one T-Bank "
                              "notification: is the notification URL or the terminal's password wrong?")]
        return []

    def _error_rate(self) -> list[Condition]:
        """Errors recorded in the last ``error_window_s`` (the difference of the running total across passes)."""
        with self.services.pool.connection(timeout=3) as conn:
            total = error_groups.total_occurrences(conn)
        now = time.monotonic()
        self.error_totals.append((now, total))
        while len(self.error_totals) > 1 and self.error_totals[1][0] <= now - self.error_window_s:
            self.error_totals.popleft()
        since, base = self.error_totals[0]
        recent = total - base
        if recent < ERROR_SPIKE_AT:
            return []
        return [Condition("error_rate_spike", "error_rate_spike", "critical",
                          f"{recent} errors recorded in the last {max(now - since, 1.0):.0f} s (alert at "
                          f"{ERROR_SPIKE_AT} a minute): see the error groups on /admin")]

    # -- announcing --------------------------------------------------------------------------------------------

    def _database_away(self, condition: Condition) -> dict[str, int]:
        """Told once, at once; recorded (opened and resolved) when the database is back."""
        if condition.incident in self.unrecorded:
            return {"opened": 0, "resolved": 0}
        self.unrecorded[condition.incident] = (condition, time.time())
        self._say(f"⚠️ [{condition.severity}] {condition.kind}: {condition.message}")
        return {"opened": 1, "resolved": 0}

    def _say(self, text: str) -> bool:
        try:
            self.services.telegram.send_message(self.services.settings.admin_telegram_chat_id, text[:4000])
            return True
        except TelegramError as exc:
            log(logger, "watchdog_announce_failed", level=logging.WARNING, code=exc.code)
            return False


@dataclass
class SchedulerWatch:
    """A worker process's eye on the scheduler (``workers.heartbeat`` calls ``check`` on each of its beats)."""

    services: Services
    silent_after_s: float = field(default_factory=lambda: SCHEDULER_SILENT_AFTER_S)
    last_seen: float = field(default_factory=time.monotonic)  # a worker starting gives the scheduler its grace

    def check(self) -> bool:
        """True when this call opened (and told) the ``scheduler_silent`` incident."""
        now = time.monotonic()
        settings = self.services.settings
        if any(p.get("role") == "scheduler"
               for p in heartbeats.alive(self.services.redis, namespace=settings.broker_namespace)):
            self.last_seen = now
            return False
        if now - self.last_seen < self.silent_after_s:
            return False
        message = (f"no scheduler heartbeat for {now - self.last_seen:.0f} s: the outbox is not relayed, "
                   "nothing periodic runs and the watchdog is blind")
        with self.services.pool.connection(timeout=3) as conn:
            row = alerts.open_incident(conn, incident="scheduler_silent", kind="scheduler_silent",
                                       severity="critical", message=message, details={})
        if row is None:
            return False  # open already (another worker, or before): told once
        try:
            self.services.telegram.send_message(settings.admin_telegram_chat_id,
                                                f"⚠️ [critical] scheduler_silent: {message}")
        except TelegramError as exc:
            log(logger, "watchdog_announce_failed", level=logging.WARNING, code=exc.code)
            return True
        with self.services.pool.connection(timeout=3) as conn:
            alerts.mark_alert_sent(conn, id=row["id"])
        return True
