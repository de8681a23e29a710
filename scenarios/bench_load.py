"""Parts of ``make bench`` on the fleet at Kie's real limits: T-Bank webhooks at 300/s, a SIGKILLed worker's
messages running again, and the worker processes' memory."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import requests

from sandbox.client import SandboxClient
from sandbox.tbank.bank import sandbox_token
from scenarios import fleet as fleet_procs
from scenarios.bench_buyers import Buyer, pay_all, payment_ids, prepare, ready_and_paid
from scenarios.bench_common import (
    RUN,
    Figure,
    Fleet,
    percentile,
    percentiles_ms,
    process_group_rss_mb,
    progress,
    web_threads,
)


class RssSampler:
    """Samples the RSS of every process of the worker's process group every 2 s while the fleet runs."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.peak: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(2.0):
            pid = fleet_procs.pid_of("worker", run_dir=RUN)
            if pid is None:
                continue
            for child, mb in process_group_rss_mb(pid).items():
                self.peak[child] = max(mb, self.peak.get(child, 0.0))

    def figures(self) -> tuple[list[Figure], dict[str, Any]]:
        self.stop.set()
        self.thread.join(timeout=5)
        worst = max(self.peak.values()) if self.peak else None
        return [Figure("worker_rss_mb", worst, "MB", 150, "<=",
                       "peak RSS (/proc/<pid>/status VmRSS, sampled every 2 s through premium, webhook, crash and "
                       "budget) of each process of the dramatiq worker's group (the parent and its worker "
                       "processes); the largest", "",
                       {"peak_by_pid": {str(k): v for k, v in sorted(self.peak.items())}})], {}


def webhook(fleet: Fleet, seed: int, rate: float = 300, seconds: float = 20) -> tuple[list[Figure], dict[str, Any]]:
    """T-Bank notifications signed as the bank (the fake's own Token rule) at ``rate`` per second: re-sends of
    the notifications the bank already sent for paid orders (what T-Bank does until it reads OK), each verified,
    checked against our record and deduplicated by the web."""
    s = fleet.settings
    sandbox = SandboxClient.from_settings(s)
    payloads = [n["payload"] for n in sandbox.tbank.state()["notifications"] if n.get("payload")]
    if not payloads:
        buyer = Buyer(seed, "starter")
        ready_and_paid(fleet.base, s, [buyer])
        time.sleep(2)
        payloads = [n["payload"] for n in sandbox.tbank.state()["notifications"] if n.get("payload")]
    bodies = []
    for payload in payloads:
        body = {k: v for k, v in payload.items() if k != "Token"}
        body["Token"] = sandbox_token(body, s.tbank_password)
        bodies.append(body)
    url = f"{fleet.base}/webhooks/tbank"
    threads_n = 30
    interval = threads_n / rate
    samples: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start_at = time.perf_counter() + 0.5

    def sender(index: int) -> None:
        http = requests.Session()
        n = 0
        while True:
            due = start_at + index * interval / threads_n + n * interval
            if due - start_at >= seconds:
                return
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            body = bodies[(index + n) % len(bodies)]
            began = time.perf_counter()
            try:
                code = http.post(url, json=body, timeout=10).status_code
            except requests.RequestException:
                code = 599
            elapsed = time.perf_counter() - began
            with lock:
                statuses[code] = statuses.get(code, 0) + 1
                samples.append(elapsed)
            n += 1

    progress(f"webhook: {rate:.0f}/s for {seconds:.0f} s from {threads_n} senders ({len(bodies)} distinct bodies)")
    workers = [threading.Thread(target=sender, args=(i,), daemon=True) for i in range(threads_n)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=seconds + 60)
    wall = time.perf_counter() - start_at
    errors = sum(v for k, v in statuses.items() if k != 200)
    p99 = percentile(samples, 0.99)
    stats = percentiles_ms(samples)
    achieved = round(len(samples) / wall, 1)
    why = ""
    if p99 is not None and p99 * 1000 > 25:
        why = (f"p50 {stats['p50_ms']} ms, p95 {stats['p95_ms']} ms; achieved {achieved}/s of {rate:.0f}/s; "
               f"the sender (30 threads) and the web (2 gunicorn workers × {web_threads()} threads) share 2 cores")
    return [Figure("webhook_p99_ms", None if p99 is None else round(p99 * 1000, 1), "ms", 25, "<=",
                   f"signed T-Bank notifications (re-sends of real ones, Token by the fake's own rule) POSTed to "
                   f"/webhooks/tbank at {rate:.0f}/s for {seconds:.0f} s, open loop from {threads_n} threads; "
                   "latency of each answer", why, {**stats, "achieved_per_s": achieved, "statuses": statuses}),
            Figure("webhook_errors", errors, "", 0, "<=", "answers other than 200 OK in the webhook run", "")], {}


