"""What a buyer reads in the chat after delivery, word for word: the caption, the summary and the refund notice
agree with the number of portraits (1 → "портрет … готов", 21 → "21 портрет", 2 → "2 портрета")."""

from __future__ import annotations

import pytest

from settings import Settings
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import chat_messages, fast_kie, kie_faults, wait_for_job

pytestmark = pytest.mark.scenario
NBSP = "\u00a0"
SUMMARY_TAIL = ". Откройте её или скачайте архив ZIP кнопками ниже."


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The standard tiers plus a one-portrait tier, so a lone photo goes through delivery too."""
    return settings.with_overrides(tiers=settings.tiers + ",single:1:9900")


def _texts(services, telegram_id: int) -> list[tuple[str, str]]:
    """(method, caption or text) of every message in the chat that has words, in order."""
    return [(m["method"], m.get("caption") or m.get("text")) for m in chat_messages(services, telegram_id)
            if m.get("caption") or m.get("text")]


def test_a_lone_portrait_is_announced_in_the_singular(services, worker) -> None:
    fast_kie(services)
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="single")

    job = wait_for_job(services, payment_id=payment["id"])

    assert job["status"] == "delivered"
    assert _texts(services, user["telegram_id"]) == [
        ("sendPhoto", "✨ Ваш AI-портрет готов!"),
        ("sendMessage", "В вашей галерее 1 портрет" + SUMMARY_TAIL)]


def test_premium_missing_two_portraits_says_21_made_and_2_refunded(services, worker) -> None:
    fast_kie(services)
    kie_faults(services, [{"method": "task", "match": "[#6]", "times": 3},
                          {"method": "task", "match": "[#9]", "times": 3}])
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="premium")

    job = wait_for_job(services, payment_id=payment["id"])

    assert (job["status"], job["photos_stored"], job["photos_failed"]) == ("delivered_partial", 21, 2)
    texts = _texts(services, user["telegram_id"])
    assert texts == [
        ("sendMediaGroup", "✨ Первые 10 из 23 AI-портретов готовы — остальные пришлём следом."),
        ("sendMessage", "В вашей галерее 21 портрет" + SUMMARY_TAIL),
        # 149 900 kopecks × 2 / 23, rounded down
        ("sendMessage", f"Не удалось создать 2 портрета из 23. Мы вернули 130,34{NBSP}₽ на вашу карту.")]
