"""Test data and requests for the Mini App API tests: users acting through signed initData, multipart uploads,
payments confirmed without a provider round-trip, and delivered jobs whose photos are really in storage."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from flask.testing import FlaskClient
from PIL import Image

from db import jobs, payments
from gateways.storage import photo_key
from rules.catalog import parse_tiers
from runtime import Services
from settings import Settings
from tests.conftest import tma_header
from usecases import generation


def auth(settings: Settings, user: dict[str, Any], **kwargs: Any) -> dict[str, str]:
    return tma_header(settings, user["telegram_id"], **kwargs)


def png(seed: int, size: tuple[int, int] = (48, 48)) -> bytes:
    image = Image.new("RGB", size, ((seed * 71) % 256, (seed * 13) % 256, (seed * 29) % 256))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def upload(client: FlaskClient, headers: dict[str, str], avatar_id: int, files: list[tuple[bytes, str]]):
    """POST the files as the Mini App does: multipart, every file under the field ``files``."""
    data = {"files": [(io.BytesIO(content), name) for content, name in files]}
    return client.post(f"/api/v1/avatars/{avatar_id}/references", headers=headers, data=data,
                       content_type="multipart/form-data")


def start_generation(client: FlaskClient, headers: dict[str, str], payment_id: int) -> int:
    """Start the payment's generation through the API; the new job's id."""
    response = client.post("/api/v1/generations", headers=headers, json={"payment_id": payment_id})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["job_id"]


def object_keys(settings: Settings, prefix: str) -> list[str]:
    """What the bucket really holds under ``prefix`` (listed through the S3 API, not our rows)."""
    client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
                          aws_access_key_id=settings.s3_access_key_id,
                          aws_secret_access_key=settings.s3_secret_access_key)
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=settings.s3_bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))
    finally:
        client.close()


def confirmed_payment(services: Services, user: dict[str, Any], avatar: dict[str, Any], *, tier: str = "starter",
                      style_id: str = "business", confirm: bool = True) -> dict[str, Any]:
    """A payment row moved to confirmed directly (what the T-Bank webhook would do, minus consume_payment)."""
    chosen = parse_tiers(services.settings.tiers)[tier]
    with services.pool.connection() as conn, conn.transaction():
        payment = payments.insert(conn, user_id=user["id"], avatar_id=avatar["id"], style_id=style_id, tier=tier,
                                  photo_count=chosen.photos, amount_kopecks=chosen.price_kopecks,
                                  order_id=uuid.uuid4().hex, ttl_s=86400)
        if confirm:
            payment = payments.move_status(conn, id=payment["id"], new="confirmed")
    return payment


def make_delivered_job(services: Services, user: dict[str, Any], avatar: dict[str, Any], *,
                       tier: str = "starter", stored: int | None = None, finished: bool = True) -> dict[str, Any]:
    """A purchase job whose first ``stored`` photos (default: all) went through the task states and storage as
    the pipeline's would, and which then ended delivered (or delivered_partial with the rest failed); with
    ``finished=False`` it is left generating, the other tasks still pending."""
    payment = confirmed_payment(services, user, avatar, tier=tier)
    with services.pool.connection() as conn, conn.transaction():
        job = generation.start_job(conn, payment_id=payment["id"], referral_percent=10)
        tasks = jobs.tasks_of_job(conn, job_id=job["id"])
        stored = len(tasks) if stored is None else stored
        for task in tasks[:stored]:
            jobs.move_task(conn, id=task["id"], seen="pending", new="submitting")
            jobs.move_task(conn, id=task["id"], seen="submitting", new="submitted",
                           kie_task_id=f"test-{uuid.uuid4().hex}")
            jobs.move_task(conn, id=task["id"], seen="submitted", new="succeeded", result_url="http://x/y")
            data = png(job["id"] * 100 + task["prompt_index"])
            key = photo_key(job["id"], task["prompt_index"], secret=services.settings.callback_signing_key)
            services.storage.put(key, data, "image/png")
            generation.record_photo(conn, task=task, storage_key=key, sha256=uuid.uuid4().hex, width=48,
                                    height=48, size_bytes=len(data), content_type="image/png")
        if not finished:
            if jobs.get_job(conn, id=job["id"])["status"] == "queued":
                jobs.move_job(conn, id=job["id"], new="generating")
            return jobs.get_job(conn, id=job["id"])
        for task in tasks[stored:]:
            generation.give_up_task(conn, task=task, reason="test")
        jobs.move_job(conn, id=job["id"], new="delivered_partial" if stored < len(tasks) else "delivered")
        return jobs.get_job(conn, id=job["id"])


@contextmanager
def full_upload_room() -> Iterator[None]:
    """Every place of this process's upload waiting room taken for the block, as by a crowd checking selfies: an
    upload meanwhile is answered 503 UPLOADS_BUSY at once (``web.api.references.upload_place``)."""
    from web.api import references

    room = references._upload_room
    held = [room.acquire(timeout=1) for _ in range(references.UPLOADS_AT_ONCE + references.UPLOAD_WAITERS)]
    try:
        assert all(held), "the upload waiting room was not free to fill"
        yield
    finally:
        for taken in held:
            if taken:
                room.release()
