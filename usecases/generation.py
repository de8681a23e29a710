"""A generation's life in rows and messages: starting a job from a paid payment (the one procedure the web's
"generate" request and the ``consume_payment`` actor share, so both race on the same guards, I1), starting a
regeneration, a task's attempts (claimed for Kie, submitted, polled — Kie's callback asks for a poll —, failed,
given up) and the photo that completes the job.

**Pausing generation** (an operator's switch): no new task goes to Kie while it is on (``create_kie_task`` waits,
its message deferred, nothing spent or failed); tasks already at Kie finish, are stored and delivered; resuming
lets the waiting ones go within seconds. For a provider incident or a bill to check. Jobs still end at their
deadline (``JOB_DEADLINE_S``, invariant I4) with what exists and a refund of the rest, so a long pause costs
refunds: resume, or expect them."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from psycopg import Connection

from db import avatars, controls, jobs, outbox, payments, photos
from gateways.kie import KieTaskInfo
from rules.albums import MAX_ALBUM
from rules.backoff import MAX_TASK_ATTEMPTS, first_poll_delay_ms, poll_delay_ms
from rules.catalog import MIN_REFERENCES, STYLES, is_ready, prompt_for
from telemetry import metrics
from telemetry.context import correlation_of
from usecases.alerts import raise_alert
from usecases.credits import grant_missing
from usecases.errors import Refused
from usecases.users import credit_referrer


def start_job(conn: Connection, *, payment_id: int, referral_percent: int, user_id: int | None = None,
              avatar_id: int | None = None, style_id: str | None = None,
              correlation_id: str | None = None) -> dict[str, Any]:
    """Consume the payment and create its job, tasks, referral credit and first messages, in the caller's
    transaction. ``user_id`` set means a user asked (ownership is checked and a bad avatar refuses before
    anything is consumed); unset means the payment notification started it (a bad avatar fails the job,
    which is then refunded in full). Raises Refused with PAYMENT_CONSUMED / PAYMENT_REQUIRED / NOT_FOUND /
    AVATAR_NOT_READY / UNKNOWN_STYLE."""
    payment = payments.get(conn, id=payment_id, user_id=user_id) if user_id is not None else \
        payments.get(conn, id=payment_id)
    if payment is None:
        raise Refused("NOT_FOUND", "payment not found")
    avatar_id = avatar_id or payment["avatar_id"]
    style_id = style_id or payment["style_id"]
    style = STYLES.get(style_id)
    if style is None:
        raise Refused("UNKNOWN_STYLE", f"unknown style {style_id!r}")
    avatar = avatars.get_avatar(conn, id=avatar_id, user_id=payment["user_id"])
    avatar_ready = avatar is not None and is_ready(avatar["reference_count"])
    if user_id is not None and not avatar_ready and not payment["consumed"]:
        raise Refused("AVATAR_NOT_READY", f"the avatar needs at least {MIN_REFERENCES} reference photos")

    # Atomic consume: of any number of racers exactly one gets the row; UNIQUE(payment_id) backs it up.
    consumed = payments.consume(conn, id=payment_id)
    if consumed is None:
        current = payments.get(conn, id=payment_id)
        if current is not None and current["consumed"]:
            raise Refused("PAYMENT_CONSUMED", "this payment has already started a generation")
        raise Refused("PAYMENT_REQUIRED", "the payment is not confirmed")

    job = jobs.insert_job(conn, payment_id=payment_id, user_id=payment["user_id"], avatar_id=avatar_id,
                          style_id=style_id, tier=payment["tier"], total_photos=payment["photo_count"],
                          correlation_id=correlation_id or uuid.uuid4().hex)
    if job is None:
        raise Refused("PAYMENT_CONSUMED", "this payment has already started a generation")

    if not avatar_ready:  # refunded in full: nobody earns a referral share of it
        failed = jobs.move_job(conn, id=job["id"], new="failed")
        outbox.send(conn, "refund_job", job["id"])
        return failed or job
    credit_referrer(conn, payment=payment, percent=referral_percent)
    for index in range(job["total_photos"]):
        jobs.insert_task(conn, job_id=job["id"], prompt_index=index, attempt=1, prompt=prompt_for(style, index))
        outbox.send(conn, "create_kie_task", job["id"])
    return job


def start_regeneration(conn: Connection, *, parent: dict[str, Any], prompt_index: int) -> dict[str, Any]:
    """A one-photo child job remaking slot ``prompt_index`` of ``parent`` with the same prompt (the caller has
    already spent one of the parent's regeneration allowance in this transaction)."""
    style = STYLES[parent["style_id"]]
    job = jobs.insert_job(conn, payment_id=None, kind="regeneration", parent_job_id=parent["id"],
                          user_id=parent["user_id"], avatar_id=parent["avatar_id"], style_id=parent["style_id"],
                          tier=parent["tier"], total_photos=1, correlation_id=uuid.uuid4().hex)
    if job is None:  # only a payment's second job conflicts; a regeneration has none
        raise LookupError("a regeneration job was not created")
    jobs.insert_task(conn, job_id=job["id"], prompt_index=prompt_index, attempt=1,
                     prompt=prompt_for(style, prompt_index))
    outbox.send(conn, "create_kie_task", job["id"])
    return job


# -- a task's attempts: claimed, submitted, polled, failed or given up ------------------------------------------

def any_pending_task(conn: Connection) -> bool:
    """Whether any task of any job waits for submission (a spare ``create_kie_task`` token spends nothing)."""
    return jobs.any_pending_task(conn)


def claim_task(conn: Connection, *, api_key_index: int,
               claimed_by: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """Claim the fairest pending task across all jobs for the Kie key ``api_key_index`` (intent: 'submitting',
    recorded before the call, held by the worker process ``claimed_by`` — ``usecases.liveness``) and move its
    job to generating: (the task, its avatar's references), or None when nothing is pending."""
    task = jobs.claim_fair_task(conn, api_key_index=api_key_index, claimed_by=claimed_by)
    if task is None:
        return None
    job = jobs.get_job(conn, id=task["job_id"])
    if job is None:  # a task's job outlives it (foreign key): never here
        raise LookupError(f"task {task['id']} has no job")
    if job["status"] == "queued":
        jobs.move_job(conn, id=job["id"], new="generating")
    return task, avatars.references_of_avatar(conn, avatar_id=job["avatar_id"])


def get_task(conn: Connection, *, task_id: int) -> dict[str, Any] | None:
    return jobs.get_task(conn, id=task_id)


def poll_task_now(conn: Connection, *, task_id: int) -> None:
    """Kie's callback for our task: queue a one-off poll (chain None, which never forks the scheduled poll chain
    and does nothing unless the task is still submitted), under its job's correlation id (the callback is
    another request, the poll continues the purchase)."""
    task = jobs.get_task(conn, id=task_id)
    job = jobs.get_job(conn, id=task["job_id"]) if task is not None else None
    with correlation_of(job["correlation_id"] if job is not None else None):
        outbox.send(conn, "poll_task", task_id, None)


def fail_task(conn: Connection, *, task: dict[str, Any], seen: str, fail_code: str,
              fail_msg: str, claim_token: Any = None) -> bool:
    """The provider could not make this attempt: retry the slot as a new attempt (up to MAX_TASK_ATTEMPTS) or
    give the slot up, counting it as failed for the job. False when another worker already moved the task (or,
    with ``claim_token``, it is no longer that claim)."""
    moved = jobs.move_task(conn, id=task["id"], seen=seen, new="failed", fail_code=fail_code,
                           fail_msg=fail_msg, claim_token=claim_token)
    if moved is None:
        return False
    if task["attempt"] < MAX_TASK_ATTEMPTS:
        retry = jobs.insert_task(conn, job_id=task["job_id"], prompt_index=task["prompt_index"],
                                 attempt=task["attempt"] + 1, prompt=task["prompt"])
        if retry is not None:
            outbox.send(conn, "create_kie_task", task["job_id"])
        return True
    _count_and_maybe_complete(conn, job_id=task["job_id"], failed=1)
    return True


def give_up_task(conn: Connection, *, task: dict[str, Any], reason: str) -> bool:
    """End a live task for good (the job ran out of time): the slot counts as failed. False if already ended."""
    moved = jobs.move_task(conn, id=task["id"], new="given_up", fail_code="given_up",
                           fail_msg=reason)
    if moved is None:
        return False
    _count_and_maybe_complete(conn, job_id=task["job_id"], failed=1)
    return True


def record_photo(conn: Connection, *, task: dict[str, Any], storage_key: str, sha256: str, width: int, height: int,
                 size_bytes: int, content_type: str) -> bool:
    """In ONE transaction: the photo row, the task stored, the job's progress — and, for the store that
    completes the job, the deliver_album message. False when this result was already recorded."""
    moved = jobs.move_task(conn, id=task["id"], seen="succeeded", new="stored")
    if moved is None:
        return False
    photo = photos.insert_photo(conn, job_id=task["job_id"], prompt_index=task["prompt_index"], task_id=task["id"],
                              storage_key=storage_key, sha256=sha256, width=width, height=height,
                              size_bytes=size_bytes, content_type=content_type)
    if photo is None:  # the slot already has its photo (UNIQUE job + prompt index): never a duplicate
        return False
    _count_and_maybe_complete(conn, job_id=task["job_id"], stored=1)
    # the task row as store_photo read it was last written when Kie's success was recorded; both times are
    # the database's
    metrics.STORE_LAG_SECONDS.observe(max(0.0, (moved["finished_at"] - task["updated_at"]).total_seconds()))
    return True


def _count_and_maybe_complete(conn: Connection, *, job_id: int, stored: int = 0, failed: int = 0) -> None:
    job = jobs.add_progress(conn, id=job_id, stored=stored, failed=failed)
    if job["photos_stored"] + job["photos_failed"] < job["total_photos"]:
        if stored and job["photos_stored"] % MAX_ALBUM == 0:
            # A full album is ready while the rest are still being made: it goes out now (usecases.delivery).
            outbox.send(conn, "deliver_album", job_id)
        return
    if job["status"] == "queued":
        jobs.move_job(conn, id=job_id, new="generating")
    # Exactly one transaction flips generating → delivering and so wins the right to deliver.
    if jobs.move_job(conn, id=job_id, new="delivering") is not None:
        outbox.send(conn, "deliver_album", job_id)
        if job["kind"] == "credit":  # free portraits that failed again are owed again (no money to refund)
            grant_missing(conn, job=job, missing=job["photos_failed"])


def task_submitted(conn: Connection, *, task: dict[str, Any], kie_task_id: str, first_poll_ms: int) -> bool:
    """Kie accepted the attempt: record its task id and schedule the first poll — after ``first_poll_ms``
    (KIE_FIRST_POLL_MS) or, once Kie's recent tasks show they take longer, when nine in ten of them had ended
    (``rules.backoff.first_poll_delay_ms``; the callback normally comes first). Only the claim that made the
    call (its ``claim_token``) moves the task: False when it was recovered meanwhile (its claimer looked dead,
    ``usecases.liveness``, or the sweeper found it idle), whether or not it was claimed again — then Kie's task
    is an orphan."""
    if jobs.move_task(conn, id=task["id"], seen="submitting", new="submitted", kie_task_id=kie_task_id,
                      claim_token=task["claim_token"]) is None:
        return False
    tasks, p90_s = _recent_kie_time.read(conn)
    outbox.send(conn, "poll_task", task["id"], 0,
                delay_ms=first_poll_delay_ms(first_poll_ms, recent_tasks=tasks, recent_p90_s=p90_s))
    return True


class RecentKieTime:
    """How long Kie's recent tasks took (``db.jobs.recent_task_seconds``: count, p90 in seconds), read at most
    once per ``ttl_s`` per process and database — one small query every half minute, not one per task."""

    def __init__(self, ttl_s: float = 30.0) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._known: dict[tuple[str, int, str], tuple[float, tuple[int, float | None]]] = {}

    def read(self, conn: Connection) -> tuple[int, float | None]:
        database = (conn.info.host, conn.info.port, conn.info.dbname)
        now = time.monotonic()
        with self._lock:
            read_at, value = self._known.get(database, (float("-inf"), (0, None)))
            if now - read_at < self.ttl_s:
                return value
            self._known[database] = (now, value)  # one reader per period; the others keep the last value
        row = jobs.recent_task_seconds(conn)
        value = (int(row["tasks"]), None if row["p90_s"] is None else float(row["p90_s"]))
        with self._lock:
            self._known[database] = (now, value)
        return value


_recent_kie_time = RecentKieTime()


def return_to_pool(conn: Connection, *, task: dict[str, Any], out_of_credits: bool = False) -> None:
    """Kie could not take the attempt now: the task is pending again (its token retries it). Kie out of credits
    pauses everything, so admins are told once. Only while the task is still this claim (``claim_token``)."""
    jobs.move_task(conn, id=task["id"], seen="submitting", new="pending", claim_token=task.get("claim_token"))
    if out_of_credits:
        raise_alert(conn, kind="kie_no_credits", severity="critical",
                    message="Kie.ai has no credits left: generation is paused", group="kie_no_credits")


# Kie may not know a task it has just created (recordInfo 404, or 422 "recordInfo is null") for a moment
# (docs/providers.md): only when that persists past the grace is the attempt a failure.
UNKNOWN_TASK_CODES = frozenset({"poll_404", "poll_422"})
UNKNOWN_TASK_GRACE_S = 60.0


def task_polled(conn: Connection, *, task: dict[str, Any], info: KieTaskInfo | None,
                failure: tuple[str, str] | None, chain: int | None, give_up_s: float) -> None:
    """What Kie said about a submitted attempt (``info``; None with ``failure`` = (code, message) when asking
    failed for good): a result goes to ``store_photo``, a failure to ``fail_task``, a running task to the next
    poll of the chain (``chain`` None is a one-off poll that schedules nothing), or fails past ``give_up_s``."""
    if info is None:
        code, message = failure or ("poll", "poll failed")
        if code in UNKNOWN_TASK_CODES and float(task["submitted_age_s"] or 0) < UNKNOWN_TASK_GRACE_S:
            # Just created and not yet visible to recordInfo: not a failure until it persists.
            if chain is not None and jobs.bump_poll(conn, id=task["id"], expected=chain) is not None:
                outbox.send(conn, "poll_task", task["id"], chain + 1, delay_ms=poll_delay_ms(chain + 1))
            return
        fail_task(conn, task=task, seen="submitted", fail_code=code, fail_msg=message)
    elif info.succeeded and info.result_urls:
        if jobs.move_task(conn, id=task["id"], seen="submitted", new="succeeded",
                          result_url=info.result_urls[0]) is not None:
            outbox.send(conn, "store_photo", task["id"])
    elif info.is_terminal:
        fail_task(conn, task=task, seen="submitted", fail_code=str(info.fail_code or "fail"),
                  fail_msg=info.fail_msg or "generation failed")
    elif chain is not None:
        age = float(task["submitted_age_s"] or 0)
        if age > give_up_s:
            fail_task(conn, task=task, seen="submitted", fail_code="timeout",
                      fail_msg=f"still {info.state} after {int(age)} s")
        elif jobs.bump_poll(conn, id=task["id"], expected=chain) is not None:
            outbox.send(conn, "poll_task", task["id"], chain + 1, delay_ms=poll_delay_ms(chain + 1))


# Pausing generation

GENERATION = "generation"


def set_generation_paused(conn: Connection, *, paused: bool, by: str, reason: str = "") -> dict[str, Any]:
    """Pause or resume generation; the switch as stored (``paused``, who, why, when)."""
    row = controls.set_control(conn, name=GENERATION, value={"paused": paused, "by": by[:100],
                                                             "reason": reason.strip()[:300]})
    return {**row["value"], "updated_at": row["updated_at"]}


def generation_paused(conn: Connection) -> bool:
    row = controls.get_control(conn, name=GENERATION)
    return bool(row and row["value"].get("paused"))


def generation_switch(conn: Connection) -> dict[str, Any]:
    """The switch for display: ``paused`` and, once it was turned, who, why and when."""
    row = controls.get_control(conn, name=GENERATION)
    return {**row["value"], "updated_at": row["updated_at"]} if row else {"paused": False}
