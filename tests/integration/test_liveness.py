"""A task claimed by a worker process that died comes back within seconds, not after the idle sweep: every worker
process beats its liveness row in Postgres, each claim records its process and a fresh token, and the scheduler
returns the tasks of a silent claimer to pending. A live claimer in a slow call is left alone, and a claimer's
late result after its task was recovered and claimed again moves nothing."""

from __future__ import annotations

import time

from db import jobs
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import fast_kie, kie_state, wait_for_job, wait_until
from tests.web.api_helpers import confirmed_payment
from usecases import generation, liveness, sweeps
from workers import scheduler

DEAD = "gone-host:4242:deadbeef"


def starter_job(services) -> dict:
    user = make_user(services)
    payment = confirmed_payment(services, user, make_avatar(services, user), tier="starter")
    with services.pool.connection() as conn, conn.transaction():
        return generation.start_job(conn, payment_id=payment["id"], referral_percent=10)


def claim(services, *, claimed_by: str, age_s: float = 0.0) -> dict:
    """One claim by ``claimed_by``, made ``age_s`` seconds ago."""
    with services.pool.connection() as conn, conn.transaction():
        task, _ = generation.claim_task(conn, api_key_index=0, claimed_by=claimed_by)
        conn.execute("UPDATE generation_tasks SET submitting_at = now() - make_interval(secs => %s) WHERE id = %s",
                     (age_s, task["id"]))
    return task


def beat_as(services, process: str, *, age_s: float) -> None:
    with services.pool.connection() as conn:
        conn.execute("INSERT INTO worker_processes (id, host, pid, beat_at) "
                     "VALUES (%s, 'h', 1, now() - make_interval(secs => %s)) "
                     "ON CONFLICT (id) DO UPDATE SET beat_at = EXCLUDED.beat_at", (process, age_s))


def status_of(services, task_id: int) -> dict:
    with services.pool.connection() as conn:
        return jobs.get_task(conn, id=task_id)


def test_a_silent_claimers_task_is_pending_again_with_a_new_token(services, broker) -> None:
    starter_job(services)
    silent = claim(services, claimed_by=DEAD, age_s=liveness.SILENT_AFTER_S + 1)
    beat_as(services, DEAD, age_s=liveness.SILENT_AFTER_S + 1)
    never_beat = claim(services, claimed_by="never-beat:1:0", age_s=liveness.SILENT_AFTER_S + 1)
    broker.flush_all()

    assert scheduler.recover_once(services, broker) == 2

    assert status_of(services, silent["id"])["status"] == "pending"
    assert status_of(services, never_beat["id"])["status"] == "pending"
    assert status_of(services, silent["id"])["claimed_by"] is None
    with services.pool.connection() as conn:  # the new tokens went out at once, not a relay period later
        published = conn.execute("SELECT count(*) AS n FROM outbox WHERE actor_name = 'create_kie_task' "
                                 "AND published_at IS NOT NULL").fetchone()["n"]
    assert published == 2  # (start_job's own tokens were written, not published, by this test)


def test_a_live_claimers_slow_call_and_a_fresh_claim_are_left_alone(services, broker) -> None:
    starter_job(services)
    with services.pool.connection() as conn:
        liveness.beat(conn)
    slow = claim(services, claimed_by=liveness.process_id(), age_s=60)  # this process beats: alive
    fresh = claim(services, claimed_by="booting:1:0", age_s=0)  # its process has not beaten yet
    no_claimer = claim(services, claimed_by=DEAD, age_s=60)
    with services.pool.connection() as conn:  # a claim from before claims were recorded: the idle sweep's
        conn.execute("UPDATE generation_tasks SET claimed_by = NULL WHERE id = %s", (no_claimer["id"],))

    assert scheduler.recover_once(services, broker) == 0

    assert [status_of(services, t["id"])["status"] for t in (slow, fresh, no_claimer)] == ["submitting"] * 3


