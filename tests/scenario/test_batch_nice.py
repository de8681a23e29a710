"""The batch roles yield the cores to the web when they share a host (docs/deploy.md "Sharing a host"): the
Procfile's launcher runs worker, scheduler and uploads at CPU nice BATCH_NICE (default 10, 0 = off) and, leading
their session, lower the session's autogroup weight too; the web runs as it is. The bench's and `make run`'s
fleet launcher does the same, and also for the fakes. Real processes; their nice values read from /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scenarios import fleet
from tests.conftest import free_port
from tests.factories import settings_env

pytestmark = pytest.mark.scenario
ROOT = Path(__file__).resolve().parents[2]
AUTOGROUP = Path("/proc/self/autogroup").exists()


def _nice_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])  # field 19: nice


def _autogroup_nice(pid: int) -> int | None:
    path = Path(f"/proc/{pid}/autogroup")
    return int(path.read_text().split("nice")[1]) if path.exists() else None


def _launched(env: dict[str, str], role: str, tmp_path: Path) -> tuple[int, int | None]:
    """Start ``deploy/launch.sh role`` in its own session as a platform would; its nice values once it runs Python."""
    log = open(tmp_path / f"{role}.log", "wb")  # noqa: SIM115 — closed with the process
    proc = subprocess.Popen(["deploy/launch.sh", role], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while b"python" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes():  # exec'd past bash (and nice)
            assert time.monotonic() < deadline and proc.poll() is None, (tmp_path / f"{role}.log").read_text()
            time.sleep(0.05)
        return _nice_of(proc.pid), _autogroup_nice(proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        log.close()


def test_the_launcher_runs_batch_roles_niced_and_the_web_not(settings, tmp_path) -> None:
    env = settings_env(settings, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                       PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"), WEB_PORT=str(free_port()),
                       UPLOADS_PORT=str(free_port()), BATCH_NICE="7")
    env.pop("PORT", None)
    base = _nice_of(os.getpid())
    group = 7 if AUTOGROUP else None

    assert _launched(env, "scheduler", tmp_path) == (base + 7, group)
    assert _launched(env, "uploads", tmp_path) == (base + 7, group)
    assert _launched(env, "web", tmp_path) == (base, 0 if AUTOGROUP else None)
    assert _launched({**env, "BATCH_NICE": "0"}, "scheduler", tmp_path) == (base, 0 if AUTOGROUP else None)


def test_the_fleet_launcher_nices_workers_and_fakes_not_the_web() -> None:
    by_name = {proc.name: proc for proc in fleet.processes({"SANDBOX_SPLIT": "1"})}
    assert fleet.batch_nice(by_name["worker"], {}) == 10
    assert fleet.batch_nice(by_name["scheduler"], {"BATCH_NICE": "5"}) == 5
    assert fleet.batch_nice(by_name["sandbox-s3"], {}) == 10
    assert fleet.batch_nice(by_name["web"], {}) == 0
    assert fleet.batch_nice(by_name["web"], {"FLEET_BATCH": "1"}) == 10  # the bench's uploads pool
    assert fleet.batch_nice(by_name["worker"], {"BATCH_NICE": "0"}) == 0
