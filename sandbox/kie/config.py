"""Knobs of the Kie.ai fake (``SANDBOX_KIE_<KNOB>`` or ``POST /_sandbox/config``); see ``sandbox.kie.app``."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.knobs import Knobs

_RATES = ("fail_rate", "error_500_rate", "http200_error_rate", "callback_drop_rate", "callback_duplicate_rate")
_NON_NEGATIVE = ("credits", "rate_limit", "rate_window_s", "key_cap", "key_cap_window_s", "record_info_rate_limit",
                 "latency_ms_min", "latency_ms_max", "result_ttl_s", "callback_retry_ms", "record_info_unknown_ms")


@dataclass(frozen=True)
class KieFakeConfig(Knobs):
    """Behaviour of the fake; see the ``sandbox.kie.app`` docstring for what each knob does."""

    PROVIDER = "kie"
    SECRETS = ("api_keys", "webhook_key")

    api_keys: tuple[str, ...] = ()
    credits: int = 1_000_000
    rate_limit: int = 20
    rate_window_s: float = 10.0
    # Kie's window is per account: key i of api_keys belongs to account key_accounts[i] (empty: each key is its
    # own account), and keys of one account share rate_limit. A key may also have its own cap: key_cap new tasks
    # per key_cap_window_s (0 = none); over it that key alone answers 433 and makes nothing.
    key_accounts: tuple[str, ...] = ()
    key_cap: int = 0
    key_cap_window_s: float = 3600.0
    # The indexes (into api_keys) of the keys key_cap applies to; empty: every key. One sub-key exhausted while
    # the others work.
    key_cap_keys: tuple[int, ...] = ()
    record_info_rate_limit: int = 10
    retry_after_hint: bool = False
    latency_ms_min: int = 300
    latency_ms_max: int = 1200
    fail_rate: float = 0.0
    error_500_rate: float = 0.0
    http200_error_rate: float = 0.0
    mirror_http_status: bool = False
    result_json_as_object: bool = False
    result_ttl_s: float = 86400.0
    callback_drop_rate: float = 0.0
    callback_duplicate_rate: float = 0.0
    callback_retry_ms: int = 200
    webhook_key: str = ""
    # A task just created is unknown to recordInfo this long (Kie's eventual consistency): 422 "recordInfo is
    # null", or 404 with record_info_unknown_404.
    record_info_unknown_ms: int = 0
    record_info_unknown_404: bool = False

    def check(self) -> None:
        for name in _RATES:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within 0..1")
        for name in _NON_NEGATIVE:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.key_accounts and len(self.key_accounts) != len(self.api_keys):
            raise ValueError("key_accounts must name one account per key of api_keys")
        if any(not 0 <= index < len(self.api_keys) for index in self.key_cap_keys):
            raise ValueError("key_cap_keys must be indexes into api_keys")
        if self.latency_ms_min > self.latency_ms_max:
            raise ValueError("latency_ms_min must not exceed latency_ms_max")


config_from_env = KieFakeConfig.from_env
