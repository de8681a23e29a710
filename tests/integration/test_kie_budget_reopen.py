"""The Kie budget is taken again the moment it reopens (issue 13: premium_task_creation_s, kie_budget_utilization):
a slot is dated by Kie's answer, not by the grant plus a guess, so it frees one window after the request can
have arrived; a slot whose token found nothing to claim is given back; and a token that finds the budget full
close to its reopen waits in its thread (a few per process) and takes the slot within a moment of the reopen,
while the rest are deferred to come back just before it. On the real Redis."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid

import pytest

from actors import generation as actor
from runtime.limits import acquire_kie_key, kie_in_flight_s, settle_kie_slot
from runtime.outcomes import Defer

WINDOW_S = 4.0  # longer than KIE_WAIT_IN_THREAD_S: a token can be "far" from the reopen


def take(services, ns: str, slot: str | None = None) -> tuple[int | None, float]:
    return acquire_kie_key(services.redis, key_count=1, limit=1, window_s=WINDOW_S, namespace=ns, slot=slot)


def test_a_settled_slot_frees_a_window_after_the_answer_not_the_grant_plus_the_in_flight_guess(services) -> None:
    ns = f"t-{uuid.uuid4().hex[:8]}"
    assert take(services, ns, "one")[0] == 0
    _, unsettled_wait = take(services, ns)
    settle_kie_slot(services.redis, index=0, slot="one", sent=True, key_count=1, window_s=WINDOW_S, namespace=ns)

    _, settled_wait = take(services, ns)

    assert unsettled_wait > WINDOW_S + kie_in_flight_s(WINDOW_S) - 0.1  # in flight: the cautious guess
    assert WINDOW_S - 0.1 < settled_wait <= WINDOW_S  # answered: one window from the answer


def test_a_slot_nothing_was_sent_on_is_given_back(services) -> None:
    ns = f"t-{uuid.uuid4().hex[:8]}"
    assert take(services, ns, "spare")[0] == 0
    settle_kie_slot(services.redis, index=0, slot="spare", sent=False, key_count=1, window_s=WINDOW_S, namespace=ns)

    assert take(services, ns)[0] == 0


@pytest.fixture
def budget(services):
    """Services with a Kie budget of their own (the settings' limit per WINDOW_S), all taken now and answered at
    once, and when it reopens (monotonic)."""
    mine = dataclasses.replace(services, settings=services.settings.with_overrides(
        broker_namespace=f"t-{uuid.uuid4().hex[:8]}", kie_rate_window_s=WINDOW_S))
    for i in range(mine.settings.kie_rate_limit):
        index, _ = actor._acquire(mine, f"s{i}")
        actor._settle_kie_slot(mine, index, f"s{i}", sent=True)
    return mine, time.monotonic() + WINDOW_S


def test_a_token_close_to_the_reopen_waits_in_its_thread_and_takes_the_slot_at_once(budget) -> None:
    services, reopen = budget
    time.sleep(WINDOW_S - 1.0)  # the reopen is a second away

    key_index = actor._take_kie_slot(services, "waiter")

    assert key_index == 0
    assert -0.05 < time.monotonic() - reopen < 0.2


def test_only_a_few_tokens_per_process_wait_in_a_thread_the_rest_come_back_after_the_reopen(budget) -> None:
    services, _ = budget
    time.sleep(WINDOW_S - 1.0)
    outcomes: list[object] = []

    def token(i: int) -> None:
        try:
            outcomes.append(actor._take_kie_slot(services, f"t{i}"))
        except Defer as deferred:
            outcomes.append(deferred)

    threads = [threading.Thread(target=token, args=(i,)) for i in range(actor.KIE_WAITERS_PER_PROCESS + 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    granted = [o for o in outcomes if o == 0]
    deferred = [o for o in outcomes if isinstance(o, Defer)]
    assert len(granted) == actor.KIE_WAITERS_PER_PROCESS and len(deferred) == 2
    # deferred to just after the reopen (a second away), not a whole window
    assert all(0.5 < d.delay_ms / 1000 <= 1.0 + actor.KIE_AFTER_REOPEN_JITTER_MS / 1000 for d in deferred)


def test_a_token_far_from_the_reopen_is_deferred_to_come_back_just_before_it(budget) -> None:
    services, reopen = budget
    with pytest.raises(Defer) as deferred:
        actor._take_kie_slot(services, "early")

    back_in_s = deferred.value.delay_ms / 1000
    early_s = reopen - time.monotonic() - actor.KIE_COME_BACK_EARLY_S
    assert early_s - 0.2 < back_in_s <= early_s + 0.2


def test_any_token_waits_a_moment_for_a_slot_about_to_reopen(budget) -> None:
    services, reopen = budget
    holders = [threading.Thread(target=actor._take_kie_slot, args=(services, f"h{i}"))
               for i in range(actor.KIE_WAITERS_PER_PROCESS)]
    time.sleep(WINDOW_S - 1.0)
    for holder in holders:  # every thread-wait permit of this process is taken until the reopen
        holder.start()
    time.sleep(max(0.0, reopen - time.monotonic() - actor.KIE_MOMENT_S / 2))

    # the whole budget reopens a moment from now: this token waits for it rather than take the delay queue
    key_index = actor._take_kie_slot(services, "moment")

    assert key_index == 0
    assert time.monotonic() - reopen < 0.2
    for holder in holders:
        holder.join(timeout=10)
