"""A worker host's /metrics: on a machine that runs workers but no web (a worker dyno, a worker VM) nothing else
would expose them. ``deploy/launch.sh worker`` adds ``--fork-function workers.metrics_server:serve`` when
``WORKER_METRICS_PORT`` is set, so Dramatiq's main process runs this beside its worker processes.

It serves the sum over the host's processes (``PROMETHEUS_MULTIPROC_DIR``, shared by them) at
``WORKER_METRICS_HOST`` (default 127.0.0.1; a platform's private network address in production) on
``WORKER_METRICS_PORT``, to the holder of ``METRICS_TOKEN`` or ``ADMIN_TOKEN`` as a Bearer token, like the web's
/metrics (deploy/prometheus.yml scrapes both)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CONTENT_TYPE_LATEST

from settings import Settings
from telemetry import logs
from telemetry.exposition import events_text, scraper_verdict

StartResponse = Callable[..., Any]
_STATUS = {200: "200 OK", 401: "401 Unauthorized", 403: "403 Forbidden", 404: "404 Not Found"}


def metrics_app(tokens: tuple[str, ...]) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The WSGI app: GET /metrics with a scraper's token; everything else 404."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            code, body, kind = 404, b"not found\n", "text/plain"
        else:
            code = scraper_verdict(environ.get("HTTP_AUTHORIZATION", ""), tokens)
            body, kind = (events_text(), CONTENT_TYPE_LATEST) if code == 200 else (b"", "text/plain")
        headers = [("Content-Type", kind), ("Content-Length", str(len(body)))]
        if code == 401:
            headers.append(("WWW-Authenticate", 'Bearer realm="metrics"'))
        start_response(_STATUS[code], headers)
        return [body]

    return app


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 — the base class's name
        pass  # a scrape every 15 s is not news


def serve() -> None:
    """Dramatiq fork function: serve until the worker stops (Dramatiq ends its forks with SIGTERM)."""
    logs.configure(os.environ.get("LOG_LEVEL", "INFO"))  # JSON lines, into Dramatiq's pipe like its workers'
    settings = Settings.from_env(os.environ)
    settings.check_for_production()
    tokens = tuple(token for token in (settings.metrics_token, settings.admin_token) if token)
    host = os.environ.get("WORKER_METRICS_HOST", "127.0.0.1")
    port = int(os.environ["WORKER_METRICS_PORT"])
    make_server(host, port, metrics_app(tokens), handler_class=_Quiet).serve_forever()


if __name__ == "__main__":
    serve()
