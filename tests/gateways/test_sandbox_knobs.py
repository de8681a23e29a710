"""The fakes' knobs base: each knob's declared bounds and secrecy hold for every fake, from the environment and
from ``POST /_sandbox/config`` alike."""

from __future__ import annotations

import pytest

from sandbox.kie.config import KieFakeConfig
from sandbox.s3.app import S3FakeConfig
from sandbox.tbank.config import TBankFakeConfig
from sandbox.telegram.state import TelegramFakeConfig


@pytest.mark.parametrize(("config", "changes", "message"), [
    (KieFakeConfig(), {"fail_rate": 1.5}, "fail_rate must be within 0..1"),
    (KieFakeConfig(), {"callback_drop_rate": -0.1}, "callback_drop_rate must be within 0..1"),
    (KieFakeConfig(), {"key_cap": -1}, "key_cap must not be negative"),
    (KieFakeConfig(), {"latency_ms_min": 5, "latency_ms_max": 4}, "latency_ms_min must not exceed latency_ms_max"),
    (TBankFakeConfig(), {"notify_duplicates": 0}, "notify_duplicates must be at least 1"),
    (TBankFakeConfig(), {"deadline_s": -1}, "deadline_s must not be negative"),
    (TelegramFakeConfig(), {"chat_rate_per_s": 0}, "chat_rate_per_s must be positive"),
    (TelegramFakeConfig(), {"webhook_timeout_ms": 0}, "webhook_timeout_ms must be at least 1"),
    (TelegramFakeConfig(), {"lost_answer_rate": 2}, "lost_answer_rate must be within 0..1"),
    (S3FakeConfig(), {"error_rate": 1.01}, "error_rate must be within 0..1"),
])
def test_a_knob_outside_its_bounds_is_refused_by_name(config: object, changes: dict[str, float],
                                                       message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config.merged(changes)  # type: ignore[attr-defined]


def test_bounds_hold_for_the_environment_and_the_edges_are_allowed() -> None:
    with pytest.raises(ValueError, match="SANDBOX_TELEGRAM_.*global_burst must be at least 1"):
        TelegramFakeConfig.from_env({"SANDBOX_TELEGRAM_GLOBAL_BURST": "0"})
    edges = KieFakeConfig().merged({"fail_rate": 1, "error_500_rate": 0, "credits": 0})
    assert (edges.fail_rate, edges.error_500_rate, edges.credits) == (1.0, 0.0, 0)
    assert TelegramFakeConfig().merged({"seed": None}).seed is None  # an optional knob without bounds


def test_secret_knobs_show_only_whether_they_are_set_and_stay_out_of_repr() -> None:
    kie = KieFakeConfig(api_keys=("k-one", "k-two"), webhook_key="hook-secret")
    assert (kie.public_view()["api_keys"], kie.public_view()["webhook_key"]) == (2, True)
    assert "k-one" not in repr(kie) and "hook-secret" not in repr(kie)
    telegram = TelegramFakeConfig()
    assert telegram.public_view()["bot_token"] is True and telegram.bot_token not in repr(telegram)
    assert "password" not in TBankFakeConfig().public_view()
