"""The admin JSON endpoints (``/admin/api/...``), and the summary the dashboard page shows too."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import current_app, jsonify, request

from rules.states import JOB_MOVES, PAYMENT_MOVES
from usecases import admin as reads
from usecases import dead_letters as letters
from usecases import generation, refunds, resend
from usecases.error_groups import recent_groups
from usecases.errors import Refused
from usecases.users import referrer_balances
from web.admin.queues import queue_sizes_or_error
from web.errors import ApiError

MAX_LIMIT = 500


def summary_data(conn: Any, broker: Any) -> dict[str, Any]:
    """Everything the dashboard's tiles show, as plain JSON values."""
    queues, queues_error = queue_sizes_or_error(broker)
    return {**reads.summary(conn), "queues": queues, "queues_error": queues_error}


def job_view(row: Mapping[str, Any]) -> dict[str, Any]:
    view = plain(row)
    view["progress"] = round((row["photos_stored"] + row["photos_failed"]) / max(1, row["total_photos"]), 3)
    return view


def plain(row: Mapping[str, Any]) -> dict[str, Any]:
    """A database row as JSON values: timestamps in ISO 8601, numerics as numbers."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = round(float(value), 3)
        out[key] = value
    return out


def limit_arg(default: int = 50) -> int:
    raw = request.args.get("limit")
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(400, "INVALID_LIMIT", f"limit must be 1..{MAX_LIMIT}")
    return int(raw)


def _fleet() -> Any:
    return current_app.extensions["pinglass"]


def refused_answer(refused: Refused, statuses: Mapping[str, int] | None = None) -> ApiError:
    """The answer to a refused action: 404 for NOT_FOUND, the status ``statuses`` gives its code, else 409."""
    status = {"NOT_FOUND": 404, **(statuses or {})}.get(refused.code, 409)
    return ApiError(status, refused.code, refused.message)


def file_or_404(read: Callable[..., dict[str, Any] | None], what: str, id_: int) -> dict[str, Any]:
    """``read(conn, <what>_id=id_)`` — a payment's or job's file — or ApiError 404 when there is none."""
    with _fleet().services.pool.connection() as conn:
        file = read(conn, **{f"{what}_id": id_})
    if file is None:
        raise ApiError(404, "NOT_FOUND", f"no {what} {id_}")
    return file


def summary() -> Any:
    fleet = _fleet()
    with fleet.services.pool.connection() as conn:
        return jsonify(summary_data(conn, fleet.broker))


def jobs() -> Any:
    status = request.args.get("status") or None
    if status is not None and status not in JOB_MOVES:
        raise ApiError(400, "INVALID_STATUS", f"status must be one of {', '.join(JOB_MOVES)}")
    limit = limit_arg()
    with _fleet().services.pool.connection() as conn:
        rows = reads.recent_jobs(conn, status=status, limit=limit)
    return jsonify({"jobs": [job_view(row) for row in rows]})


RAILS = ("tbank", "stars")


def payment_filters() -> dict[str, Any]:
    """``?status=`` (a payment status), ``?rail=`` (card, stars), ``?stuck=1`` and ``?limit=`` checked."""
    status = request.args.get("status") or None
    if status is not None and status not in PAYMENT_MOVES:
        raise ApiError(400, "INVALID_STATUS", f"status must be one of {', '.join(PAYMENT_MOVES)}")
    rail = request.args.get("rail") or None
    if rail is not None and rail not in RAILS:
        raise ApiError(400, "INVALID_RAIL", "rail must be tbank or stars")
    return {"status": status, "rail": rail, "stuck_only": request.args.get("stuck") in ("1", "true", "yes"),
            "limit": limit_arg(100)}


def payments_json() -> Any:
    """Payments filtered by status, rail and ``stuck``; the stuck ones first, each with why."""
    filters = payment_filters()
    with _fleet().services.pool.connection() as conn:
        rows = reads.payments_list(conn, **filters)
    return jsonify({"payments": [plain(row) for row in rows]})


def dead_letters_json() -> Any:
    open_only = request.args.get("all") not in ("1", "true", "yes")
    limit = limit_arg(100)
    with _fleet().services.pool.connection() as conn:
        rows = reads.list_dead_letters(conn, open_only=open_only, limit=limit)
    return jsonify({"dead_letters": [plain(row) for row in rows]})


def replay(letter_id: int) -> dict[str, Any]:
    """Queue a dead letter's message again (a new message id, published after the request); ApiError 404 when
    there is no such letter, 409 when it was replayed already or names an actor this fleet does not have."""
    fleet = _fleet()
    try:
        with fleet.services.pool.connection() as conn, conn.transaction():
            letter = letters.replay(conn, id=letter_id, known_actors=fleet.broker.get_declared_actors())
    except Refused as refused:  # the transaction (and any outbox row) rolled back
        raise refused_answer(refused) from None
    return {"id": letter_id, "actor": letter["actor"], "replay_message_id": letter["replay_message_id"]}


def resolve(letter_id: int, resolution: str) -> None:
    """Close a dead letter without a replay; ApiError 404 / 409 / 422 as the use case refuses."""
    with _fleet().services.pool.connection() as conn, conn.transaction():
        try:
            letters.resolve(conn, id=letter_id, resolution=resolution)
        except Refused as refused:
            raise refused_answer(refused, {"NO_RESOLUTION": 422}) from None


def resolve_json(letter_id: int) -> Any:
    body = request.get_json(silent=True)
    resolution = body.get("resolution") if isinstance(body, dict) else None
    resolve(letter_id, resolution if isinstance(resolution, str) else "")
    return jsonify({"id": letter_id, "resolved": True})


def replay_json(letter_id: int) -> Any:
    return jsonify(replay(letter_id))


def alerts_json() -> Any:
    limit = limit_arg(100)
    with _fleet().services.pool.connection() as conn:
        rows = reads.list_alerts(conn, limit=limit)
    return jsonify({"alerts": [plain(row) for row in rows]})


def referrals_json() -> Any:
    """Per referrer: what their invitations earned, what refunds reversed of it, and the balance."""
    limit = limit_arg(100)
    with _fleet().services.pool.connection() as conn:
        rows = referrer_balances(conn, limit=limit)
    return jsonify({"referrers": [plain(row) for row in rows]})


def lookup_json() -> Any:
    with _fleet().services.pool.connection() as conn:
        found = reads.lookup(conn, term=request.args.get("q", "")[:200])
    return jsonify({"found": [plain(row) for row in found]})


def payment_json(payment_id: int) -> Any:
    """A payment's file: the row, provider events, receipts, refunds, job and referral credit."""
    file = file_or_404(reads.payment_file, "payment", payment_id)
    return jsonify({key: ([plain(r) for r in value] if isinstance(value, list)
                          else plain(value) if value is not None else None) for key, value in file.items()})


