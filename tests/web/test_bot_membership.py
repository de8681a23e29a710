"""Only a private chat's ``kicked`` means the person blocked the bot (issue 10, item 7): removing the bot from a
group leaves them reachable, so their albums are still sent. The updates reach our real webhook over HTTP with the
secret Telegram (here its fake, pointed at us) sends, and the in-process worker handles them."""

from __future__ import annotations

import itertools
import time

import pytest
import requests

from tests.factories import make_user

pytestmark = pytest.mark.usefixtures("worker")
_ids = itertools.count(int(time.time() * 1000) % 10**12)


@pytest.fixture
def post_update(services, settings, live_web):
    services.telegram.set_webhook(f"{live_web}/webhooks/telegram", settings.telegram_webhook_secret)

    def post(telegram_id: int, chat: dict, status: str) -> None:
        update = {"update_id": next(_ids), "my_chat_member": {
            "chat": chat, "from": {"id": telegram_id, "is_bot": False, "first_name": "Ира"}, "date": int(time.time()),
            "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": True}},
            "new_chat_member": {"status": status, "user": {"id": 1, "is_bot": True}}}}
        response = requests.post(f"{live_web}/webhooks/telegram", json=update, timeout=10,
                                 headers={"X-Telegram-Bot-Api-Secret-Token": settings.telegram_webhook_secret})
        assert response.status_code == 200
    return post


def blocked_once_handled(services, user_id: int, timeout_s: float = 15) -> bool:
    """The user's ``bot_blocked`` once every posted update has been handled by the worker."""
    deadline = time.monotonic() + timeout_s
    while True:
        with services.pool.connection() as conn:
            waiting = conn.execute("SELECT count(*) AS n FROM telegram_updates WHERE handled_at IS NULL").fetchone()
            if waiting["n"] == 0:
                return conn.execute("SELECT bot_blocked FROM users WHERE id = %s", (user_id,)).fetchone()[
                    "bot_blocked"]
        assert time.monotonic() < deadline, "the worker did not handle the updates"
        time.sleep(0.1)


def test_removing_the_bot_from_a_group_does_not_mark_the_person_blocked(services, post_update) -> None:
    user = make_user(services)
    post_update(user["telegram_id"], {"id": -100123456, "type": "supergroup", "title": "Семья"}, "kicked")
    post_update(user["telegram_id"], {"id": -4242, "type": "group", "title": "Друзья"}, "left")
    assert blocked_once_handled(services, user["id"]) is False


def test_blocking_in_the_private_chat_marks_blocked_and_unblocking_clears_it(services, post_update) -> None:
    user = make_user(services)
    private = {"id": user["telegram_id"], "type": "private", "first_name": "Ира"}
    post_update(user["telegram_id"], private, "kicked")
    assert blocked_once_handled(services, user["id"]) is True
    post_update(user["telegram_id"], private, "member")
    assert blocked_once_handled(services, user["id"]) is False
