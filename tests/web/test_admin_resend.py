"""Issue 11, the admin's "re-send an album": a delivered album goes to the person's chat again, as round 1, 2, …
of chunks of its own — the same round asked twice (a double click, a repeated command) sends once; what cannot be
re-sent is refused with a code; the page's button and the operators' command do the same."""

from __future__ import annotations

import pytest

from tests.factories import make_avatar, make_user
from tests.integration.pipeline_helpers import chat_messages, wait_until
from tests.web.api_helpers import make_delivered_job
from workers import replay


@pytest.fixture
def admin(settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.admin_token}"}


def photos_in_chat(services, user) -> int:
    return sum(1 for m in chat_messages(services, user["telegram_id"]) if m.get("photos"))  # one per photo


def chunks(services, job_id: int) -> list[tuple[int, str]]:
    with services.pool.connection() as conn:
        rows = conn.execute("SELECT chunk, status FROM deliveries WHERE job_id = %s ORDER BY chunk",
                            (job_id,)).fetchall()
    return [(r["chunk"], r["status"]) for r in rows]


def test_a_delivered_album_is_re_sent_once_per_round(client, services, worker, admin) -> None:
    user = make_user(services)
    job = make_delivered_job(services, user, make_avatar(services, user), tier="standard", stored=12)

    page = client.get(f"/admin/jobs/{job['id']}", headers=admin).get_data(as_text=True)
    assert 'name="round" value="1"' in page and 'id="resend"' in page
    first = client.post(f"/admin/api/jobs/{job['id']}/resend", json={"round": 1}, headers=admin)
    again = client.post(f"/admin/api/jobs/{job['id']}/resend", json={"round": 1}, headers=admin)  # double click
    assert first.status_code == 200 and first.get_json()["round"] == 1 and again.status_code == 200

    wait_until(lambda: photos_in_chat(services, user) >= 12 or None, what="the re-sent album")
    wait_until(lambda: all(status == "sent" for _, status in chunks(services, job["id"])) or None,
               what="the round's chunks sent")
    assert chunks(services, job["id"]) == [(1000, "sent"), (1001, "sent")]  # 10 + 2 photos, once

    page = client.get(f"/admin/jobs/{job['id']}", headers=admin).get_data(as_text=True)
    assert 'name="round" value="2"' in page
    form = client.post(f"/admin/jobs/{job['id']}/resend", data={"round": "2"}, headers=admin)
    assert form.status_code == 303 and "round+2" in form.headers["Location"]
    wait_until(lambda: photos_in_chat(services, user) >= 24 or None, what="the second re-send")
    wait_until(lambda: len(chunks(services, job["id"])) == 4 and all(s == "sent" for _, s in chunks(
        services, job["id"])) or None, what="round 2 sent")
    assert photos_in_chat(services, user) == 24


def test_what_cannot_be_re_sent_is_refused_with_a_code(client, services, admin) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    running = make_delivered_job(services, user, avatar, finished=False)
    delivered = make_delivered_job(services, user, avatar)

    def answer(job_id: int, body: object) -> tuple[int, str]:
        response = client.post(f"/admin/api/jobs/{job_id}/resend", json=body, headers=admin)
        return response.status_code, response.get_json()["error"]["code"]

    assert answer(10**9, {}) == (404, "NOT_FOUND")
    assert answer(running["id"], {}) == (409, "NOT_DELIVERED")
    assert answer(delivered["id"], {"round": 2}) == (422, "INVALID_ROUND")  # round 1 was never asked
    assert answer(delivered["id"], {"round": "1"}) == (422, "INVALID_ROUND")
    with services.pool.connection() as conn:
        conn.execute("UPDATE users SET bot_blocked = true WHERE id = %s", (user["id"],))
    assert answer(delivered["id"], {}) == (409, "BOT_BLOCKED")
    assert client.post(f"/admin/api/jobs/{delivered['id']}/resend", json={}).status_code in (401, 403)
    with services.pool.connection() as conn:
        queued = conn.execute("SELECT count(*) AS n FROM outbox WHERE actor_name = 'resend_album'").fetchone()["n"]
    assert queued == 0  # nothing half-queued by a refusal


def test_the_operators_command_re_sends_too(services, settings, monkeypatch, capsys) -> None:
    user = make_user(services)
    job = make_delivered_job(services, user, make_avatar(services, user))
    for key, value in {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
                       "BROKER_NAMESPACE": settings.broker_namespace}.items():
        monkeypatch.setenv(key, value)

    assert replay.main(["resend", str(job["id"])]) == 0
    assert replay.main(["resend", str(job["id"]), "3"]) == 1
    out = capsys.readouterr().out
    assert f"resend {job['id']}: round 1 queued as" in out and "INVALID_ROUND" in out
    with services.pool.connection() as conn:
        rows = conn.execute("SELECT args FROM outbox WHERE actor_name = 'resend_album'").fetchall()
    assert [r["args"] for r in rows] == [[job["id"], 1]]
