from __future__ import annotations

import pytest

from db import jobs
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import chat_messages, kie_config, wait_for_job


@pytest.mark.scenario
def test_starter_purchase_delivers_seven_distinct_photos_in_one_album(services, worker) -> None:
    kie_config(services, latency_ms_min=100, latency_ms_max=300)
    user = make_user(services)
    avatar = make_avatar(services, user)
    payment = make_paid_payment(services, user, avatar, tier="starter")

    job = wait_for_job(services, payment_id=payment["id"])

    assert job["status"] == "delivered"
    with services.pool.connection() as conn:
        photos = jobs.photos_of_job(conn, job_id=job["id"])
    assert sorted(p["prompt_index"] for p in photos) == list(range(7))
    assert len({p["sha256"] for p in photos}) == 7
    assert all(services.storage.exists(p["storage_key"]) for p in photos)
    messages = chat_messages(services, user["telegram_id"])
    albums = [m for m in messages if m.get("photos")]
    assert len({m.get("media_group_id") for m in albums}) == 1
    assert sum(len(m["photos"]) for m in albums) == 7
