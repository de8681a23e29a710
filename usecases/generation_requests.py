"""A user's generation requests from the Mini App: the start (``usecases.generation.start_job``, the same atomic
consume the payment notification's actor races on, I1) behind an optional ``Idempotency-Key`` — the first
answer to (user, endpoint, key) is stored in the request's transaction and replayed for every repeat — and the
job's progress as the Mini App shows it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from db import avatars, idempotency, jobs
from usecases.errors import Refused
from usecases.generation import start_job

if TYPE_CHECKING:
    from psycopg import Connection


def earlier_answer(conn: Connection, *, user_id: int, endpoint: str, key: str,
                   request_hash: str) -> tuple[int, dict[str, Any]] | None:
    """Claim the key for this request in the caller's transaction: None when it is new (store the answer with
    ``store_answer``), else the answer stored for it (status, body). Refused IDEMPOTENCY_KEY_REUSED when the key
    came with a different request, IDEMPOTENCY_KEY_IN_USE when its answer is missing (cannot happen: the key and
    its answer commit together)."""
    earlier = idempotency.claim(conn, user_id=user_id, endpoint=endpoint, key=key, request_hash=request_hash)
    if earlier is None:
        return None
    if earlier["request_hash"] != request_hash:
        raise Refused("IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used with a different request")
    if earlier["response_status"] is None:
        raise Refused("IDEMPOTENCY_KEY_IN_USE", "a request with this Idempotency-Key has not finished")
    return earlier["response_status"], earlier["response_body"]


def store_answer(conn: Connection, *, user_id: int, endpoint: str, key: str, status: int,
                 body: dict[str, Any]) -> None:
    idempotency.store_response(conn, user_id=user_id, endpoint=endpoint, key=key, status=status, body=body)


def start_generation(conn: Connection, *, user_id: int, payment_id: int, avatar_id: int | None,
                     style_id: str | None, referral_percent: int, correlation_id: str | None) -> dict[str, Any]:
    """Start the job the user's payment paid for. A refusal (NOT_FOUND for someone else's avatar, and those of
    ``start_job``) undoes whatever was written for it — a savepoint — so the caller's transaction may still
    commit the refusal's stored answer."""
    if avatar_id is not None and avatars.get_avatar(conn, id=avatar_id, user_id=user_id) is None:
        raise Refused("NOT_FOUND", "avatar not found")
    with conn.transaction():
        return start_job(conn, payment_id=payment_id, user_id=user_id, avatar_id=avatar_id, style_id=style_id,
                         referral_percent=referral_percent, correlation_id=correlation_id)


def generation_progress(conn: Connection, *, user_id: int, job_id: int) -> dict[str, Any]:
    """The user's job with its task ``stages``, delivery ``chunks``, ``photos``, ``refunds`` and regeneration
    ``children``, in one round trip and one snapshot (the Mini App polls it every 1.5 s); Refused NOT_FOUND."""
    progress = jobs.progress_rows(conn, id=job_id, user_id=user_id)
    if progress["job"] is None:
        raise Refused("NOT_FOUND", "generation not found")
    return progress
