"""Starting and reading generations over HTTP: one job per payment however requests race (I1), idempotent
replays, and progress by stage with the photos."""

from __future__ import annotations

import threading
import uuid

import requests

from db import jobs
from tests.factories import make_avatar, make_user
from tests.web.api_helpers import auth, confirmed_payment, make_delivered_job, start_generation


def _jobs_of(services, payment_id: int) -> list[dict]:
    with services.pool.connection() as conn:
        return conn.execute("SELECT * FROM generation_jobs WHERE payment_id = %(p)s", {"p": payment_id}).fetchall()


def test_a_confirmed_payment_starts_its_generation(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    payment = confirmed_payment(services, user, avatar)
    response = client.post("/api/v1/generations", headers=auth(settings, user),
                           json={"payment_id": payment["id"], "avatar_id": avatar["id"], "style_id": "business"})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"job_id", "correlation_id"}
    (job,) = _jobs_of(services, payment["id"])
    assert job["id"] == body["job_id"] and job["correlation_id"] == body["correlation_id"]
    with services.pool.connection() as conn:
        assert len(jobs.tasks_of_job(conn, job_id=job["id"])) == 7


def test_second_generation_on_same_payment_is_refused(client, settings, services) -> None:
    user = make_user(services)
    payment = confirmed_payment(services, user, make_avatar(services, user))
    headers = auth(settings, user)
    assert client.post("/api/v1/generations", headers=headers, json={"payment_id": payment["id"]}).status_code == 201
    second = client.post("/api/v1/generations", headers=headers, json={"payment_id": payment["id"]})
    assert second.status_code == 409
    assert second.get_json()["error"]["code"] == "PAYMENT_CONSUMED"
    assert len(_jobs_of(services, payment["id"])) == 1


def test_an_unconfirmed_payment_is_402(client, settings, services) -> None:
    user = make_user(services)
    payment = confirmed_payment(services, user, make_avatar(services, user), confirm=False)
    response = client.post("/api/v1/generations", headers=auth(settings, user), json={"payment_id": payment["id"]})
    assert response.status_code == 402
    assert response.get_json()["error"]["code"] == "PAYMENT_REQUIRED"
    assert _jobs_of(services, payment["id"]) == []


def test_someone_elses_payment_or_avatar_is_404(client, settings, services) -> None:
    owner, other = make_user(services), make_user(services)
    payment = confirmed_payment(services, owner, make_avatar(services, owner))
    other_avatar = make_avatar(services, other)
    theirs = client.post("/api/v1/generations", headers=auth(settings, other), json={"payment_id": payment["id"]})
    assert theirs.status_code == 404
    foreign_avatar = client.post("/api/v1/generations", headers=auth(settings, owner),
                                 json={"payment_id": payment["id"], "avatar_id": other_avatar["id"]})
    assert foreign_avatar.status_code == 404
    assert _jobs_of(services, payment["id"]) == []


def test_unknown_style_or_unready_avatar_is_422_and_consumes_nothing(client, settings, services) -> None:
    user = make_user(services)
    payment = confirmed_payment(services, user, make_avatar(services, user))
    headers = auth(settings, user)
    style = client.post("/api/v1/generations", headers=headers, json={"payment_id": payment["id"], "style_id": "x"})
    assert style.status_code == 422 and style.get_json()["error"]["code"] == "UNKNOWN_STYLE"
    thin = make_avatar(services, user, references=2)
    unready = client.post("/api/v1/generations", headers=headers,
                          json={"payment_id": payment["id"], "avatar_id": thin["id"]})
    assert unready.status_code == 422 and unready.get_json()["error"]["code"] == "AVATAR_NOT_READY"
    assert client.post("/api/v1/generations", headers=headers, json={"payment_id": payment["id"]}).status_code == 201


def test_the_same_idempotency_key_replays_the_first_answer(client, settings, services) -> None:
    user = make_user(services)
    payment = confirmed_payment(services, user, make_avatar(services, user))
    headers = {**auth(settings, user), "Idempotency-Key": f"tap-{uuid.uuid4()}"}
    first = client.post("/api/v1/generations", headers=headers, json={"payment_id": payment["id"]})
    again = client.post("/api/v1/generations", headers=headers, json={"payment_id": payment["id"]})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(_jobs_of(services, payment["id"])) == 1
    # without the key, the same request is a second generation and is refused
    plain = client.post("/api/v1/generations", headers=auth(settings, user), json={"payment_id": payment["id"]})
    assert plain.status_code == 409


def test_a_refusal_is_replayed_too(client, settings, services) -> None:
    user = make_user(services)
    payment = confirmed_payment(services, user, make_avatar(services, user), confirm=False)
    headers = {**auth(settings, user), "Idempotency-Key": "k-402"}
    assert client.post("/api/v1/generations", headers=headers, json={"payment_id": payment["id"]}).status_code == 402
    assert client.post("/api/v1/generations", headers=headers, json={"payment_id": payment["id"]}).status_code == 402


