"""A database restart under API load (issue 10, item 12), on a PostgreSQL server of this test's own (initdb on a
free port, never the shared one): while the server is down every request is answered 503 DATABASE_UNAVAILABLE with
Retry-After — not 500 INTERNAL, not a hang — and once it is back no request fails, although every pooled
connection broke (the pool checks each connection as it hands it out)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import dramatiq
import psycopg

import runtime
from db.migrate import migrate_up
from settings import Settings
from tests.conftest import tma_header
from tests.own_postgres import OwnPostgres
from web import create_app
from workers.boot import WEB_POOL_TIMEOUT_S


def test_restart_answers_503_then_nothing_fails(own_postgres: OwnPostgres, settings: Settings,
                                               broker: dramatiq.Broker) -> None:
    migrate_up(own_postgres.url)
    ours = settings.with_overrides(database_url=own_postgres.url)
    services = runtime.build(ours, pool_size=6, pool_timeout_s=WEB_POOL_TIMEOUT_S)
    try:
        client = create_app(ours, services=services, broker=broker).test_client()
        users = [tma_header(ours, 7_100_000 + i) for i in range(6)]

        def get(header: dict[str, str]) -> tuple[int, str | None, str | None]:
            response = client.get("/api/v1/me", headers=header)
            code = response.get_json().get("error", {}).get("code") if response.status_code >= 400 else None
            return response.status_code, code, response.headers.get("Retry-After")

        with ThreadPoolExecutor(6) as threads:
            # warm: six concurrent requests leave the pool holding several connections
            assert {r[0] for r in threads.map(get, users)} == {200}
            assert services.pool.get_stats()["pool_size"] >= 2

            own_postgres.stop()  # every pooled connection is now broken
            started = time.monotonic()
            down = list(threads.map(get, users))
            assert all(r == (503, "DATABASE_UNAVAILABLE", "2") for r in down), down
            assert time.monotonic() - started < 10  # bounded by the pool timeout, not hung
            # every route, not only the API: a webhook's sender (Telegram here) retries a 503
            update = client.post("/webhooks/telegram", json={"update_id": 1, "message": {"text": "hi"}},
                                 headers={"X-Telegram-Bot-Api-Secret-Token": ours.telegram_webhook_secret})
            assert (update.status_code, update.get_json()["error"]["code"]) == (503, "DATABASE_UNAVAILABLE")

            own_postgres.start()
            # nothing fails once it is back: the checked-out connections are replaced, not handed to requests
            back = [r for _ in range(3) for r in threads.map(get, users)]
            assert [r for r in back if r[0] != 200] == []
        with psycopg.connect(own_postgres.url) as conn:  # the rows the API wrote are there
            assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 6
    finally:
        services.close()
