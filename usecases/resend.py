"""Re-sending a delivered album: an operator's action (``/admin/jobs/<id>``, ``POST /admin/api/jobs/<id>/resend``,
``python -m workers.replay resend``) for a person who says the album never reached them or was deleted.

A re-send is numbered — round 1, 2, … — and round ``r`` sends the job's photos as the chunks ``RESEND_BASE * r +
i``, each through ``usecases.sending.send_chunk``: exactly once per round, with the same rules as the first
delivery (Telegram's limits, an unknown outcome never sent twice, a blocked chat recorded). The operator asks
for the round the page showed as next, so a double click or a repeated command is the same round and sends
nothing more; a deliberate second re-send is the next round."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from db import deliveries, jobs, outbox, photos, users
from rules import bot_texts
from rules.albums import chunk_album
from runtime import Services
from usecases.errors import Refused
from usecases.sending import send_chunk

if TYPE_CHECKING:
    from psycopg import Connection

RESEND_BASE = 1000  # round r's chunks are RESEND_BASE * r + i (the first delivery's are below 1000)
RESENDABLE = ("delivered", "delivered_partial")


def next_round(conn: Connection, *, job_id: int) -> int:
    """The round a new re-send of the job would be (1 when it was never re-sent)."""
    chunks = [row["chunk"] for row in deliveries.chunks_of_job(conn, job_id=job_id)]
    return max([c // RESEND_BASE for c in chunks if c >= RESEND_BASE], default=0) + 1


def queue_resend(conn: Connection, *, job_id: int, round_: int | None = None) -> dict[str, Any]:
    """Queue round ``round_`` (the next one when None) of re-sending the job's album; refused when the job has
    no delivered album, its person is gone or blocked the bot, or the round is not the next one or one already
    asked for. Returns the job id, the round and the queued message id."""
    job = jobs.get_job(conn, id=job_id)
    if job is None:
        raise Refused("NOT_FOUND", f"no job {job_id}")
    if job["status"] not in RESENDABLE or job["photos_stored"] == 0:
        raise Refused("NOT_DELIVERED", f"job {job_id} is {job['status']}: only a delivered album can be re-sent")
    user = users.get_user(conn, id=job["user_id"])
    if user is None or user.get("deleted_at") is not None:
        raise Refused("USER_GONE", "the person erased their data: there is no one to send it to")
    if user["bot_blocked"]:
        raise Refused("BOT_BLOCKED", "the person blocked the bot: Telegram would refuse the album")
    upcoming = next_round(conn, job_id=job_id)
    round_ = upcoming if round_ is None else round_
    if not 1 <= round_ <= upcoming:
        raise Refused("INVALID_ROUND", f"the next re-send of job {job_id} is round {upcoming}")
    message_id = outbox.send(conn, "resend_album", job_id, round_)
    return {"job_id": job_id, "round": round_, "queued": message_id}


def resend_album(services: Services, *, job_id: int, round_: int) -> bool:
    """Send round ``round_`` of the job's album (what of it is not sent yet), under the job's delivery lock;
    False, having done nothing, when a delivery of the job holds the lock. Raises Defer when a Telegram limit says
    wait."""
    with deliveries.delivery_lock(services.pool, job_id) as locked:
        if not locked:
            return False
        with services.pool.connection() as conn:
            job = jobs.get_job(conn, id=job_id)
            user = users.get_user(conn, id=job["user_id"]) if job is not None else None
            album = photos.photos_of_job(conn, job_id=job_id) if job is not None else []
        if job is None or user is None or not album:
            return True
        for index, chunk in enumerate(chunk_album(album)):
            status = send_chunk(services, job_id=job_id, user=user, chunk=RESEND_BASE * round_ + index,
                                kind="album" if len(chunk) > 1 else "photo", photos=chunk,
                                caption=bot_texts.album_caption(len(album)) if index == 0 else None)
            if status == "blocked":
                user = {**user, "bot_blocked": True}
    return True
