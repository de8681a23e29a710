"""Every body is bounded before any view or authentication reads it (issue 10, item 2): 40 MiB to each webhook is
refused with 413 ``PAYLOAD_TOO_LARGE``, declared (Content-Length) or streamed (chunked), and the process's memory
stays flat; only the selfie upload keeps its large bound."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port
from tests.factories import settings_env
from web.limits import MAX_BODY_BYTES, MAX_UPLOAD_BYTES, body_limit

WEBHOOKS = ["/webhooks/tbank", "/webhooks/kie?task=1&sig=abc", "/webhooks/telegram"]
ROOT = Path(__file__).resolve().parents[2]
FORTY_MIB = 40 * 1024 * 1024
FLAT_BYTES = 4 * 1024 * 1024  # what reading a bounded body may cost: far below the 40 MiB sent


class JsonFlood(io.RawIOBase):
    """``[{},{},…]`` of ``size`` bytes, produced as it is read (the test itself never holds the body)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = (b"{}," * (n // 3 + 1))[:n]
        self.left -= n
        return n


@pytest.mark.parametrize("path", WEBHOOKS)
def test_forty_mib_declared_to_a_webhook_is_refused_with_flat_memory(client, path) -> None:
    tracemalloc.start()
    try:
        response = client.post(path, content_type="application/json", environ_overrides={
            "wsgi.input": JsonFlood(FORTY_MIB), "CONTENT_LENGTH": str(FORTY_MIB)})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert peak < FLAT_BYTES, f"{peak / 2**20:.1f} MiB allocated"


@pytest.fixture
def gunicorn_web(settings) -> Iterator[tuple[str, int]]:
    """The web as production serves it (gunicorn, one worker process); yields its URL and the worker's pid."""
    port = free_port()
    env = settings_env(settings, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    master = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "web.wsgi:build()", "--bind",
                               f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(url + "/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not come up"
            time.sleep(0.2)
        children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
        yield url, int(children[0])
    finally:
        master.terminate()
        master.wait(timeout=30)


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def flood(url: str, size: int, *, chunked: bool) -> tuple[int, str]:
    """POST ``size`` bytes of ``[{},{},…`` over a raw socket, declared (Content-Length) or chunked; the answer's
    status and error code."""
    host, port = url.removeprefix("http://").split("/", 1)[0].split(":")
    piece = b"{}," * 21845
    frame = hex(len(piece))[2:].encode() + b"\r\n" + piece + b"\r\n" if chunked else piece
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    path = "/" + url.split("/", 3)[3]
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{framing}\r\n"
                     "Content-Type: application/json\r\n\r\n".encode())
        sent = 0
        try:
            while sent < size:
                sock.sendall(frame)
                sent += len(piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed while we were still sending: read its answer
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            data = sock.recv(4096)
            if not data:
                break
            answer += data
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    body = body[body.index(b"{"):body.rindex(b"}") + 1]
    return status, json.loads(body)["error"]["code"]


def test_forty_mib_to_each_webhook_leaves_the_served_worker_flat(gunicorn_web) -> None:
    url, worker_pid = gunicorn_web
    for path in WEBHOOKS:  # warm every route once: imports and first-use caches are not the flood's cost
        requests.post(url + path, json={}, timeout=10)
    before = peak_rss_bytes(worker_pid)

    for path in WEBHOOKS:
        assert flood(url + path, FORTY_MIB, chunked=False) == (413, "PAYLOAD_TOO_LARGE"), path
        assert flood(url + path, FORTY_MIB, chunked=True) == (413, "PAYLOAD_TOO_LARGE"), path

    growth = peak_rss_bytes(worker_pid) - before
    assert growth < FLAT_BYTES, f"peak RSS grew {growth / 2**20:.1f} MiB"


def test_a_json_api_body_over_the_bound_is_refused_before_authentication(client) -> None:
    response = client.post("/api/v1/payments", data=b"{" + b" " * MAX_BODY_BYTES + b"}",
                           content_type="application/json")  # no Authorization at all
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_only_the_selfie_upload_keeps_a_large_bound(app) -> None:
    large = {rule.endpoint for rule in app.url_map.iter_rules() if body_limit(rule.endpoint) > MAX_BODY_BYTES}
    assert large == {"api.references.upload_references"}
    assert body_limit("api.references.upload_references") == MAX_UPLOAD_BYTES
