"""Kie's budget is enforced by us, fleet-wide, before calling: many jobs at once produce no 429 from the
provider, and the budget is shared fairly (a small order is not stuck behind large ones)."""

from __future__ import annotations

import pytest

from db import dead_letters, jobs
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import fast_kie, kie_state, wait_for_job, wait_until

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
    late_user = make_user(services)
    starter = make_paid_payment(services, late_user, make_avatar(services, late_user), tier="starter")

    finished = [wait_for_job(services, payment_id=p["id"], timeout_s=120) for p in [*premium, starter]]

    assert [j["status"] for j in finished] == ["delivered"] * 6
    counts = kie_state(services)["counts"]
    assert counts["rejected_429"] == 0
    assert counts["created"] == 5 * 23 + 7
    with services.pool.connection() as conn:  # waiting for the limiter spent no retry budget
        assert dead_letters.list_dead_letters(conn) == []
    with services.pool.connection() as conn:
        starter_done = max(t["submitted_at"] for t in jobs.tasks_of_job(conn, job_id=finished[-1]["id"]))
        premium_after = sum(1 for j in finished[:5] for t in jobs.tasks_of_job(conn, job_id=j["id"])
                            if t["submitted_at"] > starter_done)
    # FIFO would submit the starter's 7 tasks after all 115 premium ones; fair sharing puts them early.
    assert premium_after >= 40, f"only {premium_after} premium tasks were submitted after the starter's last"
