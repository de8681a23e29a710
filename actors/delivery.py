"""deliver_album: the job's photos as Telegram albums (≤10, caption on the first, a lone photo alone), a
message with gallery/ZIP buttons, the refund of what could not be made, then the job's terminal state (I4).
notify_admin: an admin alert announced in the admins' chat."""

from __future__ import annotations

import logging
import time
from typing import Any

import dramatiq

import runtime
from actors import bot_texts
from actors.refunds import settle_refund
from actors.sending import NOTICE_CHUNK, SUMMARY_CHUNK, send_chunk
from db import jobs, locks, messages, users
from rules.albums import chunk_album
from rules.signing import sign
from runtime import Services
from runtime.outcomes import Defer
from runtime.unit import effect_once
from telemetry import metrics
from telemetry.logs import log

logger = logging.getLogger("actors.delivery")
ZIP_LINK_TTL_S = 7 * 24 * 3600


@dramatiq.actor(queue_name="telegram", max_retries=8, min_backoff=2000, max_backoff=60_000)
def deliver_album(job_id: int) -> None:
    services = runtime.current()
    # Two deliveries of one job at once (a sweeper's re-send racing a slow original) would both send a chunk
    # still marked 'sending'; the lock lets one work and the other wait its turn.
    with locks.try_lock(services.pool, locks.DELIVERY, job_id) as locked:
        if not locked:
            raise Defer(3000, "another delivery of this job is running")
        _deliver(services, job_id)


def _deliver(services: Services, job_id: int) -> None:
    with services.pool.connection() as conn:
        job = jobs.get_job(conn, id=job_id)
        if job is None or job["status"] != "delivering":
            return
        user = users.get_user(conn, id=job["user_id"])
        photos = jobs.photos_of_job(conn, job_id=job_id)

    for index, chunk in enumerate(chunk_album(photos)):
        caption = None
        if index == 0:
            caption = (bot_texts.REGENERATION_CAPTION if job["kind"] == "regeneration"
                       else bot_texts.album_caption(len(photos)))
        status = send_chunk(services, job_id=job_id, user=user, chunk=index,
                            kind="album" if len(chunk) > 1 else "photo", photos=chunk, caption=caption)
        if status == "blocked":
            user = {**user, "bot_blocked": True}  # stop sending; the gallery keeps the photos
    if photos and job["kind"] == "purchase":
        send_chunk(services, job_id=job_id, user=user, chunk=SUMMARY_CHUNK, kind="summary",
                   text=bot_texts.album_summary(len(photos)),
                   reply_markup=summary_buttons(services, job_id))
    refund = settle_refund(services, job)
    if refund is not None and refund["status"] == "succeeded":
        send_refund_notice(services, job=job, user=user, refund=refund)

    final = "failed" if not photos else "delivered_partial" if job["photos_failed"] else "delivered"
    with effect_once("deliver_album") as conn:
        if conn is not None and jobs.move_job(conn, id=job_id, new=final) is not None:
            metrics.JOBS_FINISHED.labels(final).inc()
            log(logger, "job_finished", job_id=job_id, status=final, photos=len(photos),
                failed=job["photos_failed"])


def summary_buttons(services: Services, job_id: int) -> dict[str, Any]:
    settings = services.settings
    expires = int(time.time()) + ZIP_LINK_TTL_S
    signature = sign(settings.callback_signing_key, "zip", f"{job_id}:{expires}")
    zip_url = settings.public_url(f"/download/{job_id}.zip?exp={expires}&sig={signature}")
    gallery_url = settings.public_url(f"/app/#/generations/{job_id}")
    return {"inline_keyboard": [[{"text": "🖼 Галерея", "web_app": {"url": gallery_url}}],
                                [{"text": "📦 Скачать ZIP", "url": zip_url}]]}


def send_refund_notice(services: Services, *, job: dict[str, Any], user: dict[str, Any],
                       refund: dict[str, Any]) -> None:
    text = bot_texts.refund_notice(refunded=refund["photos_refunded"], total=job["total_photos"],
                                   amount_kopecks=refund["amount_kopecks"])
    send_chunk(services, job_id=job["id"], user=user, chunk=NOTICE_CHUNK, kind="notice", text=text)


@dramatiq.actor(queue_name="telegram", max_retries=5, min_backoff=2000, max_backoff=60_000)
def notify_admin(alert_id: int) -> None:
    services = runtime.current()
    with services.pool.connection() as conn:
        alert = messages.get_alert(conn, id=alert_id)
    if alert is None or alert["sent_at"] is not None:
        return
    text = f"⚠️ [{alert['severity']}] {alert['kind']}: {alert['message']}"[:4000]
    services.telegram.send_message(services.settings.admin_telegram_chat_id, text)
    with services.pool.connection() as conn:
        messages.mark_alert_sent(conn, id=alert_id)
