"""I4: every paid job ends within a bounded time. A provider that never finishes is polled with backoff,
given up after ``poll_give_up_s``, retried as new tasks, and the job ends failed and refunded in full."""

from __future__ import annotations

import pytest

from db import jobs, payments, refunds
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import chat_messages, kie_config, wait_for_job, wait_until

pytestmark = pytest.mark.scenario


@pytest.fixture
def settings(settings):
    return settings.with_overrides(poll_give_up_s=1, kie_first_poll_ms=200)


def test_tasks_that_never_finish_are_given_up_and_the_job_is_refunded(services, worker) -> None:
    kie_config(services, latency_ms_min=600_000, latency_ms_max=600_000, rate_window_s=2)
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="starter")

    job = wait_for_job(services, payment_id=payment["id"], timeout_s=90)

    assert job["status"] == "failed" and (job["photos_stored"], job["photos_failed"]) == (0, 7)
    with services.pool.connection() as conn:
        tasks = jobs.tasks_of_job(conn, job_id=job["id"])
    assert len(tasks) == 21 and {t["status"] for t in tasks} == {"failed"}
    assert {t["fail_code"] for t in tasks} == {"timeout"}

    def refunded():
        with services.pool.connection() as conn:
            return [r for r in refunds.refunds_of_job(conn, job_id=job["id"]) if r["status"] == "succeeded"]

    assert [r["amount_kopecks"] for r in wait_until(refunded, what="the refund")] == [49900]
    with services.pool.connection() as conn:
        assert payments.get(conn, id=payment["id"])["status"] == "refunded"
    wait_until(lambda: any((m.get("text") or "") == "Не удалось создать 7 портретов из 7. Мы вернули 499\u00a0₽ "
                           "на вашу карту."
                           for m in chat_messages(services, user["telegram_id"])), what="the notice")
