"""Regenerating one portrait over HTTP: same prompt, a one-photo job, within the album's allowance."""

from __future__ import annotations

from db import jobs, photos
from tests.factories import make_avatar, make_user
from tests.web.api_helpers import auth, make_delivered_job


def _photos(services, job_id: int) -> list[dict]:
    with services.pool.connection() as conn:
        return photos.photos_of_job(conn, job_id=job_id)


def test_regenerating_a_photo_starts_a_one_photo_job_with_the_same_prompt(client, settings, services) -> None:
    user = make_user(services)
    job = make_delivered_job(services, user, make_avatar(services, user))
    photo = _photos(services, job["id"])[3]

    response = client.post(f"/api/v1/photos/{photo['id']}/regenerate", headers=auth(settings, user))

    assert response.status_code == 202
    body = response.get_json()
    assert body["parent_job_id"] == job["id"] and body["regenerations_used"] == 1
    assert body["regenerations_left"] == 0  # starter: 7 photos x 10 % rounds down, at least one
    with services.pool.connection() as conn:
        child = jobs.get_job(conn, id=body["job_id"])
        (task,) = jobs.tasks_of_job(conn, job_id=child["id"])
        original = next(t for t in jobs.tasks_of_job(conn, job_id=job["id"]) if t["prompt_index"] == 3)
    assert child["kind"] == "regeneration" and child["total_photos"] == 1 and child["parent_job_id"] == job["id"]
    assert task["prompt_index"] == 3 and task["prompt"] == original["prompt"]
    detail = client.get(f"/api/v1/generations/{job['id']}", headers=auth(settings, user)).get_json()
    assert [r["job_id"] for r in detail["regenerations"]] == [child["id"]]


def test_regenerations_beyond_the_allowance_are_409(client, settings, services) -> None:
    user = make_user(services)
    job = make_delivered_job(services, user, make_avatar(services, user), tier="premium")  # 23 -> 2 allowed
    photos = _photos(services, job["id"])
    headers = auth(settings, user)
    assert client.post(f"/api/v1/photos/{photos[0]['id']}/regenerate", headers=headers).status_code == 202
    assert client.post(f"/api/v1/photos/{photos[1]['id']}/regenerate", headers=headers).status_code == 202
    third = client.post(f"/api/v1/photos/{photos[2]['id']}/regenerate", headers=headers)
    assert third.status_code == 409
    assert third.get_json()["error"]["code"] == "REGENERATION_LIMIT"
    with services.pool.connection() as conn:
        assert jobs.get_job(conn, id=job["id"])["regenerations_used"] == 2


def test_a_regenerated_photo_spends_the_original_albums_allowance(client, settings, services) -> None:
    user = make_user(services)
    job = make_delivered_job(services, user, make_avatar(services, user))
    headers = auth(settings, user)
    first = client.post(f"/api/v1/photos/{_photos(services, job['id'])[0]['id']}/regenerate", headers=headers)
    child_id = first.get_json()["job_id"]
    with services.pool.connection() as conn:  # the child job delivered its photo
        (task,) = jobs.tasks_of_job(conn, job_id=child_id)
        conn.execute("UPDATE generation_tasks SET status = 'succeeded' WHERE id = %(id)s", {"id": task["id"]})
        new = photos.insert_photo(conn, job_id=child_id, prompt_index=0, task_id=task["id"], storage_key="photos/x",
                                sha256="0" * 64, width=1, height=1, size_bytes=1, content_type="image/png")
        conn.execute("UPDATE generation_jobs SET status = 'delivered' WHERE id = %(id)s", {"id": child_id})

    again = client.post(f"/api/v1/photos/{new['id']}/regenerate", headers=headers)

    assert again.status_code == 409 and again.get_json()["error"]["code"] == "REGENERATION_LIMIT"


def test_only_a_finished_albums_photos_can_be_regenerated(client, settings, services) -> None:
    user = make_user(services)
    job = make_delivered_job(services, user, make_avatar(services, user))
    with services.pool.connection() as conn:
        conn.execute("UPDATE generation_jobs SET status = 'delivering' WHERE id = %(id)s", {"id": job["id"]})
    photo = _photos(services, job["id"])[0]
    response = client.post(f"/api/v1/photos/{photo['id']}/regenerate", headers=auth(settings, user))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "JOB_NOT_FINISHED"


def test_someone_elses_photo_is_404(client, settings, services) -> None:
    owner = make_user(services)
    job = make_delivered_job(services, owner, make_avatar(services, owner))
    photo = _photos(services, job["id"])[0]
    response = client.post(f"/api/v1/photos/{photo['id']}/regenerate", headers=auth(settings, make_user(services)))
    assert response.status_code == 404
    assert client.post("/api/v1/photos/999999/regenerate", headers=auth(settings, owner)).status_code == 404
    with services.pool.connection() as conn:
        assert jobs.get_job(conn, id=job["id"])["regenerations_used"] == 0

