"""Delivering a job's photos: Telegram albums (≤ 10, caption on the first, a lone photo alone), then, once the
job is finished, a summary with Gallery / ZIP buttons, the refund of what could not be made with its notice, and
the job's terminal status (I4); one delivery per job at a time (a sweeper's re-send racing a slow original would
both send a chunk still marked 'sending').

**Albums go out as they fill.** While a job is still being made, every ten stored photos are a full album and are
sent at once (the store that makes a tenth queues ``deliver_album``), so a Premium buyer sees the first portraits
seconds after they exist, and Telegram's per-chat pace is spent while Kie still works instead of after. The albums
sent are rows in ``deliveries`` with their photo ids; the delivery that finishes the job sends the rows not sent
yet, then the photos in no row. A first album of an order of more than ten says "the first 10 of N"
(``bot_texts.first_album_caption``), however early it went."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from db import deliveries, jobs, photos, users
from rules import bot_texts
from rules.albums import MAX_ALBUM, chunk_album
from rules.signing import sign
from runtime import Services
from runtime.unit import effect_once
from telemetry import metrics
from telemetry.logs import log
from usecases.refunds import settle_and_tell
from usecases.sending import SUMMARY_CHUNK, send_chunk

logger = logging.getLogger("usecases.delivery")
ZIP_LINK_TTL_S = 7 * 24 * 3600


def deliver_album(services: Services, *, job_id: int) -> bool:
    """Under the job's delivery lock, send what the job has ready and not sent yet — every album, and the job's
    end, once it is in ``delivering``; only full albums while it is still being made — (a finished job is left
    alone); False, having done nothing, when another delivery of the job holds the lock. Raises Defer when a
    Telegram limit says wait."""
    with deliveries.delivery_lock(services.pool, job_id) as locked:
        if not locked:
            return False
        _deliver(services, job_id=job_id)
    return True


def _deliver(services: Services, *, job_id: int) -> None:
    with services.pool.connection() as conn:
        job = jobs.get_job(conn, id=job_id)
        if job is None or job["status"] not in ("queued", "generating", "delivering"):
            return
        user = users.get_user(conn, id=job["user_id"])
        album = photos.photos_of_job(conn, job_id=job_id)
        chunks = deliveries.chunks_of_job(conn, job_id=job_id)
    if user is None:  # a job's user outlives it (foreign key): never here
        raise LookupError(f"job {job_id} has no user")
    finishing = job["status"] == "delivering"

    for index, chunk in album_plan(album, chunks, finishing=finishing):
        status = send_chunk(services, job_id=job_id, user=user, chunk=index,
                            kind="album" if len(chunk) > 1 else "photo", photos=chunk,
                            caption=_caption(job, album, index, finishing=finishing))
        if status == "blocked":
            user = {**user, "bot_blocked": True}  # stop sending; the gallery keeps the photos
    if not finishing:
        return
    if album and job["kind"] == "purchase":
        send_chunk(services, job_id=job_id, user=user, chunk=SUMMARY_CHUNK, kind="summary",
                   text=bot_texts.album_summary(len(album)),
                   reply_markup=summary_buttons(services, job_id))
    settle_and_tell(services, job, user)

    final = "failed" if not album else "delivered_partial" if job["photos_failed"] else "delivered"
    with effect_once("deliver_album") as conn:
        finished = jobs.move_job(conn, id=job_id, new=final) if conn is not None else None
        if finished is not None:
            metrics.JOBS_FINISHED.labels(final).inc()
            observe_stages(finished)
            log(logger, "job_finished", job_id=job_id, status=final, photos=len(album),
                failed=job["photos_failed"])


def album_plan(album: Sequence[Mapping[str, Any]], chunks: Sequence[Mapping[str, Any]], *,
               finishing: bool) -> list[tuple[int, list[Mapping[str, Any]]]]:
    """(chunk number, photos) of every album to send now, in order: the album rows already recorded (each with
    the photos it was recorded with; ``send_chunk`` skips those sent), then the photos in none of them, in prompt
    order, as new albums — all of them when ``finishing``, else only full ones (a part-filled album waits)."""
    by_id = {photo["id"]: photo for photo in album}
    recorded = [c for c in chunks if c["kind"] in ("album", "photo") and c["chunk"] < SUMMARY_CHUNK]
    plan = [(c["chunk"], [by_id[pid] for pid in c["photo_ids"] if pid in by_id]) for c in recorded]
    placed = {pid for c in recorded for pid in c["photo_ids"]}
    rest = chunk_album([photo for photo in album if photo["id"] not in placed])
    if not finishing:
        rest = [chunk for chunk in rest if len(chunk) == MAX_ALBUM]
    following = max((c["chunk"] for c in recorded), default=-1) + 1
    plan += [(following + i, chunk) for i, chunk in enumerate(rest)]
    return [(index, chunk) for index, chunk in plan if chunk]  # a recorded album whose photos were all deleted


def _caption(job: Mapping[str, Any], album: Sequence[Mapping[str, Any]], index: int, *,
             finishing: bool) -> str | None:
    """The first album's caption: the whole album's count when it is one album sent at the end, else "the first
    10 of N" — the same words whether the album went out early or at the end (the number of stored photos
    decides, not timing)."""
    if index != 0:
        return None
    if job["kind"] == "regeneration":
        return bot_texts.REGENERATION_CAPTION
    if finishing and len(album) <= MAX_ALBUM:
        return bot_texts.album_caption(len(album))
    return bot_texts.first_album_caption(MAX_ALBUM, job["total_photos"])


def observe_stages(job: dict[str, Any]) -> None:
    """How long the finished ``job`` spent queued, generating, delivering and in all (the database's clock)."""
    stamps = [("queued", job["created_at"], job["generating_at"]),
              ("generating", job["generating_at"], job["delivering_at"]),
              ("delivering", job["delivering_at"], job["finished_at"]),
              ("total", job["created_at"], job["finished_at"])]
    for stage, began, ended in stamps:
        if began is not None and ended is not None:
            metrics.JOB_STAGE_SECONDS.labels(job["tier"], stage).observe(max(0.0, (ended - began).total_seconds()))


def summary_buttons(services: Services, job_id: int) -> dict[str, Any]:
    settings = services.settings
    expires = int(time.time()) + ZIP_LINK_TTL_S
    signature = sign(settings.callback_signing_key, "zip", f"{job_id}:{expires}")
    zip_url = settings.public_url(f"/download/{job_id}.zip?exp={expires}&sig={signature}")
    gallery_url = settings.public_url(f"/app/#/generations/{job_id}")
    return {"inline_keyboard": [[{"text": "🖼 Галерея", "web_app": {"url": gallery_url}}],
                                [{"text": "📦 Скачать ZIP", "url": zip_url}]]}
