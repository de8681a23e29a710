"""``make bench``: every figure of issue 13 against its target, measured on real processes (the fleet started by
``scenarios.fleet``) against the sandbox fakes, on Redis and on RabbitMQ, side by side.

Writes ``bench/results/latest.json``, ``latest.md`` and PNG charts; docs/bench.md says what each figure means.
Nothing here asserts: it measures and reports, with why a target is missed where the run shows it.

Knobs: ``BENCH_ONLY=premium,webhook,crash,budget,throughput,people`` (default: all), ``BENCH_BROKERS=redis,rabbitmq``
(default: both), ``BENCH_BUDGET_WINDOW_S`` (60), ``BENCH_THROUGHPUT_S`` (60), ``BENCH_PEOPLE`` (100).

Each group of parts runs on a fresh fleet (fresh database, empty queues):
- ``limits``: Kie's real 20 / 10 s and the fake's latency — premium, webhook, crash, budget (worker RSS sampled);
- ``throughput``: limits off, zero provider latency — engine and S3 ceilings, photos per second, database work
  and messages per photo; its database on a PostgreSQL server of its own with pg_stat_statements preloaded (the
  other groups use the shared server on 5432);
- ``people``: 100 Mini App users at once at Kie's real limit per account (ten accounts).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from typing import Any

from scenarios import bench_budget, bench_load, bench_people, bench_throughput
from scenarios.bench_common import Figure, Fleet, bench_env, machine_load, progress, web_pools, web_threads
from scenarios.bench_report import write

PARTS = ("premium", "webhook", "crash", "budget", "throughput", "people")
# rough seconds per part on this machine (for the ETA), plus each fleet's start
ETA_S = {"premium": 40, "webhook": 40, "crash": 60, "budget": 150, "throughput": 130, "people": 200}
FLEET_START_S = 25


def selected(name: str, default: tuple[str, ...]) -> list[str]:
    raw = os.environ.get(name, "")
    chosen = [p.strip() for p in raw.split(",") if p.strip()] or list(default)
    return chosen


def run_broker(broker: str, parts: list[str], seed: int) -> dict[str, Any]:
    figures: list[Figure] = []
    data: dict[str, Any] = {}
    errors: list[str] = []

    def attempt(part: str, call: Any) -> None:
        started = time.monotonic()
        progress(f"{broker}: {part} …")
        try:
            got, extra = call()
            figures.extend(got)
            data.update(extra)
            for fig in got:
                progress(f"{broker}: {fig.name} = {fig.value} {fig.unit} (target {fig.op} {fig.target})")
        except Exception as exc:  # noqa: BLE001 — a part that fails is reported, the others still run
            traceback.print_exc()
            errors.append(f"{part}: {type(exc).__name__}: {exc}")
        progress(f"{broker}: {part} done in {time.monotonic() - started:.0f} s")

    limits = [p for p in ("premium", "webhook", "crash", "budget") if p in parts]
    if limits:
        with Fleet(bench_env(broker, **bench_budget.ONE_ACCOUNT)) as fleet:
            rss = bench_load.RssSampler(fleet)
            rss.start()
            if "premium" in limits:
                attempt("premium", lambda: bench_budget.premium(fleet, seed + 1))
            if "webhook" in limits:
                attempt("webhook", lambda: bench_load.webhook(fleet, seed + 10))
            if "crash" in limits:
                attempt("crash", lambda: bench_load.crash(fleet, seed + 20))
            if "budget" in limits:
                attempt("budget", lambda: bench_budget.budget(fleet, seed + 100))
            attempt("worker_rss", rss.figures)
    if "throughput" in parts:
        with bench_throughput.counting_postgres() as database_url, \
                Fleet(bench_env(broker, DATABASE_URL=database_url, **bench_throughput.UNLIMITED)) as fleet:
            attempt("throughput", lambda: bench_throughput.throughput(fleet, seed + 300))
    if "people" in parts:
        with Fleet(bench_env(broker, **bench_people.ACCOUNTS)) as fleet:
            attempt("people", lambda: bench_people.people(fleet, seed + 1000))
    return {"figures": [f.as_dict() for f in figures], "data": data, "errors": errors}


def pools_note(env: dict[str, str]) -> str:
    """The web's shape in the report's fleet line; a shape other than the deployed one (web + hooks + uploads) is
    named an EXPERIMENT: its figures are not the deployed fleet's."""
    pools = web_pools(env)
    if list(pools) == ["hooks", "uploads"]:
        return (f"; the providers' callbacks on the hooks role (:{pools['hooks']}, CALLBACK_BASE_URL) and the selfie "
                f"uploads on the uploads role (:{pools['uploads']}, UPLOADS_BASE_URL), as deployed")
    return ("; EXPERIMENT (BENCH_WEB_POOLS), not the deployed web: the same web also on "
            + (", ".join(f"{name} :{port}" for name, port in pools.items()) or "no hooks role"))


