"""Sandbox S3: moto's S3-protocol server on loopback, so boto3 does real HTTP with real signing.

moto's server-mode application answers every S3 call. In front of it sits a thin layer that adds what moto
lacks: the sandbox control API, fault injection, and the expiry of presigned URLs (moto serves a presigned URL
forever; S3 and R2 answer 403 once ``X-Amz-Expires`` has passed, and our code must live with that).

Knobs (start values from ``SANDBOX_S3_<KNOB>``; change them live with ``POST /_sandbox/config``):
- ``latency_ms`` (0): delay added before every S3 request.
- ``error_rate`` (0.0): fraction of S3 requests answered ``503 SlowDown``.
- ``enforce_presign_expiry`` (true): expired presigned URLs get ``403 AccessDenied "Request has expired"``.
- ``down_methods`` (""): a comma list of HTTP methods (``PUT``) answered ``503 SlowDown`` until cleared: an
  outage of, say, writes only, that a test can start and end.
- ``clock_offset_s`` (0.0): how far ahead of the real clock the fake judges expiry, so a test can see a URL
  expire without waiting for it.

Control: the shared ``/_sandbox/`` API (``sandbox.control``) on the same port as S3 (bucket names cannot start
with ``_`` so nothing collides). The state has knobs, counts (requests by method, faults injected, expired URLs
refused), the last 500 requests (method, path, outcome, user agent) and every bucket with its objects (key,
size, content type); reset also empties every bucket (buckets stay: the application expects its bucket to
exist). Fault rules: ``method`` is the HTTP method; ``match`` looks in the path; the answer is S3's XML error
with ``error_code`` (default ``SlowDown``) under ``http_status`` (default 503), or ``body``.
moto's own ``/moto-api/`` stays reachable. moto keeps its data in process-global memory: two S3 fakes started in
one process share buckets and objects (their knobs and counts stay separate).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import flask
from werkzeug.wrappers import Response

from sandbox.control import FaultRules, mount_control
from sandbox.knobs import Knobs, knob, rate
from sandbox.server import ServerHandle, serve

MAX_PRESIGN_EXPIRES_S = 7 * 24 * 3600
METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")


@dataclass(frozen=True)
class S3FakeConfig(Knobs):
    PROVIDER = "s3"

    latency_ms: int = knob(0, low=0)
    error_rate: float = rate()
    enforce_presign_expiry: bool = True
    clock_offset_s: float = 0.0
    down_methods: str = ""  # e.g. "PUT": every such request answers 503 SlowDown until cleared (an outage)


config_from_env = S3FakeConfig.from_env


class S3Fake:
    """The front's state: knobs, counts and the recent requests; thread-safe."""

    def __init__(self, config: S3FakeConfig) -> None:
        self.start_config = config
        self.config = config
        self.counts: Counter[str] = Counter()
        self.requests: deque[dict[str, str]] = deque(maxlen=500)
        self.lock = threading.Lock()
        self.random = random.Random()
        self.faults = FaultRules(METHODS)

    def configure(self, changes: Mapping[str, Any]) -> S3FakeConfig:
        with self.lock:
            self.config = self.config.merged(changes)
            return self.config

    def reset(self) -> None:
        with self.lock:
            self.config = self.start_config
            self.counts.clear()
            self.requests.clear()
        _empty_buckets()

    def intercept(self, environ: Mapping[str, Any]) -> Response | None:
        """The answer that replaces moto's for this request (a fault or an expired URL), or None to pass."""
        method, path = str(environ.get("REQUEST_METHOD", "GET")), str(environ.get("PATH_INFO", ""))
        rule = self.faults.take(method, path)
        with self.lock:
            config = self.config
            random_fault = config.error_rate > 0 and self.random.random() < config.error_rate
            random_fault = random_fault or method in config.down_methods.replace(" ", "").split(",")
        if config.latency_ms:
            time.sleep(config.latency_ms / 1000)
        refusal = None
        outcome = "passed"
        if rule is not None and rule.body is not None:
            refusal, outcome = Response(rule.body, status=rule.http_status or 503, content_type="text/html"), "fault"
        elif rule is not None or random_fault:
            code = str(rule.error_code) if rule is not None and rule.error_code is not None else "SlowDown"
            status = rule.http_status if rule is not None and rule.http_status else 503
            refusal, outcome = _s3_error(status, code, "Please reduce your request rate."), "fault"
        elif config.enforce_presign_expiry:
            now = time.time() + config.clock_offset_s
            refusal = _presign_refusal(str(environ.get("QUERY_STRING", "")), now)
            outcome = "expired" if refusal is not None else outcome
        with self.lock:
            self.counts[f"method_{method}"] += 1
            self.counts["requests"] += 1
            if outcome != "passed":
                self.counts[outcome] += 1
            self.requests.append({"method": method, "path": path, "outcome": outcome,
                                  "user_agent": str(environ.get("HTTP_USER_AGENT", ""))})
        return refusal

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            state: dict[str, Any] = {"config": self.config.public_view(), "counts": dict(self.counts),
                                     "requests": list(self.requests)}
        state["buckets"] = _buckets()
        return state


