from __future__ import annotations

import pytest

from rules.albums import chunk_album
from rules.catalog import STYLES, parse_tiers, prompt_for
from rules.money import prorated_refund, referral_share
from rules.states import PAYMENT_MOVES, can_move, sources_of


@pytest.mark.parametrize(("count", "sizes"), [(7, [7]), (15, [10, 5]), (23, [10, 10, 3]), (1, [1]), (11, [10, 1]),
                                              (20, [10, 10])])
def test_albums_are_chunked_in_order_by_ten(count: int, sizes: list[int]) -> None:
    chunks = chunk_album(list(range(count)))
    assert [len(c) for c in chunks] == sizes
    assert [x for c in chunks for x in c] == list(range(count))


def test_referral_share_is_ten_percent_rounded_down_in_kopecks() -> None:
    assert referral_share(49900, 10) == 4990
    assert referral_share(99999, 10) == 9999


def test_prorated_refund_never_exceeds_what_is_left() -> None:
    assert prorated_refund(149900, 23, 1) == 6517
    assert prorated_refund(149900, 23, 23) == 149900
    assert prorated_refund(149900, 23, 23, already_refunded=6517) == 149900 - 6517
    assert prorated_refund(100, 3, 1, already_refunded=100) == 0
    total = sum(prorated_refund(149900, 23, 1) for _ in range(23))
    assert total <= 149900


def test_payment_never_moves_backwards() -> None:
    assert can_move(PAYMENT_MOVES, "new", "confirmed")
    assert not can_move(PAYMENT_MOVES, "confirmed", "authorized")
    assert not can_move(PAYMENT_MOVES, "refunded", "confirmed")
    assert "confirmed" not in sources_of(PAYMENT_MOVES, "authorized")


def test_tier_spec_is_parsed_strictly() -> None:
    tiers = parse_tiers("starter:7:49900,standard:15:99900,premium:23:149900")
    assert [(t.photos, t.price_kopecks) for t in tiers.values()] == [(7, 49900), (15, 99900), (23, 149900)]
    for bad in ("starter:7", "x:0:100", "a:1:1,a:2:2", "a:b:c"):
        with pytest.raises(ValueError):
            parse_tiers(bad)


def test_prompts_differ_per_slot_and_are_stable() -> None:
    style = STYLES["business"]
    prompts = [prompt_for(style, i) for i in range(23)]
    assert len(set(prompts)) == 23
    assert prompt_for(style, 4) == prompts[4]
