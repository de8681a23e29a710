"""The T-Bank fake's notifier: POSTs signed notifications and re-sends each until the answer is exactly ``OK``.

Real T-Bank re-sends a failed notification hourly for a day; here the schedule is compressed by the knobs
(``notify_retry_interval_s``, ``notify_max_attempts``). Every attempt is recorded with its answer. A batch is
either concurrent (one thread per notification, started in random order, as a one-stage payment's AUTHORIZED
and CONFIRMED are) or ordered (each first attempt finishes before the next begins: that is how the
``notify_confirmed_first`` knob makes a reordering deterministic). Waits use an Event, so ``reset`` stops
every pending re-send at once.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from sandbox.tbank.config import TBankFakeConfig

logger = logging.getLogger("sandbox.tbank")

ANSWER_KEEP = 200  # characters of each answer body kept in the record
MAX_DELIVERIES = 5000  # deliveries kept for the state


def log(event: str, *, level: int = logging.INFO, **fields: object) -> None:
    """A structured log line in the shape the fleet's JSON formatter reads (``event`` and ``fields``)."""
    logger.log(level, event, extra={"event": event, "fields": fields})


class Notifier:
    """Delivers notifications on daemon threads and keeps the record of every delivery and attempt."""

    def __init__(self, drop: Callable[[dict[str, Any]], bool] | None = None) -> None:
        """``drop``: asked before each attempt; True loses that attempt on the way (a ``Notify`` fault rule)."""
        self._drop = drop or (lambda payload: False)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ids = itertools.count(1)
        self._random = random.Random()
        self.deliveries: list[dict[str, Any]] = []

    def deliver(self, url: str, payloads: list[dict[str, Any]], config: TBankFakeConfig, *,
                concurrent: bool, copies: int | None = None) -> None:
        """Send each payload ``copies`` times (default: the ``notify_duplicates`` knob) to ``url``; returns at once."""
        copies = config.notify_duplicates if copies is None else copies
        if config.notify_seed:
            self._random.seed(f"{config.notify_seed}:{payloads[0]['PaymentId']}:{payloads[0]['Status']}")
        if concurrent and config.notify_confirmed_first:
            concurrent = False
            payloads = sorted(payloads, key=lambda p: p["Status"] != "CONFIRMED")
        batch = [self._new_delivery(url, payload, copy)
                 for payload in payloads for copy in range(1, copies + 1)]
        stop = self._stop
        if concurrent:
            self._random.shuffle(batch)
            for delivery in batch:
                self._start(self._run, delivery, config, stop, 0)
        else:
            self._start(self._run_ordered, batch, config, stop)

    def reset(self) -> None:
        """Forget every delivery and stop every pending re-send."""
        with self._lock:
            self._stop.set()
            self._stop = threading.Event()
            self.deliveries = []

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**d, "attempts": list(d["attempts"])} for d in self.deliveries]

    def _new_delivery(self, url: str, payload: dict[str, Any], copy: int) -> dict[str, Any]:
        delivery = {"id": next(self._ids), "payment_id": str(payload["PaymentId"]), "status": payload["Status"],
                    "copy": copy, "url": url, "payload": payload, "attempts": [], "delivered": False,
                    "gave_up": False}
        with self._lock:
            self.deliveries.append(delivery)
            del self.deliveries[:-MAX_DELIVERIES]
        return delivery

    @staticmethod
    def _start(target: Any, *args: Any) -> None:
        threading.Thread(target=target, args=args, name="sandbox-tbank-notify", daemon=True).start()

    def _run_ordered(self, batch: list[dict[str, Any]], config: TBankFakeConfig, stop: threading.Event) -> None:
        for delivery in batch:
            if stop.is_set():
                return
            if not self._attempt(delivery, config):
                self._start(self._run, delivery, config, stop, 1)

    def _run(self, delivery: dict[str, Any], config: TBankFakeConfig, stop: threading.Event, tried: int) -> None:
        while tried < config.notify_max_attempts:
            if tried and stop.wait(config.notify_retry_interval_s):
                return
            if self._attempt(delivery, config):
                return
            tried += 1
        with self._lock:
            delivery["gave_up"] = True
        log("tbank_notification_gave_up", level=logging.WARNING, payment_id=delivery["payment_id"],
            status=delivery["status"], attempts=tried)

    def _attempt(self, delivery: dict[str, Any], config: TBankFakeConfig) -> bool:
        """One POST; True when the receiver answered HTTP 200 with the body exactly ``OK``."""
        attempt: dict[str, Any] = {"at": round(time.time(), 3), "http_status": None, "body": None, "error": None}
        if self._drop(delivery["payload"]):
            attempt.update(error="dropped", ok=False)
            with self._lock:
                delivery["attempts"].append(attempt)
            log("tbank_notification_dropped", payment_id=delivery["payment_id"], status=delivery["status"])
            return False
        try:
            response = requests.post(delivery["url"], json=delivery["payload"], timeout=config.notify_timeout_s)
            attempt["http_status"] = response.status_code
            attempt["body"] = response.text[:ANSWER_KEEP]
            ok = response.status_code == 200 and response.text == "OK"
        except requests.RequestException as exc:
            attempt["error"] = type(exc).__name__
            ok = False
        attempt["ok"] = ok
        with self._lock:
            delivery["attempts"].append(attempt)
            delivery["delivered"] = ok
        log("tbank_notification_sent", payment_id=delivery["payment_id"], status=delivery["status"],
            http_status=attempt["http_status"], ok=ok)
        return ok
