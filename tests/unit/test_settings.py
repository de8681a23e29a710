from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from settings import Settings, SettingsError


def test_defaults_are_the_local_sandbox() -> None:
    settings = Settings.from_env({})
    assert settings.kie_base_url.startswith("http://127.0.0.1:")
    assert settings.tbank_base_url.endswith("/v2")
    assert settings.kie_api_keys == ("sandbox-kie-key-1",)


def test_values_are_parsed_by_type() -> None:
    settings = Settings.from_env({"KIE_API_KEYS": "a, b ,c", "WEB_PORT": "8123", "KIE_RATE_WINDOW_S": "2.5",
                                  "BROKER": "rabbitmq"})
    assert settings.kie_api_keys == ("a", "b", "c")
    assert (settings.web_port, settings.kie_rate_window_s, settings.broker) == (8123, 2.5, "rabbitmq")


@pytest.mark.parametrize(("env", "named"), [({"WEB_PORT": "eighty"}, "WEB_PORT"),
                                            ({"KIE_API_KEYS": " , "}, "KIE_API_KEYS"),
                                            ({"BROKER": "kafka"}, "BROKER"),
                                            ({"DATABASE_URL": "not a url"}, "DATABASE_URL")])
def test_a_bad_value_fails_loudly_naming_the_variable_not_the_value(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert named in str(caught.value)
    assert list(env.values())[0] not in str(caught.value)


def test_secrets_never_appear_in_repr() -> None:
    settings = Settings(tbank_password="hunter2-terminal", telegram_bot_token="1:SECRET", admin_token="adm1n")
    text = repr(settings)
    assert "hunter2-terminal" not in text and "1:SECRET" not in text and "adm1n" not in text


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().web_port = 1  # type: ignore[misc]


def test_env_example_names_every_variable() -> None:
    """A newcomer configures from .env.example: every setting must be there (commented or set)."""
    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text(encoding="utf-8")
    named = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    missing = {f.name.upper() for f in dataclasses.fields(Settings)} - named
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_callbacks_go_to_the_hooks_web_when_it_is_set_else_to_the_public_one() -> None:
    public = Settings(public_base_url="https://app.example/")
    assert public.callback_url("/webhooks/kie") == "https://app.example/webhooks/kie"
    hooks = public.with_overrides(callback_base_url="https://hooks.example/")
    assert hooks.callback_url("/webhooks/kie") == "https://hooks.example/webhooks/kie"
    assert hooks.callback_url("") == "https://hooks.example" and hooks.public_url("/app/") == "https://app.example/app/"
    with pytest.raises(SettingsError, match="CALLBACK_BASE_URL"):
        Settings(callback_base_url="hooks.example")


def test_selfies_go_to_the_uploads_origin_when_it_is_set_else_to_the_web() -> None:
    web = Settings(public_base_url="https://app.example/mini/")
    assert web.miniapp_origin == "https://app.example" and web.uploads_origin == ""
    uploads = web.with_overrides(uploads_base_url="https://uploads.example:8443/any/path")
    assert uploads.uploads_origin == "https://uploads.example:8443"
    with pytest.raises(SettingsError, match="UPLOADS_BASE_URL"):
        Settings(uploads_base_url="uploads.example")
