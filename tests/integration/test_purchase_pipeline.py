"""A paid order becomes exactly its tier's photos, stored and delivered as albums (I2, I3)."""

from __future__ import annotations

import pytest

from db import photos as photo_rows
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import albums_in_chat, chat_messages, fast_kie, kie_state, wait_for_job

pytestmark = pytest.mark.scenario


@pytest.mark.parametrize(("tier", "photos", "album_sizes", "caption"), [
    ("starter", 7, [7], "✨ Ваши 7 AI-портретов готовы!"),
    ("standard", 15, [10, 5], "✨ Первые 10 из 15 AI-портретов готовы — остальные пришлём следом."),
    ("premium", 23, [10, 10, 3], "✨ Первые 10 из 23 AI-портретов готовы — остальные пришлём следом.")])
def test_purchase_delivers_its_tier_of_distinct_photos_as_ordered_albums(services, worker, tier, photos,
                                                                         album_sizes, caption) -> None:
    fast_kie(services)
    user = make_user(services)
    avatar = make_avatar(services, user)
    payment = make_paid_payment(services, user, avatar, tier=tier)

    job = wait_for_job(services, payment_id=payment["id"])

    assert job["status"] == "delivered"
    with services.pool.connection() as conn:
        stored = photo_rows.photos_of_job(conn, job_id=job["id"])
    assert sorted(p["prompt_index"] for p in stored) == list(range(photos))
    assert len({p["sha256"] for p in stored}) == photos
    assert all(services.storage.exists(p["storage_key"]) for p in stored)

    albums = albums_in_chat(services, user["telegram_id"])
    assert [sum(len(m["photos"]) > 0 for m in album) for album in albums] == album_sizes
    captions = [m.get("caption") for album in albums for m in album if m.get("caption")]
    assert captions == [caption]
    prompts = [m["photos"][-1]["prompt"] for album in albums for m in album]
    # each portrait once; an album sent while the rest were being made holds the first ten stored
    assert sorted(int(p.rsplit("[#", 1)[1].rstrip("]")) for p in prompts) == list(range(1, photos + 1))
    last = chat_messages(services, user["telegram_id"])[-1]
    assert last.get("reply_markup") and "inline_keyboard" in last["reply_markup"]
    assert last["text"].startswith(f"В вашей галерее {photos} портрет")
    assert kie_state(services)["counts"]["rejected_429"] == 0
