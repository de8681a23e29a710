"""The fleet on RabbitMQ (BROKER=rabbitmq; issue 13, "RabbitMQ for real"): the scheduler and a worker run as the
Procfile runs them (deploy/launch.sh) on the machine's RabbitMQ; a purchase goes through the outbox relay, every
actor and Dramatiq's delayed messages (polls, retries) to its album; the worker is SIGKILLed while it holds work and
another takes over — nothing is lost, nothing done twice (one job, 7 photos, 7 in the chat).

RabbitMQ queues are not namespaced: the test empties the fleet's queues first (on this machine only tests and
`BROKER=rabbitmq make run` use them, never at the same time)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pika
import pytest

from tests.factories import make_avatar, make_paid_payment, make_user, settings_env
from tests.integration.pipeline_helpers import albums_in_chat, kie_config, wait_for_job, wait_until

pytestmark = pytest.mark.scenario
ROOT = Path(__file__).resolve().parents[2]
QUEUES = ("bot", "kie", "kie_poll", "ops", "payments", "storage", "telegram")


def _empty_the_fleets_queues(url: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        for queue in QUEUES:
            for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
                channel = connection.channel()
                try:
                    channel.queue_purge(name)
                except pika.exceptions.ChannelClosedByBroker:  # not declared yet: nothing to empty
                    pass
    finally:
        connection.close()


def _consumers(url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.consumer_count
    finally:
        connection.close()


def _start(role: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    out = open(log, "wb")  # noqa: SIM115 — closed with the process
    return subprocess.Popen(["bash", "deploy/launch.sh", role], cwd=ROOT, env=env, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)


def _kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=25)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_a_purchase_on_rabbitmq_survives_a_killed_worker(services, settings, tmp_path) -> None:
    _empty_the_fleets_queues(settings.rabbitmq_url)
    kie_config(services, latency_ms_min=1500, latency_ms_max=3000)  # the work stays in flight for a while
    (tmp_path / "metrics").mkdir()
    env = settings_env(settings, BROKER="rabbitmq", WORKER_PROCESSES="1", WORKER_THREADS="4",
                       PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
                       PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    env.pop("PORT", None)
    scheduler = _start("scheduler", env, tmp_path / "scheduler.log")
    first = _start("worker", env, tmp_path / "worker-a.log")
    second = None
    try:
        user = make_user(services)
        payment = make_paid_payment(services, user, make_avatar(services, user), tier="starter")

        def some_stored():
            job = wait_for_job(services, payment_id=payment["id"], timeout_s=60,
                               statuses=("generating", "delivering", "delivered", "delivered_partial", "failed"))
            return job if 1 <= job["photos_stored"] < job["total_photos"] else None

        wait_until(some_stored, timeout_s=60, what="the job part made")
        _kill(first)  # no warning: what it held is unacked, RabbitMQ gives it back when the connection drops
        second = _start("worker", env, tmp_path / "worker-b.log")

        job = wait_for_job(services, payment_id=payment["id"], timeout_s=120)
        assert job["status"] == "delivered" and job["photos_stored"] == 7, job
        with services.pool.connection() as conn:
            assert conn.execute("SELECT count(*) AS n FROM generation_jobs").fetchone()["n"] == 1
            photos = conn.execute("SELECT count(*) AS n, count(DISTINCT prompt_index) AS slots FROM generated_photos "
                                  "WHERE job_id = %s", (job["id"],)).fetchone()
        assert photos == {"n": 7, "slots": 7}
        sent = wait_until(lambda: sum(len(a) for a in albums_in_chat(services, user["telegram_id"])) == 7 or None,
                          timeout_s=30, what="the album in the chat")
        assert sent
        assert _consumers(settings.rabbitmq_url, "payments") >= 1, "the worker does not consume from RabbitMQ"
    finally:
        for proc in (first, second, scheduler):
            if proc is not None:
                _kill(proc, signal.SIGTERM)
