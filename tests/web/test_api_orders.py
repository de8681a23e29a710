"""What the Mini App's home and gallery read besides the core API: the orders list, avatar thumbnails, removing
one selfie, and a generation's signed ZIP link and regeneration allowance. Someone else's ids answer 404."""

from __future__ import annotations

import io
import time
import zipfile

import requests

from db import avatars, payments
from tests.factories import make_avatar, make_user
from tests.web.api_helpers import auth, confirmed_payment, make_delivered_job, object_keys


def test_orders_list_paid_and_payable_orders_newest_first_with_progress(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    delivered = make_delivered_job(services, user, avatar, tier="starter", stored=6)
    payable = confirmed_payment(services, user, avatar, tier="premium", confirm=False)
    abandoned = confirmed_payment(services, user, avatar, tier="standard", confirm=False)
    with services.pool.connection() as conn, conn.transaction():
        payments.set_provider(conn, id=payable["id"], provider_payment_id="p-1", payment_url="http://bank/pay/1")
        payments.move_status(conn, id=abandoned["id"], new="rejected")
    make_delivered_job(services, make_user(services), make_avatar(services, make_user(services)))  # not theirs

    orders = client.get("/api/v1/orders", headers=auth(settings, user)).get_json()["orders"]

    assert [o["payment_id"] for o in orders] == [payable["id"], delivered["payment_id"]]
    waiting, done = orders
    assert waiting["payment_status"] == "new" and waiting["job"] is None and waiting["photo_count"] == 23
    assert done["job"] == {"id": delivered["id"], "status": "delivered_partial", "done": 6, "failed": 1,
                           "total": 7, "finished_at": done["job"]["finished_at"]}
    assert done["avatar_name"] == avatar["name"] and done["amount_kopecks"] == 49900
    assert requests.get(done["cover_url"], timeout=10).status_code == 200  # the first portrait, presigned


def test_avatar_list_carries_a_thumbnail_of_the_first_selfie(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    headers = auth(settings, user)
    empty = client.post("/api/v1/avatars", headers=headers, json={"name": "пустой"}).get_json()
    listed = {a["id"]: a for a in client.get("/api/v1/avatars", headers=headers).get_json()["avatars"]}
    assert listed[empty["id"]]["thumbnail_url"] is None
    thumbnail = requests.get(listed[avatar["id"]]["thumbnail_url"], timeout=10)
    assert thumbnail.status_code == 200 and thumbnail.content[:3] == b"\xff\xd8\xff"


def test_removing_one_selfie_deletes_its_object_and_counts_down(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=6)
    headers = auth(settings, user)
    with services.pool.connection() as conn:
        [first, *rest] = avatars.references_of_avatar(conn, avatar_id=avatar["id"])

    response = client.delete(f"/api/v1/avatars/{avatar['id']}/references/{first['id']}", headers=headers)

    assert response.status_code == 200
    assert response.get_json()["reference_count"] == 5 and response.get_json()["ready"] is True
    assert first["storage_key"] not in object_keys(settings, f"references/{avatar['id']}/")
    assert len(object_keys(settings, f"references/{avatar['id']}/")) == 5
    again = client.delete(f"/api/v1/avatars/{avatar['id']}/references/{first['id']}", headers=headers)
    assert again.status_code == 404


def test_someone_elses_selfie_cannot_be_removed(client, settings, services) -> None:
    owner = make_user(services)
    avatar = make_avatar(services, owner)
    with services.pool.connection() as conn:
        reference = avatars.references_of_avatar(conn, avatar_id=avatar["id"])[0]
    stranger = make_user(services)
    mine = make_avatar(services, stranger)
    for path in (f"/api/v1/avatars/{avatar['id']}/references/{reference['id']}",
                 f"/api/v1/avatars/{mine['id']}/references/{reference['id']}"):
        response = client.delete(path, headers=auth(settings, stranger))
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "NOT_FOUND"
    assert reference["storage_key"] in object_keys(settings, f"references/{avatar['id']}/")


def test_a_selfie_cannot_be_removed_while_a_paid_order_uses_the_avatar(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    confirmed_payment(services, user, avatar)  # paid, its job not started yet
    with services.pool.connection() as conn:
        reference = avatars.references_of_avatar(conn, avatar_id=avatar["id"])[0]
    response = client.delete(f"/api/v1/avatars/{avatar['id']}/references/{reference['id']}",
                             headers=auth(settings, user))
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "AVATAR_BUSY"
    assert reference["storage_key"] in object_keys(settings, f"references/{avatar['id']}/")


def test_a_generation_carries_a_signed_zip_link_and_its_regeneration_allowance(client, settings, services,
                                                                              live_web) -> None:
    user = make_user(services)
    job = make_delivered_job(services, user, make_avatar(services, user), tier="standard")
    body = client.get(f"/api/v1/generations/{job['id']}", headers=auth(settings, user)).get_json()
    assert body["regenerations_allowed"] == 1 and body["regenerations_used"] == 0

    archive = requests.get(body["zip_url"], timeout=30)  # no Authorization header: the link is the credential
    assert archive.status_code == 200
    assert len(zipfile.ZipFile(io.BytesIO(archive.content)).namelist()) == 15
    forged = body["zip_url"].replace(f"/download/{job['id']}.zip", f"/download/{job['id'] + 1}.zip")
    assert requests.get(forged, timeout=10).status_code == 403
    assert int(body["zip_url"].split("exp=")[1].split("&")[0]) > time.time()


def test_the_home_screen_gets_its_four_parts_in_one_call_each_as_its_own_route_answers(client, settings,
                                                                                     services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    make_delivered_job(services, user, avatar, tier="starter", stored=6)
    make_delivered_job(services, make_user(services), make_avatar(services, make_user(services)))  # not theirs
    headers = auth(settings, user)

    home = client.get("/api/v1/home", headers=headers)

    assert home.status_code == 200
    body = home.get_json()
    assert body == {"avatars": client.get("/api/v1/avatars", headers=headers).get_json(),
                    "orders": client.get("/api/v1/orders", headers=headers).get_json(),
                    "referrals": client.get("/api/v1/referrals/me", headers=headers).get_json(),
                    "credits": client.get("/api/v1/credits", headers=headers).get_json()}
    assert [a["id"] for a in body["avatars"]["avatars"]] == [avatar["id"]] and len(body["orders"]["orders"]) == 1
    assert client.get("/api/v1/home").status_code == 401


def test_a_first_open_of_home_registers_the_person(client, settings, services) -> None:
    from tests.conftest import tma_header

    body = client.get("/api/v1/home", headers=tma_header(settings, 67_000_001)).get_json()
    assert body["avatars"] == {"avatars": []} and body["orders"] == {"orders": []}
    assert body["credits"]["balance"] == 0 and body["referrals"]["invited"] == 0 and body["referrals"]["code"]
