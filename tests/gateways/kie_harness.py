"""Helpers of the Kie tests: a peer that serves reference images and receives callbacks, and a driver of the
fake (the fixtures that start them are in tests/gateways/conftest.py)."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask, Response, request
from PIL import Image

from gateways.kie import KieClient, KieError, KieTaskInfo
from sandbox.client import SandboxClient
from sandbox.server import ServerHandle

MODEL = "google/nano-banana-edit"
WEBHOOK_KEY = "test-webhook-key"


@dataclass
class Peer:
    """Our side of the wire for the fake to talk to: reference images and a callback receiver."""

    handle: ServerHandle | None = None
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # statuses for the next callbacks, then 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.handle is not None
        return self.handle.url

    def ref(self, name: str) -> str:
        return f"{self.url}/ref/{name}"


def peer_app(peer: Peer) -> Flask:
    app = Flask("kie-test-peer")
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buffer, "PNG")
    png = buffer.getvalue()

    @app.get("/ref/selfie.png")
    def selfie() -> Response:
        return Response(png, mimetype="image/png")

    @app.get("/ref/notes.txt")
    def notes() -> Response:
        return Response("not an image", mimetype="text/plain")

    @app.post("/callback")
    def callback() -> Response:
        with peer.lock:
            status = peer.answers.pop(0) if peer.answers else 200
            peer.callbacks.append({"headers": dict(request.headers), "body": request.get_json(), "answer": status})
        return Response("ok", status=status)

    return app


@dataclass
class Kie:
    url: str
    client: KieClient
    peer: Peer

    def control(self, path: str, body: Any = None) -> Any:
        response = SandboxClient(kie=self.url).kie.post(path, body)
        assert response.status_code == 200, response.text
        return response.json()

    def configure(self, **knobs: Any) -> None:
        self.control("config", knobs)

    def state(self) -> dict[str, Any]:
        return SandboxClient(kie=self.url).kie.state()

    def create(self, key: str = "key-a", prompt: str = "a portrait in a red scarf", **kwargs: Any) -> str:
        kwargs.setdefault("image_urls", [self.peer.ref("selfie.png")])
        kwargs.setdefault("callback_url", None)
        return self.client.create_task(api_key=key, prompt=prompt, **kwargs)

    def wait_terminal(self, task_id: str, key: str = "key-a") -> KieTaskInfo:
        return wait_for(lambda: terminal(self.client.record_info(api_key=key, task_id=task_id)))


def wait_for(probe: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def terminal(info: KieTaskInfo) -> KieTaskInfo | None:
    return info if info.is_terminal else None


def raises(call: Callable[[], Any]) -> KieError:
    with pytest.raises(KieError) as caught:
        call()
    return caught.value


