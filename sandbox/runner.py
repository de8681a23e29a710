"""Starting and stopping the whole sandbox: the Kie, T-Bank, Telegram and S3 fakes on loopback.

``start_all`` serves each fake on the port of its base URL in Settings (or, ``ephemeral``, on any free port, and
``Sandbox.settings_overrides()`` tells the caller where they ended up), creates the bucket, and returns a handle
that stops them all. ``check`` waits until the fakes of a running sandbox answer. Both are used by
``python -m sandbox`` and, in-process, by tests and scenario runs.

The fakes read their own SANDBOX_* knobs, but the credentials both sides must agree on (T-Bank terminal key and
password, bot token and username, Kie keys and webhook key) default to the fleet's Settings, so changing
TBANK_PASSWORD alone does not leave the fake rejecting every Token. An explicit SANDBOX_* value still wins.
Limits are deliberately not copied: the fake's Kie limit is the provider's, which ours must respect.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import boto3
import requests
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sandbox.server import ServerHandle, serve
from settings import Settings
from telemetry.logs import log

logger = logging.getLogger("sandbox.runner")

_LOOPBACK = ("127.0.0.1", "localhost")


class SandboxError(RuntimeError):
    """The sandbox cannot start as configured (a base URL off loopback, a busy port, a wrong base path)."""


class BucketError(RuntimeError):
    """The S3 fake started but the bucket could not be made in it."""


@dataclass(frozen=True)
class FakeSpec:
    """One fake: its module (``create_app`` + ``config_from_env``), the Settings field naming its base URL,
    and the path under which the fake's own routes already live (T-Bank's API is at ``/v2``)."""

    name: str
    module: str
    setting: str
    base_path: str = ""


FAKES: tuple[FakeSpec, ...] = (
    FakeSpec("kie", "sandbox.kie", "kie_base_url"),
    FakeSpec("tbank", "sandbox.tbank", "tbank_base_url", "/v2"),
    FakeSpec("telegram", "sandbox.telegram", "telegram_api_base"),
    FakeSpec("s3", "sandbox.s3", "s3_endpoint_url"),
)
NAMES: tuple[str, ...] = tuple(spec.name for spec in FAKES)


class _FakeModule(Protocol):
    def create_app(self, config: object = None) -> object: ...

    def config_from_env(self, environ: Mapping[str, str]) -> object: ...


@dataclass
class Sandbox:
    """Running fakes by name. ``urls`` are the base URLs a gateway is configured with (T-Bank's ends in /v2)."""

    handles: dict[str, ServerHandle]
    specs: dict[str, FakeSpec]
    _stopped: bool = field(default=False, repr=False)

    @property
    def urls(self) -> dict[str, str]:
        return {name: handle.url + self.specs[name].base_path for name, handle in self.handles.items()}

    def settings_overrides(self) -> dict[str, str]:
        """The Settings fields that point the fleet at these fakes, e.g. ``{"kie_base_url": ...}``."""
        return {self.specs[name].setting: url for name, url in self.urls.items()}

    def stop(self) -> None:
        """Stop every fake (idempotent); the ports are free when this returns."""
        if self._stopped:
            return
        self._stopped = True
        if not self.handles:
            return
        # In parallel: each server takes up to its poll interval (0.5 s) to notice the shutdown.
        with ThreadPoolExecutor(max_workers=len(self.handles), thread_name_prefix="sandbox-stop") as pool:
            stops = {name: pool.submit(handle.stop) for name, handle in self.handles.items()}
        for name, stopped in stops.items():
            stopped.result()
            log(logger, "sandbox_fake_stopped", fake=name)


def start_all(settings: Settings, environ: Mapping[str, str], *, ephemeral: bool = False,
              names: Sequence[str] | None = None) -> Sandbox:
    """Start the fakes ``names`` (default: all four) configured from ``environ``'s SANDBOX_* knobs.

    Without ``ephemeral`` each fake listens on the port of its base URL in ``settings``, which must point at
    127.0.0.1 and carry the fake's base path; with it every fake takes a free port. The S3 fake, when started,
    gets the configured bucket. On any failure the fakes already started are stopped before the error is raised.
    """
    specs = _select(names)
    fake_environ = fake_environment(settings, environ)
    sandbox = Sandbox(handles={}, specs={spec.name: spec for spec in specs})
    try:
        for spec in specs:
            port = 0 if ephemeral else _port_of(spec, getattr(settings, spec.setting))
            module: _FakeModule = importlib.import_module(spec.module)  # type: ignore[assignment]
            app = module.create_app(module.config_from_env(fake_environ))
            sandbox.handles[spec.name] = _serve(spec.name, app, port)
            log(logger, "sandbox_fake_started", fake=spec.name, url=sandbox.urls[spec.name])
        if "s3" in sandbox.handles:
            _create_bucket(settings.with_overrides(**sandbox.settings_overrides()))
    except BaseException:
        sandbox.stop()
        raise
    return sandbox


def check(settings: Settings, *, names: Sequence[str] | None = None, timeout_s: float = 30.0,
          interval_s: float = 0.2) -> list[str]:
    """Wait until every fake at its Settings base URL answers its control API (and, for S3, has the bucket).

    Returns the names that still did not answer when ``timeout_s`` ran out (empty: all is up).
    """
    pending = _select(names)
    deadline = time.monotonic() + timeout_s
    while pending:
        pending = [spec for spec in pending if not _answers(spec, settings)]
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(interval_s)
    return [spec.name for spec in pending]


def fake_environment(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with the shared credentials filled in from ``settings`` where no SANDBOX_* value is given."""
    shared = {
        "SANDBOX_KIE_API_KEYS": ",".join(settings.kie_api_keys),
        "SANDBOX_KIE_WEBHOOK_KEY": settings.kie_webhook_key,
        "SANDBOX_KIE_KEY_ACCOUNTS": ",".join(settings.kie_key_accounts),
        # the terminal the fleet is configured for: with receipts on, one with an online cash register
        "SANDBOX_TBANK_CASH_REGISTER": "1" if settings.tbank_receipts else "",
        "SANDBOX_TBANK_TERMINAL_KEY": settings.tbank_terminal_key,
        "SANDBOX_TBANK_PASSWORD": settings.tbank_password,
        "SANDBOX_TELEGRAM_BOT_TOKEN": settings.telegram_bot_token,
        "SANDBOX_TELEGRAM_BOT_USERNAME": settings.telegram_bot_username,
    }
    merged = dict(environ)
    for name, value in shared.items():
        if value and not merged.get(name):
            merged[name] = value
    return merged


def _select(names: Sequence[str] | None) -> list[FakeSpec]:
    if names is None:
        return list(FAKES)
    unknown = sorted(set(names) - set(NAMES))
    if unknown:
        raise SandboxError(f"unknown fakes {unknown}; known: {list(NAMES)}")
    return [spec for spec in FAKES if spec.name in names]


def _port_of(spec: FakeSpec, url: str) -> int:
    parts = urlsplit(url)
    if parts.hostname not in _LOOPBACK or parts.port is None:
        raise SandboxError(f"{spec.setting.upper()} must be http://127.0.0.1:<port>{spec.base_path} to run the sandbox")
    if parts.path.rstrip("/") != spec.base_path:
        expected = spec.base_path or "the port"
        raise SandboxError(f"{spec.setting.upper()} must end in {expected} for the {spec.name} fake")
    return parts.port


def _serve(name: str, app: object, port: int) -> ServerHandle:
    try:
        return serve(name, app, port)
    except OSError as exc:
        raise SandboxError(f"{name}: cannot listen on 127.0.0.1:{port} ({exc.strerror})") from exc
    except SystemExit as exc:
        # werkzeug's make_server prints "Port N is in use" and calls sys.exit(1) instead of raising OSError.
        raise SandboxError(f"{name}: cannot listen on 127.0.0.1:{port} (in use?)") from exc


def _s3(settings: Settings, attempts: int, timeout: tuple[float, float]) -> Any:
    # boto3 directly, not gateways.storage: the sandbox must not lean on the client code it is there to test.
    config = Config(connect_timeout=timeout[0], read_timeout=timeout[1], signature_version="s3v4",
                    retries={"max_attempts": attempts, "mode": "standard"}, s3={"addressing_style": "path"})
    return boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
                        aws_access_key_id=settings.s3_access_key_id,
                        aws_secret_access_key=settings.s3_secret_access_key, config=config)


def _create_bucket(settings: Settings) -> None:
    client = _s3(settings, 2, (2.0, 5.0))
    try:
        if not _bucket_exists(client, settings.s3_bucket):
            params: dict[str, Any] = {"Bucket": settings.s3_bucket}
            if settings.s3_region not in ("us-east-1", "auto"):  # us-east-1 takes no location constraint
                params["CreateBucketConfiguration"] = {"LocationConstraint": settings.s3_region}
            client.create_bucket(**params)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":  # lost a race: same outcome
            raise BucketError(f"cannot create bucket {settings.s3_bucket!r}: {exc}") from exc
    except BotoCoreError as exc:
        raise BucketError(f"cannot create bucket {settings.s3_bucket!r}: {exc}") from exc
    finally:
        client.close()


def _bucket_exists(client: Any, bucket: str) -> bool:
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise
    return True


def _answers(spec: FakeSpec, settings: Settings) -> bool:
    parts = urlsplit(getattr(settings, spec.setting))
    try:
        answer = requests.get(f"{parts.scheme}://{parts.netloc}/_sandbox/state", timeout=(1.0, 3.0))
    except requests.RequestException:
        return False
    if answer.status_code != 200:
        return False
    if spec.name != "s3":
        return True
    client = _s3(settings, 1, (1.0, 3.0))
    try:
        return _bucket_exists(client, settings.s3_bucket)
    except (BotoCoreError, ClientError):
        return False
    finally:
        client.close()