def crash(fleet: Fleet, seed: int) -> tuple[list[Figure], dict[str, Any]]:
    """A Standard order's work held by the worker when its whole process group is SIGKILLed; the worker is
    started again at once (as a supervisor would) and the clock runs until every photo of the job is stored.
    Kie's latency is set to 0 here, so what remains is our own redelivery and restart."""
    s = fleet.settings
    sandbox = SandboxClient.from_settings(s)
    sandbox.kie.configure(latency_ms_min=0, latency_ms_max=0)
    try:
        time.sleep(s.kie_rate_window_s)  # a fresh Kie budget (the parts before used it)
        fleet_procs.stop(["worker"], run_dir=RUN)
        buyer = Buyer(seed, "standard")
        prepare(fleet.base, s, buyer)
        pay_all(s, [buyer])
        if buyer.error:
            raise RuntimeError(buyer.error)
        ids = payment_ids([buyer])
        fleet_procs.start(fleet.env, ["worker"], run_dir=RUN)
        progress("crash: worker started with the order's messages waiting; killing it once it holds them")
        kill_at, stored_at_kill, submitted_at_kill = None, 0, 0
        at_kill: dict[str, int] = {}
        deadline = time.monotonic() + 90
        with fleet.db() as conn:
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT j.id, (SELECT count(*) FROM generation_tasks t WHERE t.job_id = j.id "
                    "AND t.kie_task_id IS NOT NULL), j.photos_stored FROM generation_jobs j WHERE j.payment_id = "
                    "ANY(%s)", (ids,)).fetchone()
                if row and row[1] >= 1:
                    pid = fleet_procs.pid_of("worker", run_dir=RUN)
                    if pid:
                        os.killpg(pid, signal.SIGKILL)
                    kill_at = time.time()
                    submitted_at_kill, stored_at_kill = row[1], row[2]
                    at_kill = dict(conn.execute("SELECT status, count(*) FROM generation_tasks WHERE job_id = %s "
                                                "GROUP BY 1", (row[0],)).fetchall())
                    break
                time.sleep(0.02)
        if kill_at is None:
            raise RuntimeError("the worker never started the job")
        killed = fleet_procs.pid_of("worker", run_dir=RUN)
        while killed and fleet_procs.group_alive(killed):
            time.sleep(0.05)
        (RUN / "worker.pid").unlink(missing_ok=True)
        fleet_procs.start(fleet.env, ["worker"], run_dir=RUN)
        progress(f"crash: killed with {submitted_at_kill} tasks at Kie and {stored_at_kill}/15 photos stored; "
                 "worker restarted")
        done_at, first_move = None, None
        deadline = time.monotonic() + 2 * s.sweep_idle_s + 90  # a task killed in 'submitting' waits 2 × that
        with fleet.db() as conn:
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT j.photos_stored, j.total_photos, extract(epoch FROM (SELECT max(created_at) FROM "
                    "generated_photos p WHERE p.job_id = j.id)), extract(epoch FROM (SELECT min(updated_at) FROM "
                    "generation_tasks t WHERE t.job_id = j.id AND t.updated_at > to_timestamp(%s))) "
                    "FROM generation_jobs j WHERE j.payment_id = ANY(%s)", (kill_at, ids)).fetchone()
                if row and row[3] is not None and first_move is None:
                    first_move = round(float(row[3]) - kill_at, 2)
                if row and row[0] >= row[1]:
                    done_at = float(row[2])
                    break
                time.sleep(0.2)
        value = None if done_at is None else round(done_at - kill_at, 2)
        why = ""
        if (value is None or value > 15) and "submitting" not in at_kill:
            why = (f"tasks by status at the kill: {at_kill}; the job's first task moved again {first_move} s after "
                   "the kill")
        elif value is None or value > 15:
            why = (f"tasks by status at the kill: {at_kill}; the job's first task moved again {first_move} s after "
                   f"the kill. A task killed in 'submitting' (intent recorded, createTask maybe sent) is tried "
                   f"again only when the sweep finds it idle for 2 × SWEEP_IDLE_S = {2 * s.sweep_idle_s} s "
                   f"(usecases/sweeps.py); the redelivered create_kie_task tokens find no pending task. That wait, "
                   f"not the broker's redelivery, sets this time")
        return [Figure("crash_redelivery_s", value, "s", 15, "<=",
                       "a Standard order: the worker's process group SIGKILLed once the job's first task reached Kie "
                       "(its messages held in the worker), restarted at once; kill → the job's last photo stored "
                       "(Kie latency 0, so the time is our redelivery, restart and recovery)", why,
                       {"photos_stored_at_kill": stored_at_kill, "tasks_at_kie_at_kill": submitted_at_kill,
                        "tasks_by_status_at_kill": at_kill, "first_task_moved_after_kill_s": first_move})], {}
    finally:
        sandbox.kie.configure(latency_ms_min=300, latency_ms_max=1200)
