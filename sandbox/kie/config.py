"""Knobs of the Kie.ai fake (``SANDBOX_KIE_<KNOB>`` or ``POST /_sandbox/config``); see ``sandbox.kie.app``."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.knobs import Knobs, knob, rate


@dataclass(frozen=True)
class KieFakeConfig(Knobs):
    """Behaviour of the fake; see the ``sandbox.kie.app`` docstring for what each knob does."""

    PROVIDER = "kie"

    api_keys: tuple[str, ...] = knob((), secret=True)
    credits: int = knob(1_000_000, low=0)
    rate_limit: int = knob(20, low=0)
    rate_window_s: float = knob(10.0, low=0)
    # Kie's window is per account: key i of api_keys belongs to account key_accounts[i] (empty: each key is its
    # own account), and keys of one account share rate_limit. A key may also have its own cap: key_cap new tasks
    # per key_cap_window_s (0 = none); over it that key alone answers 433 and makes nothing.
    key_accounts: tuple[str, ...] = ()
    key_cap: int = knob(0, low=0)
    key_cap_window_s: float = knob(3600.0, low=0)
    # The indexes (into api_keys) of the keys key_cap applies to; empty: every key. One sub-key exhausted while
    # the others work.
    key_cap_keys: tuple[int, ...] = ()
    record_info_rate_limit: int = knob(10, low=0)
    retry_after_hint: bool = False
    latency_ms_min: int = knob(300, low=0)
    latency_ms_max: int = knob(1200, low=0)
    fail_rate: float = rate()
    error_500_rate: float = rate()
    http200_error_rate: float = rate()
    mirror_http_status: bool = False
    result_json_as_object: bool = False
    result_ttl_s: float = knob(86400.0, low=0)
    callback_drop_rate: float = rate()
    callback_duplicate_rate: float = rate()
    callback_retry_ms: int = knob(200, low=0)
    webhook_key: str = knob("", secret=True)
    # A task just created is unknown to recordInfo this long (Kie's eventual consistency): 422 "recordInfo is
    # null", or 404 with record_info_unknown_404.
    record_info_unknown_ms: int = knob(0, low=0)
    record_info_unknown_404: bool = False
    # A reference URL this fake fetched and found an image less than this many seconds ago (and not expired since)
    # is not fetched again (0: every task fetches every URL, as the real service is assumed to). Only for
    # measuring our fleet: make bench's throughput part sets it, so the fake's own fetches do not set the pace.
    reference_reuse_s: float = knob(0.0, low=0)

    def check(self) -> None:
        if self.key_accounts and len(self.key_accounts) != len(self.api_keys):
            raise ValueError("key_accounts must name one account per key of api_keys")
        if any(not 0 <= index < len(self.api_keys) for index in self.key_cap_keys):
            raise ValueError("key_cap_keys must be indexes into api_keys")
        if self.latency_ms_min > self.latency_ms_max:
            raise ValueError("latency_ms_min must not exceed latency_ms_max")


config_from_env = KieFakeConfig.from_env
