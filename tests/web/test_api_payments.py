"""Checkout over HTTP: a payment row and its T-Bank payment page, refused before anything exists when the
avatar is not ready, 502 (and no page) when T-Bank fails; payments read back with the job they paid for."""

from __future__ import annotations

import dataclasses

import requests

from db import payments
from rules.catalog import parse_tiers
from sandbox.client import SandboxClient
from tests.factories import make_avatar, make_user
from tests.integration.pipeline_helpers import tbank_state
from tests.web.api_helpers import auth, confirmed_payment
from usecases.payments import checkout


def _payment_rows(services) -> list[dict]:
    with services.pool.connection() as conn:
        return conn.execute("SELECT * FROM payments ORDER BY id").fetchall()


def _inits(services) -> list[dict]:
    return [r for r in tbank_state(services)["requests"] if r["method"] == "Init"]


def test_checkout_creates_a_payment_and_its_tbank_page(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    response = client.post("/api/v1/payments", headers=auth(settings, user),
                           json={"avatar_id": avatar["id"], "style_id": "cinematic", "tier": "standard"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "new" and body["amount_kopecks"] == 99900 and body["photo_count"] == 15
    assert body["payment_url"].startswith("http") and body["provider_payment_id"] and body["job_id"] is None
    (row,) = _payment_rows(services)
    assert row["id"] == body["payment_id"] and row["provider_payment_id"] == body["provider_payment_id"]
    (init,) = _inits(services)
    assert init["body"]["OrderId"] == row["order_id"] and init["body"]["Amount"] == 99900
    assert init["body"]["NotificationURL"] == settings.public_url("/webhooks/tbank")
    assert requests.get(body["payment_url"], timeout=5).status_code == 200  # the page the user is sent to


def test_the_bank_description_counts_portraits_in_russian(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    for tier in ("premium", "starter"):
        response = client.post("/api/v1/payments", headers=auth(settings, user),
                               json={"avatar_id": avatar["id"], "style_id": "cinematic", "tier": tier})
        assert response.status_code == 201
    assert [i["body"]["Description"] for i in _inits(services)] == ["PinGlass: 23 AI-портрета",
                                                                    "PinGlass: 7 AI-портретов"]


def test_an_avatar_without_enough_references_is_refused_before_any_payment_exists(client, settings,
                                                                                   services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=4)
    response = client.post("/api/v1/payments", headers=auth(settings, user),
                           json={"avatar_id": avatar["id"], "style_id": "business", "tier": "starter"})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "AVATAR_NOT_READY"
    assert _payment_rows(services) == [] and _inits(services) == []


def test_unknown_tier_or_style_is_422_and_someone_elses_avatar_404(client, settings, services) -> None:
    user, other = make_user(services), make_user(services)
    avatar = make_avatar(services, user)
    headers = auth(settings, user)
    bad_tier = client.post("/api/v1/payments", headers=headers,
                           json={"avatar_id": avatar["id"], "style_id": "business", "tier": "gold"})
    assert bad_tier.status_code == 422 and bad_tier.get_json()["error"]["code"] == "UNKNOWN_TIER"
    bad_style = client.post("/api/v1/payments", headers=headers,
                            json={"avatar_id": avatar["id"], "style_id": "anime", "tier": "starter"})
    assert bad_style.status_code == 422 and bad_style.get_json()["error"]["code"] == "UNKNOWN_STYLE"
    theirs = client.post("/api/v1/payments", headers=auth(settings, other),
                         json={"avatar_id": avatar["id"], "style_id": "business", "tier": "starter"})
    assert theirs.status_code == 404
    assert _payment_rows(services) == []


def test_a_tbank_failure_is_502_and_leaves_the_payment_new_without_a_page(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    SandboxClient.from_settings(settings).tbank.fail(method="Init", times=1, error_code="9999")

    response = client.post("/api/v1/payments", headers=auth(settings, user),
                           json={"avatar_id": avatar["id"], "style_id": "business", "tier": "starter"})

    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "PAYMENT_PROVIDER_ERROR"
    (row,) = _payment_rows(services)
    assert row["status"] == "new" and row["provider_payment_id"] is None and row["payment_url"] is None


def test_a_payment_reads_back_with_the_job_it_paid_for(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    payment = confirmed_payment(services, user, avatar, tier="premium")
    headers = auth(settings, user)
    before = client.get(f"/api/v1/payments/{payment['id']}", headers=headers).get_json()
    assert before["status"] == "confirmed" and before["job_id"] is None and before["amount_kopecks"] == 149900
    started = client.post("/api/v1/generations", headers=headers, json={"payment_id": payment["id"]}).get_json()

    after = client.get(f"/api/v1/payments/{payment['id']}", headers=headers).get_json()

    assert after["job_id"] == started["job_id"] and after["consumed"] is True
    assert after["order_id"] == payment["order_id"]


def test_someone_elses_payment_is_404(client, settings, services) -> None:
    owner, other = make_user(services), make_user(services)
    payment = confirmed_payment(services, owner, make_avatar(services, owner))
    response = client.get(f"/api/v1/payments/{payment['id']}", headers=auth(settings, other))
    assert response.status_code == 404
    with services.pool.connection() as conn:
        assert payments.get(conn, id=payment["id"])["consumed"] is False


def test_the_bank_notifies_the_hooks_web_when_one_is_configured(services, settings) -> None:
    """CALLBACK_BASE_URL moves where T-Bank calls us (the hooks role); the payment pages stay on the public web."""
    hooks = dataclasses.replace(settings, callback_base_url="http://127.0.0.1:8999/")
    user = make_user(services)
    tier = parse_tiers(settings.tiers)["starter"]
    payment = checkout(services.pool, services.tbank, hooks, user_id=user["id"],
                       avatar_id=make_avatar(services, user)["id"], style_id="business", tier=tier)
    (init,) = _inits(services)
    assert init["body"]["NotificationURL"] == "http://127.0.0.1:8999/webhooks/tbank"
    assert init["body"]["SuccessURL"] == settings.public_url(f"/app/#/payments/{payment['id']}?result=success")
