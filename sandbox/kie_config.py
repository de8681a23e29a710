"""Knobs of the Kie.ai fake: one frozen dataclass, read from SANDBOX_KIE_* variables or merged from JSON.

The knobs are documented in ``sandbox.kie``. Both sources go through one coercion so that a knob means the
same whether it came from the environment ("0.5", "true", "a,b") or from ``POST /_sandbox/config`` (0.5, true,
["a", "b"]). A bad value raises ValueError naming the knob.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ENV_PREFIX = "SANDBOX_KIE_"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})
_RATES = ("fail_rate", "error_500_rate", "maintenance_455_rate", "http200_error_rate", "callback_drop_rate",
          "callback_duplicate_rate")
_NON_NEGATIVE = ("credits", "rate_limit", "rate_window_s", "record_info_rate_limit", "latency_ms_min",
                 "latency_ms_max", "result_ttl_s", "callback_delay_ms", "callback_retry_ms", "callback_timeout_s",
                 "fetch_timeout_s")


@dataclass(frozen=True)
class KieFakeConfig:
    """Behaviour of the fake; see the ``sandbox.kie`` docstring for what each knob does."""

    api_keys: tuple[str, ...] = ()
    credits: int = 1_000_000
    rate_limit: int = 20
    rate_window_s: float = 10.0
    record_info_rate_limit: int = 10
    retry_after_hint: bool = False
    latency_ms_min: int = 300
    latency_ms_max: int = 1200
    fail_rate: float = 0.0
    error_500_rate: float = 0.0
    maintenance_455_rate: float = 0.0
    http200_error_rate: float = 0.0
    mirror_http_status: bool = False
    result_json_as_object: bool = False
    result_ttl_s: float = 86400.0
    callback_drop_rate: float = 0.0
    callback_duplicate_rate: float = 0.0
    callback_delay_ms: int = 0
    callback_max_attempts: int = 3
    callback_retry_ms: int = 200
    callback_timeout_s: float = 15.0
    webhook_key: str = ""
    fetch_timeout_s: float = 5.0
    loopback_only: bool = True
    public_url: str = ""
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in _RATES:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within 0..1")
        for name in _NON_NEGATIVE:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.latency_ms_min > self.latency_ms_max:
            raise ValueError("latency_ms_min must not exceed latency_ms_max")
        if self.callback_max_attempts < 1:
            raise ValueError("callback_max_attempts must be at least 1")

    def merged(self, changes: Mapping[str, Any]) -> KieFakeConfig:
        """A copy with ``changes`` (JSON values) applied; unknown knobs and bad values raise ValueError."""
        kinds = _field_kinds()
        unknown = sorted(set(changes) - set(kinds))
        if unknown:
            raise ValueError(f"unknown knob(s): {', '.join(unknown)}")
        values = {name: _coerce(name, kinds[name], value) for name, value in changes.items()}
        return dataclasses.replace(self, **values)

    def public_view(self) -> dict[str, Any]:
        """The knobs as JSON, with secrets replaced by what an operator needs to know about them."""
        view = dataclasses.asdict(self)
        view["api_keys"] = len(self.api_keys)
        view["webhook_key"] = bool(self.webhook_key)
        return view


def config_from_env(environ: Mapping[str, str]) -> KieFakeConfig:
    """Knobs from SANDBOX_KIE_<KNOB> variables (e.g. SANDBOX_KIE_RATE_LIMIT=20); unset ones keep defaults."""
    kinds = _field_kinds()
    values: dict[str, Any] = {}
    for name, kind in kinds.items():
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = _coerce(ENV_PREFIX + name.upper(), kind, raw)
    return KieFakeConfig(**values)


def _field_kinds() -> dict[str, str]:
    # Annotations are strings under `from __future__ import annotations`; the kinds below are all we use.
    return {f.name: str(f.type) for f in dataclasses.fields(KieFakeConfig)}


def _coerce(name: str, kind: str, value: Any) -> Any:
    try:
        if kind == "tuple[str, ...]":
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(str(item).strip() for item in items if str(item).strip())
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise ValueError
        if kind == "int | None":
            return None if value is None or value == "" else _to_int(value)
        if kind == "int":
            return _to_int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "str":
            if not isinstance(value, str):
                raise ValueError
            return value
    except (TypeError, ValueError):
        raise ValueError(f"{name} is malformed (expected {kind})") from None
    raise ValueError(f"{name} has an unsupported kind {kind}")


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError
        return int(value)
    return int(value)
