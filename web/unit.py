"""The web's unit of work: outbox rows written while handling a request are published right after it
(the view's transaction has committed by then); a broker outage leaves them to the scheduler's relay.

Each request runs under a correlation id: the caller's ``X-Correlation-ID`` when it is a sane token (8–64 of
letters, digits, ``-`` and ``_``; anything else is replaced, never echoed), else a new one. It is returned in the
response's ``X-Correlation-ID``, rides in every outbox message the request writes (so every actor that follows
runs under it) and appears in every log line, provider calls included."""

from __future__ import annotations

import re

from flask import Flask, Response, g, request

from db import outbox
from telemetry.context import bind_correlation_id, new_correlation_id, reset_correlation_id
from workers.publisher import publish_quietly

HEADER = "X-Correlation-ID"
_SANE = re.compile(r"[A-Za-z0-9_-]{8,64}")


def register(app: Flask) -> None:
    @app.before_request
    def _begin() -> None:
        g.outbox_token = outbox.begin_unit()
        given = request.headers.get(HEADER, "")
        g.correlation_id = given if _SANE.fullmatch(given) else new_correlation_id()
        g.correlation_token = bind_correlation_id(g.correlation_id)

    @app.after_request
    def _tag(response: Response) -> Response:
        cid = g.get("correlation_id")
        if cid:
            response.headers[HEADER] = cid
        return response

    @app.teardown_request
    def _end(_exc: BaseException | None) -> None:
        token = g.pop("outbox_token", None)
        if token is not None:
            ids = outbox.end_unit(token)
            if ids:
                fleet = app.extensions["pinglass"]
                publish_quietly(fleet.services.pool, fleet.broker, ids, via="web")
        cid = g.pop("correlation_token", None)
        if cid is not None:
            reset_correlation_id(cid)
