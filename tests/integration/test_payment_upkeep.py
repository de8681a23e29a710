"""Payments never stay stuck (issue 9): the fair GetState rotation reaches a paid payment whose notifications
were all lost within the bound however many checkouts are abandoned; a payment still not final alerts admins
once at 24 h; at 48 h it is cancelled at the bank (or applied, when the bank took the money), closed here and
the person is told, once. Time is moved by rewriting created_at, never waited for."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from actors.ops import reconcile_payments
from db import payments
from rules.catalog import parse_tiers
from sandbox.client import SandboxClient
from tests.factories import make_avatar, make_user
from tests.integration.pipeline_helpers import chat_messages, wait_until
from usecases import payment_upkeep
from usecases import stars as stars_rail

UNREACHABLE = "http://127.0.0.1:9/notifications-dropped"  # every notification the fake sends here is lost


def open_checkout(services, user: dict[str, Any], avatar: dict[str, Any], *, tier: str = "starter",
                  pay_type: str = "O", notification_url: str = UNREACHABLE) -> dict[str, Any]:
    """A T-Bank checkout as the Mini App makes one: our row, then Init at the fake (its notifications lost);
    ``pay_type`` "T" asks for a two-stage payment (money held at AUTHORIZED), as a terminal could be set up."""
    chosen = parse_tiers(services.settings.tiers)[tier]
    with services.pool.connection() as conn:
        payment = payments.insert(conn, user_id=user["id"], avatar_id=avatar["id"], style_id="business", tier=tier,
                                  photo_count=chosen.photos, amount_kopecks=chosen.price_kopecks,
                                  order_id=uuid.uuid4().hex, ttl_s=86400)
    init = services.tbank.init(order_id=payment["order_id"], amount=payment["amount_kopecks"],
                               description="PinGlass test", notification_url=notification_url, pay_type=pay_type)
    with services.pool.connection() as conn:
        return payments.set_provider(conn, id=payment["id"], provider_payment_id=init.payment_id,
                                     payment_url=init.payment_url)


def open_stars_invoice(services, user: dict[str, Any], avatar: dict[str, Any]) -> dict[str, Any]:
    with services.pool.connection() as conn:
        return conn.execute(
            "INSERT INTO payments (user_id, avatar_id, style_id, tier, photo_count, amount_kopecks, order_id, "
            "expires_at, rail, amount_stars) VALUES (%s, %s, 'business', 'starter', 7, 49900, %s, "
            "now() + interval '1 day', 'stars', 250) RETURNING *",
            (user["id"], avatar["id"], uuid.uuid4().hex)).fetchone()


def age(services, payment_ids: list[int], hours: float) -> None:
    """Move time forward for these payments: they were created ``hours`` ago."""
    with services.pool.connection() as conn:
        conn.execute("UPDATE payments SET created_at = now() - make_interval(secs => %s) WHERE id = ANY(%s)",
                     (hours * 3600, payment_ids))


def status_of(services, payment_id: int) -> str:
    with services.pool.connection() as conn:
        return payments.get(conn, id=payment_id)["status"]


def outbox_messages(services, actor: str) -> list[dict[str, Any]]:
    with services.pool.connection() as conn:
        return conn.execute("SELECT * FROM outbox WHERE actor_name = %s ORDER BY id", (actor,)).fetchall()


def stuck_alerts(services) -> list[dict[str, Any]]:
    with services.pool.connection() as conn:
        return conn.execute("SELECT * FROM admin_alerts WHERE kind = 'payment_stuck' ORDER BY id").fetchall()


def bank_calls(services, method: str, provider_payment_id: str) -> int:
    state = SandboxClient.from_settings(services.settings).tbank.state()
    return sum(1 for call in state["requests"]
               if call["method"] == method and str((call["body"] or {}).get("PaymentId")) == provider_payment_id)


def test_a_paid_payment_whose_notifications_were_all_lost_is_applied_within_the_rotation_bound(services,
                                                                                              live_web) -> None:
    box = SandboxClient.from_settings(services.settings)
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    abandoned = [open_checkout(services, user, avatar) for _ in range(500)]
    # the paid one's notifications would reach our webhook, but the bank's fault rule drops every attempt
    paid = open_checkout(services, user, avatar, notification_url=f"{live_web}/webhooks/tbank")
    box.tbank.fail(method="Notify", match=paid["order_id"], times=1000)
    box.tbank.pay(paid["provider_payment_id"], "success")
    # The worst place in the rotation: every abandoned checkout was asked about a little earlier (none is due
    # yet), the paid one just before its buyer paid — so it is the last of 501 in line.
    interval = services.settings.reconcile_interval_s
    with services.pool.connection() as conn:
        for payment in abandoned:
            conn.execute("UPDATE payments SET checked_at = now() - make_interval(secs => %s) WHERE id = %s",
                         (random.uniform(1, interval / 2), payment["id"]))
        conn.execute("UPDATE payments SET checked_at = now() WHERE id = %s", (paid["id"],))
    runs_in_bound = payment_upkeep.RUNS_PER_INTERVAL  # the scheduler's runs per reconcile_interval_s

    runs = 0
    while runs < runs_in_bound and status_of(services, paid["id"]) != "confirmed":
        reconcile_payments.fn()
        runs += 1

    assert status_of(services, paid["id"]) == "confirmed", f"not applied in {runs_in_bound} runs"
    assert runs == runs_in_bound  # it really was last in line, and the sizing still reached it in time
    assert [m["args"] for m in outbox_messages(services, "consume_payment")] == [[paid["id"]]]  # its job queued
    with services.pool.connection() as conn:
        never_checked = conn.execute("SELECT count(*) AS n FROM payments WHERE checked_at IS NULL").fetchone()["n"]
    assert never_checked == 0
    deliveries = [d for d in box.tbank.state()["notifications"] if d["payment_id"] == paid["provider_payment_id"]]
    assert deliveries and not any(d["delivered"] for d in deliveries)  # the fake did notify; nothing arrived
    assert {a["error"] for d in deliveries for a in d["attempts"]} == {"dropped"}
    assert {status_of(services, p["id"]) for p in abandoned[:5]} == {"new"}


def test_every_due_payment_is_asked_in_one_run_and_a_failed_get_state_still_counts_as_checked(services) -> None:
    box = SandboxClient.from_settings(services.settings)
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    overdue = [open_checkout(services, user, avatar) for _ in range(30)]
    with services.pool.connection() as conn:
        conn.execute("UPDATE payments SET checked_at = now() - interval '1 hour'")
    failing = overdue[7]
    box.tbank.fail(method="GetState", match=failing["provider_payment_id"], times=1)

    counts = payment_upkeep.check_rotation(services)

    assert counts == {"open": 30, "due": 30, "checked": 29, "failed": 1}  # due wins over the 1/6 share
    with services.pool.connection() as conn:
        stale = conn.execute("SELECT count(*) AS n FROM payments WHERE checked_at < now() - interval '1 minute'"
                             ).fetchone()["n"]
    assert stale == 0  # the one whose GetState failed went to the back of the rotation too
    assert status_of(services, failing["id"]) == "new"


def test_the_stars_rail_failing_never_stops_the_tbank_rotation(services, monkeypatch) -> None:
    box = SandboxClient.from_settings(services.settings)
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    paid = open_checkout(services, user, avatar)
    box.tbank.pay(paid["provider_payment_id"], "success")

    def stars_down(_services: Any) -> int:
        raise RuntimeError("getStarTransactions is down")

    monkeypatch.setattr(stars_rail, "reconcile_stars", stars_down)
    reconcile_payments.fn()

    assert status_of(services, paid["id"]) == "confirmed"


def test_a_payment_still_open_alerts_at_24_h_and_is_cancelled_closed_and_told_at_48_h(services, request) -> None:
    box = SandboxClient.from_settings(services.settings)
    people = [make_user(services) for _ in range(4)]
    avatars = [make_avatar(services, person, references=0) for person in people]
    abandoned = open_checkout(services, people[0], avatars[0])
    stars_invoice = open_stars_invoice(services, people[1], avatars[1])
    repaired = open_checkout(services, people[2], avatars[2])
    fresh = open_checkout(services, people[3], avatars[3])

    age(services, [abandoned["id"], stars_invoice["id"], repaired["id"]], hours=25)
    reconcile_payments.fn()
    reconcile_payments.fn()

    alerted = stuck_alerts(services)
    assert sorted(a["details"]["payment_id"] for a in alerted) == sorted([abandoned["id"], stars_invoice["id"],
                                                                         repaired["id"]])
    assert {status_of(services, p["id"]) for p in (abandoned, stars_invoice, repaired, fresh)} == {"new"}
    assert len(outbox_messages(services, "notify_admin")) == 3  # announced once each

    # A run that cancelled at the bank and crashed before its update: the bank has it CANCELED, we do not.
    services.tbank.cancel(repaired["provider_payment_id"])
    age(services, [abandoned["id"], stars_invoice["id"], repaired["id"]], hours=49)
    reconcile_payments.fn()
    reconcile_payments.fn()

    assert box.tbank.payment(abandoned["provider_payment_id"])["status"] == "CANCELED"
    assert bank_calls(services, "Cancel", abandoned["provider_payment_id"]) == 1
    assert bank_calls(services, "Cancel", repaired["provider_payment_id"]) == 1  # only the crashed run's
    assert [status_of(services, p["id"]) for p in (abandoned, stars_invoice, repaired, fresh)] == \
        ["expired", "expired", "expired", "new"]
    assert len(stuck_alerts(services)) == 3
    notices = outbox_messages(services, "send_bot_reply")
    assert sorted(m["args"][1] for m in notices) == sorted(p["telegram_id"] for p in people[:3])

    request.getfixturevalue("worker")  # the fleet runs: the notices go out (and its scheduler reconciles again)
    for person in people[:3]:
        texts = wait_until(lambda p=person: [m["text"] for m in chat_messages(services, p["telegram_id"])
                                             if "не завершилась" in (m.get("text") or "")],
                           what=f"the notice to {person['telegram_id']}")
        assert texts == ["Оплата заказа не завершилась за 48 часов, и мы его отменили. Деньги не списаны. "
                         "Чтобы получить портреты, оформите заказ заново в приложении PinGlass."]
    assert chat_messages(services, people[3]["telegram_id"]) == []
    assert len(outbox_messages(services, "send_bot_reply")) == 3
    assert bank_calls(services, "Cancel", abandoned["provider_payment_id"]) == 1


def test_a_payment_the_bank_confirmed_is_applied_at_the_cancel_age_never_cancelled(services) -> None:
    box = SandboxClient.from_settings(services.settings)
    user = make_user(services)
    paid = open_checkout(services, user, make_avatar(services, user, references=0))
    box.tbank.pay(paid["provider_payment_id"], "success")
    age(services, [paid["id"]], hours=49)

    closed = payment_upkeep.close_overdue(services)
    again = payment_upkeep.close_overdue(services)

    assert (closed, again) == (0, 0)
    assert status_of(services, paid["id"]) == "confirmed"
    assert box.tbank.payment(paid["provider_payment_id"])["status"] == "CONFIRMED"
    assert bank_calls(services, "Cancel", paid["provider_payment_id"]) == 0
    assert [m["args"] for m in outbox_messages(services, "consume_payment")] == [[paid["id"]]]
    assert outbox_messages(services, "send_bot_reply") == []


def test_an_authorization_held_for_48_h_is_reversed_and_the_person_told_the_hold_is_released(services) -> None:
    box = SandboxClient.from_settings(services.settings)
    user = make_user(services)
    # a two-stage payment: it stops at AUTHORIZED, and the money is held
    held = open_checkout(services, user, make_avatar(services, user, references=0), pay_type="T")
    box.tbank.pay(held["provider_payment_id"], "success")
    with services.pool.connection() as conn:  # what the AUTHORIZED notification did
        payments.move_status(conn, id=held["id"], new="authorized")
    age(services, [held["id"]], hours=49)

    reconcile_payments.fn()

    assert box.tbank.payment(held["provider_payment_id"])["status"] == "REVERSED"
    assert status_of(services, held["id"]) == "canceled"  # authorized → canceled (no authorized → expired)
    [notice] = outbox_messages(services, "send_bot_reply")
    assert "Заблокированная банком сумма вернётся на карту" in notice["args"][2]


@pytest.mark.parametrize("every, interval", [(30.0, 180)])
def test_the_scheduler_sends_reconcile_payments_as_often_as_the_bound_needs(settings, every, interval) -> None:
    from workers.scheduler import schedule

    [periodic] = [p for p in schedule(settings) if p.actor_name == "reconcile_payments"]
    assert settings.reconcile_interval_s == interval and periodic.every_s == every
    faster = schedule(settings.with_overrides(reconcile_interval_s=60))
    assert [p.every_s for p in faster if p.actor_name == "reconcile_payments"] == [10.0]
