"""The person and their privacy over HTTP: consent before any selfie is stored, the retention dates the Mini App
shows, "delete my data" (objects listed through S3, rows read back), and the public privacy page."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from db import photos
from gateways.storage import archive_key
from tests.factories import make_avatar, make_user, selfie
from tests.web.api_helpers import auth, confirmed_payment, make_delivered_job, object_keys, png, upload


def _rows(services, query: str, *params: Any) -> list[dict[str, Any]]:
    with services.pool.connection() as conn:
        return conn.execute(query, params).fetchall()


def test_me_shows_consent_and_accepting_it_is_idempotent(client, settings, services) -> None:
    user = make_user(services, privacy_accepted=False)
    headers = auth(settings, user, first_name="Анна")

    before = client.get("/api/v1/me", headers=headers)
    assert before.status_code == 200
    assert before.get_json() == {"telegram_id": user["telegram_id"], "first_name": "Анна", "privacy": {
        "accepted": False, "accepted_at": None, "policy_url": "/privacy", "selfie_retention_days": 30,
        "portrait_retention_days": 90}}

    first = client.post("/api/v1/me/privacy", headers=headers)
    again = client.post("/api/v1/me/privacy", headers=headers)

    assert first.status_code == again.status_code == 200
    accepted = first.get_json()["privacy"]
    assert accepted["accepted"] is True and datetime.fromisoformat(accepted["accepted_at"]).tzinfo is not None
    assert again.get_json() == first.get_json()  # the first acceptance's time is kept
    assert client.get("/api/v1/me", headers=headers).get_json() == first.get_json()


def test_me_needs_a_mini_app_login(client) -> None:
    for method in ("get", "delete"):
        response = getattr(client, method)("/api/v1/me")
        assert response.status_code == 401 and response.get_json()["error"]["code"] == "INITDATA_MISSING"
    assert client.post("/api/v1/me/privacy").status_code == 401


def test_selfies_are_refused_until_the_policy_is_accepted(client, settings, services) -> None:
    user = make_user(services, privacy_accepted=False)
    avatar = make_avatar(services, user, references=0)
    headers = auth(settings, user)
    photos = [(selfie(2000 + i), f"{i}.jpg") for i in range(2)]

    refused = upload(client, headers, avatar["id"], photos)

    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "PRIVACY_NOT_ACCEPTED"
    assert object_keys(settings, f"references/{avatar['id']}/") == []
    assert _rows(services, "SELECT id FROM reference_photos WHERE avatar_id = %s", avatar["id"]) == []

    assert client.post("/api/v1/me/privacy", headers=headers).status_code == 200
    accepted = upload(client, headers, avatar["id"], photos)

    assert accepted.status_code == 201, accepted.get_json()
    assert len(object_keys(settings, f"references/{avatar['id']}/")) == 2


def test_avatars_and_generations_show_when_their_photos_will_be_deleted(client, settings, services) -> None:
    user = make_user(services)
    headers = auth(settings, user)
    created = client.post("/api/v1/avatars", headers=headers, json={"name": "Я"}).get_json()
    # never ordered from, no selfies yet: counted from its creation
    assert datetime.fromisoformat(created["selfies_delete_at"]) == \
        datetime.fromisoformat(created["created_at"]) + timedelta(days=30)

    avatar = make_avatar(services, user, references=5)
    job = make_delivered_job(services, user, avatar)
    listed = {a["id"]: a for a in client.get("/api/v1/avatars", headers=headers).get_json()["avatars"]}
    one = client.get(f"/api/v1/avatars/{avatar['id']}", headers=headers).get_json()
    generation = client.get(f"/api/v1/generations/{job['id']}", headers=headers).get_json()

    selfies_at = job["finished_at"] + timedelta(days=30)  # its job finished last
    assert datetime.fromisoformat(listed[avatar["id"]]["selfies_delete_at"]) == selfies_at
    assert datetime.fromisoformat(one["selfies_delete_at"]) == selfies_at
    assert datetime.fromisoformat(generation["photos_delete_at"]) == job["finished_at"] + timedelta(days=90)


def test_delete_me_erases_selfies_portraits_archives_shares_and_profile_but_keeps_payments(
        client, settings, services) -> None:
    user = make_user(services)
    headers = auth(settings, user)
    avatar = make_avatar(services, user, references=5)
    spare = make_avatar(services, user, references=5)
    job = make_delivered_job(services, user, avatar)
    with services.pool.connection() as conn:  # checked out with receipts on (54-FZ): the payment kept an e-mail
        conn.execute("UPDATE payments SET email = 'anna@example.ru' WHERE id = %s", (job["payment_id"],))
    services.storage.put(archive_key(job["id"], secret=settings.callback_signing_key), b"PK\x05\x06", "application/zip")
    share = client.post(f"/api/v1/generations/{job['id']}/share", headers=headers).get_json()["url"]
    assert client.get(share).status_code == 200
    stranger = make_user(services)
    stranger_avatar = make_avatar(services, stranger, references=5)

    response = client.delete("/api/v1/me", headers=headers)

    assert response.status_code == 200
    assert response.get_json() == {"erased": True, "avatars": 2, "references": 10, "photos": 7}
    for prefix in (f"references/{avatar['id']}/", f"references/{spare['id']}/", f"photos/{job['id']}/",
                   f"archives/{job['id']}/"):
        assert object_keys(settings, prefix) == [], prefix
    assert client.get(share).status_code == 404
    [row] = _rows(services, "SELECT username, first_name, language_code, draft_avatar_id, privacy_accepted_at "
                            "FROM users WHERE id = %s", user["id"])
    assert set(row.values()) == {None}
    assert _rows(services, "SELECT id FROM avatars WHERE user_id = %s AND deleted_at IS NULL", user["id"]) == []
    assert _rows(services, "SELECT r.id FROM reference_photos r JOIN avatars a ON a.id = r.avatar_id "
                           "WHERE a.user_id = %s", user["id"]) == []
    with services.pool.connection() as conn:
        assert photos.photos_of_job(conn, job_id=job["id"]) == []
    [payment] = _rows(services, "SELECT amount_kopecks, status, user_id, email FROM payments WHERE id = %s",
                      job["payment_id"])
    assert payment == {"amount_kopecks": 49900, "status": "confirmed", "user_id": user["id"], "email": None}
    assert len(object_keys(settings, f"references/{stranger_avatar['id']}/")) == 5  # someone else's stay

    repeat = client.delete("/api/v1/me", headers=headers)
    assert repeat.status_code == 200
    assert repeat.get_json() == {"erased": True, "avatars": 0, "references": 0, "photos": 0}


def test_delete_me_is_refused_while_a_paid_generation_has_not_ended(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=5)
    confirmed_payment(services, user, avatar)  # paid, its job not started

    response = client.delete("/api/v1/me", headers=auth(settings, user))

    assert response.status_code == 409 and response.get_json()["error"]["code"] == "USER_BUSY"
    assert len(object_keys(settings, f"references/{avatar['id']}/")) == 5
    assert len(_rows(services, "SELECT id FROM reference_photos WHERE avatar_id = %s", avatar["id"])) == 5
    [row] = _rows(services, "SELECT first_name, privacy_accepted_at FROM users WHERE id = %s", user["id"])
    assert row["first_name"] and row["privacy_accepted_at"] is not None


def test_after_delete_me_new_selfies_need_consent_again(client, settings, services) -> None:
    user = make_user(services)
    headers = auth(settings, user)
    assert client.delete("/api/v1/me", headers=headers).status_code == 200
    avatar = client.post("/api/v1/avatars", headers=headers, json={"name": "снова"}).get_json()

    refused = upload(client, headers, avatar["id"], [(png(1, (64, 64)), "a.png")])

    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "PRIVACY_NOT_ACCEPTED"


def test_the_privacy_page_says_what_is_kept_for_how_long(client, app) -> None:
    app.extensions["pinglass"].settings = app.extensions["pinglass"].settings.with_overrides(
        selfie_retention_days=14, portrait_retention_days=60)

    response = client.get("/privacy")

    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for fact in ("Селфи — 14 дн.", "Портреты и архивы — 60 дн.", "Kie.ai", "Telegram ID", "Удалить мои данные"):
        assert fact in page, fact
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_requests_of_a_known_user_write_nothing_until_their_profile_changes(client, settings, services) -> None:
    """Every Mini App request signs the user in (a poll a second per open order): an unchanged profile is only
    read — the row keeps its version (xmin) — and a new name is written once."""
    user = make_user(services)
    version = "SELECT xmin::text AS v, first_name FROM users WHERE id = %s"
    assert client.get("/api/v1/me", headers=auth(settings, user, first_name="Анна")).status_code == 200
    [first] = _rows(services, version, user["id"])

    for _ in range(3):
        assert client.get("/api/v1/me", headers=auth(settings, user, first_name="Анна")).status_code == 200
    assert _rows(services, version, user["id"]) == [first], "an unchanged profile was written again"

    assert client.get("/api/v1/me", headers=auth(settings, user, first_name="Аня")).status_code == 200
    [renamed] = _rows(services, version, user["id"])
    assert renamed["first_name"] == "Аня" and renamed["v"] != first["v"]
