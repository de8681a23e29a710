"""Photos sent to the bot before the privacy policy is accepted: nothing is stored, and the answer (one per
album) opens the Mini App where it can be accepted."""

from __future__ import annotations

import pytest

from tests.factories import accept_privacy, selfie
from tests.integration.pipeline_helpers import chat_messages
from tests.web.api_helpers import object_keys
from tests.web.test_bot import bot, references, replies, send_photos, user_row  # noqa: F401 — `bot` is a fixture

pytestmark = pytest.mark.usefixtures("worker")


def test_an_album_before_consent_is_not_stored_and_is_answered_once_with_the_app_button(bot, services,  # noqa: F811
                                                                                      settings) -> None:
    send_photos(bot, 700101, [selfie(900 + i) for i in range(3)])

    [answer] = replies(services, 700101, 1, settle_s=1.5)
    assert answer.startswith("Чтобы сохранить ваши фото, нам нужно ваше согласие")
    assert settings.public_url("/privacy") in answer
    [message] = [m for m in chat_messages(services, 700101) if m["method"] == "sendMessage"]
    button = message["reply_markup"]["inline_keyboard"][0][0]
    assert button == {"text": "Открыть PinGlass", "web_app": {"url": settings.public_url("/app/")}}
    assert references(services, 700101) == []
    assert object_keys(settings, "references/") == []
    assert user_row(services, 700101)["draft_avatar_id"] is None


def test_after_consent_the_same_photo_becomes_a_reference(bot, services) -> None:  # noqa: F811
    send_photos(bot, 700102, [selfie(950)], as_album=False)
    assert replies(services, 700102, 1, settle_s=0)[0].startswith("Чтобы сохранить ваши фото")

    accept_privacy(services, user_row(services, 700102))
    send_photos(bot, 700102, [selfie(950)], as_album=False)

    assert replies(services, 700102, 2)[1].startswith("Получено 1 фото, всего 1/15.")
    assert len(references(services, 700102)) == 1
