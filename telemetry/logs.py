"""Structured logging: one JSON object per line, an ``event`` name and ids as fields.

Call ``log(logger, "event_name", key=value, ...)``; the correlation id is added from context.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Mapping

from telemetry.context import correlation_id


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "process": record.process,
        }
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            payload.update(_access_fields(record.args))
        else:
            payload["event"] = getattr(record, "event", record.getMessage())
        fields = getattr(record, "fields", None)
        if fields:
            payload.update(fields)
        cid = correlation_id()
        if cid and "correlation_id" not in payload:
            payload["correlation_id"] = cid
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


def _access_fields(atoms: Mapping[str, object]) -> dict[str, object]:
    """Gunicorn's access-log atoms (its ``safe_atoms``) as an ``http_request`` event's fields."""
    def atom(key: str) -> object:
        value = atoms.get(key, "-")
        return None if value == "-" else value

    status, size, ms = atom("s"), atom("B"), atom("M")
    return {"event": "http_request", "method": atom("m"), "path": atom("U"),
            "status": int(str(status)) if str(status).isdigit() else status,
            "bytes": int(str(size)) if str(size).isdigit() else 0,
            "ms": int(str(ms)) if str(ms).isdigit() else None, "remote": atom("h"),
            "correlation_id": atom("{x-correlation-id}o")}


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
