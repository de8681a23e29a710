"""The Telegram bot end to end: the Telegram fake posts updates to our real webhook, the in-process worker
handles them, and we read the bot's answers back from the fake's chat."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from db import users
from sandbox.client import SandboxClient
from sandbox.selfies import no_face, small_selfie, two_faces
from tests.factories import make_avatar, make_paid_payment, make_user, selfie
from tests.integration.pipeline_helpers import chat_messages, kie_config, wait_for_job
from tests.web.api_helpers import object_keys

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture
def bot(services, settings, live_web) -> str:
    """The fake Telegram pointed at our webhook, with our secret; returns the fake's base URL."""
    services.telegram.set_webhook(f"{live_web}/webhooks/telegram", settings.telegram_webhook_secret)
    return settings.telegram_api_base


def send_text(bot: str, user_id: int, text: str, first_name: str = "Ира") -> None:
    answer = SandboxClient(telegram=bot).telegram.send_text(
        {"id": user_id, "first_name": first_name, "username": f"u{user_id}"}, text)
    assert all(d["status"] == 200 for d in answer["deliveries"])


def send_photos(bot: str, user_id: int, images: list[bytes], *, as_album: bool = True,
                as_document: bool = False) -> None:
    answer = SandboxClient(telegram=bot, timeout=20).telegram.send_photos(
        {"id": user_id, "first_name": "Ира"}, images, as_album=as_album, as_document=as_document)
    assert all(d["status"] == 200 for d in answer["deliveries"])


def replies(services, chat_id: int, count: int, *, timeout_s: float = 15, settle_s: float = 1.0) -> list[str]:
    """The bot's text messages in the chat, once there are ``count`` of them and no more arrive for a while."""
    deadline = time.monotonic() + timeout_s
    texts: list[str] = []
    while time.monotonic() < deadline:
        texts = [m["text"] for m in chat_messages(services, chat_id) if m["method"] == "sendMessage"]
        if len(texts) >= count:
            time.sleep(settle_s)
            return [m["text"] for m in chat_messages(services, chat_id) if m["method"] == "sendMessage"]
        time.sleep(0.1)
    raise AssertionError(f"expected {count} replies in chat {chat_id}, got {texts}")


def references(services, telegram_id: int) -> list[dict[str, Any]]:
    with services.pool.connection() as conn:
        return conn.execute("SELECT r.*, a.user_id, a.name FROM reference_photos r JOIN avatars a ON a.id = "
                            "r.avatar_id JOIN users u ON u.id = a.user_id WHERE u.telegram_id = %s ORDER BY r.id",
                            (telegram_id,)).fetchall()


def user_row(services, telegram_id: int) -> dict[str, Any] | None:
    with services.pool.connection() as conn:
        return users.get_user_by_telegram_id(conn, telegram_id=telegram_id)


def test_start_with_referral_code_records_the_inviter_and_opens_the_app(bot, services, settings) -> None:
    inviter = make_user(services)

    send_text(bot, 700001, f"/start ref_{inviter['referral_code']}")

    [welcome] = replies(services, 700001, 1)
    assert welcome.startswith("Привет, Ира!")
    user = user_row(services, 700001)
    assert user["referred_by"] == inviter["id"] and user["first_name"] == "Ира"
    [message] = [m for m in chat_messages(services, 700001) if m["method"] == "sendMessage"]
    button = message["reply_markup"]["inline_keyboard"][0][0]
    assert button["web_app"]["url"] == settings.public_url("/app/")


def test_start_with_ones_own_code_or_a_second_code_changes_no_inviter(bot, services) -> None:
    send_text(bot, 700002, "/start")
    replies(services, 700002, 1, settle_s=0)
    own_code = user_row(services, 700002)["referral_code"]
    other = make_user(services)

    send_text(bot, 700002, f"/start ref_{own_code}")
    send_text(bot, 700002, "/start ref_nobody-has-this-code")
    replies(services, 700002, 3, settle_s=0)
    assert user_row(services, 700002)["referred_by"] is None

    first = make_user(services)
    # Sent back to back: workers take them in parallel, yet a chat's updates are handled in their order.
    send_text(bot, 700003, f"/start ref_{first['referral_code']}")
    send_text(bot, 700003, f"/start ref_{other['referral_code']}")
    replies(services, 700003, 2, settle_s=0)
    assert user_row(services, 700003)["referred_by"] == first["id"]


def test_album_becomes_references_of_a_draft_avatar_with_one_reply(bot, services) -> None:
    make_user(services, telegram_id=700004)  # who accepted the privacy policy
    send_photos(bot, 700004, [selfie(400 + i) for i in range(6)])

    assert replies(services, 700004, 1) == [
        "Получено 6 фото, всего 6/15.\nАватар готов: откройте приложение и выберите стиль."]
    refs = references(services, 700004)
    assert len(refs) == 6 and {r["source"] for r in refs} == {"telegram"}
    assert len({r["avatar_id"] for r in refs}) == 1 and len({r["sha256"] for r in refs}) == 6
    assert all(services.storage.exists(r["storage_key"]) for r in refs)
    assert user_row(services, 700004)["draft_avatar_id"] == refs[0]["avatar_id"]


def test_photos_sent_again_are_recognised_and_not_added_twice(bot, services) -> None:
    images = [selfie(500 + i) for i in range(3)]
    make_user(services, telegram_id=700005)
    send_photos(bot, 700005, images)
    replies(services, 700005, 1, settle_s=0)

    send_photos(bot, 700005, images)

    second = replies(services, 700005, 2)[1]
    assert second.startswith("Получено 0 фото, всего 3/15.\nПовторы пропущены: 3.")
    assert len(references(services, 700005)) == 3


