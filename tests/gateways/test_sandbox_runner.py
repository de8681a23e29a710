"""The sandbox runner: every fake on loopback, the bucket made, a clean stop; and ``python -m sandbox``."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from gateways.storage import Storage
from sandbox.client import SandboxClient
from sandbox.runner import FAKES, NAMES, Sandbox, SandboxError, check, fake_environment, start_all
from settings import Settings

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]
MODULES = {spec.name: spec.module for spec in FAKES}


def require(*names: str) -> None:
    """Skip only when a fake's module does not exist yet (it is being written by someone else)."""
    for name in names:
        pytest.importorskip(MODULES[name])


def root_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def refuses_connections(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


SHARED_SETTINGS = Settings(s3_bucket="pinglass-runner", telegram_bot_token="4242:fleet-specific-token")


@pytest.fixture(scope="module")
def shared() -> Iterator[Sandbox]:
    """One ephemeral sandbox of every fake that exists so far, shared by the tests that only look at it."""
    names = [spec.name for spec in FAKES if importlib.util.find_spec(spec.module) is not None]
    sandbox = start_all(SHARED_SETTINGS, {"SANDBOX_S3_LATENCY_MS": "7"}, ephemeral=True, names=names)
    yield sandbox
    sandbox.stop()


@pytest.mark.parametrize("name", NAMES)
def test_each_fake_answers_its_control_api_at_the_url_the_overrides_name(name: str, shared: Sandbox) -> None:
    require(name)
    spec = next(spec for spec in FAKES if spec.name == name)
    url = shared.urls[name]

    state = SandboxClient(**{name: url}).fakes()[0].get("state")

    assert state.status_code == 200 and isinstance(state.json(), dict)
    assert shared.settings_overrides()[spec.setting] == url
    assert url == f"http://127.0.0.1:{urlsplit(url).port}{spec.base_path}"


def test_the_s3_fake_gets_the_configured_bucket_and_its_environment_knobs(shared: Sandbox) -> None:
    live = SHARED_SETTINGS.with_overrides(**shared.settings_overrides())

    assert Storage.from_settings(live, max_attempts=1).bucket_exists() is True
    assert check(live, names=list(shared.urls), timeout_s=5) == []
    state = SandboxClient(s3=shared.urls["s3"]).s3.state()
    assert state["config"]["latency_ms"] == 7


def test_the_telegram_fake_accepts_the_fleets_bot_token_not_the_default(shared: Sandbox) -> None:
    require("telegram")
    base = shared.urls["telegram"]

    assert requests.get(f"{base}/bot4242:fleet-specific-token/getMe", timeout=5).json()["ok"] is True
    assert requests.get(f"{base}/bot{Settings().telegram_bot_token}/getMe", timeout=5).status_code == 401


def test_start_all_serves_all_four_fakes_on_distinct_ports_and_stop_frees_every_port() -> None:
    require("kie", "tbank", "telegram")
    sandbox = start_all(Settings(), {}, ephemeral=True)
    try:
        live = Settings().with_overrides(**sandbox.settings_overrides())
        ports = [urlsplit(url).port for url in sandbox.urls.values()]
        assert set(sandbox.urls) == {"kie", "tbank", "telegram", "s3"}
        assert sandbox.settings_overrides()["tbank_base_url"].endswith("/v2")
        assert len(set(ports)) == 4
        assert check(live, timeout_s=5) == []
    finally:
        sandbox.stop()
    sandbox.stop()  # idempotent
    assert all(refuses_connections(port) for port in ports)
    assert check(live, timeout_s=0) == ["kie", "tbank", "telegram", "s3"]


def test_shared_credentials_default_to_settings_and_an_explicit_knob_wins() -> None:
    settings = Settings(tbank_password="fleet-pass", telegram_bot_token="42:fleet-token", kie_api_keys=("k1", "k2"))

    derived = fake_environment(settings, {"SANDBOX_TBANK_PASSWORD": "explicit-pass", "OTHER": "kept"})

    assert derived["SANDBOX_TBANK_PASSWORD"] == "explicit-pass"
    assert derived["SANDBOX_TELEGRAM_BOT_TOKEN"] == "42:fleet-token"
    assert derived["SANDBOX_KIE_API_KEYS"] == "k1,k2"
    assert derived["OTHER"] == "kept"
    assert "SANDBOX_KIE_WEBHOOK_KEY" not in derived  # not configured: the fake keeps its own default


def test_without_ephemeral_a_fake_listens_on_the_port_of_its_base_url_until_stopped() -> None:
    port = free_port()
    sandbox = start_all(Settings(s3_endpoint_url=f"http://127.0.0.1:{port}"), {}, names=["s3"])
    try:
        assert sandbox.urls == {"s3": f"http://127.0.0.1:{port}"}
        assert SandboxClient(s3=f"http://127.0.0.1:{port}").s3.get("state").status_code == 200
    finally:
        sandbox.stop()
    assert refuses_connections(port)


def test_a_busy_port_is_a_sandbox_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SandboxError, match="cannot listen"):
            start_all(Settings(s3_endpoint_url=f"http://127.0.0.1:{port}"), {}, names=["s3"])


