"""How an actor tells the worker what to do with its message, without importing the worker."""

from __future__ import annotations


class Defer(Exception):
    """Run this message again after ``delay_ms`` without spending its retry budget (an expected wait:
    a rate limiter, a provider's retry_after, a chat's flood limit)."""

    def __init__(self, delay_ms: int, reason: str) -> None:
        super().__init__(f"deferred {delay_ms} ms: {reason}")
        self.delay_ms = max(1, int(delay_ms))
        self.reason = reason


class Permanent(Exception):
    """A failure that retrying cannot fix: the message goes straight to the dead-letter table."""
