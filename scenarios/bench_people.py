"""100 people at once (``make bench``'s ``people`` part): simulated Mini App users who each open the app (its
home screen's read), create an avatar, upload 6 selfies, pay (card or Telegram Stars, alternately) and poll
their order until it is delivered, making the calls the Mini App's screens make, all started together, at Kie's
real limit (20 / 10 s per account) on ten accounts. API latency per route, errors, albums delivered, 429s at
Kie."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from sandbox.client import SandboxClient
from scenarios import bench_where
from scenarios.bench_buyers import Buyer, complete_payment, payment_ids, prepare, seed_selfies, selfies, timed
from scenarios.bench_common import Figure, Fleet, percentile, progress, web_threads
from scenarios.bench_records import completion, jobs_of
from scenarios.demo import MiniApp, albums_in_chat
from settings import Settings

KEYS = [f"sandbox-kie-key-{i}" for i in range(1, 11)]
ACCOUNTS = {"KIE_API_KEYS": ",".join(KEYS)}  # each key its own account: 10 × 20 new tasks / 10 s
TIERS = [("starter", 7)] * 7 + [("standard", 15)] * 2 + [("premium", 23)]  # per 10 people
TIMEOUT_S = 360
PAYMENT, ORDER = "GET /api/v1/payments/<id>", "GET /api/v1/generations/<id>"
# The Mini App's own pace (web/miniapp/static/js/screens): the payment screen asks again after
# min(1 s + 0.25 s × round, 4 s), the order's screen every 1.5 s.
PAYMENT_POLL_S = (1.0, 0.25, 4.0)
ORDER_POLL_S = 1.5


@dataclass(frozen=True)
class Where:
    """What a person's phone needs to know: the web, the uploads role, the settings (initData's bot token)."""
    base: str
    uploads_base: str
    settings: Settings


def person(where: Where, buyer: Buyer, outcome: dict[str, Any], delivered: Any = None) -> None:
    prepare(where.base, where.settings, buyer, where.uploads_base, as_the_app=True)
    complete_payment(where.settings, buyer)
    if buyer.error:
        return
    app = MiniApp(where.base, where.settings, buyer.telegram_id)
    deadline = time.monotonic() + TIMEOUT_S
    try:
        start, step, most = PAYMENT_POLL_S
        for round_ in itertools.count():
            buyer.job_id = timed(buyer, app, PAYMENT, "GET", f"/api/v1/payments/{buyer.payment['payment_id']}")[
                "job_id"]
            if buyer.job_id is not None or time.monotonic() >= deadline:
                break
            time.sleep(min(start + step * round_, most))
        while time.monotonic() < deadline:
            job = timed(buyer, app, ORDER, "GET", f"/api/v1/generations/{buyer.job_id}")
            if job["status"] in ("delivered", "delivered_partial", "failed"):
                outcome["status"] = job["status"]
                outcome["done_s"] = time.monotonic()
                if delivered is not None:
                    with delivered.get_lock():
                        delivered.value += 1
                return
            time.sleep(ORDER_POLL_S)
        buyer.error = "not delivered in time"
    except Exception as exc:  # noqa: BLE001
        buyer.error = f"poll: {exc}"


def people(fleet: Fleet, seed: int) -> tuple[list[Figure], dict[str, Any]]:
    count = int(os.environ.get("BENCH_PEOPLE", "100"))
    s = fleet.settings
    sandbox = SandboxClient.from_settings(s)
    selfies()
    buyers = [Buyer(seed + i, TIERS[i % len(TIERS)][0], rail="stars" if i % 2 else "card") for i in range(count)]
    photos = {b.telegram_id: dict(TIERS)[b.tier] for b in buyers}
    outcomes: dict[int, dict[str, Any]] = {b.telegram_id: {} for b in buyers}
    progress(f"people: {count} Mini App users at once ({sum(photos.values())} photos, card and Stars)")
    web_log = bench_where.WebLog()
    cpu_start = bench_where.snapshot()
    buyers, outcomes, clients_cpu_s, started = phones(Where(fleet.base, fleet.uploads_base, s), buyers)
    wall = time.monotonic() - started
    cpu = bench_where.cpu_shares(cpu_start, bench_where.snapshot(), clients_cpu_s=clients_cpu_s)
    web = bench_where.server_table(bench_where.server_ms(web_log.lines()))
    pre_checkout = bench_where.pre_checkout_waits(sandbox.telegram.state())
    progress(f"people: CPU seconds in {cpu['wall_s']} s: {cpu['cpu_s']}")
    delivered = 0
    for b in buyers:
        if outcomes[b.telegram_id].get("status") == "delivered":
            got = sum(albums_in_chat(s.telegram_api_base, b.telegram_id))
            delivered += got == photos[b.telegram_id]
    kie = sandbox.kie.counts()
    spans = tightest_spans(sandbox.kie.tasks())
    routes: dict[str, list[float]] = {}
    statuses: dict[str, dict[int, int]] = {}
    for b in buyers:
        for route, seconds, status, _ in b.calls:
            routes.setdefault(route, []).append(seconds)
            statuses.setdefault(route, {})
            statuses[route][status] = statuses[route].get(status, 0) + 1
    table: dict[str, dict[str, Any]] = {
        route: {"n": len(v), "p50_ms": _ms(percentile(v, 0.5)), "p95_ms": _ms(percentile(v, 0.95)),
                     "p99_ms": _ms(percentile(v, 0.99)), "statuses": statuses[route]} for route, v in routes.items()}
    errors = sum(n for st in statuses.values() for code, n in st.items() if code >= 400) + sum(
        1 for b in buyers if b.error and "→" not in b.error)
    dump_calls(buyers)
    reads = [route for route in routes if is_read(route)]
    read_samples = [x for route in reads for x in routes[route]]
    read_p99 = _ms(percentile(read_samples, 0.99))
    phases = read_phases(buyers)
    completions = people_completions(fleet, buyers)
    worst_read = max(reads, key=lambda r: table[r]["p99_ms"] or 0, default="")
    where = where_text(table, web, cpu)
    why = ""
    if read_p99 is not None and read_p99 > 100:
        why = (f"{phases_text(phases)}; slowest read route {worst_read} p99 "
               f"{table.get(worst_read, {}).get('p99_ms')} ms at the client while {web_shape(fleet)} took "
               f"{6 * count} selfie uploads (a face check on each) and the payments; {where}")
    failures = [b.error for b in buyers if b.error][:3]
    bad = {route: {code: n for code, n in st.items() if code >= 400} for route, st in statuses.items()}
    bad_text = "; ".join(f"{route}: {codes}" for route, codes in bad.items() if codes)
    slow = {route: table[route]["p50_ms"] for route in table}
    errors_why = (f"failed answers by route (599 = no answer in the client's 30 s): {bad_text}; median latency by "
                  f"route in ms: {slow}; first failures: {failures}; the Telegram fake's POSTs of "
                  f"pre_checkout_query to our webhook (10 s to answer): {pre_checkout}; {where}") if errors else ""
    return [
        Figure("people_api_read_p99_ms", read_p99, "ms", 100, "<=",
               f"{count} users at once, each its own phone (the people run on "
               f"{os.environ.get('BENCH_PEOPLE_PROCESSES', '4')} client processes, a thread per person); every GET "
               "the Mini App's screens make on the way, those a screen sends together sent together (the home "
               "screen's as it opens, the avatar's, the consent's, the order screen's catalog and avatar, the "
               "payment's status, the order's progress), polls at the Mini App's own pace (payment every 1 s + "
               "0.25 s a round up to 4 s, order every 1.5 s), measured at the client over HTTP; per route in "
               "extra, split at the last checkout (phases: while people still upload and pay, and after), beside "
               "the web's own time per route (its access log) and the CPU seconds each process used during the "
               "part", why,
               {"routes": table, "phases": phases, "web_ms": web, "cpu": cpu, "web_pools": dict(fleet.pools)}),
        Figure("people_errors", errors, "", 0, "<=",
               "answers ≥ 400 the Mini App saw after its own retries (429/503 retried as api.js does), plus users "
               "whose flow failed", errors_why, {"pre_checkout": pre_checkout}),
        Figure("people_albums_delivered", delivered, f"of {count}", count, ">=",
               "orders delivered with every photo in the user's sandbox Telegram chat",
               f"{sum(1 for b in buyers if b.error)} users' flows failed before delivery (see people_errors)"
               if delivered < count else ""),
        Figure("people_kie_429", kie.get("rejected_429", 0), "", 0, "<=",
               "createTask 429s counted by the Kie fake (10 accounts × 20 / 10 s); per key in extra, the shortest "
               "time the fake saw between a task and the 20th after it (10 s: the key ran at its limit)",
               (f"the fleet's sends reached the fake {kie.get('rejected_429')} times over an account's 20 / 10 s; "
                f"shortest 21-task span per key at the fake (s): {spans}") if kie.get("rejected_429") else "",
               {"tightest_21_task_span_s": spans}),
        Figure("people_wall_s", round(wall, 1), "s", None, "",
               f"first user starts → last user sees delivered ({sum(photos.values())} photos; Kie's 10 accounts "
               f"allow 20 tasks/s, so ≥ {sum(photos.values()) / 20:.0f} s)", ""),
    ], {"people_completions": completions}


def phones(where: Where, buyers: list[Buyer]) -> tuple[list[Buyer], dict[int, dict[str, Any]], float, float]:
    """Run the people on ``BENCH_PEOPLE_PROCESSES`` client processes (default 4), a thread each: a hundred
    people's phones do not share one interpreter lock, and a client process that did (one process, 100
    threads) added its own queue to every call it timed — most of all in the first second, when everyone opens
    the app at once. The processes start the people together once every one of them is ready. Returns the
    buyers with their calls, their outcomes, the clients' CPU seconds and when the people started
    (``time.monotonic()``, the same clock in every process)."""
    groups_n = max(1, min(len(buyers), int(os.environ.get("BENCH_PEOPLE_PROCESSES", "4"))))
    ctx = multiprocessing.get_context("spawn")  # the bench process has threads: no fork
    delivered = ctx.Value("i", 0)
    results = ctx.Queue()
    ready = ctx.Barrier(groups_n + 1)
    groups = [buyers[i::groups_n] for i in range(groups_n)]
    procs = [ctx.Process(target=_phone_group, args=(where, group, selfies(), delivered, results, ready),
                         daemon=True) for group in groups]
    for proc in procs:
        proc.start()
    ready.wait(timeout=120)
    started = time.monotonic()
    got: list[tuple[list[Buyer], dict[int, dict[str, Any]], float]] = []
    next_report = started + 10
    while len(got) < groups_n and time.monotonic() - started < TIMEOUT_S + 90:
        try:
            got.append(results.get(timeout=1))
        except queue.Empty:
            pass
        if time.monotonic() >= next_report:
            next_report += 10
            progress(f"people: {delivered.value}/{len(buyers)} delivered after {time.monotonic() - started:.0f} s")
    for proc in procs:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
    by_id = {b.telegram_id: b for group, _, _ in got for b in group}
    back = [by_id.get(b.telegram_id, b) for b in buyers]
    for b in back:
        if b.telegram_id not in by_id:
            b.error = "client process gave no answer"
    outcomes = {tid: o for _, group_outcomes, _ in got for tid, o in group_outcomes.items()}
    return (back, {b.telegram_id: outcomes.get(b.telegram_id, {}) for b in buyers}, sum(c for *_, c in got),
            started)


def _phone_group(where: Where, buyers: list[Buyer], selfie_bytes: list[bytes], delivered: Any, results: Any,
                 ready: Any) -> None:
    """One client process: its people on a thread each, started when every client process is ready; sends back
    their calls, outcomes and its CPU seconds."""
    seed_selfies(selfie_bytes)
    outcomes: dict[int, dict[str, Any]] = {b.telegram_id: {} for b in buyers}
    threads = [threading.Thread(target=person, args=(where, b, outcomes[b.telegram_id], delivered), daemon=True)
               for b in buyers]
    ready.wait(timeout=120)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT_S + 30)
    results.put((buyers, outcomes, time.process_time()))


def dump_calls(buyers: list[Buyer]) -> None:
    """With ``BENCH_PEOPLE_CALLS=<path>``: every call the people made, one JSON object per line (user, route,
    seconds from the first call, latency in ms, status), for a closer look at the slow ones."""
    path = os.environ.get("BENCH_PEOPLE_CALLS")
    if not path:
        return
    first = min((started for b in buyers for *_, started in b.calls), default=0.0)
    with open(path, "w", encoding="utf-8") as out:
        for b in buyers:
            for route, seconds, status, started in b.calls:
                out.write(json.dumps({"user": b.telegram_id, "route": route, "at_s": round(started - first, 3),
                                      "ms": round(seconds * 1000, 1), "status": status}) + "\n")


def is_read(route: str) -> bool:
    """Whether the people-part figure counts ``route`` as a read: every GET."""
    return route.startswith("GET ")


OPENING_S = 5.0  # the first seconds: everyone opening the app at once (the home screen's reads, registering)


def phases_text(phases: dict[str, Any]) -> str:
    """The reads' phases in words: where the slow ones are."""
    if not phases:
        return "no checkout answered"
    parts = [f"{name} {phases[name]['n']} reads, p50 {phases[name]['p50_ms']} / p99 {phases[name]['p99_ms']} ms"
             for name in ("opening", "burst", "after") if name in phases]
    return (f"by phase (opening: the first {phases.get('opening_s')} s, everyone opening the app at once; burst: "
            f"until the last checkout, {phases.get('burst_s')} s in): " + "; ".join(parts))


