"""Catalog and avatars over HTTP: create, list, read, erase; someone else's avatar is 404 everywhere."""

from __future__ import annotations

from db import avatars, photos, users
from tests.conftest import tma_header
from tests.factories import make_avatar, make_user
from tests.web.api_helpers import auth, confirmed_payment, make_delivered_job, object_keys


def test_catalog_lists_configured_tiers_and_styles(client, settings, services) -> None:
    response = client.get("/api/v1/catalog", headers=auth(settings, make_user(services)))
    assert response.status_code == 200
    body = response.get_json()
    assert body["tiers"] == [{"id": "starter", "photos": 7, "price_kopecks": 49900, "price_stars": 250},
                             {"id": "standard", "photos": 15, "price_kopecks": 99900, "price_stars": 500},
                             {"id": "premium", "photos": 23, "price_kopecks": 149900, "price_stars": 750}]
    assert body["receipts_required"] is False
    assert {s["id"] for s in body["styles"]} == {"business", "cinematic", "fairytale"}
    assert all(s["title"] and s["preview"] for s in body["styles"])


def test_the_catalog_needs_a_valid_initdata_but_no_row(client, settings, services) -> None:
    stranger = tma_header(settings, 64_000_001)
    assert client.get("/api/v1/catalog", headers=stranger).status_code == 200
    with services.pool.connection() as conn:
        assert users.get_user_by_telegram_id(conn, telegram_id=64_000_001) is None  # registered where needed
    forged = {"Authorization": stranger["Authorization"][:-4] + "0000"}
    refused = client.get("/api/v1/catalog", headers=forged)
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "INITDATA_BAD_HASH"
    assert client.get("/api/v1/avatars", headers=stranger).status_code == 200
    with services.pool.connection() as conn:
        assert users.get_user_by_telegram_id(conn, telegram_id=64_000_001) is not None


def test_created_avatar_is_listed_read_back_and_becomes_the_draft(client, settings, services) -> None:
    user = make_user(services)
    headers = auth(settings, user)
    created = client.post("/api/v1/avatars", headers=headers, json={"name": "  Я в отпуске  "})
    assert created.status_code == 201
    avatar = created.get_json()
    assert avatar["name"] == "Я в отпуске" and avatar["reference_count"] == 0 and avatar["ready"] is False

    listed = client.get("/api/v1/avatars", headers=headers).get_json()["avatars"]
    assert [a["id"] for a in listed] == [avatar["id"]]
    detail = client.get(f"/api/v1/avatars/{avatar['id']}", headers=headers).get_json()
    assert detail["references"] == [] and detail["min_references"] == 5 and detail["max_references"] == 15
    with services.pool.connection() as conn:
        assert users.get_user(conn, id=user["id"])["draft_avatar_id"] == avatar["id"]


def test_avatar_detail_lists_references_with_presigned_urls(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=5)
    detail = client.get(f"/api/v1/avatars/{avatar['id']}", headers=auth(settings, user)).get_json()
    assert detail["reference_count"] == 5 and detail["ready"] is True
    assert len(detail["references"]) == 5
    assert all("X-Amz-Signature=" in r["url"] for r in detail["references"])


def test_avatar_name_out_of_range_is_422(client, settings, services) -> None:
    headers = auth(settings, make_user(services))
    for name in ("", "   ", "x" * 65, "tab\there"):
        response = client.post("/api/v1/avatars", headers=headers, json={"name": name})
        assert response.status_code == 422, name
        assert response.get_json()["error"]["code"] == "INVALID_NAME"


def test_someone_elses_avatar_is_404_for_every_verb(client, settings, services) -> None:
    owner, other = make_user(services), make_user(services)
    avatar = make_avatar(services, owner)
    headers = auth(settings, other)
    assert client.get(f"/api/v1/avatars/{avatar['id']}", headers=headers).status_code == 404
    assert client.delete(f"/api/v1/avatars/{avatar['id']}", headers=headers).status_code == 404
    assert client.post(f"/api/v1/avatars/{avatar['id']}/references", headers=headers,
                       data={"files": []}, content_type="multipart/form-data").status_code == 404
    assert client.get("/api/v1/avatars", headers=headers).get_json() == {"avatars": []}
    with services.pool.connection() as conn:
        assert avatars.get_avatar(conn, id=avatar["id"], user_id=owner["id"]) is not None


def test_erasing_an_avatar_removes_references_and_photos_from_storage(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=5)
    job = make_delivered_job(services, user, avatar)
    assert len(object_keys(settings, f"references/{avatar['id']}/")) == 5
    assert len(object_keys(settings, f"photos/{job['id']}/")) == 7
    headers = auth(settings, user)
    share = client.post(f"/api/v1/generations/{job['id']}/share", headers=headers).get_json()

    response = client.delete(f"/api/v1/avatars/{avatar['id']}", headers=headers)

    assert response.status_code == 200
    assert response.get_json() == {"id": avatar["id"], "deleted": True, "references_deleted": 5,
                                   "photos_deleted": 7}
    assert object_keys(settings, f"references/{avatar['id']}/") == []
    assert object_keys(settings, f"photos/{job['id']}/") == []
    with services.pool.connection() as conn:
        assert avatars.references_of_avatar(conn, avatar_id=avatar["id"]) == []
        assert photos.photos_of_job(conn, job_id=job["id"]) == []
    assert client.get(f"/api/v1/avatars/{avatar['id']}", headers=headers).status_code == 404
    assert client.get(share["url"].removeprefix(settings.public_base_url)).status_code == 404
    assert client.delete(f"/api/v1/avatars/{avatar['id']}", headers=headers).status_code == 404


def test_an_avatar_with_a_running_generation_cannot_be_erased(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=5)
    payment = confirmed_payment(services, user, avatar)
    headers = auth(settings, user)
    assert client.post("/api/v1/generations", headers=headers, json={"payment_id": payment["id"]}).status_code == 201

    response = client.delete(f"/api/v1/avatars/{avatar['id']}", headers=headers)

    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "AVATAR_BUSY"
    assert len(object_keys(settings, f"references/{avatar['id']}/")) == 5


def test_an_avatar_with_a_paid_but_unstarted_generation_cannot_be_erased(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=5)
    confirmed_payment(services, user, avatar)
    response = client.delete(f"/api/v1/avatars/{avatar['id']}", headers=auth(settings, user))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "AVATAR_BUSY"
