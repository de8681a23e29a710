"""Finite, explicit retries and the dead-letter table (replaces Dramatiq's month-long default Retries).

- ``Defer(delay)``: an expected wait; the message runs again after ``delay`` and keeps its retry budget
  (bounded by MAX_DEFERRALS so nothing waits forever).
- The database unreachable (a connection refused or cut, the pool's timeout, the server shutting down): the
  message runs again after ``DATABASE_WAIT_MS`` and keeps its retry budget, like a ``Defer`` — a database
  restart is a wait, not a failure (an actor without retries, such as a periodic one, would otherwise become a
  dead letter and an alert for each restart).
- ``Permanent`` or a provider error that says retrying cannot help: dead-lettered at once.
- Anything else: exponential backoff up to the actor's ``max_retries`` (default 5), then dead-lettered.
A dead letter is a row with the payload, error, traceback and attempts, a metric, and an admin alert.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import psycopg
from dramatiq import Broker, Middleware
from dramatiq.broker import MessageProxy

import runtime
from gateways.errors import ProviderError
from rules.backoff import retry_delay_ms
from runtime.outcomes import Defer, Permanent
from telemetry import metrics
from telemetry.logs import log
from usecases import dead_letters

logger = logging.getLogger("workers.retries")

DEFAULT_MAX_RETRIES = 5
DEFAULT_MIN_BACKOFF_MS = 1000
DEFAULT_MAX_BACKOFF_MS = 60000
MAX_DEFERRALS = 5000  # a token may wait out a long provider backlog; jobs are bounded by their deadline anyway
DATABASE_WAIT_MS = 5000
# SQLSTATE classes of a server that cannot be reached or is going away: 08 connection exception, 57P admin or
# crash shutdown, cannot connect now.
UNREACHABLE_SQLSTATES = ("08", "57P")


def database_unreachable(exception: BaseException) -> bool:
    """Whether ``exception`` says the database could not be reached (not that a statement failed): a connection
    error without a server's SQLSTATE (refused, cut; the pool's PoolTimeout is one) or one of
    ``UNREACHABLE_SQLSTATES``."""
    if not isinstance(exception, psycopg.OperationalError):
        return False
    sqlstate = exception.sqlstate
    return sqlstate is None or sqlstate.startswith(UNREACHABLE_SQLSTATES)


class DefersUnlogged(logging.Filter):
    """Dramatiq's worker thread logs every exception an actor raises as an error with its traceback
    ("Failed to process message … with unhandled exception."). A ``Defer`` is not one: it is an expected wait (a
    rate limit, a busy lock), the ``message_done`` line already records it (outcome ``Defer``), and under load the
    tracebacks were most of the worker's log (69 a second for the Kie budget's waiting tokens) and CPU it did not
    have. Every other exception is still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, Defer)


DRAMATIQ_WORKER_LOGGER = "dramatiq.worker.WorkerThread"


def quiet_defers() -> None:
    """Install ``DefersUnlogged`` on Dramatiq's worker-thread logger of this process (once)."""
    worker_logger = logging.getLogger(DRAMATIQ_WORKER_LOGGER)
    if not any(isinstance(f, DefersUnlogged) for f in worker_logger.filters):
        worker_logger.addFilter(DefersUnlogged())


class RetryPolicy(Middleware):
    def __init__(self) -> None:
        quiet_defers()  # the broker is built in every worker process, before its threads start

    @property
    def actor_options(self) -> set[str]:
        return {"max_retries", "min_backoff", "max_backoff"}

    def after_process_message(self, broker: Broker, message: MessageProxy, *, result: object = None,
                              exception: BaseException | None = None) -> None:
        if exception is None:
            return
        actor = broker.get_actor(message.actor_name)
        waiting = isinstance(exception, Defer) or database_unreachable(exception)
        if waiting:
            deferrals = message.options.get("deferrals", 0) + 1
            if deferrals <= MAX_DEFERRALS:
                message.options["deferrals"] = deferrals
                delay = exception.delay_ms if isinstance(exception, Defer) else DATABASE_WAIT_MS
                if isinstance(exception, Defer):
                    metrics.RATE_LIMIT_WAITS.labels(message.actor_name).inc()
                else:
                    log(logger, "message_waits_for_database", level=logging.WARNING, actor=message.actor_name,
                        message_id=message.message_id, delay_ms=delay, error=repr(exception)[:300])
                broker.enqueue(message, delay=delay)  # type: ignore[arg-type]  # a proxy, as Dramatiq's Retries does
                return
        retries = message.options.get("retries", 0)
        max_retries = _option(message, actor, "max_retries", DEFAULT_MAX_RETRIES)
        permanent = isinstance(exception, Permanent) or (
            isinstance(exception, ProviderError) and not exception.retryable)
        if not permanent and retries < max_retries and not waiting:
            message.options["retries"] = retries + 1
            retry_after = exception.retry_after if isinstance(exception, ProviderError) else None
            delay = retry_delay_ms(retries, min_ms=_option(message, actor, "min_backoff", DEFAULT_MIN_BACKOFF_MS),
                                   max_ms=_option(message, actor, "max_backoff", DEFAULT_MAX_BACKOFF_MS),
                                   retry_after_s=retry_after)
            log(logger, "message_retry", level=logging.WARNING, actor=message.actor_name,
                message_id=message.message_id, retries=retries + 1, delay_ms=delay, error=repr(exception)[:300])
            broker.enqueue(message, delay=delay)  # type: ignore[arg-type]  # a proxy, as Dramatiq's Retries does
            return
        message.fail()
        dead_letter(message, exception, attempts=retries + 1)


def _option(message: MessageProxy, actor: Any, name: str, default: int) -> int:
    """A per-message option (``send_with_options``) wins over the actor's, which wins over the default."""
    return int(message.options.get(name, actor.options.get(name, default)))


def dead_letter(message: MessageProxy, exception: BaseException, *, attempts: int) -> None:
    """Record the message in the dead-letter table, count it and alert admins (one transaction)."""
    metrics.DEAD_LETTERS.labels(message.actor_name).inc()
    error = f"{type(exception).__name__}: {exception}"
    tb = "".join(traceback.format_exception(type(exception), exception, exception.__traceback__, limit=30))
    log(logger, "message_dead_lettered", level=logging.ERROR, actor=message.actor_name,
        message_id=message.message_id, attempts=attempts, error=error[:300])
    payload = {"args": list(message.args), "kwargs": dict(message.kwargs),
               "options": {k: v for k, v in message.options.items() if k in ("correlation_id",)}}
    try:
        services = runtime.current()
        with services.pool.connection() as conn, conn.transaction():
            dead_letters.record(conn, message_id=message.message_id, actor=message.actor_name,
                                queue_name=message.queue_name, payload=payload, error=error, traceback=tb,
                                attempts=attempts)
    except Exception as exc:  # noqa: BLE001 — the broker's own dead-letter queue still holds the message
        log(logger, "dead_letter_write_failed", level=logging.CRITICAL, actor=message.actor_name,
            message_id=message.message_id, error=repr(exc)[:300])
