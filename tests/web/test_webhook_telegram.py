"""POST /webhooks/telegram over HTTP: only Telegram (holding our secret) gets in, and each update_id is recorded
and handed to the bot once."""

from __future__ import annotations

from typing import Any

import pytest

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def update(update_id: Any, **message: Any) -> dict[str, Any]:
    return {"update_id": update_id, "message": {"message_id": 1, "date": 1700000000, "text": "/help",
                                                "from": {"id": 5551, "is_bot": False, "first_name": "Ира"},
                                                "chat": {"id": 5551, "type": "private"}, **message}}


def stored(services) -> list[dict[str, Any]]:
    with services.pool.connection() as conn:
        return conn.execute("SELECT update_id, media_group_id, handled_at FROM telegram_updates "
                            "ORDER BY update_id").fetchall()


def handler_messages(services) -> list[list[Any]]:
    with services.pool.connection() as conn:
        rows = conn.execute("SELECT args FROM outbox WHERE actor_name = 'handle_telegram_update' ORDER BY id")
        return [row["args"] for row in rows.fetchall()]


@pytest.fixture
def headers(settings) -> dict[str, str]:
    return {SECRET_HEADER: settings.telegram_webhook_secret}


def test_update_is_recorded_and_handed_to_the_bot(client, services, headers) -> None:
    response = client.post("/webhooks/telegram", json=update(1001), headers=headers)

    assert response.status_code == 200
    assert response.get_json() == {"ok": True}
    assert [row["update_id"] for row in stored(services)] == [1001]
    assert handler_messages(services) == [[1001]]


@pytest.mark.parametrize("secret", [None, "", "sandbox-webhook-secreT", "wrong"])
def test_missing_or_wrong_secret_is_refused_and_nothing_is_written(client, services, secret) -> None:
    headers = {} if secret is None else {SECRET_HEADER: secret}
    response = client.post("/webhooks/telegram", json=update(1002), headers=headers)

    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "BAD_SECRET"
    assert stored(services) == [] and handler_messages(services) == []


def test_duplicate_update_id_is_handled_once(client, services, headers) -> None:
    for _ in range(3):
        assert client.post("/webhooks/telegram", json=update(1003), headers=headers).status_code == 200

    assert [row["update_id"] for row in stored(services)] == [1003]
    assert handler_messages(services) == [[1003]]


@pytest.mark.parametrize("body", [update("1004"), update(True), update(2**64), {"message": {}}, [1, 2], "nope"])
def test_update_without_an_integer_update_id_is_400(client, services, headers, body) -> None:
    response = client.post("/webhooks/telegram", json=body, headers=headers)

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "INVALID_UPDATE"
    assert stored(services) == []


def test_album_updates_record_their_media_group(client, services, headers) -> None:
    for update_id in (1005, 1006):
        photo = [{"file_id": f"f{update_id}", "file_unique_id": f"u{update_id}", "width": 64, "height": 64}]
        client.post("/webhooks/telegram", json=update(update_id, text=None, photo=photo, media_group_id="777"),
                    headers=headers)

    assert [(row["update_id"], row["media_group_id"]) for row in stored(services)] == [(1005, "777"),
                                                                                        (1006, "777")]


def test_webhook_is_off_without_a_configured_secret(services, settings, broker) -> None:
    from web import create_app

    client = create_app(settings.with_overrides(telegram_webhook_secret=""), services=services,
                        broker=broker).test_client()

    response = client.post("/webhooks/telegram", json=update(1007), headers={SECRET_HEADER: ""})

    assert response.status_code == 403
    assert stored(services) == []
