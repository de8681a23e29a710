"""The checkout limit: a person holds at most ``max_open_checkouts`` open payments (either rail); concurrent
checkouts cannot pass it together; paid, expired and failed-Init checkouts free their slot; 429 over HTTP."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from rules.catalog import parse_tiers
from sandbox.client import SandboxClient
from tests.factories import make_avatar, make_user
from tests.web.api_helpers import auth
from usecases.errors import Refused
from usecases.payments import checkout


def _checkout(services, settings, user, avatar) -> dict:
    tier = parse_tiers(settings.tiers)["starter"]
    return checkout(services.pool, services.tbank, settings, user_id=user["id"], avatar_id=avatar["id"],
                    style_id="business", tier=tier)


def _open_rows(services, user) -> int:
    with services.pool.connection() as conn:
        return conn.execute("SELECT count(*) AS n FROM payments WHERE user_id = %s", (user["id"],)).fetchone()["n"]


def test_the_checkout_beyond_the_limit_is_refused_and_writes_nothing(services, settings) -> None:
    settings = dataclasses.replace(settings, max_open_checkouts=2)
    user = make_user(services)
    avatar = make_avatar(services, user)
    _checkout(services, settings, user, avatar)
    _checkout(services, settings, user, avatar)
    with pytest.raises(Refused) as refused:
        _checkout(services, settings, user, avatar)
    assert refused.value.code == "TOO_MANY_CHECKOUTS"
    assert _open_rows(services, user) == 2
    other = make_user(services)  # the limit is per person
    assert _checkout(services, settings, other, make_avatar(services, other))["provider_payment_id"]


def test_concurrent_checkouts_cannot_exceed_the_limit(services, settings) -> None:
    settings = dataclasses.replace(settings, max_open_checkouts=3)
    user = make_user(services)
    avatar = make_avatar(services, user)
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def attempt() -> None:
        start.wait()
        try:
            _checkout(services, settings, user, avatar)
            outcomes.append("created")
        except Refused as refused:
            outcomes.append(refused.code)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["TOO_MANY_CHECKOUTS"] * 5 + ["created"] * 3
    assert _open_rows(services, user) == 3


def test_paid_and_expired_checkouts_free_their_slot(services, settings) -> None:
    settings = dataclasses.replace(settings, max_open_checkouts=2)
    user = make_user(services)
    avatar = make_avatar(services, user)
    first = _checkout(services, settings, user, avatar)
    second = _checkout(services, settings, user, avatar)
    with services.pool.connection() as conn:
        conn.execute("UPDATE payments SET status = 'confirmed' WHERE id = %s", (first["id"],))
        conn.execute("UPDATE payments SET expires_at = now() - interval '1 second' WHERE id = %s", (second["id"],))
    _checkout(services, settings, user, avatar)
    _checkout(services, settings, user, avatar)
    with pytest.raises(Refused):
        _checkout(services, settings, user, avatar)


def test_an_authorized_payment_still_holds_its_slot(services, settings) -> None:
    settings = dataclasses.replace(settings, max_open_checkouts=1)
    user = make_user(services)
    avatar = make_avatar(services, user)
    first = _checkout(services, settings, user, avatar)
    with services.pool.connection() as conn:
        conn.execute("UPDATE payments SET status = 'authorized' WHERE id = %s", (first["id"],))
    with pytest.raises(Refused):
        _checkout(services, settings, user, avatar)


def test_a_failed_init_holds_a_slot_only_while_in_flight(services, settings) -> None:
    settings = dataclasses.replace(settings, max_open_checkouts=1)
    user = make_user(services)
    avatar = make_avatar(services, user)
    SandboxClient.from_settings(settings).tbank.fail(method="Init", http_status=503)
    with pytest.raises(Refused) as failed:
        _checkout(services, settings, user, avatar)
    assert failed.value.code == "PAYMENT_PROVIDER_ERROR"
    with pytest.raises(Refused) as refused:  # a minute later we cannot tell a failed Init from a slow one
        _checkout(services, settings, user, avatar)
    assert refused.value.code == "TOO_MANY_CHECKOUTS"
    with services.pool.connection() as conn:
        conn.execute("UPDATE payments SET created_at = now() - interval '10 minutes' WHERE user_id = %s",
                     (user["id"],))
    assert _checkout(services, settings, user, avatar)["payment_url"]


def test_too_many_card_checkouts_over_http_is_429(client, services, settings) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    codes = [client.post("/api/v1/payments", headers=auth(settings, user),
                         json={"avatar_id": avatar["id"], "style_id": "business", "tier": "starter"})
             for _ in range(settings.max_open_checkouts + 1)]
    assert [r.status_code for r in codes] == [201] * settings.max_open_checkouts + [429]
    assert codes[-1].get_json()["error"]["code"] == "TOO_MANY_CHECKOUTS"
