"""Albums go out as they fill (usecases.delivery): a Premium order's first two albums reach the chat while its last
three portraits are still being made — Kie's limit holds the 21st task back for a window — and the job still
ends with each portrait in the chat once, the summary last."""

from __future__ import annotations

import pytest

from db import deliveries, photos
from settings import Settings
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import albums_in_chat, chat_messages, fast_kie, wait_for_job
from usecases.delivery import album_plan

pytestmark = pytest.mark.scenario
WINDOW_S = 6.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A Kie window long enough that the 21st task surely comes after the first 20 portraits are stored."""
    return settings.with_overrides(kie_rate_window_s=WINDOW_S)


def test_full_albums_are_sent_while_the_rest_are_made(services, worker) -> None:
    fast_kie(services)
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="premium")

    job = wait_for_job(services, payment_id=payment["id"])

    assert job["status"] == "delivered"
    with services.pool.connection() as conn:
        chunks = deliveries.chunks_of_job(conn, job_id=job["id"])
        stored = photos.photos_of_job(conn, job_id=job["id"])
    last_photo = max(p["created_at"] for p in stored)
    albums = [c for c in chunks if c["kind"] in ("album", "photo")]
    assert [len(c["photo_ids"]) for c in albums] == [10, 10, 3]
    early = [c["chunk"] for c in albums if c["sent_at"] < last_photo]
    assert early == [0, 1], f"sent before the last portrait was stored: {early}"
    assert sorted(pid for c in albums for pid in c["photo_ids"]) == sorted(p["id"] for p in stored)

    in_chat = [m["photos"][-1]["sha256"] for album in albums_in_chat(services, user["telegram_id"]) for m in album]
    assert sorted(in_chat) == sorted(p["sha256"] for p in stored), "each portrait in the chat once"
    assert chat_messages(services, user["telegram_id"])[-1]["text"].startswith("В вашей галерее 23 портрета")


def _photo(pid: int) -> dict:
    return {"id": pid, "prompt_index": pid}


def _chunk(number: int, ids: list[int], kind: str = "album") -> dict:
    return {"chunk": number, "kind": kind, "photo_ids": ids}


def test_album_plan_sends_only_full_albums_until_the_job_is_finishing() -> None:
    album = [_photo(i) for i in range(12)]
    assert [(n, [p["id"] for p in c]) for n, c in album_plan(album, [], finishing=False)] == [(0, list(range(10)))]
    assert album_plan(album[:9], [], finishing=False) == []
    assert [(n, len(c)) for n, c in album_plan(album, [], finishing=True)] == [(0, 10), (1, 2)]


def test_album_plan_keeps_recorded_albums_and_places_the_rest_after_them() -> None:
    album = [_photo(i) for i in range(23)]
    early = [_chunk(0, [3, 1, 7, 0, 2, 9, 12, 5, 4, 6]), _chunk(900, [], kind="summary")]
    plan = album_plan(album, early, finishing=True)
    assert [n for n, _ in plan] == [0, 1, 2]
    assert [p["id"] for p in plan[0][1]] == [3, 1, 7, 0, 2, 9, 12, 5, 4, 6], "a recorded album keeps its photos"
    rest = [p["id"] for _, chunk in plan[1:] for p in chunk]
    assert rest == [8, 10, 11, *range(13, 23)], "the others once, in prompt order"


def test_album_plan_skips_a_recorded_album_whose_photos_were_all_deleted() -> None:
    album = [_photo(i) for i in range(10, 15)]
    plan = album_plan(album, [_chunk(0, list(range(10)))], finishing=True)
    assert [(n, [p["id"] for p in c]) for n, c in plan] == [(1, [10, 11, 12, 13, 14])]
