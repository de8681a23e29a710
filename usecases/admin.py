"""What the admin dashboard and its JSON endpoints read: counts, money, backlogs, recent jobs, dead letters,
alerts and the Kie keys' health. Queries only; the one admin write (replaying a dead letter) is
``usecases.dead_letters.replay``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from db import admin, alerts, dead_letters, jobs, payments
from rules.catalog import MIN_REFERENCES
from runtime import Services
from runtime.limits import kie_key_health
from telemetry import provider_stats
from usecases import generation
from usecases.payments import receipts_of_payment

if TYPE_CHECKING:
    from psycopg import Connection


def summary(conn: Connection) -> dict[str, Any]:
    """The dashboard's tiles that come from the database."""
    return {"jobs": admin.job_counts(conn), "payments": admin.payment_counts(conn), "money": admin.money(conn),
            "outbox": admin.outbox_backlog(conn), "dead_letters_open": admin.open_dead_letters(conn),
            "alerts_unsent": admin.unsent_alerts(conn)}


def lookup(conn: Connection, *, term: str) -> list[dict[str, Any]]:
    """What an operator's search names: payments (id, T-Bank PaymentId, OrderId, Telegram charge id), jobs (id),
    people (id, Telegram id, @username)."""
    term = term.strip()
    return admin.lookup(conn, term=term) if term else []


def payment_file(conn: Connection, *, payment_id: int) -> dict[str, Any] | None:
    """Everything about one payment an operator needs at 3 a.m.: the row, the provider's events as received, the
    54-FZ receipts, the refunds, the job it started and the referral credit it made; None when there is none."""
    payment = payments.get(conn, id=payment_id)
    if payment is None:
        return None
    events = (admin.payment_events(conn, provider_payment_id=payment["provider_payment_id"])
              if payment["provider_payment_id"] else [])
    return {"payment": payment, "events": events,
            "receipts": receipts_of_payment(conn, payment_id=payment_id),
            "refunds": admin.payment_refunds(conn, payment_id=payment_id),
            "job": jobs.get_job_by_payment(conn, payment_id=payment_id),
            "referral": admin.payment_referral(conn, payment_id=payment_id)}


FUNNEL_STEPS = (("started", "opened the app or the bot"), ("avatar", "made an avatar"),
                ("selfies", f"uploaded {MIN_REFERENCES}+ selfies"), ("checkout", "opened a checkout"),
                ("paid", "paid"), ("generated", "portraits made"), ("delivered", "album delivered"))


def funnel(conn: Connection, *, days: int) -> dict[str, Any]:
    """The conversion funnel of the people who started in the last ``days``: per step how many reached it, the
    share of those who started, and the median time from the step before; and revenue by tier and rail."""
    row = admin.funnel(conn, days=days, min_references=MIN_REFERENCES)
    started = row["started"] or 0
    steps = [{"step": key, "label": label, "people": row[key],
              "share": round(row[key] / started, 3) if started else 0.0,
              "median_s": None if key == "started" or row[f"{key}_s"] is None else round(float(row[f"{key}_s"]), 1)}
             for key, label in FUNNEL_STEPS]
    return {"days": days, "steps": steps, "revenue": admin.revenue_by_tier(conn, days=days)}


def job_file(conn: Connection, *, job_id: int) -> dict[str, Any] | None:
    """One job for an operator: the row, each photo slot's latest attempt (status, attempts, Kie task, failure),
    the Telegram chunks and the timeline of everything that happened to it; None when there is none."""
    job = jobs.get_job(conn, id=job_id)
    if job is None:
        return None
    return {"job": job, "slots": admin.job_slots(conn, job_id=job_id),
            "deliveries": admin.job_deliveries(conn, job_id=job_id),
            "timeline": admin.job_timeline(conn, job_id=job_id)}


def generation_switch(conn: Connection) -> dict[str, Any]:
    """Whether generation is paused, and who turned the switch, why and when."""
    return generation.generation_switch(conn)


def kie_keys(services: Services) -> list[dict[str, Any]]:
    """Each Kie key by index (never the key): its account, the account's use of its window and the limit, and
    whether it rests after a 433."""
    s = services.settings
    keys = kie_key_health(services.redis, key_count=len(s.kie_api_keys), namespace=s.broker_namespace,
                          accounts=s.kie_key_accounts, window_s=s.kie_rate_window_s)
    return [{**key, "limit": s.kie_rate_limit, "window_s": s.kie_rate_window_s} for key in keys]


def payments_list(conn: Connection, *, status: str | None = None, rail: str | None = None,
                  stuck_only: bool = False, limit: int = 100) -> list[dict[str, Any]]:
    """Payments filtered by status and rail, the stuck ones first (``stuck`` says why: paid with no job started,
    money held but not confirmed, open past the 24 h alert)."""
    return admin.payments(conn, status=status, rail=rail, stuck_only=stuck_only, limit=limit)


def provider_calls(services: Services, *, minutes: int = 15) -> list[dict[str, Any]]:
    """Each provider operation over the last ``minutes``, from every process: calls, errors, latency p50/p95/p99."""
    provider_stats.flush()  # this process's own latest calls too
    return provider_stats.summary(services.redis, namespace=services.settings.broker_namespace, minutes=minutes)


def recent_jobs(conn: Connection, *, status: str | None = None, limit: int) -> list[dict[str, Any]]:
    return admin.recent_jobs(conn, status=status, limit=limit)


def list_dead_letters(conn: Connection, *, open_only: bool, limit: int) -> list[dict[str, Any]]:
    return dead_letters.list_dead_letters(conn, open_only=open_only, limit=limit)


def list_alerts(conn: Connection, *, limit: int) -> list[dict[str, Any]]:
    return alerts.list_alerts(conn, limit=limit)
