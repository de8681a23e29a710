"""The control API every fake shares, and its one format of fault rules.

``mount_control(app, fake)`` adds, under ``/_sandbox/``:
- ``GET state``: ``fake.snapshot()`` plus ``faults`` (the rules with what remains of each);
- ``POST config``: merge a JSON object of knobs (``fake.configure``); 400 names an unknown or ill-typed knob;
- ``POST reset``: ``fake.reset()`` and every fault rule dropped; knobs back to the start config;
- ``POST fail``: append fault rules, one object or a list of them.

A fault rule makes the next ``times`` matching calls fail, each fake answering in its own wire format::

    {"method": "*", "times": 1, "match": "", "http_status": null, "error_code": null, "body": null}

``method`` is the fake's name for a call (Kie ``createTask``, T-Bank ``Init``, a Bot API method, an S3 HTTP
method) or ``"*"`` for any; ``match`` a substring the request must contain (what each fake looks in is in its
docstring); ``http_status`` the HTTP status to answer (null: the fake's usual one for that error);
``error_code`` the provider's own error code; ``body`` a raw, non-JSON body (a proxy's HTML page) to answer
instead of the provider's error shape.

Telegram's fake also reads (the others refuse nothing but ignore them): ``delay_ms`` — wait that long before
answering (a rule with only a delay answers normally afterwards: a slow provider); ``description`` — the Bot
API's error description instead of the standard one; ``retry_after`` — ``parameters.retry_after``;
``partial`` — ``sendMediaGroup`` delivers its first ``partial`` items, then answers the error (a flood mid-album).
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from flask import Blueprint, Flask, jsonify, request
from flask.typing import ResponseReturnValue

from sandbox.knobs import Knobs

ANY = "*"


@dataclass
class FaultRule:
    method: str
    times: int
    match: str = ""
    http_status: int | None = None
    error_code: str | int | None = None
    body: str | None = None
    remaining: int = 0
    delay_ms: int = 0
    description: str | None = None
    retry_after: int | None = None
    partial: int | None = None

    @property
    def is_delay_only(self) -> bool:
        """Only slows the call down: no status, code, body or description to answer instead."""
        return (self.delay_ms > 0 and self.http_status is None and self.error_code is None and self.body is None
                and self.description is None)


class FaultRules:
    """The fault rules of one fake, thread-safe. ``methods`` are the names a rule may use besides ``"*"``."""

    def __init__(self, methods: Collection[str]) -> None:
        self.methods = tuple(methods)
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def parse(self, raw: Any) -> list[FaultRule]:
        """Rules from JSON (one object or a list); ValueError says what is wrong."""
        items = raw if isinstance(raw, list) else [raw]
        return [self._parse_one(item) for item in items]

    def _parse_one(self, raw: Any) -> FaultRule:
        if not isinstance(raw, dict):
            raise ValueError("a fault rule is a JSON object")
        unknown = sorted(set(raw) - {"method", "times", "match", "http_status", "error_code", "body", "delay_ms",
                                     "description", "retry_after", "partial"})
        if unknown:
            raise ValueError(f"unknown fault rule field(s): {', '.join(unknown)}")
        method, times, match = raw.get("method", ANY), raw.get("times", 1), raw.get("match", "")
        status, code, body = raw.get("http_status"), raw.get("error_code"), raw.get("body")
        if method != ANY and method not in self.methods:
            raise ValueError(f"method must be one of {list(self.methods)} or '*'")
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError("times must be a positive integer")
        if not isinstance(match, str):
            raise ValueError("match must be a string")
        if status is not None and (isinstance(status, bool) or not isinstance(status, int) or
                                   not 100 <= status <= 599):
            raise ValueError("http_status must be an HTTP status (100..599)")
        if code is not None and (isinstance(code, bool) or not isinstance(code, (str, int))):
            raise ValueError("error_code must be a string or an integer")
        if body is not None and not isinstance(body, str):
            raise ValueError("body must be a string")
        extras = {}
        for name in ("delay_ms", "retry_after", "partial"):
            value = raw.get(name)
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"{name} must be a non-negative integer")
                extras[name] = value
        if raw.get("description") is not None:
            if not isinstance(raw["description"], str):
                raise ValueError("description must be a string")
            extras["description"] = raw["description"]
        return FaultRule(method, times, match, status, code, body, remaining=times, **extras)

    def add(self, rules: list[FaultRule]) -> None:
        with self._lock:
            self._rules += rules

    def take(self, method: str, subject: str = "", *, any_method: bool = True) -> FaultRule | None:
        """Spend one hit of the first live rule for ``method`` whose ``match`` is in ``subject``.

        ``any_method=False`` skips ``"*"`` rules (for steps that are not calls, such as a Kie task's outcome).
        """
        with self._lock:
            for rule in self._rules:
                method_ok = rule.method == method or (any_method and rule.method == ANY)
                if rule.remaining > 0 and method_ok and rule.match in subject:
                    rule.remaining -= 1
                    return FaultRule(**{**asdict(rule), "remaining": rule.remaining})
        return None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(rule) for rule in self._rules]


class Fake(Protocol):
    """What ``mount_control`` needs of a fake."""

    faults: FaultRules

    def snapshot(self) -> dict[str, Any]: ...

    def configure(self, changes: dict[str, Any]) -> Knobs: ...

    def reset(self) -> None: ...


def mount_control(app: Flask, fake: Fake) -> Blueprint:
    """Register the shared ``/_sandbox/`` routes on ``app``; returns the blueprint (already registered)."""
    bp = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")

    @bp.get("/state")
    def state() -> ResponseReturnValue:
        return jsonify({**fake.snapshot(), "faults": fake.faults.snapshot()})

    @bp.post("/config")
    def config() -> ResponseReturnValue:
        changes = request.get_json(silent=True)
        if not isinstance(changes, dict):
            return jsonify(error="expected a JSON object of knobs"), 400
        try:
            merged = fake.configure(changes)
        except ValueError as exc:
            return jsonify(error=str(exc)), 400
        return jsonify(config=merged.public_view())

    @bp.post("/reset")
    def reset() -> ResponseReturnValue:
        fake.reset()
        fake.faults.clear()
        return jsonify(ok=True)

    @bp.post("/fail")
    def fail() -> ResponseReturnValue:
        try:
            rules = fake.faults.parse(request.get_json(silent=True))
        except ValueError as exc:
            return jsonify(error=str(exc)), 400
        fake.faults.add(rules)
        return jsonify(faults=fake.faults.snapshot())

    app.register_blueprint(bp)
    return bp
