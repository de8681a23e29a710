"""The throughput part of ``make bench``: limits off and zero provider latency, the whole chain for a bounded
time (BENCH_THROUGHPUT_S, default 60 s), with the two ceilings measured in the same run on the same machine:

- ``engine_ceiling_msgs_per_s``: Dramatiq no-op messages through the same broker, in the fleet's worker shape;
- ``s3_put_ceiling_per_s``: PUTs of a generated photo's size to the storage (the S3 fake), as many at once as the
  worker has threads;
- ``photos_per_s``: paid Premium orders fed for the whole time by Mini App users; photos stored per second in the
  steady part (after the first 10 s), with the database's work and the messages each photo took.

The fleet's database is on a PostgreSQL server of this part's own (``counting_postgres``): pg_stat_statements counts
only when preloaded, and the shared server (5432) is not reconfigured for the bench."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import requests
from psycopg import sql as pgsql

from sandbox.client import SandboxClient
from scenarios import bench_where
from scenarios import fleet as fleet_procs
from scenarios.bench_buyers import Buyer, complete_payment, prepare, timed
from scenarios.bench_common import DB_NAME, RUN, Figure, Fleet, progress, run_threads
from scenarios.chaos import free_port
from scenarios.chaos_services import ThrowawayPostgres
from scenarios.demo import MiniApp

UNLIMITED = {
    # our own recordInfo budget too (0 = off): at its 10 per s per key the polls, not the chain, set the pace
    "KIE_RATE_LIMIT": "1000000", "KIE_RECORD_INFO_RATE_LIMIT": "0", "SANDBOX_KIE_RATE_LIMIT": "0",
    "SANDBOX_KIE_LATENCY_MS_MIN": "0", "SANDBOX_KIE_LATENCY_MS_MAX": "0", "SANDBOX_KIE_RECORD_INFO_RATE_LIMIT": "0",
    # The Kie fake checks a reference URL once a minute, not for every task: its own GETs of the same six selfies
    # (and the S3 fake's answers) cost more CPU per photo than our worker did, on the cores our fleet needs.
    "SANDBOX_KIE_REFERENCE_REUSE_S": "60",
    "TG_CHAT_RATE": "100000", "TG_CHAT_BURST": "100000", "TG_GLOBAL_RATE": "100000", "TG_GLOBAL_BURST": "100000",
    "SANDBOX_TELEGRAM_CHAT_RATE_PER_S": "100000", "SANDBOX_TELEGRAM_CHAT_BURST": "100000",
    "SANDBOX_TELEGRAM_GLOBAL_RATE_PER_S": "100000", "SANDBOX_TELEGRAM_GLOBAL_BURST": "100000",
}
STEADY_AFTER_S = 10.0
PHOTO_BYTES = 11_300  # the Kie fake's generated PNG, as stored (generated_photos.size_bytes; checked in the run)
BACKLOG_TASKS = 240  # feeders wait while more tasks than this are unfinished: the chain's pace, not a pile-up
# The part's own server is durable as the shared one is (fsync, full-page writes, synchronous commit on: the later
# -c wins over chaos's "off"), with pg_stat_statements preloaded; autovacuum stays at PostgreSQL's default (on).
SERVER_OPTIONS = ("-c fsync=on -c full_page_writes=on -c synchronous_commit=on "
                  "-c shared_preload_libraries=pg_stat_statements")
# The bench's own reads (the backlog gauge, the counters) connect as this role, so that pg_stat_statements can tell
# them from the fleet's statements.
OBSERVER = "pinglass_bench_observer"
TRANSACTION_CONTROL = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|START|SAVEPOINT|RELEASE|END)\b", re.IGNORECASE)
TOP_STATEMENTS = 8


@contextmanager
def counting_postgres() -> Iterator[str]:
    """A PostgreSQL 15 server of the part's own on a free port (``SERVER_OPTIONS``), with the ``OBSERVER`` role;
    yields the bench database's URL on it. The server and its data are gone on exit (its log: RUN/postgres.log)."""
    RUN.mkdir(parents=True, exist_ok=True)
    server = ThrowawayPostgres(free_port(), RUN, SERVER_OPTIONS)
    try:
        server.start()
        with psycopg.connect(server.url, autocommit=True) as conn:
            # superuser: it creates the extension, resets it and reads every role's statement texts
            conn.execute(pgsql.SQL("CREATE ROLE {} LOGIN SUPERUSER").format(pgsql.Identifier(OBSERVER)))
        yield server.url.rsplit("/", 1)[0] + f"/{DB_NAME}"
    finally:
        server.close()


