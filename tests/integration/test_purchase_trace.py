"""One correlation id follows a purchase (issue 11, "Logs"): the checkout request's X-Correlation-ID comes back in
its answer, is kept on the payment, and — although T-Bank's notification arrives in another request — rides in
every message of the purchase (consume_payment, create_kie_task, poll_task, store_photo, deliver_album) and
appears on each actor's log line and each provider call's log line (T-Bank Init, Kie createTask and recordInfo,
Telegram's album)."""

from __future__ import annotations

import json
import logging
import threading
import uuid

import pytest
import requests

from sandbox.client import SandboxClient
from telemetry.logs import JsonFormatter
from tests.conftest import tma_header
from tests.factories import make_avatar, make_user
from tests.integration.pipeline_helpers import fast_kie, wait_for_job

pytestmark = pytest.mark.scenario
ACTORS = {"consume_payment", "create_kie_task", "poll_task", "store_photo", "deliver_album"}


class Lines(logging.Handler):
    """The fleet's JSON log lines, as a process would write them (formatted in the emitting thread)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict] = []
        self.guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        line = json.loads(self.format(record))
        with self.guard:
            self.lines.append(line)


@pytest.fixture
def log_lines():
    handler, root = Lines(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def test_one_id_from_the_checkout_to_the_album(services, settings, worker, live_web, log_lines) -> None:
    fast_kie(services)
    user = make_user(services)
    avatar = make_avatar(services, user)
    cid = f"buy-{uuid.uuid4().hex[:16]}"

    answer = requests.post(f"{live_web}/api/v1/payments", timeout=30,
                           headers={**tma_header(settings, user["telegram_id"]), "X-Correlation-ID": cid},
                           json={"avatar_id": avatar["id"], "style_id": "business", "tier": "starter"})
    assert answer.status_code == 201 and answer.headers["X-Correlation-ID"] == cid
    payment = answer.json()
    SandboxClient.from_settings(settings).tbank.pay(payment["provider_payment_id"], "success")  # notifies us
    job = wait_for_job(services, payment_id=payment["payment_id"], timeout_s=90)
    assert job["status"] == "delivered"

    with services.pool.connection() as conn:
        kept = conn.execute("SELECT correlation_id FROM payments WHERE id = %s",
                            (payment["payment_id"],)).fetchone()["correlation_id"]
        carried = {row["actor_name"] for row in conn.execute(
            "SELECT DISTINCT actor_name FROM outbox WHERE correlation_id = %s", (cid,)).fetchall()}
        others = conn.execute("SELECT count(*) AS n FROM outbox WHERE actor_name = ANY(%s) AND "
                              "correlation_id IS DISTINCT FROM %s", (list(ACTORS), cid)).fetchone()["n"]
    assert kept == cid and job["correlation_id"] == cid
    assert ACTORS <= carried, carried
    assert others == 0  # no message of the purchase lost the id

    with log_lines.guard:
        lines = list(log_lines.lines)
    ours = [line for line in lines if line.get("correlation_id") == cid]
    done = {line["actor"] for line in ours if line["event"] == "message_done"}
    calls = {(line["provider"], line["op"]) for line in ours if line["event"] == "provider_call"}
    assert ACTORS <= done, done
    assert {("tbank", "Init"), ("kie", "createTask"), ("kie", "recordInfo")} <= calls, calls
    assert calls & {("telegram", "sendMediaGroup"), ("telegram", "sendPhoto")}, calls
    strays = [line for line in lines if line["event"] == "message_done" and line.get("actor") in ACTORS
              and line.get("correlation_id") != cid]
    assert strays == [], strays[:3]
