"""The admin pages (dashboard, funnel, lookup, a payment, a job) and their buttons (replay or resolve a dead letter,
pause or resume generation, refund a job, re-send its album): each a form POST answered by a redirect with a
notice."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import current_app, redirect, render_template, request

from rules.states import PAYMENT_MOVES
from usecases import admin as reads
from usecases.error_groups import recent_groups
from usecases.resend import next_round
from usecases.users import referrer_balances
from web.admin.api import (
    RAILS,
    file_or_404,
    funnel_days,
    job_view,
    payment_filters,
    plain,
    queue_resend,
    refund_job_json,
    replay,
    resolve,
    set_paused,
    summary_data,
)
from web.admin.api import (
    register as register_routes,
)
from web.errors import ApiError
from web.health import readiness_report

RECENT_JOBS = 25
RECENT_ALERTS = 20
REFERRERS = 50
PROVIDER_MINUTES = 15


def dashboard() -> Any:
    fleet = current_app.extensions["pinglass"]
    with fleet.services.pool.connection() as conn:
        summary = summary_data(conn, fleet.broker)
        jobs = [job_view(row) for row in reads.recent_jobs(conn, limit=RECENT_JOBS)]
        letters = [plain(row) for row in reads.list_dead_letters(conn, open_only=True, limit=50)]
        recent_alerts = [plain(row) for row in reads.list_alerts(conn, limit=RECENT_ALERTS)]
        referrers = [plain(row) for row in referrer_balances(conn, limit=REFERRERS)]
    try:
        kie_keys, kie_keys_error = reads.kie_keys(fleet.services), None
    except Exception as exc:  # noqa: BLE001 — Redis down: the page still shows what the database knows
        kie_keys, kie_keys_error = [], type(exc).__name__
    try:
        providers, providers_error = reads.provider_calls(fleet.services, minutes=PROVIDER_MINUTES), None
    except Exception as exc:  # noqa: BLE001 — Redis down: said on the page
        providers, providers_error = [], type(exc).__name__
    with fleet.services.pool.connection() as conn:
        generation = plain(reads.generation_switch(conn))
        errors = [plain(row) for row in recent_groups(conn, limit=20)]
    ready, health = readiness_report()
    return render_template("admin/dashboard.html", summary=summary, jobs=jobs, letters=letters, alerts=recent_alerts,
                           referrers=referrers, kie_keys=kie_keys, kie_keys_error=kie_keys_error,
                           generation=generation, errors=errors, providers=providers,
                           providers_error=providers_error, provider_minutes=PROVIDER_MINUTES, ready=ready,
                           health=health, notice=request.args.get("notice"), rubles=_rubles)


def replay_form(letter_id: int) -> Any:
    try:
        result = replay(letter_id)
        notice = f"Dead letter {letter_id} ({result['actor']}) queued again"
    except ApiError as err:
        notice = f"Dead letter {letter_id}: {err.message}"
    return redirect("/admin?" + urlencode({"notice": notice}), code=303)


def lookup_page() -> Any:
    term = request.args.get("q", "")[:200]
    with current_app.extensions["pinglass"].services.pool.connection() as conn:
        found = [plain(row) for row in reads.lookup(conn, term=term)]
    if len(found) == 1 and found[0]["kind"] == "payment":
        return redirect(f"/admin/payments/{found[0]['id']}", code=303)
    return render_template("admin/lookup.html", q=term, found=found)


def job_page(job_id: int) -> Any:
    file = file_or_404(reads.job_file, "job", job_id)
    with current_app.extensions["pinglass"].services.pool.connection() as conn:
        resend_round = next_round(conn, job_id=job_id)
    return render_template("admin/job.html", file=file, resend_round=resend_round, notice=request.args.get("notice"))


def payment_page(payment_id: int) -> Any:
    file = file_or_404(reads.payment_file, "payment", payment_id)
    return render_template("admin/payment.html", file=file, rubles=_rubles)


def payments_page() -> Any:
    filters = payment_filters()
    with current_app.extensions["pinglass"].services.pool.connection() as conn:
        rows = [plain(row) for row in reads.payments_list(conn, **filters)]
    return render_template("admin/payments.html", payments=rows, filters=filters, statuses=list(PAYMENT_MOVES),
                           rails=RAILS, rubles=_rubles)


def funnel_page() -> Any:
    days = funnel_days()
    with current_app.extensions["pinglass"].services.pool.connection() as conn:
        funnel = reads.funnel(conn, days=days)
    return render_template("admin/funnel.html", funnel=funnel, rubles=_rubles, duration=_duration)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def generation_form() -> Any:
    paused = request.form.get("paused") == "1"
    set_paused(paused, request.form.get("reason", ""))
    notice = "Generation paused: nothing new goes to Kie" if paused else "Generation resumed"
    return redirect("/admin?" + urlencode({"notice": notice}), code=303)


def refund_form(job_id: int) -> Any:
    refund_job_json(job_id)
    return redirect(f"/admin/jobs/{job_id}?" + urlencode({"notice": "Refund queued"}), code=303)


def resend_form(job_id: int) -> Any:
    """Re-send the album: the round the page showed as next (a double click is the same round, sent once)."""
    raw = request.form.get("round", "")
    try:
        queued = queue_resend(job_id, int(raw) if raw.isdigit() else None)
        notice = f"Album re-send queued (round {queued['round']})"
    except ApiError as err:
        if err.status == 404:
            raise
        notice = f"Not re-sent: {err.message}"
    return redirect(f"/admin/jobs/{job_id}?" + urlencode({"notice": notice}), code=303)


def resolve_form(letter_id: int) -> Any:
    try:
        resolve(letter_id, request.form.get("resolution", ""))
        notice = f"Dead letter {letter_id} resolved without a replay"
    except ApiError as err:
        notice = f"Dead letter {letter_id}: {err.message}"
    return redirect("/admin?" + urlencode({"notice": notice}), code=303)


def _rubles(kopecks: int) -> str:
    return f"{kopecks / 100:,.2f} ₽".replace(",", " ")


def register(blueprint: Any) -> None:
    register_routes(blueprint, [
        ("", dashboard, ("GET",)),
        ("/", dashboard, ("GET",)),
        ("/dead-letters/<int:letter_id>/replay", replay_form, ("POST",)),
        ("/dead-letters/<int:letter_id>/resolve", resolve_form, ("POST",)),
        ("/lookup", lookup_page, ("GET",)),
        ("/funnel", funnel_page, ("GET",)),
        ("/payments", payments_page, ("GET",)),
        ("/payments/<int:payment_id>", payment_page, ("GET",)),
        ("/jobs/<int:job_id>", job_page, ("GET",)),
        ("/jobs/<int:job_id>/refund", refund_form, ("POST",)),
        ("/jobs/<int:job_id>/resend", resend_form, ("POST",)),
        ("/generation", generation_form, ("POST",)),
    ])
