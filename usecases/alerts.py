"""Admin alerts: recorded once per dedup key, announced in the admins' Telegram chat after commit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from db import alerts, outbox

if TYPE_CHECKING:
    from psycopg import Connection

    from runtime import Services


def raise_alert(conn: Connection, *, kind: str, message: str, severity: str = "error",
                details: dict[str, Any] | None = None, dedup_key: str | None = None) -> int | None:
    """Record an alert for admins and queue its announcement (``notify_admin``) in the caller's transaction.

    With a ``dedup_key`` the same alert is raised once (None is returned for the repeats)."""
    row = alerts.insert_alert(conn, kind=kind, severity=severity, message=message, details=details or {},
                              dedup_key=dedup_key)
    if row is None:
        return None
    outbox.send(conn, "notify_admin", row["id"])
    return row["id"]


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
