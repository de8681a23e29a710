"""The chaos tally's duplicate texts (scenarios.chaos_checks.duplicate_texts): only sends beyond those meant."""

from __future__ import annotations

from scenarios.chaos_checks import duplicate_texts
from scenarios.chaos_evidence import Evidence

ADMINS = 900


def _evidence(chats: dict[int, list[str]], replies: list[tuple[int, str]]) -> Evidence:
    return Evidence(db={"replies": [{"chat_id": chat, "text": text} for chat, text in replies]}, kie={}, bank={},
                    telegram={"chats": {str(chat): [{"text": t} for t in texts] for chat, texts in chats.items()}},
                    s3_keys=set(), orders=[], observed={}, kills=[], outage=None, referral_percent=10,
                    admin_chat_id=ADMINS)


def test_a_text_sent_twice_but_meant_once_is_one_duplicate() -> None:
    assert duplicate_texts(_evidence({1: ["Оплата получена", "Оплата получена"]}, [(1, "Оплата получена")])) == (1, 2)


def test_two_replies_meant_with_one_text_are_no_duplicate() -> None:
    chats = {1: ["+50 ₽ за приглашение", "+50 ₽ за приглашение", "В вашей галерее 7 портретов"]}
    assert duplicate_texts(_evidence(chats, [(1, "+50 ₽ за приглашение")] * 2)) == (0, 3)


def test_a_summary_twice_is_a_duplicate_and_the_admins_chat_is_left_out() -> None:
    chats = {1: ["В вашей галерее 7 портретов"] * 2, ADMINS: ["kie_key_resting"] * 3}
    assert duplicate_texts(_evidence(chats, [])) == (1, 2)
