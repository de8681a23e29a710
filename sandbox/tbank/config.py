"""Knobs of the T-Bank fake (``SANDBOX_TBANK_<KNOB>`` or ``POST /_sandbox/config``); see ``sandbox.tbank.app``."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.knobs import Knobs, knob


@dataclass(frozen=True)
class TBankFakeConfig(Knobs):
    """The fake's knobs; see ``sandbox.tbank.app`` for what each one does."""

    PROVIDER = "tbank"

    terminal_key: str = "SandboxTerminal"
    password: str = knob("sandbox-terminal-password", secret=True)
    two_stage: bool = False
    cash_register: bool = False
    deadline_s: float = knob(86400.0, low=0)
    notify_retry_interval_s: float = knob(0.5, low=0)
    notify_max_attempts: int = knob(8, low=1)
    notify_duplicates: int = knob(1, low=1)
    notify_confirmed_first: bool = False
    notify_timeout_s: float = 5.0
    notify_seed: int = 0

    def public_view(self) -> dict[str, object]:
        view = super().public_view()
        del view["password"]  # not even whether it is set: the Token check shows that
        return view


config_from_env = TBankFakeConfig.from_env