def read_phases(buyers: list[Buyer]) -> dict[str, Any]:
    """The reads split in time: ``opening``, the first ``OPENING_S`` seconds (a hundred people open the app in the
    same second); ``burst``, from then until the last user's checkout answered (people still uploading and
    paying); ``after`` (only orders being polled) — each with its count and p50/p99 in ms."""
    checkouts = [started + seconds for b in buyers for route, seconds, _, started in b.calls
                 if route == "POST /api/v1/payments"]
    if not checkouts:
        return {}
    split = max(checkouts)
    first = min(started for b in buyers for _, _, _, started in b.calls)
    opened = first + OPENING_S
    phases: dict[str, Any] = {"burst_s": round(split - first, 1), "opening_s": OPENING_S}
    for name, keep in (("opening", lambda t: t < opened), ("burst", lambda t: opened <= t < split),
                       ("after", lambda t: t >= split)):
        samples = [seconds for b in buyers for route, seconds, _, started in b.calls
                   if is_read(route) and keep(started)]
        phases[name] = {"n": len(samples), "p50_ms": _ms(percentile(samples, 0.5)),
                        "p99_ms": _ms(percentile(samples, 0.99))}
    return phases


def people_completions(fleet: Fleet, buyers: list[Buyer]) -> list[dict[str, Any]]:
    """Per order delivered: paid (T-Bank's CONFIRMED received, or the Stars payment consumed) → its last album
    sent, from our database (``bench_records.jobs_of``), with its tier."""
    with fleet.db() as conn:
        jobs = jobs_of(conn, payment_ids(buyers))
    return [done for job in jobs if job.status == "delivered" and (done := completion(job))]


