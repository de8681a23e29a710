"""`make run`'s client retries what the Mini App retries (issue 10, item 12): a 503 with Retry-After (the
database restarting) or a 429 is tried again; a 4xx that is the caller's fault is not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, jsonify

from sandbox.server import ServerHandle, serve
from scenarios.demo import MiniApp
from settings import Settings


@pytest.fixture
def flaky() -> Iterator[tuple[ServerHandle, list[str]]]:
    seen: list[str] = []
    app = Flask("flaky")

    @app.get("/api/v1/catalog")
    def catalog():
        seen.append("catalog")
        if len(seen) == 1:
            return jsonify({"error": {"code": "DATABASE_UNAVAILABLE"}}), 503, {"Retry-After": "1"}
        if len(seen) == 2:
            return jsonify({"error": {"code": "RATE_LIMITED"}}), 429, {"Retry-After": "0"}
        return jsonify({"tiers": []})

    @app.post("/api/v1/avatars")
    def avatars():
        seen.append("avatars")
        return jsonify({"error": {"code": "INVALID_NAME"}}), 422

    @app.post("/api/v1/avatars/1/references")
    def references():
        seen.append("references")
        if seen.count("references") <= 8:  # more than RETRIES: a queue of selfies, not a fault
            return jsonify({"error": {"code": "UPLOADS_BUSY"}}), 503, {"Retry-After": "0"}
        return jsonify({"added": [{"index": 0}]}), 201

    handle = serve("flaky", app, port=0)
    yield handle, seen
    handle.stop()


def test_transient_answers_are_retried_and_a_refusal_is_not(flaky) -> None:
    handle, seen = flaky
    client = MiniApp(handle.url, Settings(), telegram_id=1)

    assert client.call("GET", "/api/v1/catalog") == {"tiers": []}
    assert seen == ["catalog"] * 3
    with pytest.raises(RuntimeError, match="422"):
        client.call("POST", "/api/v1/avatars", json={})
    assert seen.count("avatars") == 1


def test_a_busy_upload_is_sent_again_past_the_usual_retries(flaky) -> None:
    handle, seen = flaky
    client = MiniApp(handle.url, Settings(), telegram_id=1)
    assert client.call("POST", "/api/v1/avatars/1/references", files=[("files", ("a.jpg", b"x"))])["added"]
    assert seen.count("references") == 9


def test_a_busy_upload_gives_up_when_its_time_is_spent(monkeypatch) -> None:
    """UPLOADS_BUSY is sent again for BUSY_WAIT_S in all (api.js: BUSY_WAIT_MS), not for ever."""
    import scenarios.demo as demo

    seen: list[float] = []
    app = Flask("busy")

    @app.post("/api/v1/avatars/1/references")
    def references():
        seen.append(1.0)
        return jsonify({"error": {"code": "UPLOADS_BUSY"}}), 503, {"Retry-After": "1"}

    handle = serve("busy", app, port=0)
    monkeypatch.setattr(demo, "BUSY_WAIT_S", 2.5)
    try:
        with pytest.raises(RuntimeError, match="503"):
            MiniApp(handle.url, Settings(), telegram_id=1).call(
                "POST", "/api/v1/avatars/1/references", files=[("files", ("a.jpg", b"x"))])
    finally:
        handle.stop()
    assert len(seen) == 3  # at 0, 1 and 2 s; a fourth would wait past 2.5 s
