"""An operator pauses generation (issue 11, "Actions"): a job paid meanwhile sends nothing to Kie and fails
nothing while the switch is on; resumed, it completes. From the admin's API, as the dashboard's button does."""

from __future__ import annotations

import time

import pytest

from sandbox.client import SandboxClient
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import fast_kie, wait_for_job


@pytest.fixture
def admin(settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.admin_token}"}


def test_a_paused_fleet_sends_nothing_to_kie_and_resumes(client, services, worker, admin) -> None:
    fast_kie(services)
    kie = SandboxClient.from_settings(services.settings).kie
    paused = client.post("/admin/api/generation", headers=admin, json={"paused": True, "reason": "Kie incident"})
    assert paused.status_code == 200 and paused.get_json()["paused"] is True
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="starter")

    time.sleep(6)  # the job starts, its tokens wait (a recheck every 5 s)
    job = wait_for_job(services, payment_id=payment["id"], statuses=("queued", "generating"), timeout_s=10)
    assert job["status"] == "queued" and kie.counts()["create_calls"] == 0
    assert client.get("/admin/api/generation", headers=admin).get_json()["reason"] == "Kie incident"

    assert client.post("/admin/api/generation", headers=admin, json={"paused": False}).status_code == 200
    job = wait_for_job(services, payment_id=payment["id"], timeout_s=60)
    assert job["status"] == "delivered" and job["photos_stored"] == 7 and job["photos_failed"] == 0
    bad = client.post("/admin/api/generation", headers=admin, json={"paused": "yes"})
    assert (bad.status_code, bad.get_json()["error"]["code"]) == (422, "INVALID_SWITCH")
