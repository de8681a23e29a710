"""Issue 10 items 14 and 15: what delivery does with Telegram's answers (usecases/sending.py's policy).

- a 400 "Too Many Requests: retry after N" to sendMediaGroup, after part of the album went out, is a flood wait:
  the album is sent again after N s, not marked failed;
- a send whose answer is lost (the message went out, the answer did not come back) is never sent again: each
  photo reaches the chat once, and the gallery holds them all."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from db import deliveries
from sandbox.client import SandboxClient
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import albums_in_chat, chat_messages, fast_kie, wait_for_job
from usecases.sending import UNKNOWN_OUTCOME

pytestmark = pytest.mark.scenario


def _prompts(services, user) -> Counter:
    return Counter(m["photos"][-1]["prompt"] for album in albums_in_chat(services, user["telegram_id"])
                   for m in album)


def test_a_flood_answer_mid_album_is_waited_out_and_the_album_arrives(services, worker) -> None:
    fast_kie(services)
    telegram = SandboxClient.from_settings(services.settings).telegram
    telegram.fail(method="sendMediaGroup", http_status=400, error_code=400, partial=3,
                  description="Too Many Requests: retry after 1")
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="starter")

    job = wait_for_job(services, payment_id=payment["id"])

    assert job["status"] == "delivered"
    with services.pool.connection() as conn:
        album = deliveries.chunks_of_job(conn, job_id=job["id"])[0]
    assert album["status"] == "sent" and len(album["telegram_message_ids"]) == 7, album
    prompts = _prompts(services, user)
    assert len(prompts) == 7, "every photo reached the chat"
    assert sum(prompts.values()) - 7 <= 3, "only what the flood answer had let through shows twice"
    assert any(e["status"] == 400 for e in telegram.state()["errors"]), "the fault never fired"


def test_a_lost_answer_is_never_sent_again(services, worker) -> None:
    fast_kie(services)
    telegram = SandboxClient.from_settings(services.settings).telegram
    telegram.configure(lost_answer_rate=1.0)  # every send goes out and its answer is lost
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="standard")

    job = wait_for_job(services, payment_id=payment["id"])

    assert job["status"] == "delivered"
    prompts = _prompts(services, user)
    assert len(prompts) == 15 and set(prompts.values()) == {1}, prompts
    with services.pool.connection() as conn:
        chunks = deliveries.chunks_of_job(conn, job_id=job["id"])
    assert {c["status"] for c in chunks} == {"sent"}
    assert {c["last_error"] for c in chunks} == {UNKNOWN_OUTCOME}
    assert all(c["attempts"] == 1 for c in chunks), chunks


def test_a_bot_reply_whose_answer_is_lost_is_not_sent_again(services, worker) -> None:
    from actors.bot import send_bot_reply

    telegram = SandboxClient.from_settings(services.settings).telegram
    telegram.configure(lost_answer_rate=1.0)  # the reply goes out and its answer is lost
    user = make_user(services)
    message = send_bot_reply.send(user["id"], user["telegram_id"], "Оплата получена", None)

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not _processed(services, message.message_id):
        time.sleep(0.2)
    assert _processed(services, message.message_id), "the reply's effect was never recorded"
    time.sleep(2.5)  # longer than the actor's first retry backoff: a re-send would be in the chat by now

    texts = [m.get("text") for m in chat_messages(services, user["telegram_id"])]
    assert texts == ["Оплата получена"], texts
    sends = [c["status"] for c in telegram.state()["calls"]
             if c["method"] == "sendMessage" and c["chat_id"] == user["telegram_id"]]
    assert sends == [502], f"one send, its answer lost; not sent again: {sends}"


def _processed(services, message_id: str) -> bool:
    with services.pool.connection() as conn:
        row = conn.execute("SELECT 1 FROM processed_messages WHERE message_id = %s", (message_id,)).fetchone()
    return row is not None
