"""Where a bench part's time went (scenarios.bench_where) and the bench's opt-in sandbox of one process per fake
(scenarios.fleet.sandbox_processes)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from scenarios import fleet
from scenarios.bench import pools_note
from scenarios.bench_common import bench_env, web_pools
from scenarios.bench_people import tightest_spans, where_text
from scenarios.bench_where import (
    TICK_S,
    CpuSnapshot,
    cpu_shares,
    machine_cpu_s,
    pre_checkout_waits,
    route_of,
    server_ms,
    server_table,
    snapshot,
    stat_cpu_s,
)


def test_process_cpu_is_read_after_the_command_even_with_spaces_and_parentheses() -> None:
    stat = "4242 (python -m (x) y) S 1 4242 4242 0 -1 4194560 10 0 0 0 150 50 0 0 20 0 5 0 100 0 0"
    assert stat_cpu_s(stat) == 200 * TICK_S


def test_machine_busy_leaves_out_idle_and_iowait() -> None:
    busy, total = machine_cpu_s("cpu  100 0 50 800 40 5 5 0 0 0\ncpu0 1 2 3 4\n")
    assert (busy, total) == (160 * TICK_S, 1000 * TICK_S)


def test_cpu_shares_name_what_the_fleet_the_clients_and_the_rest_used() -> None:
    start = CpuSnapshot(at=0.0, groups={"web": 1.0}, services={"redis": 1.0}, bench=2.0, machine_busy=10.0,
                        machine_all=20.0)
    end = CpuSnapshot(at=10.0, groups={"web": 9.0, "sandbox-s3": 3.0}, services={"redis": 2.0}, bench=4.0,
                      machine_busy=26.0, machine_all=40.0)
    shares = cpu_shares(start, end)
    assert shares["cpu_s"] == {"web": 8.0, "sandbox-s3": 3.0, "bench clients": 2.0, "others": 2.0, "redis": 1.0}
    assert list(shares["cpu_s"])[0] == "web"  # the largest first
    assert shares["busy_cpu_s"] == 16.0
    assert shares["idle_share"] == 0.2
    assert shares["wall_s"] == 10.0


def test_requests_count_under_their_route() -> None:
    assert route_of("GET", "/api/v1/payments/42") == "GET /api/v1/payments/<id>"
    assert route_of("POST", "/api/v1/avatars/7/references") == "POST /api/v1/avatars/<id>/references"
    assert route_of("GET", "/api/v1/catalog") == "GET /api/v1/catalog"


def test_the_webs_own_time_comes_from_its_json_access_lines_only() -> None:
    lines = [json.dumps({"event": "http_request", "method": "GET", "path": f"/api/v1/generations/{i}", "ms": i})
             for i in range(1, 101)]
    lines += ["not json", json.dumps({"event": "job_started", "ms": 5}),
              json.dumps({"event": "http_request", "method": "POST", "path": "/webhooks/telegram", "ms": None})]
    samples = server_ms(lines)
    assert list(samples) == ["GET /api/v1/generations/<id>"]
    assert server_table(samples)["GET /api/v1/generations/<id>"] == {"n": 100, "p50_ms": 50.0, "p99_ms": 99.0}


def test_the_sentence_puts_client_and_web_time_side_by_side() -> None:
    client = {"POST /api/v1/payments": {"p50_ms": 900.0}, "GET /api/v1/catalog": {"p50_ms": 20.0}}
    web = {"POST /api/v1/payments": {"p50_ms": 40.0}, "GET /api/v1/catalog": {"p50_ms": 5.0}}
    cpu = {"wall_s": 10.0, "capacity_cpu_s": 20.0, "idle_share": 0.05, "cpu_s": {"web": 9.0, "others": 1.0}}
    text = where_text(client, web, cpu)
    assert "POST /api/v1/payments 900.0 ms at the client / 40.0 ms in the web" in text
    assert "catalog" not in text  # fast routes are left out
    assert "web 9.0, others 1.0" in text and "idle 5%" in text


def test_the_sandbox_is_one_process_unless_split_is_asked_for() -> None:
    assert [p.name for p in fleet.sandbox_processes({})] == ["sandbox"]
    split = fleet.sandbox_processes({"SANDBOX_SPLIT": "1"})
    assert [(p.name, p.fake, p.argv[-2:]) for p in split] == [
        (f"sandbox-{fake}", fake, ["--only", fake]) for fake in ("kie", "tbank", "telegram", "s3")]
    assert [p.name for p in fleet.processes({})][0] == "sandbox"  # make run / up / chaos: as before


def test_pre_checkout_waits_are_the_telegram_fakes_posts_of_those_queries_only() -> None:
    state = {"updates": [{"update_id": 1, "pre_checkout_query": {}}, {"update_id": 2, "message": {}},
                         {"update_id": 3, "pre_checkout_query": {}}],
             "deliveries": [{"update_id": 1, "elapsed_ms": 120.0, "error": None},
                            {"update_id": 2, "elapsed_ms": 30_000.0, "error": "ReadTimeout"},
                            {"update_id": 3, "elapsed_ms": 10_050.0, "error": "ReadTimeout"}]}
    assert pre_checkout_waits(state) == {"n": 2, "p50_ms": 120.0, "max_ms": 10_050.0, "over_10s": 1,
                                         "errors": {"ReadTimeout": 1}}
    assert pre_checkout_waits({})["n"] == 0


def test_cpu_is_counted_per_pid_file_the_web_pools_by_their_folder(tmp_path: Path) -> None:
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "web.pid").write_text(str(os.getpid()))  # a group this test is not the leader of
    (tmp_path / "web.pid").write_text(str(os.getpgrp()))
    groups = snapshot(tmp_path).groups
    assert set(groups) == {"web", "uploads/web"}
    assert groups["web"] > 0  # this test's own process group used CPU to get here


def test_the_tightest_span_is_between_a_task_and_the_limit_th_after_it() -> None:
    tasks = [{"key_index": 0, "create_ms": i * 500} for i in range(25)]  # 2 / s: 20 later is 10 s on
    tasks += [{"key_index": 0, "create_ms": 12_300}]  # squeezed in: 2.5 s → 12.3 s is a 9.8 s span
    tasks += [{"key_index": 1, "create_ms": i} for i in range(20)]  # never more than 20: left out
    assert tightest_spans(tasks) == {"0": 9.8}


def test_the_web_pools_are_named_and_hooks_take_the_callbacks_and_uploads_the_selfies() -> None:
    assert web_pools({}) == {"hooks": 8201, "uploads": 8202}  # the deployed shape
    assert web_pools({"BENCH_WEB_POOLS": "none"}) == {}
    assert web_pools({"BENCH_WEB_POOLS": "hooks"}) == {"hooks": 8201}
    assert web_pools({"BENCH_WEB_POOLS": "uploads, hooks"}) == {"hooks": 8201, "uploads": 8202}
    with pytest.raises(ValueError, match="unknown pool webhooks"):
        web_pools({"BENCH_WEB_POOLS": "webhooks"})
    deployed = bench_env("redis")
    assert deployed["CALLBACK_BASE_URL"] == "http://127.0.0.1:8201"
    assert deployed["UPLOADS_BASE_URL"] == "http://127.0.0.1:8202"
    assert deployed["PUBLIC_BASE_URL"] == "http://127.0.0.1:8200"
    assert bench_env("redis", BENCH_WEB_POOLS="hooks", UPLOADS_BASE_URL="")["UPLOADS_BASE_URL"] == ""  # the web
    assert bench_env("redis", BENCH_WEB_POOLS="none", CALLBACK_BASE_URL="")["CALLBACK_BASE_URL"] == ""


def test_a_run_with_other_web_pools_says_so_in_the_reports_fleet_line() -> None:
    assert "as deployed" in pools_note({}) and "EXPERIMENT" not in pools_note({})
    assert "uploads role (:8202, UPLOADS_BASE_URL)" in pools_note({})
    assert "EXPERIMENT (BENCH_WEB_POOLS)" in pools_note({"BENCH_WEB_POOLS": "hooks"})
    assert "hooks :8201" in pools_note({"BENCH_WEB_POOLS": "hooks"})
    assert "no hooks role" in pools_note({"BENCH_WEB_POOLS": "none"})