def funnel_days() -> int:
    """The period of the funnel: ``?days=`` 1..366, 30 by default."""
    raw = request.args.get("days", "30")
    if not raw.isdigit() or not 1 <= int(raw) <= 366:
        raise ApiError(400, "INVALID_DAYS", "days must be a whole number from 1 to 366")
    return int(raw)


def funnel_json() -> Any:
    with _fleet().services.pool.connection() as conn:
        funnel = reads.funnel(conn, days=funnel_days())
    return jsonify({**funnel, "revenue": [plain(row) for row in funnel["revenue"]]})


def job_json(job_id: int) -> Any:
    """A job's file: the row, each photo slot's latest attempt, the Telegram chunks and the timeline."""
    file = file_or_404(reads.job_file, "job", job_id)
    return jsonify({"job": plain(file["job"]), **{key: [plain(r) for r in file[key]]
                                                  for key in ("slots", "deliveries", "timeline")}})


def set_paused(paused: bool, reason: str) -> dict[str, Any]:
    with _fleet().services.pool.connection() as conn, conn.transaction():
        return plain(generation.set_generation_paused(conn, paused=paused, by="admin", reason=reason))


def generation_json() -> Any:
    """GET: the switch; POST {"paused": bool, "reason": str}: turn it."""
    if request.method == "POST":
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("paused"), bool):
            raise ApiError(422, "INVALID_SWITCH", 'send {"paused": true|false, "reason": "..."}')
        reason = body.get("reason")
        return jsonify(set_paused(body["paused"], reason if isinstance(reason, str) else ""))
    with _fleet().services.pool.connection() as conn:
        return jsonify(plain(generation.generation_switch(conn)))


