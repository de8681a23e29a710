"""With SENTRY_DSN set, a recorded exception also goes to Sentry through its official SDK (issue 11, "Error
tracking") — here to a Sentry ingest of the test's own on 127.0.0.1 (nothing leaves the machine): the envelope
carries the exception, its source and the correlation id, and no personal data. Without a DSN nothing is sent."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator

import pytest
from flask import Flask, request

from sandbox.server import ServerHandle, serve
from telemetry import sentry
from telemetry.context import bind_correlation_id, reset_correlation_id
from tests.factories import make_user
from usecases.error_groups import record_client_error, record_exception


@pytest.fixture
def ingest() -> Iterator[tuple[ServerHandle, list[dict]]]:
    """Sentry's envelope endpoint as the SDK speaks to it: POST /api/<project>/envelope/ (maybe gzipped)."""
    received: list[dict] = []
    lock = threading.Lock()
    app = Flask("sentry-ingest")

    @app.post("/api/<int:project>/envelope/")
    def envelope(project: int):
        body = request.get_data()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        items = [json.loads(line) for line in body.splitlines() if line.strip().startswith(b"{")]
        with lock:
            received.extend(items)
        return {"id": "0" * 32}

    handle = serve("sentry-ingest", app, port=0)
    yield handle, received
    sentry.stop()
    handle.stop()


def _boom() -> None:
    raise ValueError("the cause, as a test raises it")


def test_a_recorded_exception_goes_to_sentry_when_a_dsn_is_set(services, ingest) -> None:
    handle, received = ingest
    port = handle.server.server_port
    assert sentry.start(f"http://publickey@127.0.0.1:{port}/42", role="worker", environment="sandbox")
    token = bind_correlation_id("sentry-test-cid")
    try:
        _boom()
    except ValueError as exc:
        record_exception(services.pool, source="worker", exc=exc)
    finally:
        reset_correlation_id(token)
    sentry.stop()

    events = [item for item in received if "exception" in item]
    assert len(events) == 1, received
    [value] = events[0]["exception"]["values"]
    assert value["type"] == "ValueError" and "the cause" in value["value"]
    assert events[0]["tags"]["source"] == "worker" and events[0]["tags"]["correlation_id"] == "sentry-test-cid"
    assert "user" not in events[0] and "request" not in events[0]  # no personal data


def test_a_mini_app_error_goes_to_sentry_grouped_as_ours_without_the_person(services, ingest) -> None:
    handle, received = ingest
    assert sentry.start(f"http://publickey@127.0.0.1:{handle.server.server_port}/42", role="web",
                        environment="sandbox")
    user = make_user(services)
    with services.pool.connection() as conn:
        record_client_error(conn, message="TypeError: x is undefined\nmore", where_="#/order/12",
                            stack="at render (app.js:10)", user_id=user["id"])
    sentry.stop()

    [event] = [item for item in received if item.get("message") or item.get("logentry")]
    assert events_text(event).startswith("Mini App: TypeError: x is undefined")
    assert event["tags"]["source"] == "miniapp" and event["tags"]["screen"] == "#/order/12"
    assert event["fingerprint"] == ["miniapp", "TypeError: x is undefined", "#/order/12"]
    assert event["contexts"]["javascript"]["stack"] == "at render (app.js:10)"
    assert str(user["telegram_id"]) not in json.dumps(event) and "(user " not in json.dumps(event)


def events_text(event: dict) -> str:
    return event.get("message") or event["logentry"].get("message") or event["logentry"].get("formatted", "")


def test_without_a_dsn_nothing_is_sent(services, ingest) -> None:
    handle, received = ingest
    assert sentry.start("", role="web", environment="sandbox") is False
    try:
        _boom()
    except ValueError as exc:
        record_exception(services.pool, source="web", exc=exc)
    assert received == []
