"""POST /webhooks/kie over HTTP: a callback whose URL we signed queues one poll of that task and nothing else;
a forged one changes nothing; the Kie fake's real callbacks reach us and finish a job long before polling would."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import pytest
import requests

from rules.signing import sign
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import kie_config, kie_state, wait_for_job
from web import create_app

CALLBACK_BODY = {"code": 200, "msg": "success", "data": {
    "taskId": "kie-task-abc", "state": "success", "resultJson": '{"resultUrls": ["http://evil.example/x.png"]}'}}


def outbox(services) -> list[dict[str, Any]]:
    with services.pool.connection() as conn:
        return conn.execute("SELECT actor_name, args FROM outbox ORDER BY id").fetchall()


def url(settings, task: int | str, sig: str | None = None) -> str:
    sig = sign(settings.callback_signing_key, "kie-callback", task) if sig is None else sig
    return f"/webhooks/kie?task={task}&sig={sig}"


def kie_headers(key: str, task_id: str, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(key.encode(), f"{task_id}.{stamp}".encode(), hashlib.sha256).digest()
    return {"X-Webhook-Timestamp": stamp, "X-Webhook-Signature": base64.b64encode(digest).decode()}


def test_signed_callback_queues_one_poll_of_that_task_and_trusts_nothing_else(client, services, settings) -> None:
    response = client.post(url(settings, 42), json=CALLBACK_BODY)

    assert response.status_code == 200
    assert response.get_json() == {"ok": True}
    assert outbox(services) == [{"actor_name": "poll_task", "args": [42, None]}]


@pytest.mark.parametrize("target", [
    "/webhooks/kie?task=42&sig=" + "0" * 64,  # forged signature
    "/webhooks/kie?task=42",  # no signature
    "/webhooks/kie?sig=abc",  # no task
    "/webhooks/kie?task=4x2&sig=abc",  # not our id
    "/webhooks/kie?task=%C2%B2&sig=abc",  # a digit, but not an ASCII one
])
def test_forged_or_missing_signature_is_refused_and_changes_nothing(client, services, target) -> None:
    response = client.post(target, json=CALLBACK_BODY)

    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "BAD_SIGNATURE"
    assert outbox(services) == []


def test_signature_of_another_task_does_not_open_this_one(client, services, settings) -> None:
    response = client.post(url(settings, 43, sig=sign(settings.callback_signing_key, "kie-callback", 42)),
                           json=CALLBACK_BODY)

    assert response.status_code == 403
    assert outbox(services) == []


def test_with_a_kie_webhook_key_the_kie_signature_is_required_too(services, settings, broker) -> None:
    key = "kie-account-webhook-key"
    client = create_app(settings.with_overrides(kie_webhook_key=key), services=services, broker=broker).test_client()
    task_id = CALLBACK_BODY["data"]["taskId"]

    unsigned = client.post(url(settings, 7), json=CALLBACK_BODY)
    wrong_key = client.post(url(settings, 7), json=CALLBACK_BODY, headers=kie_headers("other-key", task_id))
    stale = client.post(url(settings, 7), json=CALLBACK_BODY,
                        headers=kie_headers(key, task_id, timestamp=int(time.time()) - 3600))
    other_task = client.post(url(settings, 7), json=CALLBACK_BODY, headers=kie_headers(key, "kie-task-other"))
    assert [r.status_code for r in (unsigned, wrong_key, stale, other_task)] == [403, 403, 403, 403]
    assert outbox(services) == []

    signed = client.post(url(settings, 7), json=CALLBACK_BODY, headers=kie_headers(key, task_id))
    assert signed.status_code == 200
    assert outbox(services) == [{"actor_name": "poll_task", "args": [7, None]}]


@pytest.mark.scenario
def test_kie_fake_callbacks_reach_us_and_finish_the_job_before_any_scheduled_poll(services, worker,
                                                                                   live_web) -> None:
    # The scheduled first poll is a minute away and the sweeper waits 35 s: only callbacks can finish in time.
    services.settings = services.settings.with_overrides(kie_first_poll_ms=60_000)
    kie_config(services, latency_ms_min=100, latency_ms_max=300)
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="starter")

    job = wait_for_job(services, payment_id=payment["id"], timeout_s=25)

    assert job["status"] == "delivered"
    callbacks = kie_state(services)["callbacks"]
    assert len(callbacks) >= 7 and all(c["status"] == 200 for c in callbacks)
    assert all(c["url"].startswith(f"{live_web}/webhooks/kie?task=") for c in callbacks)
    one_off_polls = [row for row in outbox(services) if row["actor_name"] == "poll_task" and row["args"][1] is None]
    assert len(one_off_polls) >= 7
    assert requests.get(f"{live_web}/health", timeout=5).status_code == 200
