"""A worker machine lost mid-job (SIGKILL of a whole `dramatiq` process group): its messages come back and
the job still completes, with no duplicates (I2, I3, I4)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from db import jobs
from db import photos as photo_rows
from tests.factories import make_avatar, make_paid_payment, make_user, settings_env
from tests.integration.pipeline_helpers import albums_in_chat, kie_config, wait_for_job, wait_until

pytestmark = pytest.mark.scenario
ROOT = Path(__file__).resolve().parents[2]


def _start_worker(env: dict[str, str], name: str, log_dir: Path) -> subprocess.Popen:
    log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 — closed with the process
    return subprocess.Popen([str(Path(sys.executable).parent / "dramatiq"), "workers.main", "--processes", "1",
                             "--threads", "6"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def test_sigkilled_worker_mid_job_still_completes_without_duplicates(services, tmp_path, relay) -> None:
    kie_config(services, latency_ms_min=800, latency_ms_max=2000, rate_limit=20,
               rate_window_s=services.settings.kie_rate_window_s)
    env = settings_env(services.settings)
    workers = [_start_worker(env, name, tmp_path) for name in ("worker-a", "worker-b")]
    try:
        user = make_user(services)
        payment = make_paid_payment(services, user, make_avatar(services, user), tier="premium")

        def some_photos_stored():
            with services.pool.connection() as conn:
                job = jobs.get_job_by_payment(conn, payment_id=payment["id"])
            return job if job and job["photos_stored"] >= 4 else None

        job = wait_until(some_photos_stored, timeout_s=60, what="the first photos")
        assert job["photos_stored"] < 23, "the job finished before the kill: the test proves nothing"
        os.killpg(workers[0].pid, signal.SIGKILL)
        killed_at = time.monotonic()

        done = wait_for_job(services, payment_id=payment["id"], timeout_s=120)
        recovery_s = time.monotonic() - killed_at
    finally:
        for proc in workers:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in workers:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    assert done["status"] == "delivered", done
    with services.pool.connection() as conn:
        photos = photo_rows.photos_of_job(conn, job_id=done["id"])
    assert sorted(p["prompt_index"] for p in photos) == list(range(23))
    delivered = [m for album in albums_in_chat(services, user["telegram_id"]) for m in album]
    assert len(delivered) == 23
    assert len({m["photos"][-1]["prompt"] for m in delivered}) == 23
    print(f"job completed {recovery_s:.1f} s after the SIGKILL")
