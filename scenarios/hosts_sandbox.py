"""``python -m scenarios.hosts_sandbox ADDRESS``: the sandbox fakes (Kie, T-Bank, Telegram, S3) served on the
data host's private address instead of 127.0.0.1, for ``make hosts``.

``python -m sandbox`` serves on loopback only (``sandbox/server.py``), which other hosts cannot reach. This
serves the very same fake apps (each fake's ``create_app(config_from_env(...))``, with the credentials shared
as ``sandbox.runner.fake_environment`` shares them) on ``ADDRESS`` at the port of each base URL in the
environment (``KIE_BASE_URL``, ...), which must name ``ADDRESS``; then it makes the bucket and prints one line
per fake. It runs until SIGTERM or SIGINT. The fakes build the URLs they hand out (Kie's result files, T-Bank's
payment page, Telegram's invoice links) from the request's Host, so a host that calls them at ADDRESS gets
URLs at ADDRESS back.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from werkzeug.serving import make_server

from sandbox.runner import FAKES, fake_environment
from settings import Settings
from telemetry import logs


def serve(address: str, environ: dict[str, str]) -> int:
    logs.configure(environ.get("LOG_LEVEL") or "INFO")
    settings = Settings.from_env(environ)
    fake_environ = fake_environment(settings, environ)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    servers = []
    try:
        for spec in FAKES:
            url = urlsplit(getattr(settings, spec.setting))
            if url.hostname != address or url.port is None or url.path.rstrip("/") != spec.base_path:
                print(f"hosts_sandbox: {spec.setting.upper()} must be http://{address}:<port>{spec.base_path}",
                      file=sys.stderr)
                return 2
            module: Any = importlib.import_module(spec.module)
            server = make_server(address, url.port, module.create_app(module.config_from_env(fake_environ)),
                                 threaded=True)
            threading.Thread(target=server.serve_forever, name=f"sandbox-{spec.name}", daemon=True).start()
            servers.append(server)
            print(f"{spec.name:<9}{url.geturl()}", flush=True)
        _make_bucket(settings)
        print("hosts_sandbox: all fakes serve", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    return 0


def _make_bucket(settings: Settings) -> None:
    client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
                          aws_access_key_id=settings.s3_access_key_id,
                          aws_secret_access_key=settings.s3_secret_access_key,
                          config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    params: dict[str, Any] = {"Bucket": settings.s3_bucket}
    if settings.s3_region not in ("us-east-1", "auto"):
        params["CreateBucketConfiguration"] = {"LocationConstraint": settings.s3_region}
    try:
        client.create_bucket(**params)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m scenarios.hosts_sandbox ADDRESS", file=sys.stderr)
        sys.exit(2)
    sys.exit(serve(sys.argv[1], dict(os.environ)))
