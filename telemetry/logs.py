"""Structured logging: one JSON object per line, an ``event`` name and ids as fields.

Call ``log(logger, "event_name", key=value, ...)``; the correlation id is added from context.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from telemetry.context import correlation_id


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if fields:
            payload.update(fields)
        cid = correlation_id()
        if cid and "correlation_id" not in payload:
            payload["correlation_id"] = cid
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def log(logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields: object) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={"event": event, "fields": fields})


def monotonic_ms(start: float) -> float:
    return round((time.monotonic() - start) * 1000, 1)
