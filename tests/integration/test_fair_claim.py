"""The Kie budget is shared fairly even when many workers claim at once: claims made concurrently (each in its own
open transaction, as the worker threads that got a budget slot in the same instant do) take the first portrait of
each waiting job before anyone's second — not a whole job's tasks in id order — and a job that has none started
goes before jobs already under way."""

from __future__ import annotations

from db import jobs
from db.pool import open_pool
from tests.factories import make_avatar, make_user
from tests.web.api_helpers import confirmed_payment
from usecases import generation


def started_job(services, tier: str) -> dict:
    user = make_user(services)
    payment = confirmed_payment(services, user, make_avatar(services, user), tier=tier)
    with services.pool.connection() as conn, conn.transaction():
        return generation.start_job(conn, payment_id=payment["id"], referral_percent=10)


def concurrent_claims(settings, n: int) -> list[dict]:
    """``n`` claims, each holding its transaction open until all are made (then rolled back)."""
    pool = open_pool(settings.database_url, max_size=n)
    held, claimed = [], []
    try:
        for _ in range(n):
            conn = pool.getconn()
            conn.execute("BEGIN")
            held.append(conn)
            claimed.append(jobs.claim_fair_task(conn, api_key_index=0))
    finally:
        for conn in held:
            conn.rollback()
            pool.putconn(conn)
        pool.close()
    return claimed


def test_concurrent_claims_go_round_the_jobs(services, settings) -> None:
    premium = [started_job(services, "premium") for _ in range(3)]

    claimed = concurrent_claims(settings, 6)

    assert [(t["job_id"], t["prompt_index"]) for t in claimed] == [
        (premium[0]["id"], 0), (premium[1]["id"], 0), (premium[2]["id"], 0),
        (premium[0]["id"], 1), (premium[1]["id"], 1), (premium[2]["id"], 1)]


def test_a_job_with_nothing_started_goes_before_jobs_under_way(services, settings) -> None:
    premium = [started_job(services, "premium") for _ in range(2)]
    with services.pool.connection() as conn:  # each premium job has two portraits at Kie already
        for _ in range(4):
            jobs.claim_fair_task(conn, api_key_index=0)
    starter = started_job(services, "starter")

    claimed = concurrent_claims(settings, 3)

    # each claim sees the starter with nothing started (the others' claims are not committed)
    assert [(t["job_id"], t["prompt_index"]) for t in claimed] == [(starter["id"], i) for i in range(3)]
    assert all(t["job_id"] != p["id"] for t in claimed for p in premium)