def merged(results: dict[str, Any]) -> dict[str, Any]:
    """BENCH_MERGE=1: this run's figures replace those of the same name in the previous latest.json; the others
    stay, each marked with the run that measured it (``measured``), and the report lists both runs."""
    import json

    from scenarios.bench_report import RESULTS

    try:
        previous = json.loads((RESULTS / "latest.json").read_text())
    except (OSError, ValueError):
        return results
    for broker, got in results["brokers"].items():
        for fig in got["figures"]:
            fig["measured"] = results["when"]
        old = previous.get("brokers", {}).get(broker, {})
        names = {f["name"] for f in got["figures"]}
        kept = [{**f, "measured": f.get("measured", previous["when"])} for f in old.get("figures", [])
                if f["name"] not in names]
        got["figures"] = kept + got["figures"]
        got["data"] = {**old.get("data", {}), **got["data"]}
    for broker, old in previous.get("brokers", {}).items():
        if broker not in results["brokers"]:
            results["brokers"][broker] = {**old, "figures": [{**f, "measured": f.get("measured", previous["when"])}
                                                             for f in old.get("figures", [])]}
    results["runs"] = [*previous.get("runs", [f"{previous['when']}: {', '.join(previous.get('parts', []))} "
                                             f"({previous.get('machine')})"]),
                       f"{results['when']}: {', '.join(results['parts'])} ({results['machine']})"]
    results["parts"] = sorted(set(previous.get("parts", [])) | set(results["parts"]), key=PARTS.index)
    # a run none of whose figures is left is no longer a source of the report
    left = {f["measured"] for got in results["brokers"].values() for f in got["figures"]}
    results["runs"] = [run for run in results["runs"] if run.split(" UTC", 1)[0] + " UTC" in left]
    return results


def main() -> int:
    parts = [p for p in selected("BENCH_ONLY", PARTS) if p in PARTS]
    brokers = selected("BENCH_BROKERS", ("redis", "rabbitmq"))
    groups = sum(bool(set(g) & set(parts)) for g in (("premium", "webhook", "crash", "budget"), ("throughput",),
                                                     ("people",)))
    eta = len(brokers) * (sum(ETA_S[p] for p in parts) + groups * FLEET_START_S)
    progress(f"plan: parts {', '.join(parts)} on {', '.join(brokers)}; about {eta // 60} min {eta % 60} s "
             f"(ETA {time.strftime('%H:%M', time.localtime(time.time() + eta))}); {machine_load()}")
    started = time.monotonic()
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": f"{os.cpu_count()} cores; at start: {machine_load()}",
        "fleet": f"web: gunicorn 2 workers × {web_threads()} threads; worker: dramatiq 2 processes × 12 threads; "
                 "scheduler; sandbox fakes one process each (Kie, T-Bank, Telegram, S3)" + pools_note(dict(os.environ)),
        "parts": parts, "brokers": {}}
    seed = 810_000_000 + int(time.time()) % 100000 * 10
    for index, broker in enumerate(brokers):
        results["brokers"][broker] = run_broker(broker, parts, seed + index * 5000)
    results["wall_s"] = round(time.monotonic() - started)
    results["machine"] += f"; at end: {machine_load()}"
    if os.environ.get("BENCH_MERGE") == "1":
        results = merged(results)
    write(results)
    progress(f"written bench/results/latest.json and latest.md in {results['wall_s']} s")
    for broker, got in results["brokers"].items():
        for fig in got["figures"]:
            mark = {True: "met", False: f"MISSED by {fig['miss_by']}", None: "-"}[fig["met"]]
            print(f"  {broker:8} {fig['name']:32} {fig['value']!s:>10} {fig['unit']:4} target {fig['op']} "
                  f"{fig['target']}  {mark}")
        for error in got["errors"]:
            print(f"  {broker:8} FAILED {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