def observer(fleet: Fleet) -> psycopg.Connection:
    """A connection to the fleet's database as ``OBSERVER``."""
    return psycopg.connect(fleet.settings.database_url, user=OBSERVER, autocommit=True)


def engine_ceiling(fleet: Fleet, seconds: float = 8.0, messages: int = 20000) -> float | None:
    """No-op messages per second: enqueue ``messages``, start the no-op program, count over ``seconds``."""
    import redis

    env = {**fleet.env, "PROMETHEUS_MULTIPROC_DIR": ""}
    env.pop("PROMETHEUS_MULTIPROC_DIR")
    code = ("import sys, scenarios.bench_noop as n\n"
            "n.broker.flush(n.QUEUE) if hasattr(n.broker, 'flush') else None\n"
            f"[n.noop.send() for _ in range({messages})]\n")
    subprocess.run([fleet_procs.PY, "-c", code], cwd=fleet_procs.ROOT, env=env, check=True, timeout=120)
    counter = redis.Redis.from_url(fleet.settings.redis_url)
    counter.delete("pinglass-bench-noop:done")
    log = open(RUN / "noop.log", "wb")  # noqa: SIM115
    shape = ["--processes", fleet.env.get("WORKER_PROCESSES", "2"), "--threads", fleet.env.get("WORKER_THREADS", "12")]
    proc = subprocess.Popen([str(Path(fleet_procs.PY).parent / "dramatiq"), "scenarios.bench_noop", *shape],
                            cwd=fleet_procs.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while int(counter.get("pinglass-bench-noop:done") or 0) < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        first, t1 = int(counter.get("pinglass-bench-noop:done") or 0), time.monotonic()
        time.sleep(seconds)
        last, t2 = int(counter.get("pinglass-bench-noop:done") or 0), time.monotonic()
        return round((last - first) / (t2 - t1), 1)  # a drained queue makes this a floor (see bench.md)
    finally:
        fleet_procs._signal_group(proc.pid, 9)
        proc.wait(timeout=10)
        log.close()
        subprocess.run([fleet_procs.PY, "-c", "import scenarios.bench_noop as n; n.broker.flush_all()"],
                       cwd=fleet_procs.ROOT, env=env, timeout=60)


def s3_ceiling(fleet: Fleet, size: int, seconds: float = 8.0, threads: int = 24) -> float:
    import boto3

    s = fleet.settings
    client = boto3.client("s3", endpoint_url=s.s3_endpoint_url, region_name=s.s3_region,
                          aws_access_key_id=s.s3_access_key_id, aws_secret_access_key=s.s3_secret_access_key)
    body = os.urandom(size)
    done = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def putter() -> None:
        while time.monotonic() < stop_at:
            client.put_object(Bucket=s.s3_bucket, Key=f"bench-ceiling/{uuid.uuid4().hex}", Body=body,
                              ContentType="image/png")
            with lock:
                done[0] += 1

    started = time.monotonic()
    run_threads([putter] * threads, seconds + 30)
    return round(done[0] / (time.monotonic() - started), 1)


def db_counters(conn: psycopg.Connection) -> dict[str, int]:
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute("SELECT xact_commit + xact_rollback, tup_returned + tup_fetched, tup_inserted + "
                       "tup_updated + tup_deleted FROM pg_stat_database WHERE datname = current_database()").fetchone()
    assert row is not None
    return {"transactions": int(row[0]), "rows_read": int(row[1]), "rows_written": int(row[2])}


def table_reads(conn: psycopg.Connection) -> dict[str, tuple[int, int, int]]:
    """Per table of the database (catalogs included): sequential scans, rows they read, rows fetched by index."""
    conn.execute("SELECT pg_stat_clear_snapshot()")
    rows = conn.execute("SELECT relname, coalesce(seq_scan, 0), coalesce(seq_tup_read, 0), "
                        "coalesce(idx_tup_fetch, 0) FROM pg_stat_all_tables").fetchall()
    return {name: (int(scans), int(seq), int(fetched)) for name, scans, seq, fetched in rows}


def tables_read(start: dict[str, tuple[int, int, int]], end: dict[str, tuple[int, int, int]], photos: int,
                top: int = 5) -> dict[str, dict[str, float]]:
    """The tables most rows were read from in the window, per photo: sequential scans and the rows they read,
    rows fetched through an index."""
    delta = {name: [b - a for a, b in zip(start.get(name, (0, 0, 0)), got, strict=True)] for name, got in end.items()}
    busiest_tables = sorted(delta.items(), key=lambda item: item[1][1] + item[1][2], reverse=True)[:top]
    return {name: {"seq_scans": round(scans / photos, 2), "seq_rows": round(seq / photos, 1),
                   "index_rows": round(fetched / photos, 1)} for name, (scans, seq, fetched) in busiest_tables}


def fleet_statements(conn: psycopg.Connection, own: bool = False) -> list[tuple[str, int, int, int, float]]:
    """pg_stat_statements of this database since its last reset: the fleet's (``own``: the bench's, the
    ``OBSERVER``'s) — query, calls, rows, shared blocks touched (hit + read), total ms."""
    rows = conn.execute("SELECT s.query, s.calls, s.rows, s.shared_blks_hit + s.shared_blks_read, s.total_exec_time "
                        "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
                        "JOIN pg_roles r ON r.oid = s.userid WHERE d.datname = current_database() "
                        "AND (r.rolname = %s) = %s", (OBSERVER, own)).fetchall()
    return [(str(q), int(calls), int(n), int(blocks), float(ms)) for q, calls, n, blocks, ms in rows]


def statements_per_photo(statements: list[tuple[str, int, int, int, float]], photos: int,
                         top: int = TOP_STATEMENTS) -> dict[str, Any]:
    """Statements and shared blocks touched per photo in all, the statements of transaction control (BEGIN,
    COMMIT …), and the ``top`` statements by calls and by shared blocks, each per photo (query text shortened to
    120 characters)."""
    def entry(statement: tuple[str, int, int, int, float]) -> dict[str, Any]:
        query, calls, rows, blocks, ms = statement
        text = " ".join(query.split())
        return {"query": text if len(text) <= 120 else text[:119] + "…", "calls": round(calls / photos, 2),
                "rows": round(rows / photos, 1), "shared_blocks": round(blocks / photos, 1),
                "ms_per_call": round(ms / calls, 2) if calls else None}

    calls = sum(s[1] for s in statements)
    control = sum(s[1] for s in statements if TRANSACTION_CONTROL.match(s[0]))
    return {"statements": round(calls / photos, 2), "transaction_control": round(control / photos, 2),
            "shared_blocks": round(sum(s[3] for s in statements) / photos, 1),
            "top_by_calls": [entry(s) for s in sorted(statements, key=lambda s: s[1], reverse=True)[:top]],
            "top_by_shared_blocks": [entry(s) for s in sorted(statements, key=lambda s: s[3], reverse=True)[:top]]}


def scrape(fleet: Fleet) -> dict[str, float]:
    """The fleet's /metrics: messages processed, and time spent per actor and per provider call (sum and count)."""
    text = requests.get(f"{fleet.base}/metrics", headers={"Authorization": f"Bearer {fleet.settings.admin_token}"},
                        timeout=10).text
    found: dict[str, float] = {"messages": 0.0}
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name.startswith("pinglass_messages_total{"):
            found["messages"] += float(value)
        for family in ("pinglass_message_duration_seconds", "pinglass_provider_latency_seconds"):
            for part in ("_sum{", "_count{"):
                if name.startswith(family + part):
                    labels = name.split("{", 1)[1].rstrip("}")
                    found[f"{part[1:-1]} {labels}"] = found.get(f"{part[1:-1]} {labels}", 0.0) + float(value)
    return found


def busiest(start: dict[str, float], end: dict[str, float], top: int = 4) -> list[str]:
    """The actors and provider calls that took the most time in the window: total s, count, mean ms."""
    rows = []
    for key, total in end.items():
        if not key.startswith("sum "):
            continue
        labels = key[4:]
        spent = total - start.get(key, 0.0)
        count = end.get(f"count {labels}", 0.0) - start.get(f"count {labels}", 0.0)
        if count > 0:
            rows.append((spent, f"{labels.replace(chr(34), '')}: {spent:.0f} s over {count:.0f} "
                                f"(mean {1000 * spent / count:.0f} ms)"))
    return [text for _, text in sorted(rows, reverse=True)[:top]]


def throughput(fleet: Fleet, seed: int) -> tuple[list[Figure], dict[str, Any]]:
    s = fleet.settings
    seconds = float(os.environ.get("BENCH_THROUGHPUT_S", "60"))
    progress("throughput: engine ceiling (no-op messages on the same broker)")
    engine = engine_ceiling(fleet)
    progress(f"throughput: engine ceiling {engine} msgs/s; S3 PUT ceiling")
    s3 = s3_ceiling(fleet, PHOTO_BYTES)
    progress(f"throughput: S3 PUT ceiling {s3} PUT/s; preparing buyers")
    feeders = [Buyer(seed + i, "premium") for i in range(16)]
    run_threads([lambda b=b: prepare(fleet.base, s, b) for b in feeders], 180)
    with observer(fleet) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        avatars: dict[int, int] = dict(conn.execute(
            "SELECT u.telegram_id, a.id FROM avatars a JOIN users u ON u.id = a.user_id "
                                    "WHERE u.telegram_id = ANY(%s)", ([b.telegram_id for b in feeders],)).fetchall())
    style = MiniApp(fleet.base, s, feeders[0].telegram_id).call("GET", "/api/v1/catalog")["styles"][0]["id"]
    stop_at = time.monotonic() + seconds
    paid = [0]
    lock = threading.Lock()
    backlog = [0]

    def gauge() -> None:
        with observer(fleet) as conn:
            while time.monotonic() < stop_at:
                # a sequential scan (~100 pages here); counting on the two partial indexes touched 13 times the
                # blocks in a run: the visibility map lags the churn, so every index entry costs a heap visit
                row = conn.execute("SELECT count(*) FROM generation_tasks WHERE status IN "
                                   "('pending', 'submitting', 'submitted', 'succeeded')").fetchone()
                backlog[0] = int(row[0]) if row else 0
                time.sleep(0.5)

    threading.Thread(target=gauge, daemon=True).start()

    def feed(buyer: Buyer) -> None:
        complete_payment(s, buyer)  # the checkout prepare() opened
        app = MiniApp(fleet.base, s, buyer.telegram_id)
        while time.monotonic() < stop_at and not buyer.error:
            if backlog[0] > BACKLOG_TASKS:
                time.sleep(0.2)
                continue
            with lock:
                paid[0] += 1
            try:
                buyer.payment = timed(buyer, app, "POST /api/v1/payments", "POST", "/api/v1/payments",
                                      json={"avatar_id": avatars[buyer.telegram_id], "style_id": style,
                                            "tier": "premium", "rail": "card"})
            except Exception as exc:  # noqa: BLE001
                buyer.error = str(exc)
                return
            complete_payment(s, buyer)

    progress(f"throughput: feeding Premium orders from {len(feeders)} users for {seconds:.0f} s")
    began = time.time()
    threads = [threading.Thread(target=feed, args=(b,), daemon=True) for b in feeders]
    for thread in threads:
        thread.start()
    time.sleep(STEADY_AFTER_S)
    with observer(fleet) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
        db_start, tables_start = db_counters(conn), table_reads(conn)
        scraped_start, t_start = scrape(fleet), time.time()
    cpu_start = bench_where.snapshot()
    time.sleep(max(0.0, stop_at - time.monotonic()))
    cpu = bench_where.cpu_shares(cpu_start, bench_where.snapshot())
    with observer(fleet) as conn:
        statements, own = fleet_statements(conn), fleet_statements(conn, own=True)
        db_end, tables_end = db_counters(conn), table_reads(conn)
        scraped_end, t_end = scrape(fleet), time.time()
        stored = conn.execute("SELECT count(*), avg(size_bytes) FROM generated_photos WHERE created_at BETWEEN "
                              "to_timestamp(%s) AND to_timestamp(%s)", (t_start, t_end)).fetchone()
        delivered = conn.execute("SELECT coalesce(sum(cardinality(photo_ids)), 0) FROM deliveries WHERE sent_at "
                                 "BETWEEN to_timestamp(%s) AND to_timestamp(%s)", (t_start, t_end)).fetchone()
        per_s = conn.execute("SELECT floor(extract(epoch FROM created_at) - %s)::int, count(*) FROM generated_photos "
                             "GROUP BY 1 ORDER BY 1", (began,)).fetchall()
    for thread in threads:
        thread.join(timeout=15)
    assert stored is not None and delivered is not None
    photos = int(stored[0])
    size = int(stored[1] or 200_000)
    rate = round(photos / (t_end - t_start), 1)
    progress(f"throughput: {rate} photos/s (photos' mean size {size} bytes)")
    fake_tasks = SandboxClient.from_settings(s).kie.tasks()
    fake_lag = sorted((t["complete_ms"] - t["create_ms"]) / 1000 for t in fake_tasks if t.get("complete_ms"))
    fake_done = len(fake_lag)
    msgs_per_photo = round((scraped_end['messages'] - scraped_start['messages']) / photos, 2) if photos else None
    engine_photos = engine / msgs_per_photo if engine and msgs_per_photo else None
    ceiling = min(x for x in (engine_photos, s3) if x) if (engine_photos or s3) else None
    ratio = round(rate / ceiling, 3) if ceiling else None
    bound = "engine" if ceiling == engine_photos else "storage"
    delta = {k: db_end[k] - db_start[k] for k in db_end}
    queries = statements_per_photo(statements, photos) if photos else {}
    if photos:
        queries["bench_own"] = {"calls": round(sum(st[1] for st in own) / photos, 2),
                                "shared_blocks": round(sum(st[3] for st in own) / photos, 1)}
    why = ""
    if rate < 100 or (ratio is not None and ratio < 0.5):
        why = (f"the lower ceiling is the {bound} ({round(ceiling or 0, 1)} photos/s); the chain took "
               f"{msgs_per_photo} messages, {round(delta['transactions'] / photos, 1) if photos else '?'} "
               f"database transactions, {queries.get('statements', '?')} statements and "
               f"{round(delta['rows_read'] / photos) if photos else '?'} rows read per photo, the feeders paid "
               f"{paid[0]} orders; web, worker, scheduler, the fakes, Postgres, the broker and the feeders share "
               f"2 cores. The Kie fake (latency set to 0) finished {fake_done} of {len(fake_tasks)} tasks, taking a "
               f"median {fake_lag[len(fake_lag) // 2] if fake_lag else '?'} s each (queued for its 16 work slots, "
               "checking its 6 reference URLs (each fetched from the S3 fake at most once a minute: "
               "SANDBOX_KIE_REFERENCE_REUSE_S), rendering and calling back, in its own process). "
               + cpu_text(cpu, photos) + " Where our time went (from /metrics): "
               + "; ".join(busiest(scraped_start, scraped_end)))
    return [
        Figure("photos_per_s", rate, "photos/s", 100, ">=",
               f"limits off, Kie latency 0 (the Kie fake fetches a reference URL at most once a minute): Premium "
               f"orders paid by {len(feeders)} Mini App users for {seconds:.0f} s; "
               f"photos stored (generated_photos) per second from {STEADY_AFTER_S:.0f} s to the end", why,
               {"photos": photos, "orders_paid": paid[0], "photos_delivered_in_window": int(delivered[0]),
                "per_second": [n for _, n in per_s], "cpu": cpu}),
        Figure("engine_ceiling_msgs_per_s", engine, "msgs/s", None, "",
               "Dramatiq no-op actor (one Redis INCR) on the same broker, 2 processes × 12 threads, 20 000 messages "
               "queued first; counted over 8 s after the first 200", ""),
        Figure("s3_put_ceiling_per_s", s3, "PUT/s", None, "",
               f"PUTs of {PHOTO_BYTES} bytes (a stored photo's size; this run's mean {size}) to the S3 fake from 24 "
               "threads for 8 s, on the idle fleet before the photos run", ""),
        Figure("photos_per_s_ratio_to_ceiling", ratio, "", 0.5, ">=",
               "photos_per_s ÷ min(engine ceiling ÷ messages per photo, S3 PUT ceiling ÷ 1 PUT per photo)", why,
               {"messages_per_photo": msgs_per_photo, "ceiling_photos_per_s": round(ceiling or 0, 1),
                "bound_by": bound}),
        Figure("db_queries_per_photo", queries.get("statements"), "", None, "",
               "pg_stat_statements on the throughput fleet's own PostgreSQL 15 (shared_preload_libraries="
               "pg_stat_statements; fsync, full_page_writes and synchronous_commit on, as on the shared server; "
               "autovacuum on, PostgreSQL's default, which this machine's shared server turns off), "
               "reset with pg_stat_statements_reset() at the window's start: calls of every statement the fleet "
               "(web, hooks, worker, scheduler; the feeders' purchases through the web included) ran in the bench "
               "database during the window ÷ photos stored. BEGIN/COMMIT count (their share: transaction_control); "
               f"the bench's own reads (role {OBSERVER}: a backlog gauge every 0.5 s, the counters) do not (they "
               "are in bench_own). extra: "
               f"the {TOP_STATEMENTS} statements with the most calls and with the most shared blocks touched (hit + "
               "read), each per photo, and the tables most rows were read from (pg_stat_all_tables)", "",
               {**queries, "tables_read": tables_read(tables_start, tables_end, photos) if photos else {}}),
        Figure("db_transactions_per_photo", round(delta["transactions"] / photos, 2) if photos else None, "", None,
               "", "pg_stat_database (bench database, on the throughput fleet's own server: see db_queries_per_photo) "
               "xact_commit + xact_rollback during the window ÷ photos stored; every transaction of the fleet and of "
               "the bench's own reads counts (purchases included); feeders wait while more than "
               f"{BACKLOG_TASKS} tasks are unfinished. Rows read (tup_returned + tup_fetched) and written per photo "
               "in extra", "",
               {"rows_read_per_photo": round(delta["rows_read"] / photos, 1) if photos else None,
                "rows_written_per_photo": round(delta["rows_written"] / photos, 1) if photos else None}),
    ], {"throughput_per_second": [n for _, n in per_s]}


FLEET_PROCESSES = ("web", "hooks/web", "worker", "scheduler")


def cpu_text(cpu: dict[str, Any], photos: int) -> str:
    """Where the cores went in the window, per photo: our fleet's processes, the sandbox fakes, the databases
    and broker, and what our fleet alone would store per second if it had the cores (an estimate: the fakes'
    CPU stands for providers that run elsewhere)."""
    used = cpu["cpu_s"]
    ours = sum(v for k, v in used.items() if k in FLEET_PROCESSES)
    fakes = sum(v for k, v in used.items() if k.startswith("sandbox"))
    if not photos or not ours:
        return ""
    per = {name: round(1000 * seconds / photos, 1) for name, seconds in used.items() if seconds}
    return (f"CPU per photo in the window, ms: {per} — our fleet {round(1000 * ours / photos, 1)}, the fakes "
            f"{round(1000 * fakes / photos, 1)}, cores idle {cpu['idle_share']:.0%}; on the cores alone our fleet "
            f"would store about {round(cpu['capacity_cpu_s'] / ours * photos / cpu['wall_s'], 1)} photos/s.")
