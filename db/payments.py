"""Payments and their provider events (one row per (PaymentId, Status))."""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from db.queries import execute, fetch_all, fetch_one, fetch_row, fetch_together
from rules.states import PAYMENT_MOVES, expected_sources

Row = dict[str, Any]


def insert(conn: Connection, *, user_id: int, avatar_id: int, style_id: str, tier: str, photo_count: int,
           amount_kopecks: int, order_id: str, ttl_s: int, email: str | None = None,
           correlation_id: str | None = None) -> Row:
    return fetch_row(conn, "payments.insert", {
        "user_id": user_id, "avatar_id": avatar_id, "style_id": style_id, "tier": tier,
        "photo_count": photo_count, "amount_kopecks": amount_kopecks, "order_id": order_id, "ttl_s": ttl_s,
        "email": email, "correlation_id": correlation_id,
    })


def lock_checkouts_of_user(conn: Connection, *, user_id: int) -> None:
    """Hold the user's checkout lock until the transaction ends (two checkouts of one person run one at a time)."""
    fetch_one(conn, "payments.lock_checkouts_of_user", {"user_id": user_id})


def count_open_checkouts(conn: Connection, *, user_id: int, in_flight_s: int) -> int:
    """The user's open payments of either rail: payable now, or created ``in_flight_s`` ago at most (no link yet)."""
    return fetch_row(conn, "payments.count_open_checkouts", {"user_id": user_id, "in_flight_s": in_flight_s})["n"]


def set_provider(conn: Connection, *, id: int, provider_payment_id: str, payment_url: str) -> Row | None:
    return fetch_one(conn, "payments.set_provider", {
        "id": id, "provider_payment_id": provider_payment_id, "payment_url": payment_url})


def with_job(conn: Connection, *, id: int, user_id: int) -> tuple[Row | None, Row | None]:
    """A user's payment (None when it is not theirs) and the job it started (None before it starts; not to be
    shown when the payment is not theirs), in one round trip and one snapshot (``fetch_together``)."""
    payment, job = fetch_together(conn, [("payments.get_for_user", {"id": id, "user_id": user_id}),
                                         ("jobs.get_job_by_payment", {"payment_id": id})])
    return (payment[0] if payment else None), (job[0] if job else None)


def get(conn: Connection, *, id: int, user_id: int | None = None, lock: bool = False) -> Row | None:
    if lock:
        return fetch_one(conn, "payments.lock", {"id": id})
    if user_id is not None:
        return fetch_one(conn, "payments.get_for_user", {"id": id, "user_id": user_id})
    return fetch_one(conn, "payments.get", {"id": id})


def get_existing(conn: Connection, *, id: int) -> Row:
    """The payment a row of ours points at (a job's, a refund's): LookupError if it is not there."""
    return fetch_row(conn, "payments.get", {"id": id})


def get_by_provider_id(conn: Connection, *, provider_payment_id: str) -> Row | None:
    return fetch_one(conn, "payments.get_by_provider_id", {"provider_payment_id": provider_payment_id})


def move_status(conn: Connection, *, id: int, new: str) -> Row | None:
    """Move to ``new`` if the state machine allows it from the current status; None when it does not."""
    return fetch_one(conn, "payments.move_status",
                     {"id": id, "new": new, "expected": expected_sources(PAYMENT_MOVES, new)})


def consume(conn: Connection, *, id: int) -> Row | None:
    """Flip the consumed flag of a confirmed payment; None if it was already consumed or is not confirmed."""
    return fetch_one(conn, "payments.consume", {"id": id})


def add_refunded(conn: Connection, *, id: int, amount: int) -> Row | None:
    return fetch_one(conn, "payments.add_refunded", {"id": id, "amount": amount})


def insert_event(conn: Connection, *, provider_payment_id: str, status: str, order_id: str, amount_kopecks: int,
                 raw: dict[str, Any], event_key: str = "") -> bool:
    """Store a provider notification; False when this (PaymentId, Status, event_key) was already recorded."""
    return fetch_one(conn, "payments.insert_event", {
        "provider_payment_id": provider_payment_id, "status": status, "order_id": order_id,
        "amount_kopecks": amount_kopecks, "raw": Jsonb(raw), "event_key": event_key}) is not None


def insert_receipt(conn: Connection, *, payment_id: int, kind: str, amount_kopecks: int, receipt_url: str | None,
                   fiscal_number: str | None, fiscal_document_number: str | None, event_key: str) -> Row | None:
    """Record a fiscal document of the payment; None when this one (``event_key``) is recorded already."""
    return fetch_one(conn, "payments.insert_receipt", {
        "payment_id": payment_id, "kind": kind, "amount_kopecks": amount_kopecks, "receipt_url": receipt_url,
        "fiscal_number": fiscal_number, "fiscal_document_number": fiscal_document_number, "event_key": event_key})


def receipts_of_payment(conn: Connection, *, payment_id: int) -> list[Row]:
    return fetch_all(conn, "payments.receipts_of_payment", {"payment_id": payment_id})


def list_open(conn: Connection, *, idle_s: float, limit: int = 100) -> list[Row]:
    return fetch_all(conn, "payments.list_open", {"idle_s": idle_s, "limit": limit})


def confirmed_unconsumed(conn: Connection, *, idle_s: float, limit: int = 100) -> list[Row]:
    """Confirmed payments without a job, quiet for ``idle_s``: their id and correlation id."""
    return fetch_all(conn, "payments.confirmed_unconsumed", {"idle_s": idle_s, "limit": limit})


def expire_unsent(conn: Connection) -> int:
    """Expire checkouts that never got a payment link and are past their life; returns how many."""
    return execute(conn, "payments.expire_unsent")


def paid_unstarted_payments(conn: Connection, *, avatar_id: int) -> int:
    """Payments for this avatar that are authorized or confirmed but have not started their job yet."""
    return fetch_row(conn, "payments.paid_unstarted_payments_of_avatar", {"avatar_id": avatar_id})["n"]
