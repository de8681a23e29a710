"""Regenerating one portrait of a delivered album: the purchase's allowance (``max(1, total_photos *
regenerate_percent // 100)``) is spent by a conditional UPDATE — two racing requests cannot both take the last
one — in the transaction that creates the one-photo child job (``usecases.generation.start_regeneration``). A
regenerated photo charges the purchase it came from, so chains of regenerations cannot mint fresh allowances."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from db import jobs, photos
from rules.states import JOB_TERMINAL
from usecases.errors import Refused
from usecases.generation import start_regeneration

if TYPE_CHECKING:
    from psycopg import Connection


def regeneration_allowance(total_photos: int, percent: int) -> int:
    return max(1, total_photos * percent // 100)


@dataclass(frozen=True)
class Regeneration:
    job: dict[str, Any]  # the new one-photo job
    root: dict[str, Any]  # the purchase whose allowance it spent
    used: int
    allowance: int


def regenerate_photo(conn: Connection, *, user_id: int, photo_id: int, percent: int) -> Regeneration:
    """Start remaking the user's photo; Refused NOT_FOUND, JOB_NOT_FINISHED (its album is not delivered yet) or
    REGENERATION_LIMIT (the allowance is used up)."""
    photo = photos.get_photo(conn, id=photo_id)
    if photo is None or photo["user_id"] != user_id:
        raise Refused("NOT_FOUND", "photo not found")
    job = jobs.get_job(conn, id=photo["job_id"], user_id=user_id)
    root = job if job is None or job["kind"] == "purchase" else jobs.get_job(conn, id=job["parent_job_id"],
                                                                              user_id=user_id)
    if job is None or root is None:
        raise Refused("NOT_FOUND", "photo not found")
    if job["status"] not in JOB_TERMINAL or root["status"] not in JOB_TERMINAL:
        raise Refused("JOB_NOT_FINISHED", "a photo can be regenerated once its album is delivered")
    allowance = regeneration_allowance(root["total_photos"], percent)
    spent = jobs.use_regeneration(conn, id=root["id"], allowance=allowance)
    if spent is None:
        raise Refused("REGENERATION_LIMIT", f"this album's {allowance} regenerations are used up")
    child = start_regeneration(conn, parent=root, prompt_index=photo["prompt_index"])
    return Regeneration(job=child, root=root, used=spent["regenerations_used"], allowance=allowance)
