"""The poll chain of a task Kie has just accepted starts when nine in ten of Kie's recent tasks had ended (the
callback normally comes first; the chain is the safety net), learned from our own rows: the newest photos stored
in the last 15 minutes, submitted → stored. Too few of them, or only old ones: KIE_FIRST_POLL_MS."""

from __future__ import annotations

import json

from tests.factories import make_avatar, make_user
from tests.web.api_helpers import confirmed_payment
from usecases import generation


def premium_job(services) -> dict:
    user = make_user(services)
    payment = confirmed_payment(services, user, make_avatar(services, user), tier="premium")
    with services.pool.connection() as conn, conn.transaction():
        return generation.start_job(conn, payment_id=payment["id"], referral_percent=10)


def finish_tasks(services, job: dict, *, took_s: list[float], stored_ago_s: float = 0.0) -> None:
    """Mark the job's first tasks stored, the i-th after ``took_s[i]`` at Kie, ``stored_ago_s`` ago."""
    with services.pool.connection() as conn, conn.transaction():
        tasks = conn.execute("SELECT id, prompt_index FROM generation_tasks WHERE job_id = %s ORDER BY prompt_index",
                             (job["id"],)).fetchall()
        assert len(tasks) >= len(took_s)
        for row, took in zip(tasks, took_s, strict=False):
            task_id, index = row["id"], row["prompt_index"]
            stored_at = f"now() - make_interval(secs => {stored_ago_s})"
            conn.execute(f"UPDATE generation_tasks SET status = 'stored', kie_task_id = %s, "
                         f"submitted_at = {stored_at} - make_interval(secs => %s), finished_at = {stored_at} "
                         f"WHERE id = %s", (f"kie-{task_id}", took, task_id))
            conn.execute(f"INSERT INTO generated_photos (job_id, prompt_index, task_id, storage_key, sha256, width, "
                         f"height, size_bytes, content_type, created_at) VALUES (%s, %s, %s, %s, 'x', 1, 1, 1, "
                         f"'image/png', {stored_at})", (job["id"], index, task_id, f"photos/{task_id}.png"))


def first_poll_delay(services, job: dict) -> int:
    """Claim one of ``job``'s pending tasks, record Kie's acceptance, and return its first poll's delay (ms)."""
    with services.pool.connection() as conn, conn.transaction():
        claimed = generation.claim_task(conn, api_key_index=0, claimed_by="test:1:0")
        assert claimed is not None
        task, _ = claimed
        assert generation.task_submitted(conn, task=task, kie_task_id=f"kie-new-{task['id']}",
                                         first_poll_ms=3000)
        rows = conn.execute("SELECT args, delay_ms FROM outbox WHERE actor_name = 'poll_task'").fetchall()
    delays = [row["delay_ms"] for row in rows
              if (json.loads(row["args"]) if isinstance(row["args"], str) else row["args"])[0] == task["id"]]
    assert len(delays) == 1
    return delays[0]


def test_with_few_recent_tasks_the_first_poll_is_kie_first_poll_ms(services) -> None:
    job = premium_job(services)
    finish_tasks(services, job, took_s=[30.0] * 10)  # fewer than LEARN_AFTER_TASKS
    assert first_poll_delay(services, premium_job(services)) == 3000


def test_the_first_poll_is_at_the_p90_of_kies_recent_tasks(services) -> None:
    job = premium_job(services)
    finish_tasks(services, job, took_s=[float(s) for s in range(1, 21)])  # 1..20 s: p90 = 18.1 s
    assert abs(first_poll_delay(services, premium_job(services)) - 18_100) <= 50


def test_tasks_stored_over_15_minutes_ago_say_nothing(services) -> None:
    job = premium_job(services)
    finish_tasks(services, job, took_s=[20.0] * 22, stored_ago_s=16 * 60)
    assert first_poll_delay(services, premium_job(services)) == 3000
