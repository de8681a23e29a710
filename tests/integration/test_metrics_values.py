"""/metrics carries values, not only names (issue 11, "Metrics"): each assertion below reads a number that would
be absent or wrong if its instrumentation broke — the fleet's levels read at scrape time (payments, revenue,
jobs, outbox, queues) and an event counter moved by a real provider call."""

from __future__ import annotations

import dramatiq
from prometheus_client.parser import text_string_to_metric_families

from runtime.limits import acquire_kie_key, rest_kie_key
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import fast_kie, wait_for_job


def _scrape(client, settings) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {settings.admin_token}"})
    assert response.status_code == 200
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.data.decode())
            for sample in family.samples}


def test_levels_of_the_fleet_are_read_at_scrape_time(client, settings, services, broker) -> None:
    user = make_user(services)
    make_paid_payment(services, user, make_avatar(services, user), tier="standard")  # confirmed, 999 ₽
    broker.flush_all()
    broker.enqueue(dramatiq.Message(queue_name="ops", actor_name="clean_up", args=(), kwargs={}, options={}))
    try:
        values = _scrape(client, settings)
    finally:
        broker.flush_all()

    assert values[("pinglass_payments", (("rail", "tbank"), ("status", "confirmed")))] == 1
    assert values[("pinglass_revenue_kopecks", (("rail", "tbank"),))] == 99900
    assert values[("pinglass_outbox_unpublished", ())] >= 1  # consume_payment, written, not relayed (no scheduler)
    assert values[("pinglass_outbox_lag_seconds", ())] >= 0
    assert values[("pinglass_dead_letters_open", ())] == 0
    assert values[("pinglass_queue_messages", (("queue", "ops"), ("state", "ready")))] == 1


def test_a_provider_call_moves_its_counter(client, settings, services) -> None:
    key = ("pinglass_provider_calls_total", (("op", "credit"), ("outcome", "200"), ("provider", "kie")))
    before = _scrape(client, settings).get(key, 0.0)
    services.kie.credit(api_key=settings.kie_api_keys[0])
    assert _scrape(client, settings)[key] == before + 1


def test_a_purchase_observes_its_stages_and_each_photos_store_lag(client, settings, services, worker) -> None:
    fast_kie(services)
    total = ("pinglass_job_stage_seconds_count", (("stage", "total"), ("tier", "starter")))
    generating = ("pinglass_job_stage_seconds_count", (("stage", "generating"), ("tier", "starter")))
    lag = ("pinglass_photo_store_lag_seconds_count", ())
    before = _scrape(client, settings)
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="starter")
    assert wait_for_job(services, payment_id=payment["id"])["status"] == "delivered"

    after = _scrape(client, settings)

    assert after[total] - before.get(total, 0) == 1 and after[generating] - before.get(generating, 0) == 1
    assert after[lag] - before.get(lag, 0) == 7  # one per stored portrait
    assert after[("pinglass_job_stage_seconds_sum", (("stage", "total"), ("tier", "starter")))] > 0


def test_kie_budget_use_per_account_and_resting_keys(client, settings, services) -> None:
    ns = settings.broker_namespace
    for _ in range(3):
        acquire_kie_key(services.redis, key_count=1, limit=settings.kie_rate_limit, window_s=settings.kie_rate_window_s,
                        namespace=ns)
    rest_kie_key(services.redis, index=0, namespace=ns, seconds=30)

    values = _scrape(client, settings)

    assert values[("pinglass_kie_window_used", (("account", "0"),))] == 3
    assert values[("pinglass_kie_window_limit", ())] == settings.kie_rate_limit
    assert values[("pinglass_kie_key_resting", (("key", "0"),))] == 1
