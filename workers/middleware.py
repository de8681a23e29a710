"""Worker middleware: services lifecycle, and the per-message unit of work (correlation id bound to logs,
outbox rows published right after the actor's transactions commit, metrics with bounded labels)."""

from __future__ import annotations

import logging
import threading
import time

from dramatiq import Broker, Middleware, Worker
from dramatiq.broker import MessageProxy

import runtime
from db import outbox
from gateways.errors import ProviderError
from runtime.outcomes import Defer, Permanent
from settings import Settings
from telemetry import metrics
from telemetry.context import bind_correlation_id, reset_correlation_id
from telemetry.logs import log
from usecases.error_groups import record_exception
from workers.publisher import publish_quietly

logger = logging.getLogger("workers.middleware")


class ServicesLifecycle(Middleware):
    """Opens the pool and clients after the worker process boots (never at import) and closes them at exit.
    Leaves services alone when something else (a test) installed them first."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.owned = False

    def before_worker_boot(self, broker: Broker, worker: Worker) -> None:
        if not runtime.installed():
            runtime.install(runtime.build(self.settings, pool_size=max(4, worker.worker_threads + 2)))
            self.owned = True

    def after_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        if self.owned:
            runtime.current().close()
            runtime.install(None)
            self.owned = False


class UnitOfWork(Middleware):
    """Per message: bind the correlation id, remember outbox rows written, publish them after the actor
    returns (its transactions are committed by then), and count the outcome."""

    def __init__(self) -> None:
        self.local = threading.local()

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        self.local.started = time.monotonic()
        self.local.cid_token = bind_correlation_id(message.options.get("correlation_id") or message.message_id)
        self.local.outbox_token = outbox.begin_unit()

    def after_process_message(self, broker: Broker, message: MessageProxy, *, result: object = None,
                              exception: BaseException | None = None) -> None:
        # A bug, not a provider's answer nor an expected wait: counted under its cause (usecases/error_groups.py)
        expected = (Defer, Permanent, ProviderError)
        if exception is not None and not isinstance(exception, expected) and runtime.installed():
            record_exception(runtime.current().pool, source="worker", exc=exception)
        self._finish(broker, message, "ok" if exception is None else type(exception).__name__)

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        self._finish(broker, message, "skipped")

    def _finish(self, broker: Broker, message: MessageProxy, outcome: str) -> None:
        token = getattr(self.local, "outbox_token", None)
        if token is None:
            return
        ids = outbox.end_unit(token)
        self.local.outbox_token = None
        if ids and runtime.installed():
            publish_quietly(runtime.current().pool, broker, ids, via="commit")
        elapsed = time.monotonic() - self.local.started
        outcome_label = outcome if outcome in ("ok", "skipped", "Defer") else "error"
        metrics.MESSAGES.labels(message.actor_name, outcome_label).inc()
        metrics.MESSAGE_DURATION.labels(message.actor_name).observe(elapsed)
        log(logger, "message_done", actor=message.actor_name, message_id=message.message_id, outcome=outcome,
            ms=round(elapsed * 1000, 1))
        reset_correlation_id(self.local.cid_token)
