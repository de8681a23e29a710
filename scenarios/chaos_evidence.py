"""What the chaos run's checks read: the database (read-only audit queries), the fakes' own records and
T-Bank's GetState, gathered once into an ``Evidence``; and ``StatusWatch``, which samples every payment's status
while the run goes, so a move backwards is seen even if it was undone before the end.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

from gateways.tbank import TBankClient
from sandbox.client import SandboxClient
from settings import Settings

# This module is an audit tool: the SQL below only reads, and lives here rather than in db/queries because no
# part of the product needs it.
AUDIT_SQL = {
    "payments": "SELECT p.*, u.telegram_id, u.referred_by FROM payments p JOIN users u ON u.id = p.user_id "
                "ORDER BY p.id",
    "events": "SELECT provider_payment_id, status FROM payment_events",
    "jobs": "SELECT *, extract(epoch FROM created_at) AS created_epoch, "
            "extract(epoch FROM finished_at - created_at) AS duration_s FROM generation_jobs ORDER BY id",
    "tasks": "SELECT id, job_id, prompt_index, attempt, status, kie_task_id, fail_code FROM generation_tasks",
    "photos": "SELECT id, job_id, prompt_index, storage_key, sha256 FROM generated_photos",
    "refunds": "SELECT * FROM refunds",
    "referrals": "SELECT * FROM referral_earnings",
    "dead_letters": "SELECT id, actor, message_id, error, attempts, created_at FROM dead_letters ORDER BY id",
    "alerts": "SELECT kind, count(*) AS n FROM admin_alerts GROUP BY kind ORDER BY kind",
    "credits": "SELECT job_id, kind, photos FROM portrait_credits",
    "chunks": "SELECT job_id, chunk, status, last_error, photo_ids FROM deliveries",
    # every bot reply we meant to send (the outbox row of its send_bot_reply): a chat may rightly get one text
    # twice (two referral credits of one amount), and only sends beyond these are duplicates
    "replies": "SELECT (args->>1)::bigint AS chat_id, args->>2 AS text FROM outbox "
               "WHERE actor_name = 'send_bot_reply'",
}
PAYMENT_STATUS_SQL = "SELECT id, status FROM payments"
PROCESSED_SQL = ("SELECT message_id, actor, extract(epoch FROM processed_at) AS at FROM processed_messages "
                 "WHERE message_id = ANY(%(ids)s)")
# Rows that were waiting for the broker when Redis came back, and when the last of them was published.
OUTBOX_DRAIN_SQL = ("SELECT count(*) AS waiting, count(*) FILTER (WHERE published_at IS NULL) AS unpublished, "
                    "extract(epoch FROM max(published_at)) AS last_published FROM outbox "
                    "WHERE created_at < to_timestamp(%(up)s) "
                    "AND (published_at IS NULL OR published_at >= to_timestamp(%(up)s))")


@dataclass
class Evidence:
    """Everything the checks read: database rows, the fakes' records, and what the run itself observed."""

    db: dict[str, list[dict[str, Any]]]
    kie: dict[str, Any]
    bank: dict[str, Any]
    telegram: dict[str, Any]
    s3_keys: set[str]
    orders: list[dict[str, Any]]
    observed: dict[int, list[str]]
    kills: list[dict[str, Any]]
    outage: dict[str, float] | None
    referral_percent: int
    processed: list[dict[str, Any]] = field(default_factory=list)
    bank_states: dict[str, str] = field(default_factory=dict)  # PaymentId → status, from GetState
    forged: dict[str, Any] | None = None  # the answer to a notification with a wrong Token
    drain: dict[str, Any] | None = None
    admin_chat_id: int | None = None  # the admins' chat (alerts): not a buyer's, counted apart


def gather(settings: Settings, *, orders: list[dict[str, Any]], observed: dict[int, list[str]],
           kills: list[dict[str, Any]], outage: dict[str, float] | None,
           forged: dict[str, Any] | None = None) -> Evidence:
    """Read the database, T-Bank's GetState for every payment, and the fakes' records (GET only) into one
    Evidence."""
    with psycopg.connect(settings.database_url, autocommit=True, row_factory=dict_row) as conn:
        db = {name: conn.execute(query).fetchall() for name, query in AUDIT_SQL.items()}
        in_flight = sorted({mid for kill in kills for mid in kill["in_flight"]})
        processed = conn.execute(PROCESSED_SQL, {"ids": in_flight}).fetchall()
        drain = conn.execute(OUTBOX_DRAIN_SQL, {"up": outage["up_at"]}).fetchone() if outage else None
    fakes = SandboxClient.from_settings(settings, timeout=30)
    s3 = fakes.s3.objects(settings.s3_bucket)
    tbank = TBankClient.from_settings(settings)
    states = {p["provider_payment_id"]: tbank.get_state(p["provider_payment_id"]).status
              for p in db["payments"] if p["provider_payment_id"] and p.get("rail", "tbank") == "tbank"}
    return Evidence(db=db, kie=fakes.kie.state(), bank=fakes.tbank.state(),
                    telegram=fakes.telegram.state(), s3_keys={o["key"] for o in s3},
                    orders=orders, observed=observed, kills=kills, outage=outage,
                    referral_percent=settings.referral_percent, processed=processed, bank_states=states,
                    forged=forged, drain=drain, admin_chat_id=settings.admin_telegram_chat_id)


class StatusWatch(threading.Thread):
    """Samples every payment's status twice a second (read-only), so a move backwards is seen even if a later
    event moved the payment forward again before the end."""

    def __init__(self, database_url: str) -> None:
        super().__init__(name="chaos-status-watch", daemon=True)
        self.database_url, self.done = database_url, threading.Event()
        self.seen: dict[int, list[str]] = {}

    def run(self) -> None:
        conn = None
        while not self.done.wait(0.5):
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.database_url, autocommit=True)
                for payment_id, status in conn.execute(PAYMENT_STATUS_SQL).fetchall():
                    seen = self.seen.setdefault(payment_id, [])
                    if not seen or seen[-1] != status:
                        seen.append(status)
            except psycopg.Error:
                conn = None
        if conn is not None:
            conn.close()
