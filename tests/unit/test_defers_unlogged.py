"""A Defer is an expected wait, not an error: Dramatiq's worker thread logs every exception an actor raises as
"Failed to process message … with unhandled exception." with its traceback; the broker we build keeps that line
for real errors only (the make bench worker log had 69 such tracebacks a second for waiting Kie tokens)."""

from __future__ import annotations

import logging
import sys

from dramatiq.logging import get_logger

from runtime.outcomes import Defer
from settings import Settings
from workers.broker import build_broker
from workers.retries import DRAMATIQ_WORKER_LOGGER


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _raised(exc: BaseException):
    try:
        raise exc
    except BaseException:  # noqa: BLE001
        return sys.exc_info()


def test_the_worker_threads_log_drops_defers_and_keeps_errors() -> None:
    build_broker(Settings.from_env({"SANDBOX_MODE": "1"}), manage_services=False)
    worker_logger = get_logger("dramatiq.worker", "WorkerThread")  # how dramatiq.worker names its logger
    assert worker_logger.name == DRAMATIQ_WORKER_LOGGER
    collect = Collect()
    worker_logger.addHandler(collect)
    try:
        worker_logger.error("Failed to process message %s with unhandled exception.", "create_kie_task(1)",
                            exc_info=_raised(Defer(1500, "kie rate limit")))
        worker_logger.error("Failed to process message %s with unhandled exception.", "store_photo(2)",
                            exc_info=_raised(ValueError("a bug")))
        worker_logger.warning("Message %s was skipped.", "poll_task(3)")
    finally:
        worker_logger.removeHandler(collect)
    assert [r.getMessage() for r in collect.records] == [
        "Failed to process message store_photo(2) with unhandled exception.", "Message poll_task(3) was skipped."]
    build_broker(Settings.from_env({"SANDBOX_MODE": "1"}), manage_services=False)
    assert len(worker_logger.filters) == 1  # installed once however many brokers a process builds
