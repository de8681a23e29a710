"""Outside sandbox mode a process refuses to start on an empty secret or a sandbox default (issue 10, item 1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from settings import PRODUCTION_SECRETS, Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]

REAL = {"ADMIN_TOKEN": "adm-7f3e", "CALLBACK_SIGNING_KEY": "cbk-91aa", "TELEGRAM_WEBHOOK_SECRET": "whs-02bd",
        "TELEGRAM_BOT_TOKEN": "123:tok-55c1", "TBANK_PASSWORD": "tbp-7d10", "KIE_API_KEYS": "kie-a1,kie-b2",
        "S3_ACCESS_KEY_ID": "s3id-3c", "S3_SECRET_ACCESS_KEY": "s3sec-4d"}


def test_the_list_covers_every_secret_production_needs() -> None:
    assert {name.upper() for name in PRODUCTION_SECRETS} == set(REAL)


def test_production_settings_with_real_secrets_pass() -> None:
    Settings.from_env(REAL).check_for_production()


@pytest.mark.parametrize("var", sorted(REAL))
@pytest.mark.parametrize("how", ["unset", "default"])
def test_a_missing_or_default_secret_is_refused_naming_the_variable(var: str, how: str) -> None:
    env = dict(REAL)
    del env[var]
    settings = Settings.from_env(env)
    if how == "default":  # the sandbox default written out explicitly, as a careless deploy would
        value = getattr(Settings(), var.lower())
        settings = Settings.from_env({**env, var: ",".join(value) if isinstance(value, tuple) else value})
    with pytest.raises(SettingsError) as caught:
        settings.check_for_production()
    assert var in str(caught.value)
    for other, value in REAL.items():
        assert value not in str(caught.value), other


def test_a_sandbox_kie_key_among_real_ones_is_refused() -> None:
    with pytest.raises(SettingsError, match="KIE_API_KEYS"):
        Settings.from_env({**REAL, "KIE_API_KEYS": "kie-a1,sandbox-kie-key-1"}).check_for_production()


def test_sandbox_mode_runs_on_the_defaults() -> None:
    Settings.from_env({"SANDBOX_MODE": "1"}).check_for_production()


@pytest.mark.parametrize("module", ["workers.main", "web.wsgi", "workers.scheduler", "workers.telegram_setup"])
def test_a_production_process_without_secrets_refuses_to_start(module: str) -> None:
    env = {k: v for k, v in os.environ.items() if k.upper() not in REAL and k != "SANDBOX_MODE"}
    code = {"web.wsgi": "import web.wsgi as w; w.build()",
            "workers.main": "import workers.main",
            "workers.scheduler": "import workers.scheduler as s; s.main()",
            "workers.telegram_setup": "import os, sys, workers.telegram_setup as t; sys.exit(t.main(os.environ))"}
    result = subprocess.run([sys.executable, "-c", code[module]], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    assert "ADMIN_TOKEN" in result.stderr and "CALLBACK_SIGNING_KEY" in result.stderr
    assert "sandbox-admin-token" not in result.stderr and "sandbox-callback-signing-key" not in result.stderr
