"""Kie's recordInfo allows 10 calls per second per key. Our polls keep under it fleet-wide (a window per key in
Redis, ``runtime.limits.acquire_record_info``), with part of each second kept for the polls a callback asked
for: a 429 used to cost a callback's photo a second or two of backoff (a third of the polls in the benchmark)."""

from __future__ import annotations

import time

import pytest

from runtime.limits import RECORD_INFO_KEPT_FOR_CALLBACKS, RECORD_INFO_MARGIN_S, acquire_record_info
from tests.conftest import BROKER_NAMESPACE
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import kie_config, kie_state, wait_for_job


def take(client, *, for_callback: bool, index: int = 0) -> float:
    return acquire_record_info(client, index=index, limit=10, for_callback=for_callback,
                               namespace=BROKER_NAMESPACE)


def test_the_window_keeps_calls_for_callbacks_and_names_the_wait(redis_client) -> None:
    chain = [take(redis_client, for_callback=False) for _ in range(10)]
    callbacks = [take(redis_client, for_callback=True) for _ in range(5)]
    other_key = take(redis_client, for_callback=False, index=1)

    granted = 10 - RECORD_INFO_KEPT_FOR_CALLBACKS
    assert chain[:granted] == [0.0] * granted and all(w > 0 for w in chain[granted:])
    assert callbacks[:RECORD_INFO_KEPT_FOR_CALLBACKS] == [0.0] * RECORD_INFO_KEPT_FOR_CALLBACKS
    assert all(0.9 < w <= 1 + RECORD_INFO_MARGIN_S for w in callbacks[RECORD_INFO_KEPT_FOR_CALLBACKS:])
    assert other_key == 0.0  # the window is per key
    time.sleep(1 + RECORD_INFO_MARGIN_S)
    assert take(redis_client, for_callback=False) == 0.0


@pytest.fixture
def settings(settings):
    return settings.with_overrides(kie_first_poll_ms=100)  # every task polled at once, then 2 s × 1.5 per poll


def test_a_premium_jobs_polls_meet_no_429_at_record_info(services, worker) -> None:
    kie_config(services, latency_ms_min=1500, latency_ms_max=4000, rate_limit=services.settings.kie_rate_limit,
               rate_window_s=services.settings.kie_rate_window_s)
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="premium")

    job = wait_for_job(services, payment_id=payment["id"], timeout_s=120)

    counts = kie_state(services)["counts"]
    assert job["status"] == "delivered" and job["photos_stored"] == 23
    assert counts["record_info_calls"] > 23, "too few polls to prove anything"
    assert counts["record_info_429"] == 0, counts
