"""Issue 10 item 18: the Procfile's commands as a Heroku-style platform runs them (``bash -c`` with $PORT and no
PROMETHEUS_MULTIPROC_DIR), with stub ``gunicorn``/``python`` (the worker runs Dramatiq's command line through
``python -m workers.dramatiq_cli``) that print what they were given."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def run_role(role: str, tmp_path: Path, **env: str) -> tuple[list[str], str]:
    stubs = tmp_path / "bin"
    stubs.mkdir(exist_ok=True)
    for name in ("gunicorn", "python"):
        stub = stubs / name
        stub.write_text('#!/bin/sh\necho "ARGV $*"\necho "MULTIPROC ${PROMETHEUS_MULTIPROC_DIR:-}"\n')
        stub.chmod(0o755)
    base = {k: v for k, v in os.environ.items() if k not in ("PORT", "WEB_PORT", "PROMETHEUS_MULTIPROC_DIR")}
    base.update(PATH=f"{stubs}:{os.environ['PATH']}", TMPDIR=str(tmp_path), **env)
    out = subprocess.run(["bash", "-c", procfile()[role]], cwd=ROOT, env=base, capture_output=True, text=True,
                         timeout=20, check=True).stdout
    argv = next(line for line in out.splitlines() if line.startswith("ARGV ")).split()[1:]
    multiproc = next(line for line in out.splitlines() if line.startswith("MULTIPROC")).partition(" ")[2]
    return argv, multiproc


def _bind(argv: list[str]) -> str:
    return argv[argv.index("--bind") + 1]


def test_web_binds_the_platforms_port_else_loopback(tmp_path):
    argv, _ = run_role("web", tmp_path, PORT="5123")
    assert _bind(argv) == "0.0.0.0:5123"
    argv, _ = run_role("web", tmp_path)
    assert _bind(argv) == "127.0.0.1:8000"


def test_hooks_is_the_same_web_app_on_its_own_port(tmp_path):
    argv, _ = run_role("hooks", tmp_path, PORT="5124")
    assert argv[0] == "web.wsgi:build()" and _bind(argv) == "0.0.0.0:5124"
    argv, _ = run_role("hooks", tmp_path)
    assert _bind(argv) == "127.0.0.1:8001" and argv[argv.index("--workers") + 1] == "1"


def test_every_role_gets_a_metrics_directory(tmp_path):
    for role in ("web", "worker"):
        _, multiproc = run_role(role, tmp_path)
        assert multiproc, f"{role}: PROMETHEUS_MULTIPROC_DIR unset: its metrics never reach /metrics"
        assert Path(multiproc).is_dir()
    stale = Path(multiproc) / "counter_999999999.db"  # a dead process's file is dropped at the next boot
    stale.write_bytes(b"")
    live = Path(multiproc) / f"counter_{os.getpid()}.db"
    live.write_bytes(b"")
    run_role("web", tmp_path)
    assert not stale.exists() and live.exists()
    _, given = run_role("web", tmp_path, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "mine"))
    assert given == str(tmp_path / "mine") and (tmp_path / "mine").is_dir()


def test_worker_shutdown_timeout_is_below_the_platforms_30_s(tmp_path):
    argv, _ = run_role("worker", tmp_path)
    assert "--worker-shutdown-timeout" in argv, "Dramatiq's default is 600 s: the platform SIGKILLs at 30 s"
    assert int(argv[argv.index("--worker-shutdown-timeout") + 1]) < 30_000
    assert re.fullmatch(r"\d+", argv[argv.index("--processes") + 1])
    assert argv[:3] == ["-m", "workers.dramatiq_cli", "workers.main"]  # Dramatiq's parent logs JSON too


def test_the_workers_ask_an_idle_queue_again_within_100_ms():
    """Dramatiq's default idle poll (1 s) would add up to a second per hop of the chain; the worker's command line
    sets 100 ms before Dramatiq is imported (it reads the value on import)."""
    probe = ("import sys, workers.dramatiq_cli as cli; assert 'dramatiq' not in sys.modules; cli.set_idle_poll(); "
             "import dramatiq.worker as w; print(w.WORKER_TIMEOUT)")
    env = {k: v for k, v in os.environ.items() if k not in ("dramatiq_worker_timeout", "WORKER_TIMEOUT_MS")}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "100"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={**env, "WORKER_TIMEOUT_MS": "250"},
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.strip() == "250"