def refund_job_json(job_id: int) -> Any:
    """Queue the refund a job owes (retrying one the bank or Telegram refused): ``refund_job`` does the rest."""
    with _fleet().services.pool.connection() as conn, conn.transaction():
        if reads.job_file(conn, job_id=job_id) is None:
            raise ApiError(404, "NOT_FOUND", f"no job {job_id}")
        message_id = refunds.queue_refund(conn, job_id=job_id)
    return jsonify({"job_id": job_id, "queued": message_id})


def queue_resend(job_id: int, round_: int | None) -> dict[str, Any]:
    """Queue round ``round_`` (None: the next) of re-sending a job's album; ApiError 404 / 409 / 422 as the use
    case refuses."""
    try:
        with _fleet().services.pool.connection() as conn, conn.transaction():
            return resend.queue_resend(conn, job_id=job_id, round_=round_)
    except Refused as refused:
        raise refused_answer(refused, {"INVALID_ROUND": 422}) from None


def resend_json(job_id: int) -> Any:
    """POST {"round": n} (optional: the next round): re-send a delivered album; the same round twice sends once."""
    body = request.get_json(silent=True)
    round_ = body.get("round") if isinstance(body, dict) else None
    if round_ is not None and (not isinstance(round_, int) or isinstance(round_, bool)):
        raise ApiError(422, "INVALID_ROUND", "round must be a whole number")
    return jsonify(queue_resend(job_id, round_))


def providers_json() -> Any:
    """Each provider operation over the last ``?minutes=`` (1..120, 15 by default), from every process: calls,
    errors, error rate and latency p50/p95/p99 (ms: the upper edge of the bucket)."""
    raw = request.args.get("minutes", "15")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 120:
        raise ApiError(400, "INVALID_MINUTES", "minutes must be a whole number from 1 to 120")
    return jsonify({"minutes": int(raw), "providers": reads.provider_calls(_fleet().services, minutes=int(raw))})


def errors_json() -> Any:
    """Errors grouped by cause, the most recent first: source, type, where, occurrences, the latest message and
    traceback and its correlation id."""
    with _fleet().services.pool.connection() as conn:
        rows = recent_groups(conn, limit=limit_arg(50))
    return jsonify({"errors": [plain(row) for row in rows]})


ROUTES: list[tuple[str, Callable[..., Any], tuple[str, ...]]] = [
    ("/api/summary", summary, ("GET",)),
    ("/api/jobs", jobs, ("GET",)),
    ("/api/dead-letters", dead_letters_json, ("GET",)),
    ("/api/dead-letters/<int:letter_id>/replay", replay_json, ("POST",)),
    ("/api/dead-letters/<int:letter_id>/resolve", resolve_json, ("POST",)),
    ("/api/alerts", alerts_json, ("GET",)),
    ("/api/referrals", referrals_json, ("GET",)),
    ("/api/lookup", lookup_json, ("GET",)),
    ("/api/funnel", funnel_json, ("GET",)),
    ("/api/errors", errors_json, ("GET",)),
    ("/api/providers", providers_json, ("GET",)),
    ("/api/jobs/<int:job_id>", job_json, ("GET",)),
    ("/api/jobs/<int:job_id>/refund", refund_job_json, ("POST",)),
    ("/api/jobs/<int:job_id>/resend", resend_json, ("POST",)),
    ("/api/generation", generation_json, ("GET", "POST")),
    ("/api/payments", payments_json, ("GET",)),
    ("/api/payments/<int:payment_id>", payment_json, ("GET",)),
]


def register(blueprint: Any, routes: list[tuple[str, Callable[..., Any], tuple[str, ...]]] | None = None) -> None:
    """Add ``routes`` (this module's by default) to the admin blueprint, each endpoint named for its view."""
    for rule, view, methods in ROUTES if routes is None else routes:
        blueprint.add_url_rule(rule, view.__name__, view, methods=list(methods))
