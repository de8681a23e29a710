"""Delivering a finished job: its photos as Telegram albums (≤ 10, caption on the first, a lone photo alone),
a summary with Gallery / ZIP buttons, the refund of what could not be made with its notice, then the job's
terminal status (I4); one delivery per job at a time (a sweeper's re-send racing a slow original would both send a
chunk still marked 'sending')."""

from __future__ import annotations

import logging
import time
from typing import Any

from db import deliveries, jobs, photos, users
from rules import bot_texts
from rules.albums import chunk_album
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
    """Under the job's delivery lock, send what the job has not sent yet and end it (a job not in ``delivering``
    is left alone); False, having done nothing, when another delivery of the job holds the lock. Raises Defer
    when a Telegram limit says wait."""
    with deliveries.delivery_lock(services.pool, job_id) as locked:
        if not locked:
            return False
        _deliver(services, job_id=job_id)
    return True


def _deliver(services: Services, *, job_id: int) -> None:
    with services.pool.connection() as conn:
        job = jobs.get_job(conn, id=job_id)
        if job is None or job["status"] != "delivering":
            return
        user = users.get_user(conn, id=job["user_id"])
        album = photos.photos_of_job(conn, job_id=job_id)
    if user is None:  # a job's user outlives it (foreign key): never here
        raise LookupError(f"job {job_id} has no user")

    for index, chunk in enumerate(chunk_album(album)):
        caption = None
        if index == 0:
            caption = (bot_texts.REGENERATION_CAPTION if job["kind"] == "regeneration"
                       else bot_texts.album_caption(len(album)))
        status = send_chunk(services, job_id=job_id, user=user, chunk=index,
                            kind="album" if len(chunk) > 1 else "photo", photos=chunk, caption=caption)
        if status == "blocked":
            user = {**user, "bot_blocked": True}  # stop sending; the gallery keeps the photos
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
