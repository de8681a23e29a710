"""Referrals over HTTP: the invite link, who came through it, and 10 % of what they paid."""

from __future__ import annotations

from db import users
from tests.factories import make_avatar, make_user
from tests.web.api_helpers import auth, confirmed_payment


def test_a_new_user_has_a_code_an_invite_link_and_nothing_earned(client, settings, services) -> None:
    user = make_user(services)
    body = client.get("/api/v1/referrals/me", headers=auth(settings, user)).get_json()
    assert body["code"] == user["referral_code"]
    assert body["invite_link"] == f"https://t.me/{settings.telegram_bot_username}?start=ref_{user['referral_code']}"
    assert (body["invited"], body["paying"], body["earnings_kopecks"], body["balance_kopecks"]) == (0, 0, 0, 0)
    assert body["percent"] == settings.referral_percent


def test_an_invited_users_payment_earns_the_inviter_ten_percent(client, settings, services) -> None:
    inviter = make_user(services)
    invited_tg = 555_000_111
    headers = auth(settings, {"telegram_id": invited_tg}, start_param=f"ref_{inviter['referral_code']}")
    assert client.get("/api/v1/catalog", headers=headers).status_code == 200  # first open of the Mini App
    with services.pool.connection() as conn:
        invited = users.get_user_by_telegram_id(conn, telegram_id=invited_tg)
    assert invited["referred_by"] == inviter["id"]
    payment = confirmed_payment(services, invited, make_avatar(services, invited), tier="standard")
    assert client.post("/api/v1/generations", headers=headers, json={"payment_id": payment["id"]}).status_code == 201

    body = client.get("/api/v1/referrals/me", headers=auth(settings, inviter)).get_json()

    assert (body["invited"], body["paying"]) == (1, 1)
    assert body["earnings_kopecks"] == body["balance_kopecks"] == 9990
