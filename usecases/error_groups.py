"""Error tracking: exceptions from every process (the web's unhandled ones, actors failing with something that is
not a provider's answer) and the Mini App's JavaScript errors, grouped by cause and counted with their latest
occurrence, shown on /admin. A group is the source, the exception's type and the innermost place in our own code
it came from — so one bug is one line however often it fires, and its message may vary (ids, values). With
``SENTRY_DSN`` set, each exception also goes to Sentry (``telemetry/sentry.py``).

Recording never raises: an error path must not fail because the database is away too."""

from __future__ import annotations

import hashlib
import logging
import traceback as tb
from pathlib import Path
from typing import TYPE_CHECKING, Any

from db import error_groups
from telemetry import sentry
from telemetry.context import correlation_id
from telemetry.logs import log

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

logger = logging.getLogger("usecases.error_groups")
ROOT = Path(__file__).resolve().parents[1]
MESSAGE_MAX, TRACEBACK_MAX, STACK_MAX = 500, 8000, 4000


def where(exc: BaseException) -> str:
    """``module:function`` of the innermost frame in our own code (not a library's), else of the innermost frame."""
    frames = tb.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(str(ROOT)) and "/.venv/" not in f.filename]
    if not (ours or frames):
        return "?"
    frame = (ours or frames)[-1]
    module = Path(frame.filename).resolve()
    try:
        name = ".".join(module.relative_to(ROOT).with_suffix("").parts)
    except ValueError:
        name = module.stem
    return f"{name}:{frame.name}"


def fingerprint(source: str, kind: str, location: str) -> str:
    return hashlib.sha256(f"{source}|{kind}|{location}".encode()).hexdigest()[:32]


def record_exception(pool: ConnectionPool, *, source: str, exc: BaseException) -> None:
    """Count ``exc`` under its group (best effort)."""
    kind, location = type(exc).__name__, where(exc)
    text = "".join(tb.format_exception(type(exc), exc, exc.__traceback__))[-TRACEBACK_MAX:]
    try:
        sentry.capture(exc, source=source, correlation_id=correlation_id())
    except Exception:  # noqa: BLE001, S110 — Sentry's trouble never becomes ours
        pass
    try:
        with pool.connection(timeout=2) as conn:
            error_groups.record(conn, fingerprint=fingerprint(source, kind, location), source=source, kind=kind,
                                location=location, message=str(exc)[:MESSAGE_MAX] or kind, traceback=text,
                                correlation_id=correlation_id())
    except Exception as failure:  # noqa: BLE001 — never raise from an error path
        log(logger, "error_not_recorded", level=logging.WARNING, error=type(failure).__name__, kind=kind)


def record_client_error(conn: Connection, *, message: str, where_: str, stack: str, user_id: int) -> int:
    """A JavaScript error the Mini App reported: grouped by its message's first line and where it happened (the
    screen's route), as the browser gives no frame of ours; the group's occurrences."""
    first_line = (message.strip().splitlines() or ["(no message)"])[0][:200]
    location = where_.strip()[:200] or "?"
    try:
        sentry.capture_client_error(kind=first_line, where=location, message=message[:MESSAGE_MAX],
                                    stack=stack[:STACK_MAX], correlation_id=correlation_id())
    except Exception:  # noqa: BLE001, S110 — Sentry's trouble never becomes ours
        pass
    return error_groups.record(conn, fingerprint=fingerprint("miniapp", first_line, location), source="miniapp",
                               kind=first_line, location=location, message=message[:MESSAGE_MAX],
                               traceback=(stack[:STACK_MAX] + f"\n(user {user_id})") if stack else f"(user {user_id})",
                               correlation_id=correlation_id())


def recent_groups(conn: Connection, *, limit: int = 20) -> list[dict[str, Any]]:
    return error_groups.recent(conn, limit=limit)
