"""The chaos run, small and bounded (under two minutes): three purchases — one through an invite link, one paid
while Redis is down — with a worker group SIGKILLed while it holds work and Redis stopped and restarted empty.
Every invariant check of ``scenarios.chaos`` must pass (I1–I5, I7, no dead letters)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from scenarios import chaos_checks
from scenarios.chaos import Buyer, ChaosConfig, Step, free_ports, run

pytestmark = pytest.mark.scenario


def test_killed_worker_and_lost_redis_mid_purchase_break_no_invariant(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    web_port, *sandbox_ports = free_ports(5)
    config = ChaosConfig(
        buyers=(Buyer("starter"), Buyer("standard", invited_by=0), Buyer("starter", pay_on="redis_down")),
        timeline=(Step(4, "kill_worker", "a"), Step(9, "start_worker", "a"), Step(20, "stop_redis"),
                  Step(26, "start_redis")),
        web_port=web_port, sandbox_ports=tuple(sandbox_ports), database=f"pinglass_chaos_t_{tag}",
        namespace=f"pinglass-chaos-t-{tag}", sweep_idle_s=5, kie_latency_ms=(2000, 6000), settle_timeout_s=90,
        report_dir=tmp_path, run_dir=tmp_path / "run", keep_database=False)

    result = run(config)

    for line in chaos_checks.summary_lines(result):
        print(line)
    failed = {check.name: check.problems for check in result.checks if not check.passed}
    assert not failed, failed
    killed = result.windows["redelivery"][0]
    assert killed["in_flight"] > 0, "the SIGKILL hit a worker group holding nothing: it proves nothing"
    assert result.windows["outbox_drain"]["unpublished"] == 0
    assert (tmp_path / "chaos-latest.md").exists() and (tmp_path / "chaos-latest.json").exists()
