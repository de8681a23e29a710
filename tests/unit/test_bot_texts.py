"""What the bot says about an album, word for word: numbers agree with their nouns and verbs (rules.plural)."""

from __future__ import annotations

import re

import pytest

from rules.bot_texts import (
    COMMANDS,
    HELP,
    album_caption,
    album_summary,
    first_album_caption,
    references_received,
    refund_notice,
    rubles,
)

NBSP = "\u00a0"


@pytest.mark.parametrize(("photos", "caption"), [
    (1, "✨ Ваш AI-портрет готов!"),
    (7, "✨ Ваши 7 AI-портретов готовы!"),
    (15, "✨ Ваши 15 AI-портретов готовы!"),
    (21, "✨ Ваш 21 AI-портрет готов!"),
    (23, "✨ Ваши 23 AI-портрета готовы!"),
    (111, "✨ Ваши 111 AI-портретов готовы!"),
])
def test_album_caption_agrees_with_the_number_of_portraits(photos: int, caption: str) -> None:
    assert album_caption(photos) == caption


@pytest.mark.parametrize(("ordered", "of"), [
    (11, "из 11 AI-портретов"), (15, "из 15 AI-портретов"), (21, "из 21 AI-портрета"), (23, "из 23 AI-портретов"),
    (31, "из 31 AI-портрета"), (111, "из 111 AI-портретов")])
def test_first_album_caption_names_the_order_in_the_genitive(ordered: int, of: str) -> None:
    assert first_album_caption(10, ordered) == f"✨ Первые 10 {of} готовы — остальные пришлём следом."


@pytest.mark.parametrize(("photos", "count"), [
    (1, "1 портрет"), (7, "7 портретов"), (15, "15 портретов"), (21, "21 портрет"), (23, "23 портрета")])
def test_album_summary_counts_the_portraits_in_the_gallery(photos: int, count: str) -> None:
    assert album_summary(photos) == (f"В вашей галерее {count}. "
                                     "Откройте её или скачайте архив ZIP кнопками ниже.")


@pytest.mark.parametrize(("refunded", "total", "kopecks", "notice"), [
    (1, 23, 6517, "Не удалось создать 1 портрет из 23. Мы вернули 65,17 ₽ на вашу карту."),
    (7, 7, 49900, "Не удалось создать 7 портретов из 7. Мы вернули 499 ₽ на вашу карту."),
    (15, 15, 99900, "Не удалось создать 15 портретов из 15. Мы вернули 999 ₽ на вашу карту."),
    (21, 23, 136865, "Не удалось создать 21 портрет из 23. Мы вернули 1 368,65 ₽ на вашу карту."),
    (23, 23, 149900, "Не удалось создать 23 портрета из 23. Мы вернули 1 499 ₽ на вашу карту."),
])
def test_refund_notice_names_the_portraits_and_the_rubles(refunded: int, total: int, kopecks: int,
                                                         notice: str) -> None:
    # In Telegram an amount never wraps: the spaces inside it are non-breaking.
    assert refund_notice(refunded=refunded, total=total, amount_kopecks=kopecks) == notice.replace(
        "1 368", f"1{NBSP}368").replace("1 499", f"1{NBSP}499").replace(" ₽", f"{NBSP}₽")


def test_rubles_use_a_decimal_comma_and_drop_zero_kopecks() -> None:
    assert [rubles(k) for k in (5, 49900, 6517, 12345678)] == [
        f"0,05{NBSP}₽", f"499{NBSP}₽", f"65,17{NBSP}₽", f"123{NBSP}456,78{NBSP}₽"]


def test_photos_over_the_limit_agree_with_their_verb() -> None:
    one = references_received(added=0, over_limit=1, total=15)
    three = references_received(added=0, over_limit=3, total=15)
    assert "Сверх лимита в 15 фото: 1 — оно не добавлено." in one
    assert "Сверх лимита в 15 фото: 3 — они не добавлены." in three


def test_the_command_menu_lists_exactly_the_commands_help_explains_in_its_words() -> None:
    described = dict(re.findall(r"^/(\w+) — (.+)$", HELP, flags=re.MULTILINE))
    assert [command for command, _ in COMMANDS] == list(described) == ["start", "status", "help"]
    for command, description in COMMANDS:
        expected = HELP.split("\n", 1)[0].rstrip(":") if command == "help" else described[command]
        assert description.lower() == expected.lower()
