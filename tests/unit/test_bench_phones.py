"""The 100-people part runs its people on several client processes (``scenarios.bench_people.phones``), each
making the Mini App's calls: every person comes back with the calls it timed and its outcome, and the clients' CPU
seconds are counted. Here the "web" is a real HTTP server that refuses everyone (401), so each person stops at the
home screen's read."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from scenarios import bench_buyers
from scenarios.bench_buyers import Buyer
from scenarios.bench_people import Where, phones
from settings import Settings


class _Refuse(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 — http.server's naming
        body = b'{"error": {"code": "INITDATA_MISSING"}}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_people_on_client_processes_come_back_with_their_calls(monkeypatch) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("BENCH_PEOPLE_PROCESSES", "3")
    bench_buyers.seed_selfies([b"not used: every person stops at the catalog"])
    settings = Settings.from_env({"SANDBOX_MODE": "1"})
    buyers = [Buyer(70_000 + i, "starter") for i in range(7)]
    try:
        before = time.monotonic()
        back, outcomes, cpu_s, started = phones(Where(base, base, settings), buyers)
    finally:
        server.shutdown()
        bench_buyers.seed_selfies([])

    assert [b.telegram_id for b in back] == [b.telegram_id for b in buyers]
    assert all(b.error.startswith("prepare: GET /api/v1/home → 401") for b in back), back
    assert all([(route, status) for route, _, status, _ in b.calls] == [("GET /api/v1/home", 401)] for b in back)
    assert set(outcomes) == {b.telegram_id for b in buyers} and not any(outcomes.values())
    assert cpu_s > 0
    assert before < started < min(at for b in back for *_, at in b.calls) + 0.05  # all ready, then they start