def tightest_spans(tasks: list[dict[str, Any]], limit: int = 20) -> dict[str, float]:
    """Per Kie key: the shortest time between a task the fake accepted and the ``limit``-th after it (seconds);
    a key that never had more than ``limit`` tasks is left out. Below the window the fake would have refused."""
    by_key: dict[int, list[int]] = {}
    for task in tasks:
        by_key.setdefault(int(task["key_index"]), []).append(int(task["create_ms"]))
    spans = {}
    for key, times in sorted(by_key.items()):
        times.sort()
        if len(times) > limit:
            spans[str(key)] = round(min(b - a for a, b in zip(times, times[limit:], strict=False)) / 1000, 2)
    return spans


def web_shape(fleet: Fleet) -> str:
    """The web the reads met, in words: the deployed one (the web, the hooks and uploads roles), or a
    BENCH_WEB_POOLS experiment."""
    if not fleet.pools:
        return f"the same web (2 gunicorn workers × {web_threads()} threads), callbacks included"
    words = {"hooks": "callbacks (Kie, T-Bank, Telegram: the hooks role)",
             "uploads": "selfie uploads (the uploads role)"}
    pools = "; ".join(f"{words[name]} on their own pool :{port}" for name, port in fleet.pools.items())
    return f"the web (2 gunicorn workers × {web_threads()} threads; {pools}, each as large)"


def where_text(client: dict[str, dict[str, Any]], web: dict[str, dict[str, Any]], cpu: dict[str, Any]) -> str:
    """Where the time went, in one sentence: per slow route the client's p50 beside the web's own p50 (the rest
    waited before the web started on it), and the CPU seconds each process used against the cores' capacity."""
    gaps = [f"{route} {row['p50_ms']} ms at the client / {web[route]['p50_ms']} ms in the web"
            for route, row in client.items() if route in web and (row["p50_ms"] or 0) > 100]
    top = ", ".join(f"{name} {seconds}" for name, seconds in list(cpu["cpu_s"].items())[:6])
    return (f"median client vs web time: {'; '.join(gaps) or 'no route over 100 ms'}; CPU seconds used in "
            f"{cpu['wall_s']} s (capacity {cpu['capacity_cpu_s']}, idle {cpu['idle_share']:.0%}): {top}")


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)
