"""Nothing ends silently: a message that exhausts its retries is a dead letter (payload, error, traceback,
attempts) and an operator's replay processes it (operators' command: python -m workers.replay)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from actors.delivery import notify_admin
from db import alerts, dead_letters
from sandbox.client import SandboxClient
from tests.factories import make_avatar, make_paid_payment, make_user, settings_env
from tests.integration.pipeline_helpers import chat_messages, wait_until
from usecases import dead_letters as letters
from usecases.errors import Refused

pytestmark = pytest.mark.scenario


def _telegram_config(services, **knobs) -> None:
    SandboxClient.from_settings(services.settings).telegram.configure(**knobs)


def test_exhausted_message_is_dead_lettered_and_processed_by_a_replay(services, worker) -> None:
    with services.pool.connection() as conn:
        alert_id = conn.execute(
            "INSERT INTO admin_alerts (kind, message) VALUES ('test', 'Kie balance is low') RETURNING id"
        ).fetchone()["id"]
    _telegram_config(services, server_error_rate=1.0)
    notify_admin.send_with_options(args=(alert_id,), max_retries=2, min_backoff=50, max_backoff=100)

    def dead_letter():
        with services.pool.connection() as conn:
            rows = dead_letters.list_dead_letters(conn)
        return rows[0] if rows else None

    letter = wait_until(dead_letter, what="the dead letter")
    with services.pool.connection() as conn:
        full = dead_letters.get_dead_letter(conn, id=letter["id"])
        alert = alerts.get_alert(conn, id=alert_id)
    assert (full["actor"], full["attempts"], full["payload"]["args"]) == ("notify_admin", 3, [alert_id])
    assert "TelegramError" in full["error"] and "Traceback" in full["traceback"]
    assert alert["sent_at"] is None

    _telegram_config(services, server_error_rate=0.0)
    replay = subprocess.run([sys.executable, "-m", "workers.replay", str(letter["id"])],
                            env=settings_env(services.settings), capture_output=True, text=True, timeout=60)
    assert replay.returncode == 0 and "queued as" in replay.stdout, replay.stderr

    def alert_sent():
        with services.pool.connection() as conn:
            return alerts.get_alert(conn, id=alert_id)["sent_at"]

    wait_until(alert_sent, what="the replayed notification")
    admin_chat = chat_messages(services, services.settings.admin_telegram_chat_id)
    assert [m["text"] for m in admin_chat] == ["⚠️ [error] test: Kie balance is low"]
    with services.pool.connection() as conn:
        assert dead_letters.get_dead_letter(conn, id=letter["id"])["replayed_at"] is not None
        with pytest.raises(Refused) as second:  # a second replay does nothing
            letters.replay(conn, id=letter["id"], known_actors={letter["actor"]})
    assert second.value.code == "ALREADY_REPLAYED"


def test_the_operator_command_finds_a_payment_reads_its_file_and_resolves_a_letter(services) -> None:
    """For when the web is down: the same lookups and actions as /admin, from a shell."""
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user))
    with services.pool.connection() as conn, conn.transaction():
        letter_id = dead_letters.insert_dead_letter(
            conn, message_id="lost-3", actor="send_bot_reply", queue_name="bot", payload={"args": [], "kwargs": {}},
            error="TelegramError: 400", traceback=None, attempts=6)
    env = settings_env(services.settings)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "workers.replay", *args], capture_output=True, text=True,
                              env=env, timeout=60)

    found = run("find", payment["order_id"])
    assert found.returncode == 0 and f"payment\t{payment['id']}" in found.stdout, found.stdout + found.stderr
    file = run("payment", str(payment["id"]))
    assert file.returncode == 0 and "confirmed" in file.stdout and payment["order_id"] in file.stdout
    resolved = run("resolve", str(letter_id), "answered", "by", "hand")
    assert resolved.returncode == 0 and "closed without a replay" in resolved.stdout
    with services.pool.connection() as conn:
        assert dead_letters.get_dead_letter(conn, id=letter_id)["resolution"] == "answered by hand"
    assert run("resolve", str(letter_id), "again").returncode == 1
