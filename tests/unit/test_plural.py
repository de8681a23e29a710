"""Russian plural forms after a number."""

from __future__ import annotations

import pytest

from rules.plural import counted, plural

FORMS = ("портрет", "портрета", "портретов")


@pytest.mark.parametrize(("n", "expected"), [
    (0, "портретов"), (1, "портрет"), (2, "портрета"), (3, "портрета"), (4, "портрета"), (5, "портретов"),
    (7, "портретов"), (10, "портретов"), (11, "портретов"), (12, "портретов"), (14, "портретов"),
    (15, "портретов"), (20, "портретов"), (21, "портрет"), (22, "портрета"), (23, "портрета"),
    (25, "портретов"), (101, "портрет"), (104, "портрета"), (111, "портретов"), (112, "портретов"),
    (114, "портретов"), (121, "портрет"), (1000, "портретов"), (1001, "портрет"), (1011, "портретов"),
])
def test_plural_picks_the_form_russian_uses_after_the_number(n: int, expected: str) -> None:
    assert plural(n, *FORMS) == expected


def test_plural_ignores_the_sign() -> None:
    assert plural(-1, *FORMS) == "портрет" and plural(-23, *FORMS) == "портрета" and plural(-11, *FORMS) == "портретов"


@pytest.mark.parametrize(("n", "expected"), [
    (1, "1 портрет"), (2, "2 портрета"), (5, "5 портретов"), (11, "11 портретов"), (21, "21 портрет"),
    (22, "22 портрета"), (23, "23 портрета"), (111, "111 портретов"),
])
def test_counted_puts_the_number_before_the_agreeing_noun(n: int, expected: str) -> None:
    assert counted(n, *FORMS) == expected


def test_counted_works_for_other_nouns() -> None:
    assert [counted(n, "заказ", "заказа", "заказов") for n in (1, 3, 12)] == ["1 заказ", "3 заказа", "12 заказов"]
    assert [counted(n, "рубль", "рубля", "рублей") for n in (51, 64, 499)] == ["51 рубль", "64 рубля", "499 рублей"]
