"""Starting and stopping the fleet's processes (sandbox, web, worker, scheduler) in the background.

Each process gets its own session (so it and its children stop together), a pid file and a log under
``.run/``. ``stop`` ends exactly the processes recorded there and nothing else.
Usage: ``python -m scenarios.fleet up|down|status``.

``SANDBOX_SPLIT=1`` (opt-in; the bench sets it) runs each fake in its own process (``sandbox-kie``,
``sandbox-tbank``, ``sandbox-telegram``, ``sandbox-s3``: ``python -m sandbox --only <fake>``) instead of one
``sandbox`` process, so the fakes do not share one GIL and a load on one (S3 PUTs, Kie images) does not slow the
others' answers. Unset, the fleet is as it always was.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"
PY = sys.executable
FAKES = ("kie", "tbank", "telegram", "s3")
# Processes that yield the cores to the web's reads (deploy/launch.sh's BATCH_NICE, docs/deploy.md "Sharing a
# host"): the workers and the scheduler, the uploads pool (``FLEET_BATCH=1``), and the fakes, which stand for the
# providers' own machines.
BATCH = ("worker", "scheduler")
WEB_THREADS = "16"  # per gunicorn process unless WEB_THREADS says otherwise, as deploy/launch.sh


@dataclass(frozen=True)
class Proc:
    name: str
    argv: list[str]
    fake: str = ""  # the one sandbox fake this process runs (SANDBOX_SPLIT=1), "" otherwise


def processes(env: Mapping[str, str]) -> list[Proc]:
    port = env.get("WEB_PORT", "8000")
    bin_dir = Path(PY).parent
    return [
        *sandbox_processes(env),
        Proc("web", [str(bin_dir / "gunicorn"), "web.wsgi:build()", "--bind", f"127.0.0.1:{port}",
                     "--workers", env.get("WEB_WORKERS", "2"), "--threads", env.get("WEB_THREADS", WEB_THREADS),
                     "--timeout", "60",
                     "--access-logfile", "-"]),
        Proc("worker", [PY, "-m", "workers.dramatiq_cli", "workers.main",  # as deploy/launch.sh: JSON logs
                        "--processes", env.get("WORKER_PROCESSES", "2"), "--threads", env.get("WORKER_THREADS", "8"),
                        "--worker-shutdown-timeout", env.get("WORKER_SHUTDOWN_TIMEOUT_MS", "20000")]),
        Proc("scheduler", [PY, "-m", "workers.scheduler"]),
    ]


def sandbox_processes(env: Mapping[str, str]) -> list[Proc]:
    """The sandbox as one process, or with ``SANDBOX_SPLIT=1`` one process per fake (each its own GIL)."""
    if env.get("SANDBOX_SPLIT") == "1":
        return [Proc(f"sandbox-{fake}", [PY, "-m", "sandbox", "--only", fake], fake) for fake in FAKES]
    return [Proc("sandbox", [PY, "-m", "sandbox"])]


def start(env: Mapping[str, str], names: list[str] | None = None, *, run_dir: Path = RUN_DIR) -> dict[str, int]:
    """Start the fleet's processes (or only ``names``) with ``env``; pid files and logs go to ``run_dir``."""
    run_dir.mkdir(exist_ok=True)
    env = dict(env)
    if not names:  # a fresh fleet: one metrics directory shared by web and workers, so /metrics shows all
        metrics_dir = run_dir / f"metrics-{env.get('WEB_PORT', '8000')}"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir()
        env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    started: dict[str, int] = {}
    chosen = [proc for proc in processes(env) if not names or proc.name in names]
    fakes = [proc for proc in chosen if proc.name == "sandbox" or proc.fake]
    for proc in chosen:
        if alive(proc.name, run_dir=run_dir):
            raise RuntimeError(f"{proc.name} is already running (pid {pid_of(proc.name, run_dir=run_dir)}): "
                               "run `make down` first")
        log = open(run_dir / f"{proc.name}.log", "ab")  # noqa: SIM115 — the child keeps it open
        nice = batch_nice(proc, env)
        argv = ["nice", "-n", str(nice), *proc.argv] if nice else proc.argv  # nice execs it: the same pid
        child = subprocess.Popen(argv, cwd=ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        if nice:
            yield_session(child.pid, nice)
        (run_dir / f"{proc.name}.pid").write_text(str(child.pid))
        started[proc.name] = child.pid
        if fakes and proc is fakes[-1]:  # every fake answers before the web and workers start
            _wait_sandbox(env, [p.fake for p in fakes if p.fake])
    return started


def batch_nice(proc: Proc, env: Mapping[str, str]) -> int:
    """The CPU nice value ``proc`` runs at: ``BATCH_NICE`` (default 10, 0 = off) for a batch process, else 0."""
    batch = proc.name in BATCH or proc.name == "sandbox" or bool(proc.fake) or env.get("FLEET_BATCH") == "1"
    value = env.get("BATCH_NICE", "10")
    return min(19, int(value)) if batch and value.isdigit() else 0


def yield_session(pid: int, nice: int) -> None:
    """Lower the CPU weight of ``pid``'s session (it leads one: ``start_new_session``). With the kernel's autogroup
    scheduling (``/proc/sys/kernel/sched_autogroup_enabled``) each session shares the cores as one, and a nice
    value ranks a process only within its own: the session's weight is ``/proc/<pid>/autogroup``. Without
    autogroup there is no such file and the process's own nice value does it."""
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(nice))
    except OSError:
        pass


