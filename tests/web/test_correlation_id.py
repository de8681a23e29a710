"""The correlation id at the front door (issue 11, "Logs"): a caller's sane X-Correlation-ID is used and returned,
anything else is replaced (never echoed), and the outbox messages a request writes carry it to the actors."""

from __future__ import annotations

import uuid


def test_a_sane_id_is_used_and_returned_and_rides_in_the_outbox(client, services, settings) -> None:
    cid = f"checkout-{uuid.uuid4().hex[:12]}"
    response = client.post("/webhooks/telegram", json={"update_id": 4242, "message": {"text": "/start"}},
                           headers={"X-Correlation-ID": cid,
                                    "X-Telegram-Bot-Api-Secret-Token": settings.telegram_webhook_secret})

    assert response.status_code == 200 and response.headers["X-Correlation-ID"] == cid
    with services.pool.connection() as conn:
        rows = conn.execute("SELECT actor_name, correlation_id FROM outbox").fetchall()
    assert rows and {row["correlation_id"] for row in rows} == {cid}, rows


def test_an_insane_id_is_replaced_and_every_answer_has_one(client) -> None:
    for given in ("", "short", "x" * 65, "a b c d e f g h", "<script>alert(1)</script>"):
        headers = {"X-Correlation-ID": given} if given else {}
        answer = client.get("/health/live", headers=headers)
        cid = answer.headers["X-Correlation-ID"]
        assert cid != given and len(cid) == 32, (given, cid)
    # errors carry it too
    assert client.get("/api/v1/me").headers.get("X-Correlation-ID")
