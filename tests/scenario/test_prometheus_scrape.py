"""A real Prometheus (Debian's package) scrapes the web and a worker host (issue 11, "Metrics"): the worker runs
as the Procfile runs it (deploy/launch.sh) with WORKER_METRICS_PORT, so its host serves its own /metrics; a
purchase is made; Prometheus, scraping both with the metrics token, answers a query for jobs by status (the
web's levels) and for the messages the worker host processed (its events). Bounded: 90 s for the job, 60 s for
the scrape."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port
from tests.factories import make_avatar, make_paid_payment, make_user, settings_env
from tests.integration.pipeline_helpers import fast_kie, wait_for_job, wait_until

pytestmark = pytest.mark.scenario
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "scrape-token-for-this-test"


def _query(base: str, promql: str) -> list[dict]:
    answer = requests.get(f"{base}/api/v1/query", params={"query": promql}, timeout=5).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def test_prometheus_scrapes_the_web_and_a_worker_host(services, settings, app, live_web, relay, tmp_path) -> None:
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is missing: deploy/ensure-tools.sh installs Debian's package")
    app.extensions["pinglass"].settings = settings.with_overrides(metrics_token=TOKEN)
    fast_kie(services)
    worker_port, prom_port = free_port(), free_port()
    (tmp_path / "metrics").mkdir()
    env = settings_env(settings, WORKER_PROCESSES="1", WORKER_THREADS="4", WORKER_METRICS_PORT=str(worker_port),
                       METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
                       PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    env.pop("PORT", None)
    (tmp_path / "token").write_text(TOKEN)
    web_target = live_web.removeprefix("http://")
    (tmp_path / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: pinglass-web
    authorization: {{type: Bearer, credentials_file: {tmp_path / 'token'}}}
    static_configs: [{{targets: ["{web_target}"]}}]
  - job_name: pinglass-worker
    authorization: {{type: Bearer, credentials_file: {tmp_path / 'token'}}}
    static_configs: [{{targets: ["127.0.0.1:{worker_port}"]}}]
""")
    worker_log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 — closed with the process
    worker = subprocess.Popen(["bash", "deploy/launch.sh", "worker"], cwd=ROOT, env=env, stdout=worker_log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    prometheus_log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115 — closed with the process
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=prometheus_log, start_new_session=True)
    base = f"http://127.0.0.1:{prom_port}"
    try:
        user = make_user(services)
        payment = make_paid_payment(services, user, make_avatar(services, user), tier="starter")
        assert wait_for_job(services, payment_id=payment["id"], timeout_s=90)["status"] == "delivered"

        delivered = wait_until(lambda: _query(base, 'pinglass_jobs{job="pinglass-web",status="delivered"}'),
                               timeout_s=60, what="Prometheus to scrape jobs by status from the web")
        assert float(delivered[0]["value"][1]) == 1
        processed = wait_until(
            lambda: _query(base, 'sum by (actor) (pinglass_messages_total{job="pinglass-worker",outcome="ok"})'),
            timeout_s=60, what="Prometheus to scrape the worker host's messages")
        actors = {series["metric"]["actor"] for series in processed}
        assert {"consume_payment", "create_kie_task", "deliver_album"} <= actors, actors
        targets = requests.get(f"{base}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        assert {t["labels"]["job"]: t["health"] for t in targets} == {"pinglass-web": "up", "pinglass-worker": "up"}
        anonymous = requests.get(f"http://127.0.0.1:{worker_port}/metrics", timeout=5)
        assert anonymous.status_code == 401 and b"pinglass_" not in anonymous.content
    finally:
        for proc in (worker, prometheus):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in (worker, prometheus):
            try:
                proc.wait(timeout=25)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        worker_log.close()
        prometheus_log.close()
