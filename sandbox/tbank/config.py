"""Knobs of the T-Bank fake (``SANDBOX_TBANK_<KNOB>`` or ``POST /_sandbox/config``); see ``sandbox.tbank.app``."""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.knobs import Knobs


@dataclass(frozen=True)
class TBankFakeConfig(Knobs):
    """The fake's knobs; see ``sandbox.tbank.app`` for what each one does."""

    PROVIDER = "tbank"
    SECRETS = ("password",)

    terminal_key: str = "SandboxTerminal"
    password: str = field(default="sandbox-terminal-password", repr=False)
    two_stage: bool = False
    cash_register: bool = False
    deadline_s: float = 86400.0
    notify_retry_interval_s: float = 0.5
    notify_max_attempts: int = 8
    notify_duplicates: int = 1
    notify_confirmed_first: bool = False
    notify_timeout_s: float = 5.0
    notify_seed: int = 0

    def check(self) -> None:
        if min(self.notify_max_attempts, self.notify_duplicates) < 1:
            raise ValueError("notify_max_attempts and notify_duplicates must be at least 1")
        if min(self.notify_retry_interval_s, self.deadline_s) < 0:
            raise ValueError("delays and deadlines cannot be negative")

    def public_view(self) -> dict[str, object]:
        view = super().public_view()
        del view["password"]  # not even whether it is set: the Token check shows that
        return view


config_from_env = TBankFakeConfig.from_env
