"""The Kie.ai fake's callbacks, webhook signatures and control surface."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from gateways.kie import parse_task_info, verify_webhook_signature
from sandbox.client import SandboxClient
from sandbox.kie import config_from_env
from tests.gateways.kie_harness import WEBHOOK_KEY, Kie, wait_for

# --- callbacks --------------------------------------------------------------------------------------------------

def test_signed_callback_is_delivered_and_verifies(kie: Kie) -> None:
    kie.configure(webhook_key=WEBHOOK_KEY)
    task_id = kie.create(callback_url=f"{kie.peer.url}/callback?job=7")

    delivered = wait_for(lambda: list(kie.peer.callbacks))[0]

    info = parse_task_info(delivered["body"])
    assert delivered["body"]["code"] == 200 and info.task_id == task_id and info.succeeded and info.result_urls
    headers = delivered["headers"]
    assert verify_webhook_signature(WEBHOOK_KEY, task_id, headers["X-Webhook-Timestamp"],
                                    headers["X-Webhook-Signature"])
    assert not verify_webhook_signature("another-key", task_id, headers["X-Webhook-Timestamp"],
                                        headers["X-Webhook-Signature"])
    attempts = wait_for(lambda: kie.state()["callbacks"])
    assert attempts[0]["outcome"] == "delivered" and attempts[0]["signed"] and attempts[0]["status"] == 200


def test_failed_task_callback_has_code_501_and_fail_fields(kie: Kie) -> None:
    task_id = kie.create(image_urls=[kie.peer.ref("gone.png")], callback_url=f"{kie.peer.url}/callback")

    body = wait_for(lambda: list(kie.peer.callbacks))[0]["body"]

    info = parse_task_info(body)
    assert body["code"] == 501 and info.task_id == task_id and info.failed and info.fail_code == "422"
    assert "X-Webhook-Signature" not in wait_for(lambda: list(kie.peer.callbacks))[0]["headers"]


def test_callback_is_retried_until_answered_200(kie: Kie) -> None:
    kie.peer.answers.extend([500, 503])
    task_id = kie.create(callback_url=f"{kie.peer.url}/callback")

    wait_for(lambda: len(kie.peer.callbacks) == 3)

    attempts = [c for c in kie.state()["callbacks"] if c["task_id"] == task_id]
    assert [(a["attempt"], a["status"], a["outcome"]) for a in attempts] == [
        (1, 500, "failed"), (2, 503, "failed"), (3, 200, "delivered")]


def test_callback_duplicate_rate_delivers_the_same_task_twice(kie: Kie) -> None:
    kie.configure(callback_duplicate_rate=1.0)
    task_id = kie.create(callback_url=f"{kie.peer.url}/callback")

    wait_for(lambda: len(kie.peer.callbacks) == 2)

    assert [parse_task_info(c["body"]).task_id for c in kie.peer.callbacks] == [task_id, task_id]
    assert kie.state()["counts"]["callbacks_sent"] == 2


def test_callback_drop_rate_sends_nothing_but_polling_still_works(kie: Kie) -> None:
    kie.configure(callback_drop_rate=1.0)
    task_id = kie.create(callback_url=f"{kie.peer.url}/callback")

    assert kie.wait_terminal(task_id).succeeded
    wait_for(lambda: kie.state()["counts"]["callbacks_dropped"] == 1)

    assert kie.peer.callbacks == [] and kie.state()["callbacks"][0]["outcome"] == "dropped"


# --- webhook signatures -----------------------------------------------------------------------------------------

def _signature(key: str, task_id: str, timestamp: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()).decode()


def test_verify_webhook_signature_accepts_good_and_rejects_forged_or_stale() -> None:
    now = 1_800_000_000.0
    ts = str(int(now) - 10)
    good = _signature("k", "task-1", ts)

    assert verify_webhook_signature("k", "task-1", ts, good, now=now)
    assert not verify_webhook_signature("k", "task-2", ts, good, now=now)  # signature of another task
    assert not verify_webhook_signature("k", "task-1", str(int(ts) + 1), good, now=now)  # timestamp altered
    assert not verify_webhook_signature("k", "task-1", ts, _signature("forger", "task-1", ts), now=now)
    assert not verify_webhook_signature("k", "task-1", ts, "not base64 !!", now=now)
    assert not verify_webhook_signature("k", "task-1", "soon", good, now=now)
    stale = str(int(now) - 301)
    assert not verify_webhook_signature("k", "task-1", stale, _signature("k", "task-1", stale), now=now)
    assert not verify_webhook_signature("", "task-1", ts, _signature("", "task-1", ts), now=now)


# --- the fake's control surface ---------------------------------------------------------------------------------

def test_config_from_env_reads_sandbox_kie_knobs() -> None:
    config = config_from_env({"SANDBOX_KIE_RATE_LIMIT": "5", "SANDBOX_KIE_RATE_WINDOW_S": "2.5",
                              "SANDBOX_KIE_LATENCY_MS_MIN": "1", "SANDBOX_KIE_LATENCY_MS_MAX": "2",
                              "SANDBOX_KIE_FAIL_RATE": "0.25", "SANDBOX_KIE_API_KEYS": "a, b",
                              "SANDBOX_KIE_MIRROR_HTTP_STATUS": "true", "OTHER": "x"})

    assert (config.rate_limit, config.rate_window_s, config.latency_ms_max, config.fail_rate) == (5, 2.5, 2, 0.25)
    assert config.api_keys == ("a", "b") and config.mirror_http_status is True
    with pytest.raises(ValueError, match="SANDBOX_KIE_FAIL_RATE"):
        config_from_env({"SANDBOX_KIE_FAIL_RATE": "often"})


def test_control_config_rejects_unknown_or_bad_knobs_and_reset_restores_start(kie: Kie) -> None:
    assert SandboxClient(kie=kie.url).kie.post("config", {"nope": 1}).status_code == 400
    assert SandboxClient(kie=kie.url).kie.post("config", {"fail_rate": 2}).status_code == 400
    assert SandboxClient(kie=kie.url).kie.post("fail", [{"method": "boom"}]).status_code == 400
    kie.configure(rate_limit=1)
    kie.create()

    kie.control("reset")

    state = kie.state()
    assert state["config"]["rate_limit"] == 20 and state["tasks"] == [] and state["counts"]["created"] == 0

