"""Found by the chaos run (issue 13): a poll that Kie's recordInfo limit answers 429 is an expected wait, not a
failure. It used to spend poll_task's retry budget (8), so a burst of polls — the redelivered messages of a
SIGKILLed worker, duplicated callbacks — ended as a dead letter and an admin alert although nothing had failed.
Here twenty-four recordInfo calls answer 429: every photo is still made on its first attempt, each 429 is a wait
(the rate-limit waits counter of poll_task), nothing is retried and nothing is dead-lettered."""

from __future__ import annotations

import pytest

from sandbox.client import SandboxClient
from telemetry import metrics
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import fast_kie, kie_faults, wait_for_job

pytestmark = pytest.mark.scenario
LIMITED = 24


def test_a_rate_limited_poll_waits_without_spending_its_retries(services, worker) -> None:
    fast_kie(services)
    kie_faults(services, [{"method": "recordInfo", "error_code": 429, "http_status": 429, "times": LIMITED}])
    waits = metrics.RATE_LIMIT_WAITS.labels("poll_task")
    before = waits._value.get()
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="starter")

    job = wait_for_job(services, payment_id=payment["id"], timeout_s=120)

    faults = SandboxClient.from_settings(services.settings).kie.state()["faults"]
    assert all(rule["remaining"] == 0 for rule in faults), "the 429s were not all answered: the test proves nothing"
    with services.pool.connection() as conn:
        attempts = conn.execute("SELECT sum(attempt) AS n FROM generation_tasks WHERE job_id = %s",
                                (job["id"],)).fetchone()["n"]
        dead = conn.execute("SELECT count(*) AS n FROM dead_letters").fetchone()["n"]
    assert job["status"] == "delivered" and job["photos_stored"] == 7, job
    assert (attempts, dead) == (7, 0)
    assert waits._value.get() - before >= LIMITED, "a 429 on recordInfo spent the retry budget instead of waiting"
