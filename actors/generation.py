"""create_kie_task → poll_task → store_photo: one provider task per portrait, polled with adaptive backoff,
its image stored in our S3 and recorded at once (I2, I3)."""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid

import dramatiq
import redis

import runtime
from gateways.errors import ProviderError
from gateways.kie import KieError
from gateways.storage import photo_key
from rules.images import ImageRejected, inspect_image
from rules.signing import kie_callback_url
from runtime.limits import acquire_kie_key, acquire_record_info, settle_kie_slot
from runtime.outcomes import Defer
from runtime.unit import effect_once, transaction
from telemetry import metrics
from telemetry.logs import log
from usecases import generation, liveness

logger = logging.getLogger("actors.generation")

PAUSED_RECHECK_MS = 5000  # how often a waiting token looks again whether generation was resumed

# Taking the Kie budget the moment it reopens. A token that finds the budget full and its next slot reopening
# within KIE_WAIT_IN_THREAD_S sleeps in its thread until then (one sleep per reopen Redis names, never a spin),
# but only KIE_WAITERS_PER_PROCESS at a time: worker threads also run polls and stores. The others are deferred
# to come back KIE_COME_BACK_EARLY_S before the reopen (Dramatiq's delay queue adds up to about a second), when
# they wait in a thread if one is free, or else are deferred again to just after the reopen. A slot reopening
# within KIE_MOMENT_S is waited for by any token: a trip through the delay queue would take longer, and a
# thread held that briefly is not parked (the slots of one window reopen one by one, over as long as the
# previous burst took).
KIE_WAIT_IN_THREAD_S = 2.5
KIE_WAITERS_PER_PROCESS = 3
KIE_COME_BACK_EARLY_S = 1.5
KIE_MOMENT_S = 0.1
KIE_AFTER_REOPEN_JITTER_MS = 150  # spreads the tokens deferred to a reopen over its first moments
_kie_waiters = threading.BoundedSemaphore(KIE_WAITERS_PER_PROCESS)


@dramatiq.actor(queue_name="kie", max_retries=8, min_backoff=1000, max_backoff=30_000)
def create_kie_task(job_id: int) -> None:
    """Submit one pending task to Kie. The message is a token for "one pending task needs submitting": the
    task taken is the fairest across all jobs (``job_id`` is only where the token came from), so a duplicate
    token finds nothing pending and does nothing, and a small order is not stuck behind large ones."""
    services = runtime.current()
    with services.pool.connection() as conn:
        if not generation.any_pending_task(conn):
            return  # a spare token: nothing to submit, so no rate-limit slot is spent on it
        if generation.generation_paused(conn):  # an operator's pause: wait, spend nothing (usecases/generation.py)
            raise Defer(PAUSED_RECHECK_MS + random.randint(0, 1000), "generation paused by an operator")
    slot = uuid.uuid4().hex
    key_index = _take_kie_slot(services, slot)
    sent = False
    try:
        with transaction() as conn:
            # intent: 'submitting', before the call, held by this process (usecases/liveness.py)
            claimed = generation.claim_task(conn, api_key_index=key_index, claimed_by=liveness.process_id())
        if claimed is None:
            return
        sent = True
        _submit(services, key_index, *claimed)
    finally:
        _settle_kie_slot(services, key_index, slot, sent=sent)


def _take_kie_slot(services: runtime.Services, slot: str) -> int:
    """A createTask slot of the fleet-wide Kie budget (``runtime.limits.acquire_kie_key``): its key index, after
    waiting in this thread for a reopen close enough (bounded per process), or Defer until about then."""
    key_index, wait_s = _acquire(services, slot)
    if key_index is None and wait_s <= KIE_MOMENT_S:
        time.sleep(wait_s)
        key_index, wait_s = _acquire(services, slot)
    if key_index is not None:
        return key_index
    if wait_s <= KIE_WAIT_IN_THREAD_S and _kie_waiters.acquire(blocking=False):
        try:
            waited_s = 0.0
            while key_index is None and waited_s + wait_s <= 2 * KIE_WAIT_IN_THREAD_S:
                time.sleep(wait_s)  # until the reopen Redis named; another process may take it first
                waited_s += wait_s
                key_index, wait_s = _acquire(services, slot)
        finally:
            _kie_waiters.release()
        if key_index is not None:
            return key_index
    if wait_s > KIE_COME_BACK_EARLY_S:
        delay_ms = int((wait_s - KIE_COME_BACK_EARLY_S) * 1000) + random.randint(0, 200)
    else:
        delay_ms = int(wait_s * 1000) + random.randint(10, KIE_AFTER_REOPEN_JITTER_MS)
    raise Defer(delay_ms, "kie rate limit")


