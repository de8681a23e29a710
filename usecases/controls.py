"""Operators' switches. **Pause generation**: no new task goes to Kie while it is on (``create_kie_task`` waits,
its message deferred, nothing spent or failed); tasks already at Kie finish, are stored and delivered; resuming
lets the waiting ones go within seconds. For a provider incident or a bill to check. Jobs still end at their
deadline (``JOB_DEADLINE_S``, invariant I4) with what exists and a refund of the rest, so a long pause costs
refunds: resume, or expect them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from db import controls

if TYPE_CHECKING:
    from psycopg import Connection

GENERATION = "generation"


def set_generation_paused(conn: Connection, *, paused: bool, by: str, reason: str = "") -> dict[str, Any]:
    """Pause or resume generation; the switch as stored (``paused``, who, why, when)."""
    row = controls.set_control(conn, name=GENERATION, value={"paused": paused, "by": by[:100],
                                                             "reason": reason.strip()[:300]})
    return {**row["value"], "updated_at": row["updated_at"]}


def generation_paused(conn: Connection) -> bool:
    row = controls.get_control(conn, name=GENERATION)
    return bool(row and row["value"].get("paused"))


def generation_switch(conn: Connection) -> dict[str, Any]:
    """The switch for display: ``paused`` and, once it was turned, who, why and when."""
    row = controls.get_control(conn, name=GENERATION)
    return {**row["value"], "updated_at": row["updated_at"]} if row else {"paused": False}
