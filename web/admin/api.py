"""The admin JSON endpoints (``/admin/api/...``), and the summary the dashboard page shows too."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import current_app, jsonify, request

from rules.states import JOB_MOVES
from usecases import admin as reads
from usecases import controls, refunds
from usecases import dead_letters as letters
from usecases.error_groups import recent_groups
from usecases.errors import Refused
from usecases.referrals import referrer_balances
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
        raise ApiError(404 if refused.code == "NOT_FOUND" else 409, refused.code, refused.message) from None
    return {"id": letter_id, "actor": letter["actor"], "replay_message_id": letter["replay_message_id"]}


def resolve(letter_id: int, resolution: str) -> None:
    """Close a dead letter without a replay; ApiError 404 / 409 / 422 as the use case refuses."""
    with _fleet().services.pool.connection() as conn, conn.transaction():
        try:
            letters.resolve(conn, id=letter_id, resolution=resolution)
        except Refused as refused:
            status = {"NOT_FOUND": 404, "NO_RESOLUTION": 422}.get(refused.code, 409)
            raise ApiError(status, refused.code, refused.message) from None


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
    with _fleet().services.pool.connection() as conn:
        file = reads.payment_file(conn, payment_id=payment_id)
    if file is None:
        raise ApiError(404, "NOT_FOUND", f"no payment {payment_id}")
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
    with _fleet().services.pool.connection() as conn:
        file = reads.job_file(conn, job_id=job_id)
    if file is None:
        raise ApiError(404, "NOT_FOUND", f"no job {job_id}")
    return jsonify({"job": plain(file["job"]), **{key: [plain(r) for r in file[key]]
                                                  for key in ("slots", "deliveries", "timeline")}})


def set_paused(paused: bool, reason: str) -> dict[str, Any]:
    with _fleet().services.pool.connection() as conn, conn.transaction():
        return plain(controls.set_generation_paused(conn, paused=paused, by="admin", reason=reason))


def generation_json() -> Any:
    """GET: the switch; POST {"paused": bool, "reason": str}: turn it."""
    if request.method == "POST":
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("paused"), bool):
            raise ApiError(422, "INVALID_SWITCH", 'send {"paused": true|false, "reason": "..."}')
        reason = body.get("reason")
        return jsonify(set_paused(body["paused"], reason if isinstance(reason, str) else ""))
    with _fleet().services.pool.connection() as conn:
        return jsonify(plain(controls.generation_switch(conn)))


def refund_job_json(job_id: int) -> Any:
    """Queue the refund a job owes (retrying one the bank or Telegram refused): ``refund_job`` does the rest."""
    with _fleet().services.pool.connection() as conn, conn.transaction():
        if reads.job_file(conn, job_id=job_id) is None:
            raise ApiError(404, "NOT_FOUND", f"no job {job_id}")
        message_id = refunds.queue_refund(conn, job_id=job_id)
    return jsonify({"job_id": job_id, "queued": message_id})


def errors_json() -> Any:
    """Errors grouped by cause, the most recent first: source, type, where, occurrences, the latest message and
    traceback and its correlation id."""
    with _fleet().services.pool.connection() as conn:
        rows = recent_groups(conn, limit=limit_arg(50))
    return jsonify({"errors": [plain(row) for row in rows]})


def register(blueprint: Any) -> None:
    blueprint.add_url_rule("/api/summary", "api_summary", summary, methods=["GET"])
    blueprint.add_url_rule("/api/jobs", "api_jobs", jobs, methods=["GET"])
    blueprint.add_url_rule("/api/dead-letters", "api_dead_letters", dead_letters_json, methods=["GET"])
    blueprint.add_url_rule("/api/dead-letters/<int:letter_id>/replay", "api_replay", replay_json, methods=["POST"])
    blueprint.add_url_rule("/api/dead-letters/<int:letter_id>/resolve", "api_resolve", resolve_json,
                           methods=["POST"])
    blueprint.add_url_rule("/api/alerts", "api_alerts", alerts_json, methods=["GET"])
    blueprint.add_url_rule("/api/referrals", "api_referrals", referrals_json, methods=["GET"])
    blueprint.add_url_rule("/api/lookup", "api_lookup", lookup_json, methods=["GET"])
    blueprint.add_url_rule("/api/funnel", "api_funnel", funnel_json, methods=["GET"])
    blueprint.add_url_rule("/api/errors", "api_errors", errors_json, methods=["GET"])
    blueprint.add_url_rule("/api/jobs/<int:job_id>", "api_job", job_json, methods=["GET"])
    blueprint.add_url_rule("/api/jobs/<int:job_id>/refund", "api_job_refund", refund_job_json, methods=["POST"])
    blueprint.add_url_rule("/api/generation", "api_generation", generation_json, methods=["GET", "POST"])
    blueprint.add_url_rule("/api/payments/<int:payment_id>", "api_payment", payment_json, methods=["GET"])
