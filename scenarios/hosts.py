"""``make hosts``: the fleet on four hosts — network namespaces on this machine (``scenarios.hosts_net``) — and
what that shows, checked with numbers.

- data host (10.77.0.2): a PostgreSQL of its own (initdb, listening on 10.77.0.2 only), a Redis of its own, the
  sandbox fakes (``scenarios.hosts_sandbox``) and Prometheus;
- web host (10.77.0.3): ``deploy/launch.sh release`` (migrations), then ``deploy/launch.sh web``;
- worker hosts (10.77.0.4, 10.77.0.5): ``deploy/launch.sh worker`` with ``WORKER_METRICS_PORT`` (each host's
  /metrics on its own address), and ``deploy/launch.sh scheduler`` on the first.

Each host has its own ``TMPDIR`` (so its own ``PROMETHEUS_MULTIPROC_DIR``), as separate machines would. The
driver (this process, in the root namespace at 10.77.0.1) acts as the Mini App user and the payer
(``scenarios.demo.buy``) over the virtual links, then:

1. shared Kie budget — Premium orders at once; the tasks each worker host created (its log's
   ``kie_task_created`` lines), 429s at the Kie fake, the most tasks created in any 10 s window;
2. a worker host killed — mid-run every process in worker2's namespace is SIGKILLed at once and its link goes
   down; what it held comes back (Redis's ack sets), worker1 finishes, and the chaos run's invariant checks
   (``scenarios.chaos_checks``) judge the database against the fakes' own records;
3. Prometheus on the data host scrapes the web and both worker hosts; ``up`` per target and jobs by status.

Providers across hosts: the Kie fake contacts only loopback URLs and the Telegram fake takes a plain-HTTP webhook
only on 127.0.0.1, so relays (``scenarios.hosts_relay``) give each host a loopback S3 endpoint and the data host a
loopback ingress to the web. ``HOSTS_KEEP=1`` leaves the hosts running for a post-mortem
(``python -m scenarios.hosts_net down`` removes them).

Bounded (``HOSTS_BUDGET_S``, default 280 s; then SIGALRM ends the run) and self-stopping;
``scenarios.hosts_net.teardown`` runs at the start (whatever a dead run left) and in a ``finally``. Writes
``bench/results/hosts-latest.{json,md}``; exits 0 only if every check passed, its last line ``hosts: ok …`` or
``hosts: FAILED …``. Needs root (``ip netns``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis
import requests

from sandbox import runner
from sandbox.client import SandboxClient
from scenarios import chaos_checks, chaos_evidence, fleet, hosts_load
from scenarios.chaos_checks import Check
from scenarios.chaos_faults import Unacked
from scenarios.demo import Purchase, albums_in_chat, buy
from scenarios.hosts_net import (
    DATA,
    HOSTS,
    WEB,
    WORKER1,
    WORKER2,
    Host,
    addresses,
    in_host,
    kill_host,
    link_down,
    listeners,
    pids,
    setup,
    teardown,
)
from settings import Settings

ROOT = fleet.ROOT
RUN_DIR = ROOT / ".run" / "hosts"
RESULTS = ROOT / "bench" / "results"
PG_ROOT = Path("/tmp/pinglass-hosts-pg")  # the postgres user must reach it; removed at start and at the end
PG_BIN = "/usr/lib/postgresql/15/bin"
WEB_PORT = 8000
WORKER_PROCESSES = 2  # per worker host, as deploy/launch.sh's default
S3_PORT = 9104
METRICS_PORT = 9191
PROMETHEUS_PORT = 9090
SCRAPE_S = 2
IDLE_SAMPLE_S = 5.0
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NAMESPACE = "pinglass-hosts"
KILLED = WORKER2  # the worker host without the scheduler (see docs/scaling.md)
# (tier, photos, albums, rail)
BUDGET_ORDERS = (("premium", 23, [10, 10, 3], "card"),) * 3
KILL_ORDERS = (("premium", 23, [10, 10, 3], "card"), ("premium", 23, [10, 10, 3], "card"),
               ("standard", 15, [10, 5], "stars"), ("starter", 7, [7], "card"))
# worker2 is killed once it created KILL_AFTER_TASKS of phase 2's tasks, KILL_AFTER_PHOTOS of the phase's photos
# are stored and it holds KILL_HOLDING messages (or after KILL_WAIT_S)
KILL_AFTER_TASKS, KILL_AFTER_PHOTOS, KILL_HOLDING = 5, 1, 3
KILL_WAIT_S = 45.0
ACTOR_LOG = '"logger": "actors.generation"'  # its kie_task_created / photo_stored: one line per row recorded


def say(line: str) -> None:
    print(line, flush=True)


@dataclass
class Run:
    """The processes started in the hosts and the numbers gathered."""

    deadline: float
    token: str = field(default_factory=lambda: secrets.token_hex(24), repr=False)
    procs: list[tuple[Host, str, subprocess.Popen[bytes]]] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    worker_ids: dict[str, set[bytes]] = field(default_factory=dict)  # Dramatiq worker ids per worker host

    def left_s(self) -> float:
        return self.deadline - time.monotonic()


def fleet_env(token: str) -> dict[str, str]:
    """What every process of the fleet reads (the same on every host, as a platform's shared config would be)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "PROMETHEUS_MULTIPROC_DIR")}
    data = DATA.address
    env.update({
        "SANDBOX_MODE": "1", "BROKER": "redis", "BROKER_NAMESPACE": NAMESPACE,
        "DATABASE_URL": f"postgresql://postgres@{data}:5432/pinglass", "REDIS_URL": f"redis://{data}:6379/0",
        "KIE_BASE_URL": f"http://{data}:9101", "TBANK_BASE_URL": f"http://{data}:9102/v2",
        "TELEGRAM_API_BASE": f"http://{data}:9103", "S3_ENDPOINT_URL": f"http://{data}:9104",
        "PUBLIC_BASE_URL": f"http://{WEB.address}:{WEB_PORT}", "WEB_PORT": str(WEB_PORT),
        "METRICS_TOKEN": token, "WORKER_PROCESSES": str(WORKER_PROCESSES), "WORKER_THREADS": "8",
        "SWEEP_IDLE_S": "20",
        # Kie takes 2–6 s per portrait: work is in flight on both hosts when one dies
        "SANDBOX_KIE_LATENCY_MS_MIN": "2000", "SANDBOX_KIE_LATENCY_MS_MAX": "6000",
        # The fleet's Kie window a little longer than Kie's own 10 s: a slot taken in Redis reaches Kie a few
        # hundred ms later under load, and a window exactly as long as Kie's then lets a 21st task arrive within
        # Kie's 10 s (docs/scaling.md: measured 18 × 429 with 10 s on this machine).
        "KIE_RATE_WINDOW_S": os.environ.get("KIE_RATE_WINDOW_S", "10.5"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def app_env(env: dict[str, str]) -> dict[str, str]:
    """The web's, workers' and scheduler's: S3 and the public base URL on loopback, where a relay on each host
    (scenarios.hosts_relay) passes to the data host or the web — the Kie fake contacts only loopback URLs."""
    return {**env, "S3_ENDPOINT_URL": f"http://127.0.0.1:{S3_PORT}", "PUBLIC_BASE_URL": f"http://127.0.0.1:{WEB_PORT}"}


def host_env(env: dict[str, str], host: Host) -> dict[str, str]:
    tmp = RUN_DIR / f"{host.name}-tmp"  # the host's own TMPDIR: its own PROMETHEUS_MULTIPROC_DIR (launch.sh)
    tmp.mkdir(parents=True, exist_ok=True)
    return {**env, "TMPDIR": str(tmp)}


def launch(run: Run, host: Host, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = open(RUN_DIR / f"{host.name}-{name}.log", "ab")  # noqa: SIM115 — the child keeps it open
    proc = subprocess.Popen(in_host(host, *argv), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    run.procs.append((host, name, proc))
    return proc


def wait_for(what: str, ready: Any, timeout_s: float, interval_s: float = 0.3) -> float:
    """Poll ``ready()`` until true; the seconds it took. Raises if ``timeout_s`` runs out."""
    started = time.monotonic()
    while True:
        try:
            if ready():
                return time.monotonic() - started
        except (requests.RequestException, redis.RedisError, psycopg.Error, OSError):
            pass
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"{what} not ready in {timeout_s:.0f} s (logs in {RUN_DIR})")
        time.sleep(interval_s)


# ---- the data host ---------------------------------------------------------------------------------------------

def start_postgres() -> None:
    shutil.rmtree(PG_ROOT, ignore_errors=True)
    PG_ROOT.mkdir(mode=0o700)
    shutil.chown(PG_ROOT, "postgres")
    as_postgres = ["runuser", "-u", "postgres", "--"]
    data = PG_ROOT / "data"
    subprocess.run([*as_postgres, f"{PG_BIN}/initdb", "-D", str(data), "-A", "trust", "-U", "postgres",
                    "--no-sync", "-E", "UTF8"], check=True, capture_output=True, timeout=120)
    with open(data / "pg_hba.conf", "a") as hba:
        hba.write(f"host all all {DATA.address.rsplit('.', 1)[0]}.0/24 trust\n")  # the private subnet only
    options = (f"-p 5432 -k {PG_ROOT} -c listen_addresses={DATA.address} -c max_connections=200 "
               "-c fsync=off -c full_page_writes=off -c synchronous_commit=off")
    subprocess.run(in_host(DATA, *as_postgres, f"{PG_BIN}/pg_ctl", "-D", str(data), "-l", str(PG_ROOT / "log"),
                           "-w", "-t", "60", "-o", options, "start"), check=True, capture_output=True, timeout=90)


def start_data_host(run: Run, env: dict[str, str], settings: Settings) -> dict[str, float]:
    took: dict[str, float] = {}
    started = time.monotonic()
    start_postgres()
    took["postgres_s"] = round(time.monotonic() - started, 1)
    launch(run, DATA, "redis", ["redis-server", "--bind", DATA.address, "--port", "6379", "--save", "",
                                "--appendonly", "no", "--protected-mode", "no", "--dir", str(RUN_DIR)], env)
    cache = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    took["redis_s"] = round(wait_for("redis", cache.ping, 30), 1)
    sandbox_env = {**host_env(env, DATA), "LOG_LEVEL": "WARNING"}
    launch(run, DATA, "sandbox", [sys.executable, "-m", "scenarios.hosts_sandbox", DATA.address], sandbox_env)
    missing = runner.check(settings, timeout_s=60)
    if missing:
        raise RuntimeError(f"the sandbox fakes {missing} did not answer (see {RUN_DIR}/data-sandbox.log)")
    launch(run, DATA, "relay", [sys.executable, "-m", "scenarios.hosts_relay",
                                f"127.0.0.1:{WEB_PORT}={WEB.address}:{WEB_PORT}",
                                f"127.0.0.1:{S3_PORT}={DATA.address}:{S3_PORT}"], env)
    token_file = RUN_DIR / "metrics-token"
    token_file.write_text(run.token)
    token_file.chmod(0o600)
    targets = {"pinglass-web": [f"{WEB.address}:{WEB_PORT}"],
               "pinglass-worker": [f"{h.address}:{METRICS_PORT}" for h in (WORKER1, WORKER2)]}
    config = {"global": {"scrape_interval": f"{SCRAPE_S}s", "scrape_timeout": f"{SCRAPE_S}s"},
              "scrape_configs": [{"job_name": job, "metrics_path": "/metrics",
                                  "authorization": {"type": "Bearer", "credentials_file": str(token_file)},
                                  "static_configs": [{"targets": hosts}]} for job, hosts in targets.items()]}
    (RUN_DIR / "prometheus.yml").write_text(json.dumps(config, indent=2))  # JSON is YAML
    launch(run, DATA, "prometheus", ["prometheus", f"--config.file={RUN_DIR / 'prometheus.yml'}",
                                     f"--storage.tsdb.path={RUN_DIR / 'prometheus-data'}",
                                     f"--web.listen-address={DATA.address}:{PROMETHEUS_PORT}", "--log.level=warn"],
           env)
    return took


# ---- the fleet's hosts -----------------------------------------------------------------------------------------

def start_fleet(run: Run, shared: dict[str, str], settings: Settings) -> None:
    env = app_env(shared)
    for host in (WEB, WORKER1, WORKER2):
        launch(run, host, "relay", [sys.executable, "-m", "scenarios.hosts_relay",
                                    f"127.0.0.1:{S3_PORT}={DATA.address}:{S3_PORT}"], shared)
    release = subprocess.run(in_host(WEB, "bash", "deploy/launch.sh", "release"), cwd=ROOT, env=host_env(env, WEB),
                             capture_output=True, text=True, timeout=120)
    if release.returncode != 0:
        raise RuntimeError(f"release (migrations) failed: {release.stderr[-500:]}")
    launch(run, WEB, "web", ["bash", "deploy/launch.sh", "web"], {**host_env(env, WEB), "PORT": str(WEB_PORT)})
    fleet.wait_healthy(f"http://{WEB.address}:{WEB_PORT}", timeout_s=90)
    for host in (WORKER1, WORKER2):
        worker_env = {**host_env(env, host), "WORKER_METRICS_PORT": str(METRICS_PORT),
                      "WORKER_METRICS_HOST": host.address}
        launch(run, host, "worker", ["bash", "deploy/launch.sh", "worker"], worker_env)
    launch(run, WORKER1, "scheduler", ["bash", "deploy/launch.sh", "scheduler"], host_env(env, WORKER1))
    wait_for(f"{WORKER_PROCESSES} worker processes fetching on each worker host",
             lambda: all(len(ids) >= WORKER_PROCESSES for ids in fetchers(run, settings).values()), 90, 1.0)
    run.results["worker_processes_fetching"] = {host: len(ids) for host, ids in run.worker_ids.items()}
    for host in (WORKER1, WORKER2):
        url = f"http://{host.address}:{METRICS_PORT}/metrics"
        wait_for(f"{host.name}'s /metrics", lambda url=url: requests.get(
            url, headers={"Authorization": f"Bearer {run.token}"}, timeout=2).status_code == 200, 30)
    # the webhook at PUBLIC_BASE_URL: the Telegram fake calls it on the data host, whose relay is the ingress
    run.results["bot"] = fleet.register_bot(env)


def fetchers(run: Run, settings: Settings, seconds: float = 2.0) -> dict[str, set[bytes]]:
    """Which Dramatiq worker ids fetch from which worker host: Redis's MONITOR shows each command's client
    address, and a fetch carries its worker's id (Dramatiq's dispatch script: command, timestamp, queue,
    worker id, ...). Stored in ``run.worker_ids``."""
    by_address = {h.address: h.name for h in (WORKER1, WORKER2)}
    found: dict[str, set[bytes]] = {h.name: set() for h in (WORKER1, WORKER2)}
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=seconds + 1)
    deadline = time.monotonic() + seconds
    with client.monitor() as monitor:
        while time.monotonic() < deadline:
            try:
                command = monitor.next_command()
            except redis.TimeoutError:
                break
            host = by_address.get(str(command.get("client_address", "")))
            text = str(command.get("command", ""))
            if host and f" {NAMESPACE} fetch " in f" {text} ":
                found[host].update(w.encode() for w in UUID.findall(text))
    run.worker_ids = found
    return found


# ---- evidence --------------------------------------------------------------------------------------------------

class LogTally:
    """``actors.generation``'s ``kie_task_created`` and ``photo_stored`` lines per worker host (each host's worker
    log is its own file), read on from where the last call stopped."""

    EVENTS = ("kie_task_created", "photo_stored")

    def __init__(self) -> None:
        self.offsets = {h.name: 0 for h in (WORKER1, WORKER2)}
        self.counts = {event: {h.name: 0 for h in (WORKER1, WORKER2)} for event in self.EVENTS}

    def __call__(self, event: str = "kie_task_created") -> dict[str, int]:
        for host in (WORKER1, WORKER2):
            with open(RUN_DIR / f"{host.name}-worker.log", "rb") as log:
                log.seek(self.offsets[host.name])
                chunk = log.read()
            complete = chunk.rfind(b"\n") + 1  # a line still being written is read next time
            self.offsets[host.name] += complete
            for line in chunk[:complete].decode(errors="replace").splitlines():
                if ACTOR_LOG in line:
                    for name in self.EVENTS:
                        if f'"{name}"' in line:
                            self.counts[name][host.name] += 1
        return dict(self.counts[event])


created_by_host = LogTally()


def buy_all(settings: Settings, orders: tuple[tuple[str, int, list[int], str], ...],
            seed: int) -> tuple[list[Purchase], list[threading.Thread]]:
    purchases = [Purchase(tier, photos, albums, telegram_id=seed + i, rail=rail)
                 for i, (tier, photos, albums, rail) in enumerate(orders)]
    threads = [threading.Thread(target=buy, args=(f"http://{WEB.address}:{WEB_PORT}", settings, p), daemon=True)
               for p in purchases]
    for thread in threads:
        thread.start()
    return purchases, threads


def finish(settings: Settings, purchases: list[Purchase], threads: list[threading.Thread], timeout_s: float,
           label: str) -> None:
    deadline = time.monotonic() + timeout_s
    last = 0.0
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        if time.monotonic() - last > 5:
            say(f"  {label}: " + "  ".join(f"{p.tier}{'★' if p.rail == 'stars' else ''} {p.progress or '-'} "
                                           f"{p.status}" for p in purchases))
            last = time.monotonic()
        time.sleep(0.5)
    for p in purchases:
        if any(t.is_alive() for t in threads) and p.status not in ("delivered", "delivered_partial", "failed"):
            p.error = p.error or f"not finished within the run's bound (at {p.progress})"
        p.albums = albums_in_chat(settings.telegram_api_base, p.telegram_id) if p.job_id else []


def submitted_times(settings: Settings, job_ids: list[int]) -> list[float]:
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute("SELECT extract(epoch FROM submitted_at) FROM generation_tasks WHERE job_id = ANY(%s) "
                            "AND submitted_at IS NOT NULL ORDER BY submitted_at", (job_ids,)).fetchall()
    return [float(r[0]) for r in rows]


def busiest_window(times: list[float], window_s: float) -> int:
    """The most submissions in any ``window_s`` window (a window starting at each submission)."""
    best, j = 0, 0
    for i, start in enumerate(times):
        j = max(j, i)
        while j < len(times) and times[j] < start + window_s:
            j += 1
        best = max(best, j - i)
    return best


def prom_query(query: str) -> list[dict[str, Any]]:
    answer = requests.get(f"http://{DATA.address}:{PROMETHEUS_PORT}/api/v1/query", params={"query": query},
                          timeout=10)
    answer.raise_for_status()
    return answer.json()["data"]["result"]


def prom_up() -> dict[str, int]:
    return {f"{r['metric']['job']} {r['metric']['instance']}": int(float(r["value"][1])) for r in prom_query("up")}


def db_jobs_by_status(settings: Settings) -> dict[str, int]:
    with psycopg.connect(settings.database_url) as conn:
        return {s: n for s, n in conn.execute("SELECT status, count(*) FROM generation_jobs GROUP BY status")}


# ---- the three shows -------------------------------------------------------------------------------------------

def check_network() -> Check:
    problems, per_host = [], {}
    for host in HOSTS:
        own = set(addresses(host))
        listening = listeners(host)
        per_host[host.name] = listening
        if not own <= {"127.0.0.1", host.address}:
            problems.append(f"{host.name} has addresses {sorted(own)}")
        for address in listening:
            ip_part = address.rsplit(":", 1)[0]
            if ip_part not in ("127.0.0.1", host.address, "0.0.0.0", "*"):
                problems.append(f"{host.name} listens on {address}")
    summary = "; ".join(f"{name}: {', '.join(a)}" for name, a in per_host.items())
    return Check("every host on the private subnet, nothing listens elsewhere", not problems,
                 f"namespaces have only 127.0.0.1 and their 10.77.0.x; listening — {summary}", problems)


def shared_budget(run: Run, settings: Settings, seed: int) -> Check:
    say(f"hosts: 1/3 shared Kie budget — {len(BUDGET_ORDERS)} Premium orders at once "
        f"({sum(o[1] for o in BUDGET_ORDERS)} tasks at Kie's {settings.kie_rate_limit} / "
        f"{settings.kie_rate_window_s:g} s)")
    kie = SandboxClient.from_settings(settings).kie
    before_counts, before_hosts = kie.counts(), created_by_host()
    started = time.monotonic()
    purchases, threads = buy_all(settings, BUDGET_ORDERS, seed)
    finish(settings, purchases, threads, min(180.0, run.left_s() - 120), "budget")
    after_counts, after_hosts = kie.counts(), created_by_host()
    per_host = {h: after_hosts[h] - before_hosts[h] for h in after_hosts}
    times = submitted_times(settings, [p.job_id for p in purchases if p.job_id])
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    figures: dict[str, Any] = {
        "orders": len(purchases), "wall_s": round(time.monotonic() - started, 1),
        "delivered": sum(p.status == "delivered" for p in purchases),
        "photos_in_chats": sum(sum(p.albums) for p in purchases),
        "tasks_created_per_host": per_host,
        "kie_created": after_counts.get("created", 0) - before_counts.get("created", 0),
        "kie_429": after_counts.get("rejected_429", 0) - before_counts.get("rejected_429", 0),
        "tasks_submitted": len(times), "submission_span_s": round(span, 1),
        "tasks_per_10s": round(10 * (len(times) - 1) / span, 1) if span else None,
        "busiest_10s_window": busiest_window(times, settings.kie_rate_window_s),
        "kie_limit_per_window": settings.kie_rate_limit,
        "jobs": [{"tier": p.tier, "rail": p.rail, "status": p.status, "albums": p.albums,
                  "delivered_s": round(p.stages.get("delivered", 0), 1), "error": p.error or None}
                 for p in purchases],
    }
    run.results["shared_budget"] = figures
    problems = [f"{p.tier} #{p.job_id}: {p.error or p.status} albums {p.albums}" for p in purchases
                if p.error or p.status != "delivered" or p.albums != p.albums_expected]
    problems += [f"{h} created no task" for h, n in per_host.items() if n == 0]
    if figures["kie_429"]:
        problems.append(f"{figures['kie_429']} × 429 at Kie")
    if figures["busiest_10s_window"] > settings.kie_rate_limit:
        problems.append(f"{figures['busiest_10s_window']} tasks in one window over the limit "
                        f"{settings.kie_rate_limit}")
    return Check("workers on two hosts share one Kie budget", not problems,
                 f"{figures['delivered']}/{len(purchases)} Premium delivered ({figures['photos_in_chats']} photos) "
                 f"in {figures['wall_s']} s; tasks created — worker1 {per_host['worker1']}, worker2 "
                 f"{per_host['worker2']}; Kie created {figures['kie_created']}, 429s {figures['kie_429']}; "
                 f"{figures['tasks_per_10s']} tasks / 10 s over {figures['submission_span_s']} s, busiest 10 s "
                 f"window {figures['busiest_10s_window']} (limit {settings.kie_rate_limit})", problems)


def host_killed(run: Run, settings: Settings, seed: int) -> Check:
    say(f"hosts: 2/3 a worker host killed — {len(KILL_ORDERS)} orders ({sum(o[1] for o in KILL_ORDERS)} photos); "
        f"{KILLED.name} SIGKILLed mid-run")
    unacked = Unacked(redis.Redis.from_url(settings.redis_url, socket_timeout=2), NAMESPACE)
    before_hosts, stored_before = created_by_host(), sum(created_by_host("photo_stored").values())
    started = time.monotonic()
    purchases, threads = buy_all(settings, KILL_ORDERS, seed)
    waited = time.monotonic()
    doomed = run.worker_ids[KILLED.name]
    held: dict[bytes, list[dict[str, str]]] = {}
    while time.monotonic() - waited < KILL_WAIT_S:  # until worker2 made tasks and holds messages
        made = created_by_host()[KILLED.name] - before_hosts[KILLED.name]
        stored = sum(created_by_host("photo_stored").values()) - stored_before
        held = unacked.held()
        if made >= KILL_AFTER_TASKS and stored >= KILL_AFTER_PHOTOS and sum(
                len(m) for w, m in held.items() if w in doomed) >= KILL_HOLDING:
            break
        time.sleep(0.2)
    held = unacked.held()
    at = time.time()
    killed = kill_host(KILLED)
    kill_t = round(time.monotonic() - started, 1)
    link_down(KILLED)
    time.sleep(0.3)  # a command sent just before the kill still lands
    beats = unacked.beats()  # the dead workers' last beats; the living beat again within a second
    at_hosts, stored_at = created_by_host(), created_by_host("photo_stored")
    say(f"  t={kill_t} s: SIGKILL to all {len(killed)} processes of {KILLED.name} at once, its link down "
        f"(it had created {at_hosts[KILLED.name] - before_hosts[KILLED.name]} of this phase's tasks)")
    time.sleep(3)
    now = unacked.beats()
    # worker2's processes (known by their fetches' client address) beat no more; what they held at the kill
    # (gone from the set counts as silent too: Dramatiq's maintenance drops a worker 8 s after its last beat)
    dead = [w for w in doomed if now.get(w) in (None, beats.get(w))]
    lost = [m for w in dead for m in held.get(w, [])]
    silent_others = [w for w in run.worker_ids[WORKER1.name] if now.get(w) in (None, beats.get(w))]
    requeued_after = None
    while any(unacked.keys(w) for w in dead) and time.monotonic() - waited < 120:
        time.sleep(0.2)
    if lost:
        requeued_after = round(time.time() - at, 1)
    say(f"  {KILLED.name} held {len(lost)} unacknowledged messages {dict(Counter(m['actor'] for m in lost))}; "
        f"back in the queues {requeued_after} s after the kill")
    finish(settings, purchases, threads, max(10.0, run.left_s() - 40), "after the kill")
    after_hosts, stored_after = created_by_host(), created_by_host("photo_stored")
    figures: dict[str, Any] = {
        "orders": len(purchases), "wall_s": round(time.monotonic() - started, 1), "killed_at_s": kill_t,
        "photos_stored_after_kill": {h: stored_after[h] - stored_at[h] for h in stored_after},
        "processes_killed": len(killed), "still_alive_in_namespace": len(pids(KILLED)),
        "worker_processes_silent": {KILLED.name: f"{len(dead)}/{len(doomed)}",
                                    WORKER1.name: f"{len(silent_others)}/{len(run.worker_ids[WORKER1.name])}"},
        "tasks_created_before_kill": {h: at_hosts[h] - before_hosts[h] for h in at_hosts},
        "tasks_created_after_kill": {h: after_hosts[h] - at_hosts[h] for h in after_hosts},
        "held_by_killed_host": len(lost), "held_by_actor": dict(Counter(m["actor"] for m in lost)),
        "requeued_after_s": requeued_after,
        "delivered": sum(p.status == "delivered" for p in purchases),
        "jobs": [{"tier": p.tier, "rail": p.rail, "status": p.status, "albums": p.albums,
                  "delivered_s": round(p.stages.get("delivered", 0), 1), "error": p.error or None}
                 for p in purchases],
    }
    run.results["host_killed"] = figures
    problems = [f"{p.tier}{'★' if p.rail == 'stars' else ''} #{p.job_id}: {p.error or p.status} albums "
                f"{p.albums} (expected {p.albums_expected})" for p in purchases
                if p.error or p.status != "delivered" or p.albums != p.albums_expected]
    if len(dead) != len(doomed) or silent_others:
        problems.append(f"silent after the kill: {figures['worker_processes_silent']} (expected all of "
                        f"{KILLED.name}'s, none of {WORKER1.name}'s)")
    if figures["still_alive_in_namespace"]:
        problems.append(f"{figures['still_alive_in_namespace']} processes survived in {KILLED.netns}")
    after = figures["tasks_created_after_kill"]
    if after[KILLED.name] or figures["photos_stored_after_kill"][KILLED.name]:
        problems.append(f"{KILLED.name} worked after it was killed")
    if not after[WORKER1.name] and figures["tasks_created_before_kill"][KILLED.name] < sum(o[1] for o in KILL_ORDERS):
        problems.append("worker1 created no task after the kill")
    return Check(f"{KILLED.name} killed mid-run (every process, no warning): nothing lost, {WORKER1.name} "
                 "finishes", not problems,
                 f"{len(killed)} processes SIGKILLed at t={kill_t} s; it held {len(lost)} messages, requeued "
                 f"after {requeued_after} s; tasks created before the kill {figures['tasks_created_before_kill']}, "
                 f"after {after}; photos stored after it {figures['photos_stored_after_kill']}; "
                 f"{figures['delivered']}/{len(purchases)} orders delivered in {figures['wall_s']} s",
                 problems)


def invariants(run: Run, settings: Settings) -> list[Check]:
    """The chaos run's checks over everything both phases did: the database against the fakes' records."""
    evidence = chaos_evidence.gather(settings, orders=[], observed={}, kills=[], outage=None)
    windows: dict[str, Any] = {}
    checks = [chaos_checks.check_i1(evidence), chaos_checks.check_i2(evidence, windows),
              chaos_checks.check_i3(evidence, windows), chaos_checks.check_i4(evidence, windows),
              chaos_checks.check_i7(evidence), chaos_checks.check_dead_letters(evidence)]
    telegram = windows.get("telegram", {})
    duplicates = telegram.get("duplicate_photos", 0)
    run.results["invariants"] = {"windows": windows, "jobs": len(evidence.db["jobs"]),
                                 "photos_stored": len(evidence.db["photos"]), "s3_objects": len(evidence.s3_keys)}
    mine = [Check(c.name, c.passed, c.summary, c.problems) for c in checks]
    mine.append(Check("every photo delivered exactly once (no duplicate send)", duplicates == 0,
                      f"{duplicates} duplicate photo sends, {telegram.get('lost_answers', 0)} lost answers, "
                      f"{telegram.get('duplicate_texts', 0)} duplicate texts",
                      [f"{duplicates} duplicate photo sends"] if duplicates else []))
    return mine


def prometheus(run: Run, settings: Settings, up_before: dict[str, int]) -> Check:
    say("hosts: 3/3 Prometheus on the data host")
    time.sleep(SCRAPE_S * 2 + 1)  # two scrapes after the last change
    up_after = prom_up()
    by_status = {r["metric"].get("status", "?"): int(float(r["value"][1]))
                 for r in prom_query("sum by (status) (pinglass_jobs)")}
    stored = {r["metric"].get("instance", "?"): int(float(r["value"][1]))
              for r in prom_query("sum by (instance) (max_over_time(pinglass_photos_stored_total[10m]))")}
    in_db = db_jobs_by_status(settings)
    figures = {"up_before_kill": up_before, "up_at_end": up_after, "jobs_by_status": by_status,
               "jobs_by_status_in_db": in_db, "photos_stored_by_instance": stored,
               "scrape_interval_s": SCRAPE_S}
    run.results["prometheus"] = figures
    expected = {f"pinglass-web {WEB.address}:{WEB_PORT}"} | {f"pinglass-worker {h.address}:{METRICS_PORT}"
                                                             for h in (WORKER1, WORKER2)}
    problems = []
    if set(up_before) != expected or not all(up_before.values()):
        problems.append(f"before the kill up = {up_before}, expected 1 for each of {sorted(expected)}")
    dead = f"pinglass-worker {KILLED.address}:{METRICS_PORT}"
    if up_after.get(dead) != 0 or any(v != 1 for k, v in up_after.items() if k != dead):
        problems.append(f"at the end up = {up_after}: expected 0 for {dead} only")
    if by_status != in_db:
        problems.append(f"jobs by status {by_status} != the database's {in_db}")
    return Check("Prometheus scrapes every host", not problems,
                 f"up before the kill {up_before}; at the end {up_after}; jobs by status {by_status} "
                 f"(database {in_db}); photos stored per instance (its last scrape) {stored}", problems)


def data_host_load(run: Run, settings: Settings, load: dict[str, Any]) -> None:
    """Measured, not checked: the data host's load per photo and its servers' ceilings (scenarios.hosts_load)."""
    say("hosts: the data host's load per photo, and redis-benchmark / pgbench against it from worker1")
    try:
        redis_max = hosts_load.redis_ceiling()
        pg_max = hosts_load.pg_ceiling(settings.database_url.rsplit("/", 1)[0] + "/postgres")
    except (subprocess.SubprocessError, OSError, psycopg.Error) as exc:  # a measurement, not a check
        run.results["data_host"] = {"load": load, "error": f"{type(exc).__name__}: {exc}"}
        say(f"  per photo: {load}; the ceilings could not be measured: {exc}")
        return
    run.results["data_host"] = {"load": load, "redis_benchmark": redis_max, "pgbench": pg_max,
                                "estimated_ceiling": hosts_load.estimate(load, redis_max, pg_max)}
    say(f"  per photo: {load['redis_commands_per_photo']} Redis commands, {load['pg_commits_per_photo']} "
        f"PostgreSQL commits (idle fleet: {load['idle_redis_commands_per_s']} commands/s, "
        f"{load['idle_pg_commits_per_s']} commits/s); redis-benchmark median {redis_max['median_rps']}/s, "
        f"pgbench -N {pg_max['tps']} tps → about {run.results['data_host']['estimated_ceiling']}")


# ---- the run ---------------------------------------------------------------------------------------------------

def main() -> int:
    if os.geteuid() != 0:
        say("hosts: FAILED — needs root (ip netns, veth, a bridge)")
        return 1
    budget_s = float(os.environ.get("HOSTS_BUDGET_S", "280"))
    run = Run(deadline=time.monotonic() + budget_s)

    def out_of_time(signum: int, frame: object) -> None:
        raise TimeoutError(f"the run's bound ({budget_s:.0f} s) ran out")

    signal.signal(signal.SIGALRM, out_of_time)  # whatever hangs, the finally below still cleans up in time
    signal.alarm(int(budget_s))
    began = time.monotonic()
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)
    env = fleet_env(run.token)
    settings = Settings.from_env(env)
    error = ""
    try:
        left = setup()
        say(f"hosts: 4 namespaces on {len(HOSTS)} veths and bridge pgl-br0 (10.77.0.0/24)"
            + (f"; removed what a previous run left: {', '.join(left)}" if left else ""))
        took = start_data_host(run, env, settings)
        say(f"hosts: data host up — PostgreSQL {took['postgres_s']} s, Redis, sandbox fakes, Prometheus")
        start_fleet(run, env, settings)
        run.results["startup_s"] = round(time.monotonic() - began, 1)
        say(f"hosts: web, worker1 (+ scheduler), worker2 up; Telegram webhook set — {run.results['startup_s']} s")
        run.checks.append(check_network())
        seed = 900_000_000 + int(time.time()) % 100000 * 10
        idle_from = hosts_load.sample(settings.database_url, settings.redis_url)
        time.sleep(IDLE_SAMPLE_S)  # the idle fleet's own traffic to Redis and PostgreSQL
        start = hosts_load.sample(settings.database_url, settings.redis_url)
        run.checks.append(shared_budget(run, settings, seed))
        up_before = prom_up()
        run.checks.append(host_killed(run, settings, seed + 100))
        end = hosts_load.sample(settings.database_url, settings.redis_url)
        run.checks.append(prometheus(run, settings, up_before))
        run.checks.extend(invariants(run, settings))
        data_host_load(run, settings, hosts_load.per_photo(idle_from, start, start, end))
    except Exception as exc:  # noqa: BLE001 — reported as the run's failure; the finally cleans up
        error = f"{type(exc).__name__}: {exc}"
        say(f"hosts: error — {error}")
        traceback.print_exc()
    finally:
        signal.alarm(0)
        if os.environ.get("HOSTS_KEEP") == "1":  # a post-mortem; the next run (or teardown) removes it all
            say("hosts: HOSTS_KEEP=1 — the hosts keep running; `python -m scenarios.hosts_net down` stops them")
        else:
            removed = teardown()
            shutil.rmtree(PG_ROOT, ignore_errors=True)
            for _, _, proc in run.procs:
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
            say(f"hosts: cleaned up {', '.join(removed) or 'nothing'}")
    run.results["wall_s"] = round(time.monotonic() - began, 1)
    write(run, error)
    failed = [c.name for c in run.checks if not c.passed] + ([error] if error else [])
    if failed:
        say(f"hosts: FAILED — {'; '.join(failed)} ({run.results['wall_s']} s)")
        return 1
    budget = run.results["shared_budget"]["tasks_created_per_host"]
    say(f"hosts: ok — {len(run.checks)} checks passed: tasks per host {budget}, 0 × 429, "
        f"{KILLED.name} killed and nothing lost, Prometheus up on every host ({run.results['wall_s']} s)")
    return 0


def write(run: Run, error: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    report = {"when": when, "machine": f"{os.cpu_count()} cores", "ok": not error and all(c.passed for c in run.checks),
              "error": error or None,
              "layout": {h.name: {"netns": h.netns, "address": h.address} for h in HOSTS},
              "checks": [{"name": c.name, "passed": c.passed, "summary": c.summary, "problems": c.problems}
                         for c in run.checks], **run.results}
    (RESULTS / "hosts-latest.json").write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    lines = [f"# The fleet on several hosts — {when}", "",
             f"`make hosts` on one machine ({report['machine']}): four network namespaces on a bridge, 10.77.0.0/24 "
             "— data 10.77.0.2 (PostgreSQL, Redis, sandbox fakes, Prometheus), web 10.77.0.3, worker1 10.77.0.4 "
             "(workers + scheduler), worker2 10.77.0.5 (workers). See docs/scaling.md.", "",
             f"Result: **{'ok' if report['ok'] else 'FAILED'}**" + (f" — {error}" if error else "") +
             f"; start-up {run.results.get('startup_s')} s, whole run {run.results.get('wall_s')} s.", "",
             "| check | verdict | numbers |", "| --- | --- | --- |"]
    for c in run.checks:
        numbers = c.summary + ("" if c.passed else " — " + "; ".join(c.problems[:5]))
        lines.append(f"| {c.name} | {'PASS' if c.passed else 'FAIL'} | {numbers.replace('|', '/')} |")
    for key in ("shared_budget", "host_killed", "prometheus", "data_host"):
        if key in run.results:
            lines += ["", f"## {key}", "", "```json", json.dumps(run.results[key], indent=2, ensure_ascii=False),
                      "```"]
    (RESULTS / "hosts-latest.md").write_text("\n".join(lines) + "\n")
    for c in run.checks:
        say(f"  {'PASS' if c.passed else 'FAIL'}  {c.name}: {c.summary}")
        for problem in c.problems[:5]:
            say(f"        {problem}")


if __name__ == "__main__":
    sys.exit(main())
