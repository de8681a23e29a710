"""The broker's queues as operators see them: sizes read from Redis, and the Dramatiq dashboard.

``dramatiq-dashboard`` 0.4.0 declares ``dramatiq<2`` but only uses the Redis broker's ``client``,
``namespace`` and ``queues`` and the ``<ns>:<queue>[.DQ|.XQ].msgs`` key layout, all unchanged in Dramatiq 2.2;
it is installed with ``--no-deps`` (requirements-nodeps.txt) and mounted at ``/admin/dramatiq`` behind the
admin guard. Without it (or with RabbitMQ) that address shows the queue sizes instead.

Its worker listing ran ``KEYS <ns>:__acks__.<worker>.*`` inside a Lua script once per worker on every page view,
which blocks the fleet's Redis for as long as the keyspace is large. ``GuardedInterface`` lists the workers
instead from the broker's heartbeat set and counts each one's in-flight messages with ``SCARD`` on the ack sets
it can name (one per declared queue and delay queue), pipelined: no ``KEYS``, no ``SCAN``, bounded work.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import dramatiq
from dramatiq.common import dq_name, xq_name
from flask import Flask, Response, current_app, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from telemetry.logs import log

logger = logging.getLogger("web.admin.queues")
PREFIX = "/admin/dramatiq"
_DASHBOARD = "pinglass.dramatiq_dashboard"


def queue_sizes(broker: dramatiq.Broker) -> list[dict[str, Any]] | None:
    """Per queue: messages ready (or in flight), delayed, and dead in the broker's own dead-letter set.
    None when the broker is not Redis; raises when Redis cannot be reached."""
    client, namespace = getattr(broker, "client", None), getattr(broker, "namespace", None)
    if client is None or namespace is None:
        return None
    names = sorted(broker.get_declared_queues())
    with client.pipeline(transaction=False) as pipe:
        for name in names:
            for key in (name, dq_name(name), xq_name(name)):
                pipe.hlen(f"{namespace}:{key}.msgs")
        counts = pipe.execute()
    return [{"name": name, "ready": counts[3 * i], "delayed": counts[3 * i + 1], "failed": counts[3 * i + 2]}
            for i, name in enumerate(names)]


def queue_sizes_or_error(broker: dramatiq.Broker) -> tuple[list[dict[str, Any]] | None, str | None]:
    """``queue_sizes`` for a page that must render even when Redis is down: (sizes, error name)."""
    try:
        return queue_sizes(broker), None
    except Exception as exc:  # noqa: BLE001 — the admin page reports the broker's trouble, it does not fail
        log(logger, "queue_sizes_failed", level=logging.WARNING, error=type(exc).__name__)
        return None, type(exc).__name__


def worker_listing(broker: Any) -> list[tuple[str, int, int]]:
    """(worker id, last heartbeat in ms, messages in flight) for every worker in the broker's heartbeat set,
    read with ZRANGE and SCARD only."""
    client, namespace = broker.client, broker.namespace
    beats = client.zrange(f"{namespace}:__heartbeats__", 0, -1, withscores=True)
    queues = sorted(set(broker.queues) | set(getattr(broker, "delay_queues", ())))
    with client.pipeline(transaction=False) as pipe:
        for worker_id, _ in beats:
            for queue in queues:
                pipe.scard(f"{namespace}:__acks__.{worker_id.decode()}.{queue}")
        counts = pipe.execute() if beats and queues else []
    per = len(queues)
    return [(worker_id.decode(), int(score), sum(counts[i * per:(i + 1) * per]))
            for i, (worker_id, score) in enumerate(beats)]


def _guarded_interface(broker: Any) -> Any:
    """The dashboard's Redis interface with ``workers`` read by ``worker_listing`` instead of its KEYS script."""
    from dramatiq_dashboard.interface import RedisInterface, Worker

    class GuardedInterface(RedisInterface):
        @property
        def workers(self) -> list[Any]:
            return sorted((Worker(name=name, last_seen=datetime.fromtimestamp(ms / 1000, tz=UTC).replace(
                tzinfo=None), jobs_in_flight=in_flight) for name, ms, in_flight in worker_listing(self.broker)),
                key=lambda w: w.name)

    return GuardedInterface(broker)


def install(app: Flask, broker: dramatiq.Broker) -> None:
    """Build the Dramatiq dashboard for ``broker`` once per app (no connection is made here), if it can be."""
    dashboard = None
    if getattr(broker, "client", None) is not None:
        try:
            from dramatiq_dashboard import DashboardApp
        except ImportError:
            log(logger, "dramatiq_dashboard_missing", level=logging.WARNING)
        else:
            dashboard = DashboardApp(broker=broker, prefix=PREFIX)
            dashboard.iface = _guarded_interface(broker)
    app.extensions[_DASHBOARD] = dashboard


def dashboard_view(rest: str = "") -> BaseResponse:
    """Hand the request to the Dramatiq dashboard's WSGI app, under our prefix (the guard already ran)."""
    dashboard = current_app.extensions.get(_DASHBOARD)
    if dashboard is None:
        sizes, error = queue_sizes_or_error(current_app.extensions["pinglass"].broker)
        return Response(render_template("admin/queues.html", queues=sizes, queues_error=error), mimetype="text/html")
    environ = dict(request.environ)
    environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "").rstrip("/") + PREFIX
    environ["PATH_INFO"] = "/" + rest
    return Response.from_app(dashboard, environ)
