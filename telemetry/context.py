"""The correlation id of the work in progress, bound per request (web) or per message (workers)."""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Iterator

_correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)


def correlation_id() -> str | None:
    return _correlation_id.get()


def bind_correlation_id(value: str | None) -> contextvars.Token[str | None]:
    return _correlation_id.set(value)


def reset_correlation_id(token: contextvars.Token[str | None]) -> None:
    _correlation_id.reset(token)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


@contextlib.contextmanager
def correlation_of(value: str | None) -> Iterator[None]:
    """Run the block under ``value`` (the id of the work it continues, e.g. a purchase's), then restore the
    caller's; nothing changes when ``value`` is empty."""
    if not value:
        yield
        return
    token = _correlation_id.set(value)
    try:
        yield
    finally:
        _correlation_id.reset(token)
