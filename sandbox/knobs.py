"""A fake's knobs, declared once: a frozen dataclass whose fields (name, type, default) are the knobs.

``Knobs.from_env`` reads ``SANDBOX_<PROVIDER>_<KNOB>`` variables (unset or empty: the default) and
``Knobs.merged`` applies the JSON of ``POST /_sandbox/config``. Both go through one strict coercion, so a knob
means the same whether it came as ``"0.5"``, ``"true"``, ``"a,b"`` or as ``0.5``, ``true``, ``["a", "b"]``; a bad
value or an unknown knob raises ValueError naming the knob (never its value: some knobs are secrets).
A subclass sets ``PROVIDER`` and declares each knob's bounds and secrecy with ``knob`` (``rate`` for a 0..1
fraction), which the base checks on every construction and change; ``check`` is left for rules across knobs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

K = TypeVar("K", bound="Knobs")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclasses.dataclass(frozen=True)
class Knobs:
    """Base of every fake's knobs (subclass it with ``@dataclass(frozen=True)``)."""

    PROVIDER: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            _check_bounds(spec.name, getattr(self, spec.name), spec.metadata)
        self.check()

    def check(self) -> None:
        """Raise ValueError when the knobs do not make sense together (a rate above 1, min above max...)."""

    @classmethod
    def env_prefix(cls) -> str:
        return f"SANDBOX_{cls.PROVIDER.upper()}_"

    @classmethod
    def from_env(cls: type[K], environ: Mapping[str, str]) -> K:
        """The knobs from ``SANDBOX_<PROVIDER>_<KNOB>`` variables; unset or empty ones keep their defaults."""
        prefix, values = cls.env_prefix(), {}
        for name, kind in _kinds(cls).items():
            raw = environ.get(prefix + name.upper())
            if raw is not None and raw.strip() != "":
                values[name] = coerce(f"{prefix}{name.upper()} (knob {name})", kind, raw)
        try:
            return cls(**values)
        except ValueError as exc:
            raise ValueError(f"{prefix}*: {exc}") from None

    def merged(self: K, changes: Mapping[str, Any]) -> K:
        """A copy with ``changes`` (JSON values) applied; ValueError on an unknown knob or a bad value."""
        kinds = _kinds(type(self))
        unknown = sorted(set(changes) - set(kinds))
        if unknown:
            raise ValueError(f"unknown knob(s): {', '.join(unknown)}")
        values = {name: coerce(f"knob {name}", kinds[name], value) for name, value in changes.items()}
        return dataclasses.replace(self, **values)

    def public_view(self) -> dict[str, Any]:
        """The knobs as JSON; a secret shows only whether it is set (a list of keys: how many)."""
        view = dataclasses.asdict(self)
        for spec in dataclasses.fields(self):
            if spec.metadata.get("secret"):
                value = view[spec.name]
                view[spec.name] = len(value) if isinstance(value, (list, tuple)) else bool(value)
        return view


def knob(default: Any, *, low: float | None = None, high: float | None = None, above: float | None = None,
         secret: bool = False) -> Any:
    """A knob's default with what it may be: ``low``/``high`` inclusive, ``above`` exclusive (a rate per second
    of 0 would divide by zero); a ``secret`` stays out of ``repr`` and shows in ``public_view`` only as set or not.
    """
    return dataclasses.field(default=default, repr=not secret,
                             metadata={"low": low, "high": high, "above": above, "secret": secret})


def rate(default: float = 0.0) -> Any:
    """A fraction of calls (0..1) that some fault hits."""
    return knob(default, low=0.0, high=1.0)


def _check_bounds(name: str, value: Any, bounds: Mapping[str, Any]) -> None:
    """ValueError naming the knob (not its value) when ``value`` is outside the bounds ``knob`` declared."""
    if value is None:
        return
    low, high, above = bounds.get("low"), bounds.get("high"), bounds.get("above")
    if low is not None and high is not None and not low <= value <= high:
        raise ValueError(f"{name} must be within {low:g}..{high:g}")
    if low is not None and value < low:
        raise ValueError(f"{name} must not be negative" if low == 0 else f"{name} must be at least {low:g}")
    if above is not None and value <= above:
        raise ValueError(f"{name} must be positive" if above == 0 else f"{name} must be above {above:g}")


def _kinds(cls: type[Knobs]) -> dict[str, str]:
    # Annotations are strings under `from __future__ import annotations`; coerce() knows every kind used.
    return {f.name: str(f.type) for f in dataclasses.fields(cls)}


def coerce(label: str, kind: str, value: Any) -> Any:
    """``value`` (JSON, or an environment string) as a knob of ``kind``; ValueError names ``label``."""
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = value.strip().lower() if isinstance(value, str) else None
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
        elif kind in ("tuple[str, ...]", "tuple[int, ...]"):
            items = value.split(",") if isinstance(value, str) else list(value)
            item_kind = kind[6:9]
            return tuple(coerce(label, item_kind, item.strip() if isinstance(item, str) else item)
                         for item in items if str(item).strip())
        elif kind == "int | None":
            return None if value is None else coerce(label, "int", value)
        elif kind == "int":
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, str):
                return int(value.strip())
        elif kind == "float":
            if isinstance(value, (int, float, str)) and not isinstance(value, bool):
                number = float(value)
                if math.isfinite(number):
                    return number
        elif kind == "str":
            if isinstance(value, str):
                return value
        else:
            raise ValueError(f"{label} has an unsupported kind {kind}")
    except (TypeError, ValueError) as exc:
        if "unsupported kind" in str(exc):
            raise
    raise ValueError(f"{label} must be {kind}")