def create_app(config: S3FakeConfig | None = None) -> flask.Flask:
    """The S3 fake as one WSGI app: ``/_sandbox/*`` is the control API, everything else is S3 (moto)."""
    # Imported here, not at the top: moto is heavy, development-only, and reads settings when imported.
    from moto.server import DomainDispatcherApplication, create_backend_app

    fake = S3Fake(config or S3FakeConfig())
    app = flask.Flask("sandbox.s3")
    app.extensions["fake"] = fake

    mount_control(app, fake)
    control = app.wsgi_app
    moto_app = DomainDispatcherApplication(create_backend_app)

    def front(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if str(environ.get("PATH_INFO", "")).startswith("/_sandbox/"):
            return control(environ, start_response)
        refusal = fake.intercept(environ)
        if refusal is not None:
            return refusal(environ, start_response)
        return moto_app(environ, start_response)

    app.wsgi_app = front  # type: ignore[method-assign]
    return app


def start_s3(port: int = 0, config: S3FakeConfig | None = None) -> ServerHandle:
    """Serve the S3 fake on 127.0.0.1:``port`` (0 = any free port); the handle has .url, .port and .stop()."""
    return serve("s3", create_app(config), port)


def _presign_refusal(query_string: str, now: float) -> Response | None:
    """S3's answer at unix time ``now`` to a presigned request that is expired or malformed; None when it is
    fine or not presigned at all."""
    query = {name: values[0] for name, values in parse_qs(query_string).items()}
    if "X-Amz-Expires" in query:  # SigV4 query signing
        try:
            signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            expires = int(query["X-Amz-Expires"])
        except (KeyError, ValueError):
            return _s3_error(400, "AuthorizationQueryParametersError", "X-Amz-Date or X-Amz-Expires is malformed")
        if not 1 <= expires <= MAX_PRESIGN_EXPIRES_S:
            return _s3_error(400, "AuthorizationQueryParametersError",
                             "X-Amz-Expires must be less than a week (in seconds) that is 604800")
        if now > signed_at.timestamp() + expires:
            return _s3_error(403, "AccessDenied", "Request has expired")
    elif "Signature" in query and "Expires" in query:  # SigV2 query signing: Expires is a unix time
        try:
            deadline = int(query["Expires"])
        except ValueError:
            return _s3_error(400, "AuthorizationQueryParametersError", "Expires is malformed")
        if now > deadline:
            return _s3_error(403, "AccessDenied", "Request has expired")
    return None


def _s3_error(status: int, code: str, message: str) -> Response:
    request_id = f"{random.getrandbits(64):016X}"
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>{request_id}</RequestId></Error>")
    return Response(body, status=status, content_type="application/xml", headers={"x-amz-request-id": request_id})


def _backends() -> list[Any]:
    from moto.s3.models import s3_backends

    return [backend for regions in list(s3_backends.values()) for backend in list(regions.values())]


def _buckets() -> dict[str, list[dict[str, Any]]]:
    buckets: dict[str, list[dict[str, Any]]] = {}
    for backend in _backends():
        for bucket in list(backend.buckets.values()):
            objects = []
            for name, key in list(bucket.keys.items()):
                metadata = getattr(key, "metadata", {})
                objects.append({"key": name, "size": getattr(key, "size", None),
                                "content_type": metadata.get("Content-Type")})
            buckets[bucket.name] = sorted(objects, key=lambda item: item["key"])
    return buckets


def _empty_buckets() -> None:
    for backend in _backends():
        for bucket in list(backend.buckets.values()):
            for name in list(bucket.keys.keys()):
                backend.delete_object(bucket.name, name)
