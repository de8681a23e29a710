"""Issue 11, the dashboard's payments: filtered by status and rail, the stuck ones first with why — a paid
payment whose job never started, money held but not confirmed, a checkout open past the 24 h alert."""

from __future__ import annotations

import pytest

from tests.factories import make_avatar, make_user
from tests.web.api_helpers import confirmed_payment


@pytest.fixture
def admin(settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.admin_token}"}


def test_stuck_payments_come_first_with_why_and_filters_narrow(client, services, admin) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    fine = confirmed_payment(services, user, avatar)  # paid a moment ago: its job is still to come, not stuck
    paid_no_job = confirmed_payment(services, user, avatar, tier="premium")
    held = confirmed_payment(services, user, avatar, confirm=False)
    fresh = confirmed_payment(services, user, avatar, confirm=False)
    with services.pool.connection() as conn:
        conn.execute("UPDATE payments SET updated_at = now() - interval '5 minutes' WHERE id = %s",
                     (paid_no_job["id"],))
        conn.execute("UPDATE payments SET status = 'authorized', updated_at = now() - interval '20 minutes' "
                     "WHERE id = %s", (held["id"],))
        conn.execute("UPDATE payments SET rail = 'stars', amount_stars = 250 WHERE id = %s", (fresh["id"],))

    listed = client.get("/admin/api/payments", headers=admin).get_json()["payments"]

    assert [(p["id"], p["stuck"]) for p in listed[:2]] == [(held["id"], "money held, not confirmed"),
                                                           (paid_no_job["id"], "paid, no job started")]
    assert {p["id"]: p["stuck"] for p in listed[2:]} == {fine["id"]: None, fresh["id"]: None}
    stuck = client.get("/admin/api/payments?stuck=1", headers=admin).get_json()["payments"]
    assert [p["id"] for p in stuck] == [held["id"], paid_no_job["id"]]
    stars = client.get("/admin/api/payments?rail=stars", headers=admin).get_json()["payments"]
    assert [p["id"] for p in stars] == [fresh["id"]]
    cards = client.get("/admin/api/payments?rail=tbank", headers=admin).get_json()["payments"]
    assert {p["id"] for p in cards} == {fine["id"], paid_no_job["id"], held["id"]}
    confirmed = client.get("/admin/api/payments?status=confirmed", headers=admin).get_json()["payments"]
    assert {p["id"] for p in confirmed} == {fine["id"], paid_no_job["id"]}

    page = client.get("/admin/payments?stuck=1", headers=admin).get_data(as_text=True)
    assert f'id="payment-{held["id"]}" class="stuck"' in page and "money held, not confirmed" in page
    assert f'id="payment-{fine["id"]}"' not in page
    for bad, code in (("status=paid", "INVALID_STATUS"), ("rail=card", "INVALID_RAIL"), ("limit=0", "INVALID_LIMIT")):
        answer = client.get(f"/admin/api/payments?{bad}", headers=admin)
        assert answer.status_code == 400 and answer.get_json()["error"]["code"] == code
