"""What every API view shares: the fleet, a transaction, strict JSON bodies and id path parameters.

Bodies are parsed strictly so that malformed JSON or a wrong type is a 400 with a code, never a 500; values of
the right type that make no sense (an unknown tier, an empty name) are 422s, raised by the views.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from flask import current_app, request
from psycopg import Connection

from web import Fleet
from web.errors import ApiError

MAX_ID = 2**63 - 1  # Postgres bigint: a larger id in a path or body can only be unknown
# The converter of every id in a route (``f"/x/<{ID}:x_id>"``). Deliberately without min/max: werkzeug answers
# 405 instead of 404 when a bounded converter refuses a value for a non-GET rule; ``check_path_ids`` bounds them.
ID = "int"
MAX_JSON_BYTES = 64 * 1024


def fleet() -> Fleet:
    return current_app.extensions["pinglass"]


@contextmanager
def connection() -> Iterator[Connection]:
    """One connection from the pool, outside any transaction: for a read whose use case makes its own (one
    statement, or ``db.queries.fetch_together``'s pipelined BEGIN … COMMIT) — no round trips of ours around it."""
    with fleet().services.pool.connection() as conn:
        yield conn


@contextmanager
def transaction() -> Iterator[Connection]:
    """One connection from the pool inside one transaction: committed on success, rolled back on error."""
    with fleet().services.pool.connection() as conn, conn.transaction():
        yield conn


def json_object() -> dict[str, Any]:
    """The request body as a JSON object: 415 if it is not declared JSON, 400 if it does not parse or is not
    an object."""
    if not request.mimetype or request.mimetype != "application/json":
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "send the body as application/json")
    raw = request.get_data(cache=True)
    if len(raw) > MAX_JSON_BYTES:
        raise ApiError(413, "PAYLOAD_TOO_LARGE", "the JSON body is too large")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "INVALID_JSON", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "INVALID_JSON", "the body must be a JSON object")
    return body


def id_field(body: dict[str, Any], name: str, *, required: bool = True) -> int | None:
    """A positive integer id from ``body``; 400 when missing (if required) or not an integer id."""
    value = body.get(name)
    if value is None and not required:
        return None
    if value is None:
        raise ApiError(400, "INVALID_REQUEST", f"{name} is required")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise ApiError(400, "INVALID_REQUEST", f"{name} must be a positive integer id")
    return value


def text_field(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    """A string from ``body``; 400 when missing (if required), not a string, or not storable text (a NUL or a
    lone surrogate, which JSON allows and Postgres and UTF-8 do not)."""
    value = body.get(name)
    if value is None and not required:
        return None
    if value is None:
        raise ApiError(400, "INVALID_REQUEST", f"{name} is required")
    if not isinstance(value, str):
        raise ApiError(400, "INVALID_REQUEST", f"{name} must be a string")
    if "\x00" in value or not _encodable(value):
        raise ApiError(400, "INVALID_REQUEST", f"{name} must be valid UTF-8 text without NUL characters")
    return value


def safe_text(value: str, *, limit: int = 255) -> str:
    """``value`` cut to ``limit`` characters with anything UTF-8 cannot carry replaced (for echoing names)."""
    return value[:limit].encode("utf-8", "replace").decode("utf-8")


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def iso(value: datetime | None) -> str | None:
    """A timestamp as ISO 8601 with its offset (what the OpenAPI ``date-time`` format means)."""
    return value.isoformat() if value is not None else None


def check_path_ids(view_args: dict[str, Any] | None) -> None:
    """404 for an id in the path that no row can have (0, or past bigint), before any view or query sees it."""
    for name, value in (view_args or {}).items():
        if name.endswith("_id") and isinstance(value, int) and not 1 <= value <= MAX_ID:
            raise not_found(name.removesuffix("_id"))


def not_found(what: str) -> ApiError:
    """The one answer for a missing id and for someone else's id alike (I6: ids reveal nothing)."""
    return ApiError(404, "NOT_FOUND", f"{what} not found")
