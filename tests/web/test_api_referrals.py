"""Referrals over HTTP: the invite link, who came through it, 10 % of what they paid, what refunds took back of
it, and the balance."""

from __future__ import annotations

from db import payments, refunds, users
from tests.factories import make_avatar, make_user
from tests.web.api_helpers import auth, confirmed_payment
from usecases.users import reverse_for_refund


def test_a_new_user_has_a_code_an_invite_link_and_nothing_earned(client, settings, services) -> None:
    user = make_user(services)
    body = client.get("/api/v1/referrals/me", headers=auth(settings, user)).get_json()
    assert body["code"] == user["referral_code"]
    assert body["invite_link"] == f"https://t.me/{settings.telegram_bot_username}?start=ref_{user['referral_code']}"
    assert (body["invited"], body["paying"], body["earnings_kopecks"], body["reversed_kopecks"],
            body["balance_kopecks"]) == (0, 0, 0, 0, 0)
    assert body["percent"] == settings.referral_percent


def test_an_invited_users_payment_earns_the_inviter_ten_percent(client, settings, services) -> None:
    inviter = make_user(services)
    invited_tg = 555_000_111
    headers = auth(settings, {"telegram_id": invited_tg}, start_param=f"ref_{inviter['referral_code']}")
    assert client.get("/api/v1/avatars", headers=headers).status_code == 200  # first open: the home screen
    with services.pool.connection() as conn:
        invited = users.get_user_by_telegram_id(conn, telegram_id=invited_tg)
    assert invited["referred_by"] == inviter["id"]
    payment = confirmed_payment(services, invited, make_avatar(services, invited), tier="standard")
    assert client.post("/api/v1/generations", headers=headers, json={"payment_id": payment["id"]}).status_code == 201

    body = client.get("/api/v1/referrals/me", headers=auth(settings, inviter)).get_json()

    assert (body["invited"], body["paying"]) == (1, 1)
    assert body["earnings_kopecks"] == body["balance_kopecks"] == 9990
    assert body["reversed_kopecks"] == 0


def test_a_refund_takes_back_its_share_and_the_balance_shows_what_is_left(client, settings, services) -> None:
    inviter = make_user(services)
    invited = make_user(services, referred_by=inviter["id"])
    payment = confirmed_payment(services, invited, make_avatar(services, invited), tier="standard")
    headers = auth(settings, invited)
    assert client.post("/api/v1/generations", headers=headers, json={"payment_id": payment["id"]}).status_code == 201
    with services.pool.connection() as conn, conn.transaction():  # 5 of 15 portraits refunded: 333,00 ₽
        refund = refunds.insert_refund(conn, payment_id=payment["id"], job_id=None, amount_kopecks=33300,
                                       photos_refunded=5, reason="missing_photos", external_request_id="api-test")
        refund = refunds.finish_refund(conn, id=refund["id"], status="succeeded", provider_status="PARTIAL_REFUNDED")
        payments.add_refunded(conn, id=payment["id"], amount=33300)
        reverse_for_refund(conn, refund=refund, percent=settings.referral_percent)

    body = client.get("/api/v1/referrals/me", headers=auth(settings, inviter)).get_json()

    assert (body["earnings_kopecks"], body["reversed_kopecks"], body["balance_kopecks"]) == (9990, 3330, 6660)
