"""Dead letters: a message that exhausted its retries is kept (payload, error, traceback) and announced; an
operator replays it — from ``/admin`` or ``python -m workers.replay``, through this one function."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from db import dead_letters, outbox
from usecases.alerts import raise_alert
from usecases.errors import Refused

if TYPE_CHECKING:
    from psycopg import Connection


def record(conn: Connection, *, message_id: str, actor: str, queue_name: str, payload: dict[str, Any], error: str,
           traceback: str | None, attempts: int) -> int:
    """Keep the dead message and alert admins, in the caller's transaction; returns the letter's id. A dead
    ``notify_admin`` is not announced: the announcement would take the same broken path again, forever."""
    letter_id = dead_letters.insert_dead_letter(conn, message_id=message_id, actor=actor, queue_name=queue_name,
                                                payload=payload, error=error, traceback=traceback,
                                                attempts=attempts)
    if actor != "notify_admin":
        raise_alert(conn, kind="dead_letter", severity="error",
                    message=f"{actor} gave up after {attempts} attempts: {error[:200]}",
                    details={"dead_letter_id": letter_id, "message_id": message_id},
                    dedup_key=f"dead_letter:{message_id}:{actor}:{attempts}")
    return letter_id


def replay(conn: Connection, *, id: int, known_actors: Collection[str]) -> dict[str, Any]:
    """Queue the letter's message again (a new message id, through the outbox) and mark the letter replayed, in
    the caller's transaction; returns the letter with ``replay_message_id``.

    Refused NOT_FOUND; ALREADY_REPLAYED (also when another operator replays it at the same moment: the caller
    must then roll back, which removes the outbox row); UNKNOWN_ACTOR when the fleet has no such actor (its
    outbox row could never be published and would stall the relay behind it)."""
    letter = dead_letters.get_dead_letter(conn, id=id)
    if letter is None:
        raise Refused("NOT_FOUND", "no such dead letter")
    if letter["replayed_at"] is not None or letter["resolved_at"] is not None:
        raise Refused("ALREADY_REPLAYED", "this dead letter was replayed or resolved already")
    if letter["actor"] not in known_actors:
        raise Refused("UNKNOWN_ACTOR", f"no actor named {letter['actor']!r} in this fleet")
    payload = letter["payload"]
    new_id = outbox.send(conn, letter["actor"], *payload.get("args", []), **payload.get("kwargs", {}))
    if not dead_letters.mark_replayed(conn, id=id, replay_message_id=new_id):
        raise Refused("ALREADY_REPLAYED", "this dead letter was replayed already")
    return {**letter, "replay_message_id": new_id}


def resolve(conn: Connection, *, id: int, resolution: str) -> None:
    """Close an open dead letter without replaying it, saying why (an operator did the work by hand, or it is no
    longer wanted). Refused NOT_FOUND, ALREADY_REPLAYED (replayed or resolved already), NO_RESOLUTION."""
    resolution = resolution.strip()[:500]
    if not resolution:
        raise Refused("NO_RESOLUTION", "say why the dead letter is closed without a replay")
    if dead_letters.get_dead_letter(conn, id=id) is None:
        raise Refused("NOT_FOUND", "no such dead letter")
    if not dead_letters.mark_resolved(conn, id=id, resolution=resolution):
        raise Refused("ALREADY_REPLAYED", "this dead letter was replayed or resolved already")
