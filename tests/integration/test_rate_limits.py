"""Kie's budget is enforced by us, fleet-wide, before calling: many jobs at once produce no 429 from the
provider, and the budget is shared fairly (a small order is not stuck behind large ones)."""

from __future__ import annotations

import pytest

from db import dead_letters, jobs
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import fast_kie, kie_state, wait_for_job, wait_until
from usecases import controls

pytestmark = pytest.mark.scenario


def test_five_premium_jobs_at_once_get_no_429_and_a_later_starter_is_served_fairly(services, worker) -> None:
    fast_kie(services)  # the fake enforces the provider's 20 per window; our limiter must keep under it
    premium = []
    for _ in range(5):
        user = make_user(services)
        premium.append(make_paid_payment(services, user, make_avatar(services, user), tier="premium"))

    def all_jobs_exist():
        with services.pool.connection() as conn:
            return all(jobs.get_job_by_payment(conn, payment_id=p["id"]) for p in premium)

    wait_until(all_jobs_exist, what="the five premium jobs")
    # The Starter arrives while most premium tasks still wait. Generation is paused for that moment only so a
    # slow machine cannot let the premium backlog drain before the Starter's job exists (resuming wakes the
    # waiting tokens within PAUSED_RECHECK_MS).
    with services.pool.connection() as conn:
        controls.set_generation_paused(conn, paused=True, by="test", reason="a later starter arrives")
    late_user = make_user(services)
    starter = make_paid_payment(services, late_user, make_avatar(services, late_user), tier="starter")

    def starter_job_exists():
        with services.pool.connection() as conn:
            return jobs.get_job_by_payment(conn, payment_id=starter["id"])

    wait_until(starter_job_exists, what="the starter's job")
    with services.pool.connection() as conn:
        controls.set_generation_paused(conn, paused=False, by="test")
    finished = [wait_for_job(services, payment_id=p["id"], timeout_s=120) for p in [*premium, starter]]

    assert [j["status"] for j in finished] == ["delivered"] * 6
    counts = kie_state(services)["counts"]
    assert counts["rejected_429"] == 0
    assert counts["created"] == 5 * 23 + 7
    with services.pool.connection() as conn:  # waiting for the limiter spent no retry budget
        assert dead_letters.list_dead_letters(conn) == []
    with services.pool.connection() as conn:
        starter_tasks = jobs.tasks_of_job(conn, job_id=finished[-1]["id"])
        premium_tasks = [t for j in finished[:5] for t in jobs.tasks_of_job(conn, job_id=j["id"])]
    # Measured on claim times, from the moment the starter's tasks existed, so a slow machine (fewer premium
    # tasks left by then) does not change the verdict. FIFO would claim every premium task still waiting before
    # any of the starter's; fair sharing interleaves the jobs, so the starter's 7 go out in the first rounds.
    appeared = min(t["created_at"] for t in starter_tasks)
    starter_last_claim = max(t["submitting_at"] for t in starter_tasks)
    waiting = [t for t in premium_tasks if t["submitting_at"] > appeared]
    overtook = [t for t in waiting if t["submitting_at"] < starter_last_claim]
    assert len(waiting) >= 20, f"only {len(waiting)} premium tasks were still waiting when the starter's appeared"
    assert len(overtook) <= len(waiting) // 2, \
        f"{len(overtook)} of {len(waiting)} waiting premium tasks were claimed before the starter's last"
