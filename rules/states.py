"""State machines of payments, jobs, tasks and deliveries. Monotonic: an old or repeated event never moves a
record backwards; ``can_move`` is what every conditional UPDATE's ``WHERE status IN (...)`` is built from.
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
    "generating": frozenset({"delivering", "failed"}),
    "delivering": frozenset({"delivered", "delivered_partial", "failed"}),
    "delivered": frozenset(),
    "delivered_partial": frozenset(),
    "failed": frozenset(),
}
JOB_TERMINAL = frozenset({"delivered", "delivered_partial", "failed"})

TASK_MOVES: dict[str, frozenset[str]] = {
    "pending": frozenset({"submitting", "given_up"}),
    "submitting": frozenset({"submitted", "pending", "failed"}),
    "submitted": frozenset({"succeeded", "failed"}),
    "succeeded": frozenset({"stored", "failed"}),
    "stored": frozenset(),
    "failed": frozenset(),
    "given_up": frozenset(),
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
    """Every status from which ``new`` may be reached: the ``expected`` list of a conditional UPDATE."""
    return sorted(status for status, targets in moves.items() if new in targets)