def stop(names: list[str] | None = None, *, timeout_s: float = 15, run_dir: Path = RUN_DIR) -> list[str]:
    """TERM each recorded process group, KILL what is left after ``timeout_s``; returns the names stopped."""
    stopped = []
    order = ["scheduler", "worker", "web", "sandbox", *(f"sandbox-{fake}" for fake in FAKES)]
    for name in order:
        if names and name not in names:
            continue
        pid = pid_of(name, run_dir=run_dir)
        if pid is None:
            continue
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while group_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if group_alive(pid):
            _signal_group(pid, signal.SIGKILL)
            while group_alive(pid) and time.monotonic() < deadline + 5:
                time.sleep(0.1)
        (run_dir / f"{name}.pid").unlink(missing_ok=True)
        stopped.append(name)
    return stopped


def wait_healthy(base_url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base_url}/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the web did not become healthy at {base_url} in {timeout_s} s (see .run/web.log)")


def register_bot(env: Mapping[str, str]) -> list[str]:
    """Run ``python -m workers.telegram_setup`` (webhook, commands, menu button) with ``env``; its report lines.

    Call it once the web is healthy: Telegram (or its fake) may deliver the next update at once."""
    result = subprocess.run([PY, "-m", "workers.telegram_setup"], cwd=ROOT, env=dict(env), capture_output=True,
                            text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"registering the bot at Telegram failed: {result.stderr.strip() or result.stdout}")
    return result.stdout.splitlines()


def dev_login_line(port: str | int) -> str:
    """Where a developer signs in to the Mini App without Telegram (the page exists only in sandbox mode)."""
    return f"run: Mini App (development login): http://127.0.0.1:{port}/app/dev-login"


def _wait_sandbox(env: Mapping[str, str], only: list[str]) -> None:
    """Wait until the fakes answer: all of them, or just ``only`` when they run one per process."""
    selection = ["--only", ",".join(only)] if only else []
    result = subprocess.run([PY, "-m", "sandbox", "--check", "--timeout", "30", *selection], cwd=ROOT,
                            env=dict(env), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"the sandbox did not come up (see its log under .run/): {result.stdout}{result.stderr}")


def pid_of(name: str, *, run_dir: Path = RUN_DIR) -> int | None:
    path = run_dir / f"{name}.pid"
    return int(path.read_text()) if path.exists() else None


def alive(name: str, *, run_dir: Path = RUN_DIR) -> bool:
    pid = pid_of(name, run_dir=run_dir)
    return pid is not None and group_alive(pid)


def group_alive(pid: int) -> bool:
    """Whether any process of the group led by ``pid`` is still running. A leader that is our own child and
    has exited is reaped here first: a zombie still answers signals, and would look alive for ever."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child (started by an earlier `make up`): nothing to reap
    try:
        os.killpg(pid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "status"
    env = dict(os.environ)
    port = env.get("WEB_PORT", "8000")
    if command == "up":
        env.setdefault("SANDBOX_MODE", "1")  # `make up` runs the sandbox fakes: the fleet must know it
        pids = start(env)
        wait_healthy(f"http://127.0.0.1:{port}")
        try:
            registered = register_bot(env)
        except RuntimeError as exc:
            print(f"fleet up, but {exc}\n  the processes keep running: fix it and rerun "
                  "`python -m workers.telegram_setup`, or stop them with `make down`", file=sys.stderr)
            return 1
        print(f"fleet up: {', '.join(f'{n}={p}' for n, p in pids.items())}")
        print(dev_login_line(port))
        print(f"  bot        {'; '.join(registered)}")
        print(f"  web        http://127.0.0.1:{port}  (/health, /metrics, /admin, /api/openapi.json)")
        print("  sandbox    kie http://127.0.0.1:9101  tbank http://127.0.0.1:9102/v2  "
              "telegram http://127.0.0.1:9103  s3 http://127.0.0.1:9104")
        print("  logs       .run/*.log      stop with: make down")
        return 0
    if command == "down":
        stopped = stop()
        print(f"fleet down: stopped {', '.join(stopped) if stopped else 'nothing (none running)'}")
        return 0
    for proc in processes(env):
        print(f"{proc.name:10} {'running pid ' + str(pid_of(proc.name)) if alive(proc.name) else 'stopped'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


def group_pids(pgid: int) -> list[int]:
    """Every live process in process group ``pgid`` (from /proc: the pgrp field of each process's stat)."""
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()  # after the command: state, ppid, pgrp
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid):
            found.append(int(entry))
    return found