def test_a_failed_start_stops_the_fakes_already_started() -> None:
    require("kie")
    kie_port = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        settings = Settings(kie_base_url=f"http://127.0.0.1:{kie_port}",
                            s3_endpoint_url=f"http://127.0.0.1:{busy.getsockname()[1]}")
        with pytest.raises(SandboxError):
            start_all(settings, {}, names=["kie", "s3"])
    assert refuses_connections(kie_port)


def test_base_urls_off_loopback_or_without_the_fakes_path_are_refused() -> None:
    with pytest.raises(SandboxError, match="KIE_BASE_URL"):
        start_all(Settings(kie_base_url="https://api.kie.ai"), {}, names=["kie"])
    with pytest.raises(SandboxError, match="TBANK_BASE_URL"):
        start_all(Settings(tbank_base_url="http://127.0.0.1:9102"), {}, names=["tbank"])
    with pytest.raises(SandboxError, match="unknown fakes"):
        start_all(Settings(), {}, names=["sqs"])


def test_check_names_the_fakes_that_do_not_answer() -> None:
    dead = Settings(s3_endpoint_url=f"http://127.0.0.1:{free_port()}",
                    kie_base_url=f"http://127.0.0.1:{free_port()}")

    assert check(dead, names=["kie", "s3"], timeout_s=0.3, interval_s=0.1) == ["kie", "s3"]


def run_sandbox(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "sandbox", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def sandbox_env(**values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SANDBOX_", "S3_", "KIE_",
                                                                                    "TBANK_", "TELEGRAM_"))}
    env.update(PYTHONPATH=str(ROOT), LOG_LEVEL="WARNING", **values)
    return env


def test_python_m_sandbox_prints_each_url_passes_check_and_exits_0_on_sigterm() -> None:
    names = list(NAMES)
    require(*names)
    ports = {name: free_port() for name in names}
    env = sandbox_env(KIE_BASE_URL=f"http://127.0.0.1:{ports.get('kie', 1)}",
                      TBANK_BASE_URL=f"http://127.0.0.1:{ports.get('tbank', 1)}/v2",
                      TELEGRAM_API_BASE=f"http://127.0.0.1:{ports.get('telegram', 1)}",
                      S3_ENDPOINT_URL=f"http://127.0.0.1:{ports['s3']}")
    process = run_sandbox(env)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().split() for _ in names]
        assert {name: url for name, url in lines} == {
            name: f"http://127.0.0.1:{port}" + ("/v2" if name == "tbank" else "") for name, port in ports.items()}

        checked = subprocess.run([sys.executable, "-m", "sandbox", "--check", "--timeout", "10"],
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert all(refuses_connections(port) for port in ports.values())


def test_python_m_sandbox_check_fails_with_1_when_nothing_answers() -> None:
    env = sandbox_env(S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")

    checked = subprocess.run([sys.executable, "-m", "sandbox", "--check", "--only", "s3", "--timeout", "0.3"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)

    assert checked.returncode == 1
    assert "s3" in checked.stderr
