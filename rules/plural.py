"""Russian plural forms: which of a noun's three forms follows a number ("1 портрет, 2 портрета, 5 портретов").

Russian picks the form by the last two digits: 11–14 always take the "many" form (11 портретов, 111 портретов);
otherwise a last digit of 1 takes "one" (21 портрет), 2–4 take "few" (23 портрета), and the rest "many"
(25 портретов, 20 портретов). The same choice drives agreement: "готов 21 портрет", "готовы 23 портрета".
"""

from __future__ import annotations


def plural(n: int, one: str, few: str, many: str) -> str:
    """The form of a noun that follows the number ``n``: ``one`` (1, 21, 101), ``few`` (2–4, 22–24, 102) or
    ``many`` (0, 5–20, 25–30, 111–114). The sign of ``n`` does not matter."""
    n = abs(n)
    if n % 100 in (11, 12, 13, 14):
        return many
    last = n % 10
    if last == 1:
        return one
    if last in (2, 3, 4):
        return few
    return many


def counted(n: int, one: str, few: str, many: str) -> str:
    """``n`` and the noun in the form that number takes: ``counted(23, "портрет", "портрета", "портретов")`` is
    ``"23 портрета"``."""
    return f"{n} {plural(n, one, few, many)}"
