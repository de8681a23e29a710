"""The small parts of ``make hosts`` that run without root: the busiest-window count behind its Kie budget check,
and the TCP relay that carries the providers' loopback-only traffic between hosts (here on loopback, real
sockets). ``make hosts`` itself (namespaces, ~3 minutes) is the proof of the rest."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from scenarios.hosts import busiest_window
from tests.conftest import free_port


def test_busiest_window_counts_the_most_starts_in_any_window() -> None:
    assert busiest_window([], 10) == 0
    assert busiest_window([0.0, 1.0, 2.0], 10) == 3
    # 20 in the first 10 s, the 21st exactly 10 s after the first falls in the next window
    times = [i * 0.5 for i in range(20)] + [10.0]
    assert busiest_window(times, 10) == 20
    assert busiest_window([*times, 10.6], 10) == 20
    assert busiest_window([*times[:-1], 9.99], 10) == 21


class _Echo(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 — http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        answer = self.headers["Host"].encode() + b"|" + body
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_relay_passes_bytes_and_the_host_header_unchanged() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = free_port()
    relay = subprocess.Popen([sys.executable, "-m", "scenarios.hosts_relay",
                              f"127.0.0.1:{port}=127.0.0.1:{server.server_port}"], stdout=subprocess.PIPE, text=True)
    try:
        assert relay.stdout is not None and "hosts_relay" in relay.stdout.readline()
        payload = bytes(range(256)) * 1024  # 256 KiB, every byte value
        deadline = time.monotonic() + 10
        answer = requests.post(f"http://127.0.0.1:{port}/x", data=payload, timeout=10)
        assert time.monotonic() < deadline
        assert answer.content == f"127.0.0.1:{port}".encode() + b"|" + payload
    finally:
        relay.terminate()
        relay.wait(timeout=10)
        server.shutdown()
