"""``make bench``: measure the fleet as it runs (real processes, sandbox providers at the provider's limits).

Writes ``bench/results/latest.json`` and ``latest.md``. Nothing here asserts: it measures.
1. album latency — one purchase per tier at once, time per stage (paid → job → generated → delivered);
2. provider budget — five Premium orders at once (115 Kie tasks) at Kie's real 20 / 10 s: wall time, task
   creation rate, 429s seen at the fake, and how fast the first 20 tasks went out (the old system: 11.5 s
   for 23 tasks one by one);
3. API latency — GET /api/v1/generations/<id> and GET /api/v1/catalog, one client per user, p50/p95/p99.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import redis
from psycopg import sql as pgsql

from db.migrate import ensure_database, migrate_up
from sandbox.client import SandboxClient
from scenarios import fleet
from scenarios.demo import MiniApp, Purchase, albums_in_chat, buy
from settings import Settings

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results"
DB_NAME = "pinglass_bench"


def bench_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}", "REDIS_URL": "redis://127.0.0.1:6379/5",
        "BROKER_NAMESPACE": "pinglass-bench", "WEB_PORT": "8200", "PUBLIC_BASE_URL": "http://127.0.0.1:8200",
        "KIE_BASE_URL": "http://127.0.0.1:9201", "TBANK_BASE_URL": "http://127.0.0.1:9202/v2",
        "TELEGRAM_API_BASE": "http://127.0.0.1:9203", "S3_ENDPOINT_URL": "http://127.0.0.1:9204",
        "WORKER_PROCESSES": "2", "WORKER_THREADS": "12",
        "SANDBOX_MODE": "1",  # the bench fleet runs on the fakes and their public secrets
    })
    return env


def fresh_database(url: str) -> None:
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(DB_NAME)))
    ensure_database(url)
    migrate_up(url)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"n": len(ordered), "p50_ms": round(pick(0.5) * 1000, 1), "p95_ms": round(pick(0.95) * 1000, 1),
            "p99_ms": round(pick(0.99) * 1000, 1), "mean_ms": round(statistics.fmean(ordered) * 1000, 1)}


def run_purchases(base: str, settings: Settings, tiers: list[tuple[str, int]], seed: int) -> list[Purchase]:
    purchases = [Purchase(tier, photos, [], telegram_id=seed + i) for i, (tier, photos) in enumerate(tiers)]
    threads = [threading.Thread(target=buy, args=(base, settings, p), daemon=True) for p in purchases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=900)
    for p in purchases:
        p.albums = albums_in_chat(settings.telegram_api_base, p.telegram_id) if not p.error else []
    return purchases


def task_rates(settings: Settings, job_ids: list[int]) -> dict[str, Any]:
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute("SELECT extract(epoch FROM submitted_at) FROM generation_tasks WHERE job_id = ANY(%s) "
                            "AND submitted_at IS NOT NULL ORDER BY submitted_at", (job_ids,)).fetchall()
    times = [float(r[0]) for r in rows]
    if not times:
        return {}
    span = times[-1] - times[0]
    first20 = times[min(19, len(times) - 1)] - times[0]
    return {"tasks_submitted": len(times), "submission_span_s": round(span, 2),
            "tasks_per_10s": round(10 * (len(times) - 1) / span, 1) if span else None,
            "first_20_tasks_s": round(first20, 2)}


def api_latency(base: str, settings: Settings, owners: list[tuple[int, int]]) -> dict[str, Any]:
    """Each owner (telegram id, job id) is one client reading its own job, then the catalog, all at once."""
    return {"get_generation": _measure(base, settings, owners, lambda job_id: f"/api/v1/generations/{job_id}"),
            "get_catalog": _measure(base, settings, owners, lambda _job_id: "/api/v1/catalog")}


def _measure(base: str, settings: Settings, owners: list[tuple[int, int]], path_of: Any, *,
             per_user_rps: float = 8, seconds: float = 8) -> dict[str, Any]:
    """One thread per owner at ``per_user_rps`` (under the per-user API limit): latency of every 200 and the
    count of each status seen."""
    samples: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def client(telegram_id: int, job_id: int) -> None:
        app = MiniApp(base, settings, telegram_id)
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            response = app.http.get(f"{base}{path_of(job_id)}", timeout=10)
            elapsed = time.perf_counter() - start
            with lock:
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code == 200:
                    samples.append(elapsed)
            time.sleep(max(0.0, 1 / per_user_rps - elapsed))

    threads = [threading.Thread(target=client, args=owner) for owner in owners]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {**percentiles(samples), "rps": round(len(samples) / wall, 1), "clients": len(owners),
            "statuses": statuses}


def main() -> int:
    env = bench_env()
    settings = Settings.from_env(env)
    base = f"http://127.0.0.1:{settings.web_port}"
    fresh_database(settings.database_url)
    cache = redis.Redis.from_url(settings.redis_url)
    for key in cache.scan_iter(match="pinglass-bench*"):
        cache.delete(key)
    results: dict[str, Any] = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": f"{os.cpu_count()} cores",
                               "fleet": "web: gunicorn 2×4 threads; worker: dramatiq 2 processes × 12 threads"}
    try:
        fleet.start(env)
        fleet.wait_healthy(base)
        from gateways.telegram import TelegramClient
        TelegramClient(settings.telegram_api_base, settings.telegram_bot_token).set_webhook(
            settings.public_url("/webhooks/telegram"), settings.telegram_webhook_secret)
        seed = 800_000_000 + int(time.time()) % 100000 * 10

        print("bench: 1/3 album latency (one purchase per tier at once)")
        started = time.monotonic()
        purchases = run_purchases(base, settings, [("starter", 7), ("standard", 15), ("premium", 23)], seed)
        results["album_latency"] = {
            "wall_s": round(time.monotonic() - started, 1),
            "jobs": [{"tier": p.tier, "status": p.status, "photos": sum(p.albums), "albums": p.albums,
                      **{k: round(v, 1) for k, v in p.stages.items()}, "error": p.error or None} for p in purchases]}

        print("bench: 2/3 provider budget (5 Premium at once = 115 Kie tasks at 20 / 10 s)")
        SandboxClient.from_settings(settings).kie.reset()
        started = time.monotonic()
        premium = run_purchases(base, settings, [("premium", 23)] * 5, seed + 100)
        wall = time.monotonic() - started
        kie = SandboxClient.from_settings(settings).kie.counts()
        results["provider_budget"] = {
            "wall_s": round(wall, 1), "delivered": sum(p.status == "delivered" for p in premium),
            "photos": sum(sum(p.albums) for p in premium), "kie_429": kie.get("rejected_429"),
            "kie_created": kie.get("created"),
            "per_job_delivered_s": [round(p.stages.get("delivered", 0), 1) for p in premium],
            **task_rates(settings, [p.job_id for p in premium if p.job_id]),
            "old_system_23_tasks_s": 11.5}

        print("bench: 3/3 API latency")
        owners = [(p.telegram_id, p.job_id) for p in [*purchases, *premium] if p.job_id]
        results["api_latency"] = api_latency(base, settings, owners)
    finally:
        fleet.stop()
    write(results)
    return 0


def write(results: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    lines = [f"# Benchmark — {results['when']}", "", f"Machine: {results['machine']}; {results['fleet']}.",
             "Providers: the sandbox fakes (Kie latency 0.3–1.2 s per task, its limit 20 new tasks / 10 s).", ""]
    album = results.get("album_latency", {})
    lines += ["## 1. Album latency (one purchase per tier, at once)", "",
              "| tier | status | photos | albums | paid s | job started s | generated s | delivered s |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for job in album.get("jobs", []):
        lines.append(f"| {job['tier']} | {job['status']} | {job['photos']} | {job['albums']} | {job.get('paid')} | "
                     f"{job.get('job_started')} | {job.get('generated')} | {job.get('delivered')} |")
    budget = results.get("provider_budget", {})
    lines += ["", "## 2. Provider budget: 5 Premium orders at once (115 tasks)", ""]
    lines += [f"- {k}: {v}" for k, v in budget.items()]
    lines += ["", "## 3. API latency (one client thread per user, 8 req/s each, over HTTP to gunicorn)", "",
              "| path | clients | n | p50 ms | p95 ms | p99 ms | rps | statuses |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for path, stats in results.get("api_latency", {}).items():
        lines.append(f"| {path} | {stats['clients']} | {stats['n']} | {stats['p50_ms']} | {stats['p95_ms']} | "
                     f"{stats['p99_ms']} | {stats['rps']} | {stats['statuses']} |")
    (RESULTS / "latest.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