def test_a_sixteenth_reference_is_refused(bot, services) -> None:
    make_user(services, telegram_id=700006)
    send_photos(bot, 700006, [selfie(600 + i) for i in range(10)])
    replies(services, 700006, 1, settle_s=0)

    send_photos(bot, 700006, [selfie(700 + i) for i in range(6)])

    second = replies(services, 700006, 2)[1]
    assert second.startswith("Получено 5 фото, всего 15/15.")
    assert "Сверх лимита в 15 фото: 1" in second
    assert len(references(services, 700006)) == 15


def test_a_photo_sent_as_a_file_is_answered_at_once(bot, services) -> None:
    make_user(services, telegram_id=700007)
    send_photos(bot, 700007, [selfie(801)], as_album=False, as_document=True)

    assert replies(services, 700007, 1)[0].startswith("Получено 1 фото, всего 1/15.\nНужно ещё минимум 4.")
    [ref] = references(services, 700007)
    assert ref["content_type"] == "image/jpeg" and ref["telegram_file_unique_id"]


def test_a_text_file_named_jpg_is_not_a_reference(bot, services, settings, live_web) -> None:
    make_user(services, telegram_id=700008)
    # A file Telegram really holds (the fake refuses to let a "user" send a non-image, so the bot stores it).
    services.telegram.send_document(700008, b"just some text, not a photo", "IMG_0001.jpg")
    document = chat_messages(services, 700008)[-1]["document"]
    update = {"update_id": 990001, "message": {
        "message_id": 5, "date": int(time.time()), "from": {"id": 700008, "is_bot": False, "first_name": "Ира"},
        "chat": {"id": 700008, "type": "private"},
        "document": {"file_id": document["file_id"], "file_unique_id": document["file_unique_id"],
                     "file_name": "IMG_0001.jpg", "mime_type": "image/jpeg", "file_size": 27}}}

    answer = requests.post(f"{live_web}/webhooks/telegram", json=update, timeout=5,
                           headers={"X-Telegram-Bot-Api-Secret-Token": settings.telegram_webhook_secret})

    assert answer.status_code == 200
    assert "Фото не добавлено: его не удалось прочитать" in replies(services, 700008, 1)[0]
    assert references(services, 700008) == []


@pytest.mark.parametrize(("telegram_id", "image", "reason"), [
    (700021, no_face(1), "Фото не добавлено: на нём не нашлось лица."),
    (700022, two_faces(2), "Фото не добавлено: на нём несколько лиц."),
    (700023, small_selfie(3), "Фото не добавлено: оно слишком маленькое — нужно от 256 пикселей"),
])
def test_a_photo_without_exactly_one_face_or_too_small_is_refused_with_the_reason(
        bot, services, settings, telegram_id, image, reason) -> None:
    make_user(services, telegram_id=telegram_id)
    send_photos(bot, telegram_id, [image], as_album=False)

    [answer] = replies(services, telegram_id, 1)
    assert answer.startswith("Получено 0 фото, всего 0/15.\n" + reason), answer
    assert references(services, telegram_id) == []
    draft = user_row(services, telegram_id)["draft_avatar_id"]
    assert object_keys(settings, f"references/{draft}/") == []


def test_an_album_with_refused_photos_counts_them_and_says_what_a_photo_needs(bot, services) -> None:
    make_user(services, telegram_id=700024)
    send_photos(bot, 700024, [selfie(900), no_face(901), selfie(902), two_faces(903)])

    [answer] = replies(services, 700024, 1)
    assert answer.startswith("Получено 2 фото, всего 2/15.\nНе подошли: 2 — нужны селфи, где в кадре только вы")
    assert len(references(services, 700024)) == 2


def test_status_answers_with_the_latest_orders_progress(bot, services) -> None:
    send_text(bot, 700009, "/status")
    assert replies(services, 700009, 1, settle_s=0) == [
        "У вас пока нет заказов. Откройте приложение, чтобы создать первый."]

    kie_config(services, latency_ms_min=50, latency_ms_max=150)
    user = make_user(services, telegram_id=700009)
    job = wait_for_job(services, payment_id=make_paid_payment(services, user, make_avatar(services, user))["id"])
    send_text(bot, 700009, "/status")

    status = [t for t in replies(services, 700009, 3, settle_s=0) if t.startswith("Заказ")]
    assert status == [f"Заказ №{job['id']}: готов.\n▓▓▓▓▓▓▓▓▓▓ готово 7 из 7"]


def test_a_duplicated_update_is_answered_once(bot, services) -> None:
    SandboxClient(telegram=bot).telegram.configure(duplicate_updates=2)

    send_text(bot, 700010, "/help")

    [answer] = replies(services, 700010, 1, settle_s=1.5)
    assert answer.startswith("Что я умею:")


def test_a_user_who_blocked_the_bot_is_marked_blocked_and_not_retried(bot, services) -> None:
    SandboxClient(telegram=bot).telegram.block(700011)

    send_text(bot, 700011, "/help")

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (user_row(services, 700011) or {}).get("bot_blocked"):
        time.sleep(0.1)
    assert user_row(services, 700011)["bot_blocked"] is True
    time.sleep(1.5)  # a retry would come after at least a second
    state = SandboxClient(telegram=bot).telegram.state()
    sends = [c for c in state["calls"] if c["method"] == "sendMessage" and c["chat_id"] == 700011]
    assert [c["status"] for c in sends] == [403]
