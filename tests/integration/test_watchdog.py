"""The watchdog (issue 11, "Alerts"): each condition, injected for real, gives exactly one alert in the admins'
chat (the Telegram fake) on the pass that sees it — the scheduler passes every 5 s, well within 15 s — none
more while it lasts, a "resolved" when it clears, and a new alert at its next start. Each alert is kept in the
database and listed by the admin."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid

import dramatiq
import pytest
import redis

import runtime
from db.migrate import migrate_up
from runtime import heartbeats
from runtime.limits import kie_rest_key, rest_kie_key
from sandbox.client import SandboxClient
from tests.conftest import free_port
from tests.factories import make_avatar, make_user
from tests.own_postgres import OwnPostgres
from usecases import watchdog
from usecases.error_groups import record_exception
from usecases.watchdog import SchedulerWatch, Watchdog
from workers import scheduler

pytestmark = pytest.mark.scenario


def chat(services) -> list[str]:
    box = SandboxClient.from_settings(services.settings).telegram
    return [m.get("text", "") for m in box.messages(services.settings.admin_telegram_chat_id)]


def incidents(services) -> list[dict]:
    with services.pool.connection() as conn:
        return conn.execute("SELECT kind, incident, resolved_at, sent_at FROM admin_alerts ORDER BY id").fetchall()


def lifecycle(services, dog: Watchdog, kind: str, start, stop) -> None:
    """start → one alert; a second pass → nothing; stop → resolved; start again → a new alert."""
    start()
    assert dog.run_once()["opened"] == 1
    assert dog.run_once() == {"opened": 0, "resolved": 0}
    said = [t for t in chat(services) if kind in t]
    assert len(said) == 1 and said[0].startswith("⚠️"), said
    stop()
    assert dog.run_once()["resolved"] == 1
    assert [t for t in chat(services) if kind in t][-1].startswith("✅ resolved")
    start()
    assert dog.run_once()["opened"] == 1
    rows = [r for r in incidents(services) if r["kind"] == kind]
    assert len(rows) == 2 and rows[0]["resolved_at"] is not None and rows[1]["resolved_at"] is None
    assert all(r["sent_at"] is not None for r in rows)


def test_outbox_lag(services) -> None:
    def start():
        with services.pool.connection() as conn:
            conn.execute("INSERT INTO outbox (message_id, actor_name, created_at) VALUES (%s, 'clean_up', "
                         "now() - interval '5 minutes')", (uuid.uuid4().hex,))

    def stop():
        with services.pool.connection() as conn:
            conn.execute("UPDATE outbox SET published_at = now() WHERE published_at IS NULL")

    lifecycle(services, Watchdog(services), "outbox_lag", start, stop)


def test_a_kie_key_resting_after_433(services) -> None:
    ns = services.settings.broker_namespace
    lifecycle(services, Watchdog(services), "kie_key_resting",
              lambda: rest_kie_key(services.redis, index=0, namespace=ns, seconds=60),
              lambda: services.redis.delete(kie_rest_key(ns, 0)))


def test_kie_credits_low(services) -> None:
    fake = SandboxClient.from_settings(services.settings).kie
    dog = Watchdog(services)

    def ask_again(credits: int):
        fake.configure(credits=credits)
        dog.credits = None  # the balance is asked once a minute; the test moves that minute along

    lifecycle(services, dog, "kie_credits_low", lambda: ask_again(50), lambda: ask_again(100_000))


def test_checkouts_opened_while_tbank_sends_nothing(services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)

    def start():
        with services.pool.connection() as conn:
            for _ in range(watchdog.TBANK_SILENT_CHECKOUTS):
                conn.execute("INSERT INTO payments (user_id, avatar_id, style_id, tier, photo_count, amount_kopecks, "
                             "order_id, provider_payment_id, expires_at) VALUES (%s, %s, 'business', 'starter', 7, "
                             "49900, %s, %s, now() + interval '1 day')",
                             (user["id"], avatar["id"], uuid.uuid4().hex, uuid.uuid4().hex))

    def notified():
        with services.pool.connection() as conn:
            conn.execute("INSERT INTO payment_events (provider_payment_id, status, order_id, amount_kopecks, raw) "
                         "VALUES ('1', 'CONFIRMED', 'o', 49900, '{}')")

    dog = Watchdog(services)
    start()
    assert dog.run_once()["opened"] == 1 and [t for t in chat(services) if "tbank_silent" in t]
    notified()
    assert dog.run_once()["resolved"] == 1


def test_no_worker_alive(services) -> None:
    dog = Watchdog(services)
    ns = services.settings.broker_namespace

    def start():
        services.redis.delete(*[k for k in services.redis.scan_iter(match=f"{ns}:heartbeat:*")] or ["none"])
        dog.run_once()  # the silence begins
        dog.workers_silent_since = time.monotonic() - watchdog.WORKERS_SILENT_AFTER_S - 1

    lifecycle(services, dog, "workers_silent", start,
              lambda: heartbeats.beat(services.redis, namespace=ns, role="worker", started_at=time.time()))


def test_redis_unreachable(services) -> None:
    nowhere = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5, socket_timeout=0.5)
    dog = Watchdog(dataclasses.replace(services, redis=nowhere))
    assert dog.run_once()["opened"] == 1
    assert dog.run_once()["opened"] == 0
    dog.services = services
    assert dog.run_once()["resolved"] == 1
    said = [t for t in chat(services) if "redis_unreachable" in t]
    assert len(said) == 2 and said[1].startswith("✅")


def test_database_unreachable_is_told_at_once_and_recorded_when_it_is_back(own_postgres: OwnPostgres,
                                                                          settings, broker) -> None:
    migrate_up(own_postgres.url)
    ours = settings.with_overrides(database_url=own_postgres.url)
    services = runtime.build(ours, pool_size=2, pool_timeout_s=1.0)
    try:
        dog = Watchdog(services)
        dog.run_once()
        own_postgres.stop()
        assert dog.run_once()["opened"] == 1
        assert dog.run_once()["opened"] == 0  # told once
        assert len([t for t in chat(services) if "database_unreachable" in t]) == 1
        own_postgres.start()
        assert dog.run_once()["resolved"] == 1
        rows = [r for r in incidents(services) if r["kind"] == "database_unreachable"]
        assert len(rows) == 1 and rows[0]["resolved_at"] is not None
    finally:
        services.close()


def test_the_scheduler_tells_an_incident_within_15_s(services) -> None:
    stop = threading.Event()
    with services.pool.connection() as conn:
        conn.execute("INSERT INTO outbox (message_id, actor_name, created_at) VALUES (%s, 'clean_up', "
                     "now() - interval '5 minutes')", (uuid.uuid4().hex,))
    started = time.monotonic()
    thread = threading.Thread(target=scheduler.watch, args=(services, stop), daemon=True)  # every 5 s, as deployed
    thread.start()
    try:
        while not [t for t in chat(services) if "outbox_lag" in t]:
            assert time.monotonic() - started < 15, "no alert within 15 s"
            time.sleep(0.25)
    finally:
        stop.set()
        thread.join(timeout=10)



def test_an_error_rate_spike(services) -> None:
    dog = Watchdog(services, error_window_s=5.0)  # two passes in a row fit in it even on a loaded machine
    dog.run_once()  # the running total's first sample

    def errors(n: int) -> None:
        for i in range(n):
            try:
                raise LookupError(f"burst {i}")
            except LookupError as exc:
                record_exception(services.pool, source="worker", exc=exc)

    def start():
        errors(watchdog.ERROR_SPIKE_AT)

    def calm():
        errors(watchdog.ERROR_SPIKE_AT - 5)  # fewer than a spike keep coming; the window moves past the burst
        time.sleep(5.1)  # the burst is now older than the window: only these count

    lifecycle(services, dog, "error_rate_spike", start, calm)


def test_a_silent_scheduler_is_told_once_by_the_workers_and_resolved_by_the_scheduler_when_back(services) -> None:
    ns = services.settings.broker_namespace
    services.redis.delete(*[k for k in services.redis.scan_iter(match=f"{ns}:heartbeat:*")] or ["none"])
    first, second = SchedulerWatch(services, silent_after_s=0.5), SchedulerWatch(services, silent_after_s=0.5)
    assert first.check() is False  # within its grace
    time.sleep(0.6)
    assert first.check() is True and second.check() is False and first.check() is False  # one incident, told once
    said = [t for t in chat(services) if "scheduler_silent" in t]
    assert len(said) == 1 and said[0].startswith("⚠️"), said

    heartbeats.beat(services.redis, namespace=ns, role="scheduler", started_at=time.time())  # it is back
    assert first.check() is False
    assert Watchdog(services).run_once()["resolved"] == 1  # its first pass resolves what no longer holds
    assert [t for t in chat(services) if "scheduler_silent" in t][-1].startswith("✅ resolved")

    services.redis.delete(*[k for k in services.redis.scan_iter(match=f"{ns}:heartbeat:*")])
    time.sleep(0.6)
    assert second.check() is True  # the next silence is a new incident
    rows = [r for r in incidents(services) if r["kind"] == "scheduler_silent"]
    assert len(rows) == 2 and rows[0]["resolved_at"] is not None and rows[1]["sent_at"] is not None


def test_a_worker_process_watches_the_scheduler_on_its_beats(services, broker, monkeypatch) -> None:
    """The worker's heartbeat thread runs the watch: no scheduler alive → the incident, told in the chat."""
    monkeypatch.setattr(watchdog, "SCHEDULER_SILENT_AFTER_S", 0.0)
    monkeypatch.setattr(heartbeats, "BEAT_EVERY_S", 0.2)
    ns = services.settings.broker_namespace
    services.redis.delete(*[k for k in services.redis.scan_iter(match=f"{ns}:heartbeat:*")] or ["none"])
    running = dramatiq.Worker(broker, worker_threads=1)
    running.start()
    try:
        deadline = time.monotonic() + 10
        while not [t for t in chat(services) if "scheduler_silent" in t]:
            assert time.monotonic() < deadline, "the worker did not tell the scheduler's silence"
            time.sleep(0.1)
    finally:
        running.stop(timeout=5_000)
