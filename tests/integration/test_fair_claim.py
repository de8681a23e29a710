"""The Kie budget is shared fairly even when many workers claim at once: claims made concurrently (each in its own
open transaction, as the worker threads that got a budget slot in the same instant do) take the first portrait of
each waiting job before anyone's second — not a whole job's tasks in id order —, a job that has none started
goes before jobs already under way, and among jobs equally served the smallest goes first (a Starter paid behind
many Premium orders is not left for the next window) without starving the large ones."""

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


def test_among_jobs_equally_served_the_smallest_goes_first(services, settings) -> None:
    premium = [started_job(services, "premium") for _ in range(3)]
    starter = started_job(services, "starter")  # paid last, nothing started, like the Premium orders

    with services.pool.connection() as conn:  # one claim at a time, each committed
        first = jobs.claim_fair_task(conn, api_key_index=0)
        second = jobs.claim_fair_task(conn, api_key_index=0)

    assert (first["job_id"], first["prompt_index"]) == (starter["id"], 0)
    # once the starter is ahead of jobs with nothing started, they go first: small orders never starve large ones
    assert (second["job_id"], second["prompt_index"]) == (premium[0]["id"], 0)


def test_concurrent_claims_take_a_small_job_first_then_go_round_the_large_ones(services, settings) -> None:
    premium = [started_job(services, "premium") for _ in range(2)]
    starter = started_job(services, "starter")

    claimed = concurrent_claims(settings, 9)

    # in the same instant each claim sees nothing started anywhere: the starter's 7 first, then the premium
    # jobs' first portraits round the jobs, never one premium job's tasks in a row
    assert [(t["job_id"], t["prompt_index"]) for t in claimed] == [
        *[(starter["id"], i) for i in range(7)], (premium[0]["id"], 0), (premium[1]["id"], 0)]


def test_a_claim_records_its_worker_process_and_a_fresh_token(services, settings) -> None:
    started_job(services, "starter")

    with services.pool.connection() as conn:
        one = jobs.claim_fair_task(conn, api_key_index=0, claimed_by="host:1:a")
        two = jobs.claim_fair_task(conn, api_key_index=0, claimed_by="host:1:a")

    assert one["claimed_by"] == two["claimed_by"] == "host:1:a"
    assert one["claim_token"] is not None and two["claim_token"] is not None
    assert one["claim_token"] != two["claim_token"]
