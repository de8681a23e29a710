"""Admin alerts: recorded once per dedup key, or once per group and window, announced in the admins' Telegram
chat after commit.

Two ways to deduplicate (issue 10 item 11):
- ``dedup_key``: once for ever (one overdue job, one failed refund);
- ``group`` + ``window_s``: once per window for a recurring cause — a dead letter per actor and cause (15 min), Kie
  out of credits (1 h: the next incident fires again). Repeats inside the window are counted on the alert
  (``details.repeats``) and not announced. ``WINDOWS`` gives a kind's default, and a dead letter's group is
  derived from its message when the caller gives none.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from db import alerts, outbox

if TYPE_CHECKING:
    from psycopg import Connection

    from runtime import Services


# A refund is told once per 10 minutes (its repeats counted): a provider's bad hour refunds many jobs at once.
WINDOWS: dict[str, float] = {"dead_letter": 15 * 60, "kie_no_credits": 60 * 60, "refund": 10 * 60}
DEAD_LETTER_MESSAGE = re.compile(r"^(?P<actor>\S+) gave up after \d+ attempts: (?P<cause>[^:\s]{1,80})")


def raise_alert(conn: Connection, *, kind: str, message: str, severity: str = "error",
                details: dict[str, Any] | None = None, dedup_key: str | None = None, group: str | None = None,
                window_s: float | None = None) -> int | None:
    """Record an alert for admins and queue its announcement (``notify_admin``) in the caller's transaction.

    With a ``dedup_key`` the same alert is raised once; with a ``group`` (or a kind in ``WINDOWS``) once per
    ``window_s``. None is returned for the repeats."""
    window_s = window_s if window_s is not None else WINDOWS.get(kind)
    if window_s is not None and group is None:
        group = _default_group(kind, message)
    if group is not None and window_s is not None:
        row = alerts.insert_alert_per_window(conn, kind=kind, severity=severity, message=message,
                                             details={**(details or {}), "group": group}, group=group,
                                             window_s=window_s)
    else:
        row = alerts.insert_alert(conn, kind=kind, severity=severity, message=message, details=details or {},
                                  dedup_key=dedup_key)
    if row is None:
        return None
    outbox.send(conn, "notify_admin", row["id"])
    return row["id"]


def _default_group(kind: str, message: str) -> str:
    """A dead letter's group is its actor and the error's type ("store_photo gave up after 5 attempts:
    StorageError: …" → ``dead_letter:store_photo:StorageError``); any other kind is one group."""
    if kind == "dead_letter" and (match := DEAD_LETTER_MESSAGE.match(message)):
        return f"dead_letter:{match['actor']}:{match['cause']}"
    return kind


def announce(services: Services, *, alert_id: int) -> None:
    """Send the alert to the admins' chat once (a redelivery after the send may repeat it, never lose it)."""
    with services.pool.connection() as conn:
        alert = alerts.get_alert(conn, id=alert_id)
    if alert is None or alert["sent_at"] is not None:
        return
    text = f"⚠️ [{alert['severity']}] {alert['kind']}: {alert['message']}"[:4000]
    services.telegram.send_message(services.settings.admin_telegram_chat_id, text)
    with services.pool.connection() as conn:
        alerts.mark_alert_sent(conn, id=alert_id)
