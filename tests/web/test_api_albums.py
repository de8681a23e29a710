"""The album as a ZIP and as a shared gallery, over HTTP: every photo in the archive, links that expire and
can be revoked, and nobody else's album."""

from __future__ import annotations

import io
import zipfile

from db import photos as photo_rows
from tests.factories import make_avatar, make_user
from tests.web.api_helpers import auth, confirmed_payment, make_delivered_job, start_generation


def test_archive_of_a_delivered_starter_job_has_its_seven_photos(client, settings, services) -> None:
    user = make_user(services)
    job = make_delivered_job(services, user, make_avatar(services, user))
    response = client.get(f"/api/v1/generations/{job['id']}/archive.zip", headers=auth(settings, user))
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"] == f'attachment; filename="pinglass-{job["id"]}.zip"'
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    assert archive.testzip() is None
    names = archive.namelist()
    assert names == [f"pinglass-{job['id']}-{i:02d}.png" for i in range(1, 8)]
    with services.pool.connection() as conn:
        photos = photo_rows.photos_of_job(conn, job_id=job["id"])
    assert [archive.read(name) for name in names] == [services.storage.get(p["storage_key"]) for p in photos]


def test_archive_of_a_job_without_photos_is_409_and_of_someone_elses_404(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    payment = confirmed_payment(services, user, avatar)
    headers = auth(settings, user)
    job_id = start_generation(client, headers, payment["id"])
    empty = client.get(f"/api/v1/generations/{job_id}/archive.zip", headers=headers)
    assert empty.status_code == 409 and empty.get_json()["error"]["code"] == "NO_PHOTOS"
    done = make_delivered_job(services, user, avatar)
    other = auth(settings, make_user(services))
    assert client.get(f"/api/v1/generations/{done['id']}/archive.zip", headers=other).status_code == 404


def test_a_shared_gallery_shows_the_photos_until_revoked(client, settings, services) -> None:
    user = make_user(services)
    job = make_delivered_job(services, user, make_avatar(services, user))
    headers = auth(settings, user)
    shared = client.post(f"/api/v1/generations/{job['id']}/share", headers=headers)
    assert shared.status_code == 201
    url = shared.get_json()["url"]
    assert url.startswith(settings.public_url("/g/")) and shared.get_json()["expires_at"]
    path = url.removeprefix(settings.public_base_url)

    page = client.get(path)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert page.get_data(as_text=True).count("<img ") == 7 and "<p>7 портретов · " in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"

    revoked = client.delete(f"/api/v1/generations/{job['id']}/share", headers=headers)
    assert revoked.status_code == 200 and revoked.get_json() == {"job_id": job["id"], "revoked": 1}
    gone = client.get(path)
    assert gone.status_code == 404 and "<img " not in gone.get_data(as_text=True)


def test_a_shared_gallery_ends_when_its_link_expires(client, settings, services) -> None:
    user = make_user(services)
    job = make_delivered_job(services, user, make_avatar(services, user))
    url = client.post(f"/api/v1/generations/{job['id']}/share", headers=auth(settings, user)).get_json()["url"]
    path = url.removeprefix(settings.public_base_url)
    assert client.get(path).status_code == 200
    with services.pool.connection() as conn:  # a week passes
        conn.execute("UPDATE shared_galleries SET expires_at = now() - interval '1 second'")
    assert client.get(path).status_code == 404


def test_only_the_token_hash_is_stored_and_a_guess_finds_nothing(client, settings, services) -> None:
    user = make_user(services)
    job = make_delivered_job(services, user, make_avatar(services, user))
    url = client.post(f"/api/v1/generations/{job['id']}/share", headers=auth(settings, user)).get_json()["url"]
    token = url.rsplit("/", 1)[1]
    with services.pool.connection() as conn:
        (row,) = conn.execute("SELECT token_hash FROM shared_galleries").fetchall()
    assert token not in row["token_hash"] and len(token) >= 43
    assert client.get(f"/g/{token[:-1]}x").status_code == 404
    assert client.get("/g/" + "a" * 500).status_code == 404


def test_sharing_needs_photos_and_ones_own_job(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    headers = auth(settings, user)
    payment = confirmed_payment(services, user, avatar)
    job_id = start_generation(client, headers, payment["id"])
    empty = client.post(f"/api/v1/generations/{job_id}/share", headers=headers)
    assert empty.status_code == 409 and empty.get_json()["error"]["code"] == "NO_PHOTOS"
    done = make_delivered_job(services, user, avatar)
    other = auth(settings, make_user(services))
    assert client.post(f"/api/v1/generations/{done['id']}/share", headers=other).status_code == 404
    assert client.delete(f"/api/v1/generations/{done['id']}/share", headers=other).status_code == 404
