"""The processes' own logs are the fleet's JSON lines (issue 11, "Logs"): gunicorn as the Procfile runs it
(deploy/launch.sh web) writes its error log and one ``http_request`` line per request — method, path, status,
duration, the process and the request's correlation id — as JSON, like every other line; and the worker role's
Dramatiq parent process (booting up, shutting down) and its worker processes write nothing but JSON too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port
from tests.factories import settings_env

pytestmark = pytest.mark.scenario
ROOT = Path(__file__).resolve().parents[2]


def launch(role: str, settings, tmp_path: Path, **extra: str) -> tuple[subprocess.Popen, Path]:
    """``deploy/launch.sh ROLE`` as the Procfile runs it, its whole output in ``<role>.log``."""
    (tmp_path / "metrics").mkdir(exist_ok=True)
    env = settings_env(settings, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
                       PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", **extra)
    env.pop("PORT", None)
    log = tmp_path / f"{role}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(["bash", "deploy/launch.sh", role], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    return process, log


def wait_live(base: str, log: Path, headers: dict[str, str] | None = None) -> requests.Response:
    """The launched web's first answer to /health/live (up to a minute; its log's tail when it never comes)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return requests.get(f"{base}/health/live", timeout=2, headers=headers)
        except requests.ConnectionError:
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-2000:]
            time.sleep(0.3)


def test_gunicorn_logs_json_with_the_correlation_id(settings, tmp_path) -> None:
    port = free_port()
    web, log = launch("web", settings, tmp_path, WEB_PORT=str(port), WEB_WORKERS="1")
    try:
        answer = wait_live(f"http://127.0.0.1:{port}", log, {"X-Correlation-ID": "trace-web-logs-1"})
        assert answer.status_code == 200
        time.sleep(0.5)  # the access line is written after the answer
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)

    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON: none is gunicorn's plain text
    assert not [r for r in records if "Control socket" in str(r.get("event"))]  # gunicornc's socket is off
    access = [r for r in records if r.get("event") == "http_request" and r.get("path") == "/health/live"]
    assert access and access[0]["status"] == 200 and access[0]["method"] == "GET", access
    assert access[0]["correlation_id"] == "trace-web-logs-1" and isinstance(access[0]["process"], int)
    assert any(r["logger"] == "gunicorn.error" for r in records)


def test_the_worker_role_logs_json_from_dramatiqs_parent_and_its_workers(settings, tmp_path) -> None:
    worker, log = launch("worker", settings, tmp_path, WORKER_PROCESSES="1", WORKER_THREADS="2",
                         WORKER_SHUTDOWN_TIMEOUT_MS="2000")
    try:
        deadline = time.monotonic() + 60
        while "ready for action" not in log.read_text(errors="replace"):
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-2000:]
            time.sleep(0.3)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)

    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON: none is Dramatiq's plain text
    parent = [r for r in records if r["process"] == worker.pid]  # launch.sh execs: the parent keeps its pid
    assert any("is booting up" in r["event"] for r in parent), parent
    assert any("SIGTERM" in r["event"] for r in parent), parent
    assert any("ready for action" in r["event"] and r["process"] != worker.pid for r in records)
    assert all({"ts", "level", "event", "process"} <= set(r) for r in records)
