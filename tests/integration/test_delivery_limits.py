"""Delivery keeps to Telegram's limits (429 → wait exactly retry_after) and survives a user who blocked the
bot (delivery stops, the gallery keeps the photos, the job still ends)."""

from __future__ import annotations

import time
from functools import partial

import pytest

from db import deliveries, users
from db import photos as photo_rows
from runtime.limits import TG_SEND_SKEW_S, acquire_telegram
from sandbox.client import SandboxClient
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import albums_in_chat, fast_kie, wait_for_job

pytestmark = pytest.mark.scenario


def _telegram(services, path: str, body: dict) -> dict:
    response = SandboxClient.from_settings(services.settings).telegram.post(path, body)
    response.raise_for_status()
    return response.json()


def test_telegram_429s_are_waited_out_and_every_album_still_arrives_once(services, worker) -> None:
    fast_kie(services)
    # Telegram is stricter than our limiter expects (20 at once, then 1 per second): a chat takes 10 items at once,
    # then 1 per second, so the second album (sent as soon as 20 portraits exist) meets a 429.
    _telegram(services, "config", {"chat_burst": 10, "chat_rate_per_s": 1})
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="premium")

    job = wait_for_job(services, payment_id=payment["id"])

    assert job["status"] == "delivered"
    assert [len(album) for album in albums_in_chat(services, user["telegram_id"])] == [10, 10, 3]
    state = SandboxClient.from_settings(services.settings).telegram.state()
    assert len(state["rejections"]) >= 1, "the fake never answered 429: the test proves nothing"


def test_user_who_blocked_the_bot_gets_nothing_sent_but_the_job_ends_with_its_gallery(services, worker) -> None:
    fast_kie(services)
    user = make_user(services)
    _telegram(services, "blocked", {"chat_id": user["telegram_id"], "blocked": True})
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="standard")

    job = wait_for_job(services, payment_id=payment["id"])

    assert job["status"] == "delivered"
    with services.pool.connection() as conn:
        photos = photo_rows.photos_of_job(conn, job_id=job["id"])
        chunks = deliveries.chunks_of_job(conn, job_id=job["id"])
        blocked = users.get_user(conn, id=user["id"])["bot_blocked"]
    assert len(photos) == 15 and all(services.storage.exists(p["storage_key"]) for p in photos)
    assert {c["status"] for c in chunks} == {"blocked"} and blocked
    assert albums_in_chat(services, user["telegram_id"]) == []


def test_a_throttled_chat_is_granted_with_the_send_skew_to_spare(services) -> None:
    """A full bucket grants its whole burst; once drained, a grant waits for the cost plus TG_SEND_SKEW_S of
    refill, so that Telegram (which counts the send when it arrives) has refilled as much."""
    take = partial(acquire_telegram, services.redis, chat_id=next_chat(), chat_rate=1.0, chat_burst=20,
                   global_rate=30.0, global_burst=30, namespace=services.settings.broker_namespace)
    assert take(cost=20) == 0, "a full bucket: the whole burst at once"
    wait = take(cost=3)
    assert 3.0 + TG_SEND_SKEW_S - 0.2 <= wait <= 3.0 + TG_SEND_SKEW_S, wait


def test_the_bots_global_bucket_grants_without_the_skew(services) -> None:
    """The skew is the chat's: three albums to three chats take the bot's 30 at once down to 0 (a margin on the
    global bucket would hold the third back while single texts keep draining it)."""
    take = partial(acquire_telegram, services.redis, chat_rate=1.0, chat_burst=20, global_rate=30.0, global_burst=30,
                   namespace=f"{services.settings.broker_namespace}-skew-{time.time_ns()}")
    assert [take(chat_id=next_chat() + i, cost=10) for i in range(3)] == [0, 0, 0]
    assert take(chat_id=next_chat() + 3, cost=1) > 0, "the global bucket is empty"


def next_chat() -> int:
    return 7_000_000_000 + int(time.time() * 1000) % 1_000_000
