"""Retention of selfies and portraits on the real Postgres and the S3 sandbox: what is erased when (at the
boundaries, with an injected ``now``), what is never erased (a running job, money taken), and the scheduler's
actor doing it in the running fleet."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from gateways.storage import archive_key
from tests.factories import make_avatar, make_user
from tests.integration.pipeline_helpers import wait_until
from tests.web.api_helpers import confirmed_payment, make_delivered_job, object_keys
from usecases import generation, privacy
from workers import scheduler

SECOND = timedelta(seconds=1)


def _expire(services, now) -> privacy.Expired:
    return privacy.expire_personal_data(services.pool, services.storage, services.settings, now=now)


def _one(services, query: str, *params: Any) -> dict[str, Any]:
    with services.pool.connection() as conn:
        return conn.execute(query, params).fetchone()


def _reference_count(services, avatar_id: int) -> int:
    return _one(services, "SELECT count(*) AS n FROM reference_photos WHERE avatar_id = %s", avatar_id)["n"]


def _live_photos(services, job_id: int) -> int:
    return _one(services, "SELECT count(*) AS n FROM generated_photos WHERE job_id = %s AND deleted_at IS NULL",
                job_id)["n"]


def _newest_reference_at(services, avatar_id: int):
    return _one(services, "SELECT max(created_at) AS t FROM reference_photos WHERE avatar_id = %s", avatar_id)["t"]


def test_selfies_of_an_avatar_never_ordered_from_go_exactly_their_retention_after_it_was_last_used(services):
    user = make_user(services)
    avatar = make_avatar(services, user, references=5)
    other = make_avatar(services, user, references=5)  # given its selfies later: kept longer
    days = services.settings.selfie_retention_days
    due = _newest_reference_at(services, avatar["id"]) + timedelta(days=days)
    assert len(object_keys(services.settings, f"references/{avatar['id']}/")) == 5

    assert _expire(services, due - SECOND) == privacy.Expired(avatars=0, references=0, jobs=0, photos=0)
    assert _reference_count(services, avatar["id"]) == 5

    assert _expire(services, due) == privacy.Expired(avatars=1, references=5, jobs=0, photos=0)
    assert object_keys(services.settings, f"references/{avatar['id']}/") == []
    assert _reference_count(services, avatar["id"]) == 0
    assert _reference_count(services, other["id"]) == 5  # its newest selfie is younger
    assert len(object_keys(services.settings, f"references/{other['id']}/")) == 5
    assert _one(services, "SELECT deleted_at FROM avatars WHERE id = %s", avatar["id"])["deleted_at"] is None


def test_an_order_keeps_selfies_until_retention_after_its_job_and_portraits_until_theirs(services):
    user = make_user(services)
    avatar = make_avatar(services, user, references=5)
    job = make_delivered_job(services, user, avatar)
    services.storage.put(archive_key(job["id"], secret=services.settings.callback_signing_key), b"PK", "x/zip")
    settings = services.settings
    finished = job["finished_at"]
    selfies_due = finished + timedelta(days=settings.selfie_retention_days)
    photos_due = finished + timedelta(days=settings.portrait_retention_days)
    assert privacy.photos_delete_at(job, settings) == photos_due
    with services.pool.connection() as conn:
        assert privacy.selfies_delete_dates(conn, avatar_ids=[avatar["id"]], settings=settings) == {
            avatar["id"]: selfies_due}

    assert _expire(services, selfies_due - SECOND).avatars == 0
    assert _expire(services, selfies_due) == privacy.Expired(avatars=1, references=5, jobs=0, photos=0)
    assert object_keys(settings, f"references/{avatar['id']}/") == []
    assert len(object_keys(settings, f"photos/{job['id']}/")) == 7

    assert _expire(services, photos_due - SECOND).jobs == 0
    assert _live_photos(services, job["id"]) == 7
    assert _expire(services, photos_due) == privacy.Expired(avatars=0, references=0, jobs=1, photos=7)
    assert object_keys(settings, f"photos/{job['id']}/") == []
    assert object_keys(settings, f"archives/{job['id']}/") == []
    assert _live_photos(services, job["id"]) == 0
    # the rows account for the payment: marked deleted, not removed; the payment is untouched
    assert _one(services, "SELECT count(*) AS n FROM generated_photos WHERE job_id = %s", job["id"])["n"] == 7
    payment = _one(services, "SELECT status, amount_kopecks FROM payments WHERE id = %s", job["payment_id"])
    assert payment == {"status": "confirmed", "amount_kopecks": 49900}
    assert _expire(services, photos_due + timedelta(days=1)) == privacy.Expired(0, 0, 0, 0)  # nothing left


def test_nothing_of_an_avatar_is_erased_while_its_job_runs(services):
    user = make_user(services)
    avatar = make_avatar(services, user, references=5)
    old = make_delivered_job(services, user, avatar)
    payment = confirmed_payment(services, user, avatar)
    with services.pool.connection() as conn, conn.transaction():
        running = generation.start_job(conn, payment_id=payment["id"], referral_percent=10)
    assert running["status"] == "queued"
    far = old["finished_at"] + timedelta(days=10 * services.settings.portrait_retention_days)

    assert _expire(services, far) == privacy.Expired(0, 0, 0, 0)
    assert _reference_count(services, avatar["id"]) == 5 and _live_photos(services, old["id"]) == 7
    assert len(object_keys(services.settings, f"references/{avatar['id']}/")) == 5
    assert len(object_keys(services.settings, f"photos/{old['id']}/")) == 7


def test_nothing_of_an_avatar_is_erased_while_a_paid_payment_has_not_started(services):
    user = make_user(services)
    avatar = make_avatar(services, user, references=5)
    old = make_delivered_job(services, user, avatar)
    confirmed_payment(services, user, avatar)  # paid, its job not started yet
    far = old["finished_at"] + timedelta(days=10 * services.settings.portrait_retention_days)

    assert _expire(services, far) == privacy.Expired(0, 0, 0, 0)
    assert _reference_count(services, avatar["id"]) == 5 and _live_photos(services, old["id"]) == 7


def test_selfies_wait_while_a_payment_link_for_the_avatar_may_still_be_paid(services):
    settings = services.settings.with_overrides(selfie_retention_days=1)
    user = make_user(services)
    avatar = make_avatar(services, user, references=5)
    payment = confirmed_payment(services, user, avatar, confirm=False)  # status new: its link lives a day
    due = _newest_reference_at(services, avatar["id"]) + timedelta(days=1)
    assert due < payment["expires_at"]

    assert privacy.expire_personal_data(services.pool, services.storage, settings, now=due).avatars == 0
    assert _reference_count(services, avatar["id"]) == 5
    expired = privacy.expire_personal_data(services.pool, services.storage, settings, now=payment["expires_at"])
    assert expired.avatars == 1 and _reference_count(services, avatar["id"]) == 0


@pytest.mark.usefixtures("worker")
def test_the_scheduler_sends_the_expiry_and_the_actor_erases_what_is_due(services):
    user = make_user(services)
    avatar = make_avatar(services, user, references=5)
    kept = make_avatar(services, user, references=5)
    with services.pool.connection() as conn:  # this avatar was last used 31 days ago
        conn.execute("UPDATE avatars SET created_at = now() - interval '31 days' WHERE id = %s", (avatar["id"],))
        conn.execute("UPDATE reference_photos SET created_at = now() - interval '31 days' WHERE avatar_id = %s",
                     (avatar["id"],))
    [periodic] = [p for p in scheduler.SCHEDULE if p.actor_name == "expire_personal_data"]
    assert periodic.every_s <= 3600
    periodic.next_at = 0.0  # due now: the running scheduler sends it on its next round

    wait_until(lambda: not object_keys(services.settings, f"references/{avatar['id']}/"), timeout_s=20,
               what="expired selfies gone from storage")
    wait_until(lambda: _reference_count(services, avatar["id"]) == 0, timeout_s=10, what="rows deleted")
    assert _reference_count(services, kept["id"]) == 5
    assert len(object_keys(services.settings, f"references/{kept['id']}/")) == 5


def test_the_sweep_reads_in_pages_and_leaves_an_avatar_locked_elsewhere_for_the_next_run(services, monkeypatch):
    monkeypatch.setattr(privacy, "SWEEP_PAGE", 1)  # three pages and an empty one
    user = make_user(services)
    avatars = [make_avatar(services, user, references=2) for _ in range(3)]
    days = services.settings.selfie_retention_days
    due = max(_newest_reference_at(services, avatar["id"]) for avatar in avatars) + timedelta(days=days)
    with services.pool.connection() as holder, holder.transaction():  # an upload holds the middle avatar
        holder.execute("SELECT id FROM avatars WHERE id = %s FOR UPDATE", (avatars[1]["id"],))
        assert _expire(services, due) == privacy.Expired(avatars=2, references=4, jobs=0, photos=0)
    assert [_reference_count(services, avatar["id"]) for avatar in avatars] == [0, 2, 0]
    assert _expire(services, due) == privacy.Expired(avatars=1, references=2, jobs=0, photos=0)
    assert object_keys(services.settings, f"references/{avatars[1]['id']}/") == []