def test_an_idempotency_key_reused_with_another_body_is_422(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    one, two = confirmed_payment(services, user, avatar), confirmed_payment(services, user, avatar)
    headers = {**auth(settings, user), "Idempotency-Key": "same-key"}
    assert client.post("/api/v1/generations", headers=headers, json={"payment_id": one["id"]}).status_code == 201
    reused = client.post("/api/v1/generations", headers=headers, json={"payment_id": two["id"]})
    assert reused.status_code == 422
    assert reused.get_json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert _jobs_of(services, two["id"]) == []
    # keys are per user: someone else's identical key is theirs alone
    other = make_user(services)
    theirs = confirmed_payment(services, other, make_avatar(services, other))
    response = client.post("/api/v1/generations", headers={**auth(settings, other), "Idempotency-Key": "same-key"},
                           json={"payment_id": theirs["id"]})
    assert response.status_code == 201


def test_a_malformed_idempotency_key_is_400(client, settings, services) -> None:
    user = make_user(services)
    payment = confirmed_payment(services, user, make_avatar(services, user))
    headers = {**auth(settings, user), "Idempotency-Key": "x" * 300}
    response = client.post("/api/v1/generations", headers=headers, json={"payment_id": payment["id"]})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "INVALID_IDEMPOTENCY_KEY"


def test_two_simultaneous_generations_on_one_payment_give_one_201_and_one_409_fifty_times(
        live_web, settings, services) -> None:
    """The old system's promised test: over real HTTP, two requests released together by a barrier."""
    for run in range(50):
        user = make_user(services)
        payment = confirmed_payment(services, user, make_avatar(services, user, references=5))
        headers = auth(settings, user)
        barrier = threading.Barrier(2)
        answers: list[tuple[int, dict]] = []

        def post(payment_id: int = payment["id"], headers: dict = headers, barrier=barrier, answers=answers):
            barrier.wait()
            response = requests.post(f"{live_web}/api/v1/generations", json={"payment_id": payment_id},
                                    headers=headers, timeout=30)
            answers.append((response.status_code, response.json()))

        threads = [threading.Thread(target=post) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        statuses = sorted(status for status, _ in answers)
        assert statuses == [201, 409], f"run {run}: {answers}"
        refused = next(body for status, body in answers if status == 409)
        assert refused["error"]["code"] == "PAYMENT_CONSUMED", f"run {run}"
        assert len(_jobs_of(services, payment["id"])) == 1, f"run {run}"


def test_progress_of_a_fresh_generation_is_all_queued(client, settings, services) -> None:
    user = make_user(services)
    payment = confirmed_payment(services, user, make_avatar(services, user), tier="standard")
    headers = auth(settings, user)
    job_id = start_generation(client, headers, payment["id"])

    body = client.get(f"/api/v1/generations/{job_id}", headers=headers).get_json()

    assert body["status"] == "queued" and body["kind"] == "purchase" and body["payment_id"] == payment["id"]
    assert body["progress"]["done"] == 0 and body["progress"]["total"] == 15 and body["progress"]["percent"] == 0
    assert body["progress"]["stages"] == {"queued": 15, "submitted": 0, "generating": 0, "stored": 0, "failed": 0,
                                          "delivered_chunks": 0, "chunks": 0}
    assert body["photos"] == [] and body["refunds"] == [] and body["timestamps"]["finished_at"] is None


def test_progress_of_a_delivered_generation_lists_its_photos(client, settings, services) -> None:
    user = make_user(services)
    job = make_delivered_job(services, user, make_avatar(services, user), stored=6)
    body = client.get(f"/api/v1/generations/{job['id']}", headers=auth(settings, user)).get_json()
    assert body["status"] == "delivered_partial"
    assert body["progress"]["done"] == 6 and body["progress"]["failed"] == 1 and body["progress"]["percent"] == 100
    assert body["progress"]["stages"]["stored"] == 6 and body["progress"]["stages"]["failed"] == 1
    assert [p["prompt_index"] for p in body["photos"]] == [0, 1, 2, 3, 4, 5]
    photo = requests.get(body["photos"][0]["url"], timeout=5)
    assert photo.status_code == 200 and photo.content[:4] == b"\x89PNG"
    assert body["timestamps"]["finished_at"] is not None


def test_someone_elses_generation_is_404(client, settings, services) -> None:
    owner = make_user(services)
    job = make_delivered_job(services, owner, make_avatar(services, owner))
    response = client.get(f"/api/v1/generations/{job['id']}", headers=auth(settings, make_user(services)))
    assert response.status_code == 404
