"""Found by the chaos run (issue 13): a poll that recordInfo answers 429 (Kie's limit) or 5xx is a wait, not a
failure. It used to spend poll_task's retry budget (8), so a burst of polls — the redelivered messages of a
SIGKILLed worker, duplicated callbacks — ended as dead letters and admin alerts although nothing had failed (and
once 429s were waits, a long-waiting poll met enough of Kie's 10 % 5xx to die the same way). Here twenty-four
recordInfo calls answer 429 and twelve answer 500: every photo is still made on its first attempt, each is a wait
(the rate-limit waits counter of poll_task), nothing is retried and nothing is dead-lettered."""

from __future__ import annotations

import pytest

from sandbox.client import SandboxClient
from telemetry import metrics
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import fast_kie, kie_faults, wait_for_job

pytestmark = pytest.mark.scenario
LIMITED, FAILED = 24, 12


def test_a_rate_limited_or_failing_poll_waits_without_spending_its_retries(services, worker) -> None:
    fast_kie(services)
    kie_faults(services, [{"method": "recordInfo", "error_code": 429, "http_status": 429, "times": LIMITED},
                          {"method": "recordInfo", "error_code": 500, "http_status": 500, "times": FAILED}])
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
    assert waits._value.get() - before >= LIMITED + FAILED, "a recordInfo error spent the retry budget, not waited"