def _acquire(services: runtime.Services, slot: str) -> tuple[int | None, float]:
    settings = services.settings
    return acquire_kie_key(services.redis, key_count=len(settings.kie_api_keys), limit=settings.kie_rate_limit,
                           window_s=settings.kie_rate_window_s, namespace=settings.broker_namespace,
                           accounts=settings.kie_key_accounts, slot=slot)


def _settle_kie_slot(services: runtime.Services, key_index: int, slot: str, *, sent: bool) -> None:
    """Date the slot by Kie's answer (or give it back when nothing was sent); Redis failing here leaves the
    slot dated by its grant, which is only more cautious."""
    settings = services.settings
    try:
        settle_kie_slot(services.redis, index=key_index, slot=slot, sent=sent, key_count=len(settings.kie_api_keys),
                        window_s=settings.kie_rate_window_s, namespace=settings.broker_namespace,
                        accounts=settings.kie_key_accounts)
    except redis.RedisError as exc:
        log(logger, "kie_slot_unsettled", level=logging.WARNING, error=type(exc).__name__)


def _submit(services: runtime.Services, key_index: int, task: dict, references: list[dict]) -> None:
    """createTask for the claimed ``task`` and record its answer (only while the claim is still this one)."""
    settings = services.settings
    image_urls = [services.storage.presigned_get(ref["storage_key"]) for ref in references[:10]]
    try:
        kie_task_id = services.kie.create_task(
            api_key=settings.kie_api_keys[key_index], prompt=task["prompt"], image_urls=image_urls,
            callback_url=kie_callback_url(settings.callback_url(""), settings.callback_signing_key, task["id"]))
    except KieError as err:
        _on_create_error(task, err)
        return
    with transaction() as conn:
        recorded = generation.task_submitted(conn, task=task, kie_task_id=kie_task_id,
                                             first_poll_ms=settings.kie_first_poll_ms)
    if not recorded:  # the claim was recovered meanwhile (usecases/liveness.py): another claim owns the slot
        log(logger, "kie_task_orphaned", level=logging.WARNING, job_id=task["job_id"], task_id=task["id"],
            kie_task_id=kie_task_id, reason="stale claim")
        return
    log(logger, "kie_task_created", job_id=task["job_id"], task_id=task["id"], kie_task_id=kie_task_id,
        prompt_index=task["prompt_index"], attempt=task["attempt"])


def _on_create_error(task: dict, err: KieError) -> None:
    with transaction() as conn:
        if err.retryable or err.code == 402:
            generation.return_to_pool(conn, task=task, out_of_credits=err.code == 402)
        else:
            generation.fail_task(conn, task=task, seen="submitting", fail_code=f"create_{err.code}",
                                 fail_msg=err.message, claim_token=task["claim_token"])
    if err.code == 402:
        raise Defer(60_000, "kie credits exhausted")
    if err.code == 429:
        raise Defer(int((err.retry_after or 5) * 1000), "kie answered 429")
    if err.retryable:
        raise err


POLL_429_WAIT_S = 1.0  # a rate-limited poll waits this long (plus jitter) when Kie names no retry_after
POLL_ERROR_WAIT_S = 2.0  # a poll Kie answered 5xx (or could not be reached) waits this long (plus jitter)


# recordInfo's budget (runtime.limits.acquire_record_info): a poll whose turn comes within POLL_WAIT_IN_THREAD_S
# waits for it in its thread (at most POLL_WAITS times: the window is shared by every process), the others are
# deferred to about then. Kie's 429 (POLL_429_WAIT_S above) is then the exception it should be: a callback's
# poll waited a second or two behind each one.
POLL_WAIT_IN_THREAD_S = 0.3
POLL_WAITS = 3
POLL_TURN_JITTER_MS = 100


