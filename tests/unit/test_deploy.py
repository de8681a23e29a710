"""Issue 11, deploy/: the alert rules and the scrape configuration pass promtool (Debian's ``prometheus``
package, installed by deploy/ensure-tools.sh from ``make test``) and their own unit tests; every metric an alert or
the Grafana dashboard reads is one telemetry/metrics.py exposes; every alert has a runbook; the compose file parses
and runs the fleet's services; the image runs as a non-root user with a health check. No Docker engine runs here:
the Dockerfile and compose file are read, not built or started."""

from __future__ import annotations

import ast
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from runtime import heartbeats
from tests.conftest import BROKER_NAMESPACE, REDIS_TEST_URL

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "pinglass.json"
FLEET_SERVICES = {"web", "worker", "scheduler"}
STACK_SERVICES = FLEET_SERVICES | {"postgres", "redis", "prometheus", "grafana"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
                "offset", "inf", "nan"}
SUFFIXES = {"Counter": ("_total",), "Gauge": ("",), "Histogram": ("_bucket", "_sum", "_count")}


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool is missing: run `bash deploy/ensure-tools.sh` (make test does)")
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def exposed_metrics() -> set[str]:
    """The names /metrics shows for the metrics declared in telemetry/metrics.py: a counter ``x`` or ``x_total``
    as ``x_total``, a histogram as its ``_bucket``/``_sum``/``_count`` series, a gauge as is."""
    tree = ast.parse((ROOT / "telemetry" / "metrics.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in SUFFIXES:
            first = node.args[0]
            assert isinstance(first, ast.Constant) and isinstance(first.value, str), ast.dump(first)
            base = first.value.removesuffix("_total") if node.func.id == "Counter" else first.value
            names |= {base + suffix for suffix in SUFFIXES[node.func.id]}
    assert len(names) > 10, names  # the parse found the declarations
    return names | {"up"}  # Prometheus's own, per scrape target


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: what is left once strings, label matchers, ranges,
    grouping clauses, function calls, keywords and numbers are taken out."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    words = re.findall(r"(?<![\w.$])([A-Za-z_:][\w:]*)\b(?!\s*\()", text)
    return {word for word in words if word.lower() not in PROMQL_WORDS}


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((DEPLOY / "alerts.yml").read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"] if "alert" in rule]
    assert rules, "deploy/alerts.yml has no alert"
    return rules


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert queries, "the dashboard has no query"
    return queries


def test_the_metric_name_parser_finds_what_a_query_reads():
    expr = ('histogram_quantile(0.95, sum by (le, provider) (rate(pinglass_provider_latency_seconds_bucket'
            '{provider=~"kie|s3"}[$__rate_interval]))) > 1 unless on() absent(up{job="web"}) or vector(0)'
            ' and pinglass_outbox_backlog offset 10m')
    assert metric_names(expr) == {"pinglass_provider_latency_seconds_bucket", "up", "pinglass_outbox_backlog"}


def test_alert_rules_pass_promtool():
    result = promtool("check", "rules", "deploy/alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_fire_as_their_unit_tests_expect():
    """deploy/alerts.test.yml: a first dead letter fires (its series appears at 1), the web down fires, checkouts
    with no T-Bank notification fire and with notifications do not."""
    result = promtool("test", "rules", "alerts.test.yml", cwd=DEPLOY)
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_config_passes_promtool(tmp_path):
    """Checked with the token file pointed at a temporary one (promtool requires it to exist) and the rules
    beside it, as Prometheus would load them."""
    token = tmp_path / "pinglass-metrics-token"
    token.write_text("test-token\n")
    config = (DEPLOY / "prometheus.yml").read_text()
    assert "/etc/prometheus/pinglass-metrics-token" in config
    (tmp_path / "prometheus.yml").write_text(config.replace("/etc/prometheus/pinglass-metrics-token", str(token)))
    shutil.copy(DEPLOY / "alerts.yml", tmp_path / "alerts.yml")
    result = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout, result.stdout


def test_every_alert_reads_only_metrics_that_exist():
    exposed = exposed_metrics()
    for rule in alert_rules():
        used = metric_names(rule["expr"])
        assert used, f"{rule['alert']}: no metric found in {rule['expr']!r}"
        assert used <= exposed, f"{rule['alert']} reads {sorted(used - exposed)}, not in telemetry/metrics.py"


def test_every_dashboard_query_reads_only_metrics_that_exist_and_parses(tmp_path):
    exposed = exposed_metrics()
    queries = dashboard_queries()
    for expr in queries:
        used = metric_names(expr)
        assert used, f"no metric found in {expr!r}"
        assert used <= exposed, f"the dashboard reads {sorted(used - exposed)}, not in telemetry/metrics.py"
    # promtool parses PromQL inside rule files: each query as a recording rule, Grafana's interval made concrete
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{number}", "expr": expr.replace("$__rate_interval", "1m")}
        for number, expr in enumerate(queries)]}]}
    (tmp_path / "dashboard.rules.yml").write_text(yaml.safe_dump(rules))
    result = promtool("check", "rules", str(tmp_path / "dashboard.rules.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_waits_is_labelled_and_links_its_runbook():
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names)), names
    for rule in alert_rules():
        name = rule["alert"]
        assert "for" in rule, f"{name}: no `for:`"
        assert rule.get("labels", {}).get("severity") in ("page", "warning"), f"{name}: severity"
        annotations = rule.get("annotations", {})
        assert annotations.get("summary"), f"{name}: no summary"
        assert annotations.get("runbook_url") == f"docs/runbooks/{name}.md", f"{name}: runbook_url"
        runbook = ROOT / "docs" / "runbooks" / f"{name}.md"
        assert runbook.is_file(), f"{name}: {runbook.relative_to(ROOT)} is missing"
        text = runbook.read_text()
        for heading in ("## What it means", "## How to check", "## What to do"):
            assert heading in text, f"{runbook.relative_to(ROOT)}: no {heading!r}"


def test_dashboard_uses_the_provisioned_datasource():
    datasources = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = datasources["datasources"][0]["uid"]
    dashboard = json.loads(DASHBOARD.read_text())
    used = {target["datasource"]["uid"] for panel in dashboard["panels"] for target in panel.get("targets", [])}
    assert used == {uid}
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/pinglass.yml").read_text())
    compose = yaml.safe_load((DEPLOY / "compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['providers'][0]['options']['path']}:ro" in mounts


def test_compose_runs_the_fleet_and_its_monitoring():
    compose = yaml.safe_load((DEPLOY / "compose.yml").read_text())
    services = compose["services"]
    assert STACK_SERVICES <= set(services), sorted(STACK_SERVICES - set(services))
    for name in FLEET_SERVICES:
        service = services[name]
        assert service["command"] == ["deploy/launch.sh", name], f"{name}: not the Procfile's command"
        assert service["env_file"] == ["compose.env"], f"{name}: secrets come from compose.env"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    # scalable: nothing a second replica would collide on
    assert not {"container_name", "ports", "hostname"} & set(services["worker"])
    for name in STACK_SERVICES - {"web"}:  # the web's check is the image's HEALTHCHECK
        assert services[name]["healthcheck"]["test"], f"{name}: no healthcheck"
    assert services["worker"]["healthcheck"]["test"][-2:] == ["deploy/healthcheck.py", "worker"]
    assert services["scheduler"]["healthcheck"]["test"][-2:] == ["deploy/healthcheck.py", "scheduler"]
    prometheus_mounts = services["prometheus"]["volumes"]
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus_mounts
    assert "./alerts.yml:/etc/prometheus/alerts.yml:ro" in prometheus_mounts
    assert services["prometheus"]["secrets"][0]["target"] == "/etc/prometheus/pinglass-metrics-token"


def test_compose_secrets_stay_out_of_git():
    example = (DEPLOY / "compose.env.example").read_text()
    assert "CHANGE-ME" in example
    tracked = subprocess.run(["git", "ls-files", "deploy/compose.env"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
    assert tracked == "", "deploy/compose.env holds real secrets: it must not be committed"
    ignored = subprocess.run(["git", "check-ignore", "-q", "deploy/compose.env"], cwd=ROOT)
    assert ignored.returncode == 0, "deploy/compose.env is not ignored by git"


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_image_is_slim_multi_stage_hash_locked_and_runs_as_a_user():
    instructions = dockerfile_instructions()
    stages = [arg for word, arg in instructions if word == "FROM"]
    assert len(stages) >= 2, "build and runtime stages"
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim-bookworm") in instructions
    installs = [part for word, arg in instructions if word == "RUN" for part in arg.split("&&") if "-r requ" in part]
    for lock in ("requirements.lock", "requirements-nodeps.txt"):
        assert any("--require-hashes" in part and f"-r {lock}" in part for part in installs), f"{lock}: unchecked"
    users = [arg for word, arg in instructions if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), f"runs as {users[-1:]}"
    healthchecks = [arg for word, arg in instructions if word == "HEALTHCHECK"]
    assert healthchecks and "deploy/healthcheck.py" in healthchecks[-1]
    assert ("CMD", '["deploy/launch.sh", "web"]') in instructions
    for word, arg in instructions:  # no secret in the image
        if word in ("ENV", "ARG"):
            assert not re.search(r"TOKEN|PASSWORD|SECRET|_KEY", arg), f"{word} {arg}"
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert {".git", ".venv", ".env", "deploy/compose.env", "tests", "sandbox"} <= set(ignored)


@pytest.fixture
def answering_web() -> Iterator[tuple[int, list[int]]]:
    """A stand-in web on a free port whose /health answers the status at the head of the list."""
    statuses = [200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 — http.server's name
            self.send_response(statuses[0] if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], statuses
    server.shutdown()
    server.server_close()


def healthcheck(role: str, **env: str) -> int:
    return subprocess.run([sys.executable, str(DEPLOY / "healthcheck.py"), role], env=env, capture_output=True,
                          timeout=30).returncode


def test_web_health_check_follows_the_webs_health(answering_web):
    port, statuses = answering_web
    assert healthcheck("web", PORT=str(port)) == 0
    statuses[0] = 503
    assert healthcheck("web", PORT=str(port)) == 1


def test_worker_health_check_sees_this_hosts_heartbeat(redis_client: redis.Redis):
    env = {"REDIS_URL": REDIS_TEST_URL, "BROKER_NAMESPACE": BROKER_NAMESPACE}
    assert healthcheck("worker", **env) == 1
    heartbeats.beat(redis_client, namespace=BROKER_NAMESPACE, role="worker", started_at=0.0)
    assert healthcheck("worker", **env) == 0
    assert healthcheck("scheduler", **env) == 1, "a worker's heartbeat is not the scheduler's"
    assert healthcheck("worker", REDIS_URL="redis://127.0.0.1:1/0", BROKER_NAMESPACE=BROKER_NAMESPACE) == 1
