"""Issue 10 item 10: a provider outage is a wait, not a storm. S3 refuses every write (503 SlowDown) for 75 s
while a job's photos wait to be stored, and the sweeper runs every second with a 2 s idle period (the real 15 s /
60 s compressed, so the old storm shows within the test): the number of store_photo messages stays bounded, no
message is dead-lettered, one provider_outage alert is raised, and the job completes once S3 is back."""

from __future__ import annotations

import time

import pytest

from runtime.unit import transaction
from sandbox.client import SandboxClient
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import fast_kie, wait_for_job
from usecases import sweeps

pytestmark = pytest.mark.scenario
OUTAGE_S = 75


def _count(services, sql: str) -> int:
    with services.pool.connection() as conn:
        return conn.execute(sql).fetchone()["n"]


def test_an_s3_outage_makes_work_wait_without_a_storm(services, worker) -> None:
    fast_kie(services)
    s3 = SandboxClient.from_settings(services.settings).s3
    user = make_user(services)
    avatar = make_avatar(services, user)
    s3.configure(down_methods="PUT")
    try:
        payment = make_paid_payment(services, user, avatar, tier="starter")
        started = time.monotonic()
        while time.monotonic() - started < OUTAGE_S:
            with transaction() as conn:
                sweeps.sweep_stuck(conn, idle_s=2)
            time.sleep(1)
        during = _count(services, "SELECT count(*) AS n FROM outbox WHERE actor_name = 'store_photo'")
    finally:
        s3.configure(down_methods="")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # the sweeper keeps running while the fleet recovers
        with transaction() as conn:
            sweeps.sweep_stuck(conn, idle_s=2)
        with services.pool.connection() as conn:
            status = conn.execute("SELECT status FROM generation_jobs WHERE payment_id = %s",
                                  (payment["id"],)).fetchone()["status"]
        if status in ("delivered", "delivered_partial", "failed"):
            break
        time.sleep(1)
    job = wait_for_job(services, payment_id=payment["id"], timeout_s=5)

    dead = _count(services, "SELECT count(*) AS n FROM dead_letters")
    outage_alerts = _count(services, "SELECT count(*) AS n FROM admin_alerts WHERE kind = 'provider_outage'")
    all_alerts = _count(services, "SELECT count(*) AS n FROM admin_alerts")
    total = _count(services, "SELECT count(*) AS n FROM outbox WHERE actor_name = 'store_photo'")
    print(f"store_photo messages: {during} during the {OUTAGE_S} s outage, {total} in all; dead letters {dead}; "
          f"alerts {all_alerts} (provider_outage {outage_alerts})")
    assert dead == 0, "work that simply waited was dead-lettered"
    assert during <= 3 * 7, f"{during} store_photo messages for 7 photos: a storm"
    assert outage_alerts == 1 and all_alerts == 1
    assert job["status"] == "delivered" and job["photos_stored"] == 7
