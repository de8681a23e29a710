"""State machines of payments, jobs, tasks, delivery chunks and refunds — the one source of every status
change. Monotonic: an old or repeated event never moves a record backwards. Every conditional UPDATE's
``WHERE status = ANY(expected)`` is built by ``expected_sources`` from these tables; the keys of each table are
exactly the statuses its CHECK constraint and the OpenAPI enums allow (``tests/integration/test_states.py``).

Creating a row (a pending task, a pending chunk, a pending refund) and touching one without changing its status
(the sweeper re-tokening an idle pending task) are not moves.
"""

from __future__ import annotations

PAYMENT_MOVES: dict[str, frozenset[str]] = {
    "new": frozenset({"authorized", "confirmed", "canceled", "expired", "rejected"}),
    "authorized": frozenset({"confirmed", "canceled", "rejected", "refunded"}),
    "confirmed": frozenset({"partially_refunded", "refunded"}),
    "partially_refunded": frozenset({"partially_refunded", "refunded"}),
    "refunded": frozenset(),
    "canceled": frozenset(),
    "expired": frozenset(),
    "rejected": frozenset(),
}

JOB_MOVES: dict[str, frozenset[str]] = {
    "queued": frozenset({"generating", "failed"}),
    "generating": frozenset({"delivering"}),  # a job whose every slot failed still passes delivering
    "delivering": frozenset({"delivered", "delivered_partial", "failed"}),
    "delivered": frozenset(),
    "delivered_partial": frozenset(),
    "failed": frozenset(),
}
JOB_TERMINAL = frozenset({"delivered", "delivered_partial", "failed"})

# A failed attempt is followed by a new pending row (attempt + 1), not by moving the failed one; given_up ends
# any live task when its job passes the deadline.
TASK_MOVES: dict[str, frozenset[str]] = {
    "pending": frozenset({"submitting", "given_up"}),
    "submitting": frozenset({"submitted", "pending", "failed", "given_up"}),
    "submitted": frozenset({"succeeded", "failed", "given_up"}),
    "succeeded": frozenset({"stored", "failed", "given_up"}),
    "stored": frozenset(),
    "failed": frozenset(),
    "given_up": frozenset(),
}
TASK_LIVE = frozenset({"pending", "submitting", "submitted", "succeeded"})

# A delivery chunk (``deliveries.status``): the intent 'sending' is recorded before each Telegram call, again
# after a crash mid-send (sending → sending); a user who blocked the bot ends the chunk unsent.
CHUNK_MOVES: dict[str, frozenset[str]] = {
    "pending": frozenset({"sending", "blocked"}),
    "sending": frozenset({"sending", "sent", "blocked", "failed"}),
    "sent": frozenset(),
    "blocked": frozenset(),
    "failed": frozenset(),
}
CHUNK_DONE = frozenset({"sent", "blocked", "failed"})

# A refund: the bank's answer ends it; an operator's retry reopens a refused one (same ExternalRequestId).
REFUND_MOVES: dict[str, frozenset[str]] = {
    "pending": frozenset({"succeeded", "failed"}),
    "succeeded": frozenset(),
    "failed": frozenset({"pending"}),
}

# T-Bank status → our payment status; statuses not listed are in-flight and change nothing.
TBANK_TO_PAYMENT: dict[str, str] = {
    "AUTHORIZED": "authorized",
    "CONFIRMED": "confirmed",
    "PARTIAL_REFUNDED": "partially_refunded",
    "REFUNDED": "refunded",
    "PARTIAL_REVERSED": "partially_refunded",
    "REVERSED": "refunded",
    "CANCELED": "canceled",
    "DEADLINE_EXPIRED": "expired",
    "REJECTED": "rejected",
    "AUTH_FAIL": "rejected",
}


def can_move(moves: dict[str, frozenset[str]], current: str, new: str) -> bool:
    return new in moves.get(current, frozenset())


def sources_of(moves: dict[str, frozenset[str]], new: str) -> list[str]:
    """Every status from which ``new`` may be reached."""
    return sorted(status for status, targets in moves.items() if new in targets)


def expected_sources(moves: dict[str, frozenset[str]], new: str, seen: str | None = None) -> list[str]:
    """The ``expected`` list of a conditional UPDATE to ``new``: every legal source, or only ``seen`` — the
    status the caller read (compare-and-swap, so a stale reader cannot move a row another worker moved on).
    ValueError when the table has no such move: a bug, never a race."""
    sources = sources_of(moves, new)
    if not sources:
        raise ValueError(f"no status moves to {new!r}")
    if seen is None:
        return sources
    if seen not in sources:
        raise ValueError(f"{seen!r} → {new!r} is not a move")
    return [seen]