def _record_info_turn(services: runtime.Services, key_index: int, *, for_callback: bool) -> float:
    """0 when this poll may call recordInfo now, else how long until its turn; Redis failing lets it call (Kie's
    own 429 is the fallback)."""
    settings = services.settings
    if settings.kie_record_info_rate_limit <= 0:
        return 0.0
    wait_s = 0.0
    for _ in range(POLL_WAITS):
        try:
            wait_s = acquire_record_info(services.redis, index=key_index, limit=settings.kie_record_info_rate_limit,
                                         for_callback=for_callback, namespace=settings.broker_namespace)
        except redis.RedisError:
            return 0.0
        if wait_s <= 0 or wait_s > POLL_WAIT_IN_THREAD_S:
            return wait_s
        time.sleep(wait_s)
    return wait_s


@dramatiq.actor(queue_name="kie_poll", max_retries=8, min_backoff=1000, max_backoff=30_000)
def poll_task(task_id: int, chain: int | None = None) -> None:
    """Ask Kie how the task is doing. ``chain`` is the poll count of the scheduled chain (only its holder
    schedules the next poll); None is a one-off poll triggered by a callback."""
    services = runtime.current()
    settings = services.settings
    with services.pool.connection() as conn:
        task = generation.get_task(conn, task_id=task_id)
    if task is None or task["status"] != "submitted":
        return
    wait_s = _record_info_turn(services, task["api_key_index"], for_callback=chain is None)
    if wait_s > 0:
        raise Defer(int(wait_s * 1000) + random.randint(0, POLL_TURN_JITTER_MS), "kie recordInfo budget")
    try:
        info = services.kie.record_info(api_key=settings.kie_api_keys[task["api_key_index"]],
                                        task_id=task["kie_task_id"])
        failure = None
    except KieError as err:
        if err.retryable:
            # A poll only reads: a 429 (Kie's recordInfo limit) or a 5xx is a wait, never a dead letter. The
            # task's fate is decided by what Kie answers (and the job's deadline), not by this poll's budget; a
            # poll of an ended task returns at once (above).
            wait_s = err.retry_after or (POLL_429_WAIT_S if err.code == 429 else POLL_ERROR_WAIT_S)
            raise Defer(int(wait_s * 1000) + random.randint(0, 1000), f"kie recordInfo {err.code}") from None
        info, failure = None, (f"poll_{err.code}", err.message)
    with effect_once("poll_task") as conn:
        if conn is not None:
            generation.task_polled(conn, task=task, info=info, failure=failure, chain=chain,
                                   give_up_s=settings.poll_give_up_s)


@dramatiq.actor(queue_name="storage", max_retries=6, min_backoff=1000, max_backoff=30_000)
def store_photo(task_id: int) -> None:
    """Download the finished image at once, check it is an image, put it in our S3 under a deterministic key
    (a retry overwrites the same object), then record photo, task and job progress in one transaction."""
    services = runtime.current()
    with services.pool.connection() as conn:
        task = generation.get_task(conn, task_id=task_id)
    if task is None or task["status"] != "succeeded":
        return
    try:
        data = services.files.fetch(task["result_url"])
        info = inspect_image(data)
    except (ProviderError, ImageRejected) as err:
        if isinstance(err, ProviderError) and err.retryable:
            raise
        code = getattr(err, "code", "download")
        with effect_once("store_photo") as conn:
            if conn is not None:
                generation.fail_task(conn, task=task, seen="succeeded", fail_code=f"store_{code}",
                                     fail_msg=str(err)[:300])
        return
    ext = "png" if info.format == "PNG" else "jpg" if info.format == "JPEG" else "webp"
    key = photo_key(task["job_id"], task["prompt_index"], secret=services.settings.callback_signing_key, ext=ext)
    services.storage.put(key, data, info.content_type)
    with effect_once("store_photo") as conn:
        if conn is None:
            return
        stored = generation.record_photo(conn, task=task, storage_key=key, sha256=info.sha256, width=info.width,
                                         height=info.height, size_bytes=info.size_bytes,
                                         content_type=info.content_type)
    if stored:
        metrics.PHOTOS_STORED.inc()
        log(logger, "photo_stored", job_id=task["job_id"], task_id=task_id, prompt_index=task["prompt_index"])