def test_the_idle_sweep_leaves_a_live_claimers_claim_to_it_until_it_is_hung(services, broker) -> None:
    """The sweep's fallback (2 × idle) must not take a claim whose live claimer may still be answered: Kie
    would create that task twice. It takes the claims no live process holds, and a live one's hung claim."""
    starter_job(services)
    with services.pool.connection() as conn:
        liveness.beat(conn)
    live = claim(services, claimed_by=liveness.process_id(), age_s=60)  # a slow call: idle, still in flight
    hung = claim(services, claimed_by=liveness.process_id(), age_s=liveness.HUNG_AFTER_S + 1)
    silent = claim(services, claimed_by=DEAD, age_s=60)  # no row: a process that never beat, or long gone
    nobody = claim(services, claimed_by=DEAD, age_s=60)
    with services.pool.connection() as conn:  # all idle past the sweep's 2 × 5 s
        conn.execute("UPDATE generation_tasks SET updated_at = now() - interval '60 seconds' "
                     "WHERE status = 'submitting'")
        conn.execute("UPDATE generation_tasks SET claimed_by = NULL WHERE id = %s", (nobody["id"],))

    with services.pool.connection() as conn, conn.transaction():
        sweeps.sweep_stuck(conn, idle_s=5)

    assert status_of(services, live["id"])["status"] == "submitting"
    assert [status_of(services, t["id"])["status"] for t in (hung, silent, nobody)] == ["pending"] * 3


def test_a_late_result_of_a_recovered_claim_is_refused(services, broker) -> None:
    starter_job(services)
    first = claim(services, claimed_by=DEAD, age_s=liveness.SILENT_AFTER_S + 1)
    with services.pool.connection() as conn, conn.transaction():
        assert liveness.recover_silent_claims(conn) == 1
    again = claim(services, claimed_by=liveness.process_id())
    assert again["id"] == first["id"] and again["claim_token"] != first["claim_token"]

    with services.pool.connection() as conn, conn.transaction():  # the old claimer's createTask came back
        stale = generation.task_submitted(conn, task=first, kie_task_id="kie-stale", first_poll_ms=500)
        generation.return_to_pool(conn, task=first)  # nor may its error put the task back
        failed = generation.fail_task(conn, task=first, seen="submitting", fail_code="create_500", fail_msg="x",
                                      claim_token=first["claim_token"])
    assert (stale, failed) == (False, False)
    assert status_of(services, first["id"])["status"] == "submitting"
    assert status_of(services, first["id"])["kie_task_id"] is None

    with services.pool.connection() as conn, conn.transaction():
        assert generation.task_submitted(conn, task=again, kie_task_id="kie-current", first_poll_ms=500)
    assert status_of(services, first["id"])["kie_task_id"] == "kie-current"


def test_a_dead_claimers_task_is_made_within_seconds_by_the_running_fleet(services, worker) -> None:
    fast_kie(services)
    with services.pool.connection() as conn:
        generation.set_generation_paused(conn, paused=True, by="test", reason="a claim of a dead worker")
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="starter")

    def job_exists():
        with services.pool.connection() as conn:
            return jobs.get_job_by_payment(conn, payment_id=payment["id"])

    wait_until(job_exists, what="the starter's job")
    dead = claim(services, claimed_by=DEAD)  # the worker died the moment it claimed
    with services.pool.connection() as conn:
        generation.set_generation_paused(conn, paused=False, by="test")
    wait_until(lambda: liveness_row_fresh(services), what="this worker process's liveness beat")
    started = time.monotonic()

    job = wait_for_job(services, payment_id=payment["id"], timeout_s=60)

    assert job["status"] == "delivered"
    # silent after SILENT_AFTER_S, found within one check, then claimed and made (the idle sweep would need
    # 2 × SWEEP_IDLE_S after its own period)
    assert time.monotonic() - started < liveness.SILENT_AFTER_S + 8
    assert status_of(services, dead["id"])["status"] == "stored"
    assert kie_state(services)["counts"]["created"] == 7


def liveness_row_fresh(services) -> bool:
    with services.pool.connection() as conn:
        row = conn.execute("SELECT now() - beat_at < interval '3 seconds' AS fresh FROM worker_processes "
                           "WHERE id = %s", (liveness.process_id(),)).fetchone()
    return bool(row and row["fresh"])
