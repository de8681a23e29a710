"""The web's unit of work: outbox rows written while handling a request are published right after it
(the view's transaction has committed by then); a broker outage leaves them to the scheduler's relay."""

from __future__ import annotations

from flask import Flask, g

from db import outbox
from telemetry.context import bind_correlation_id, new_correlation_id, reset_correlation_id
from workers.publisher import publish_quietly


def register(app: Flask) -> None:
    @app.before_request
    def _begin() -> None:
        g.outbox_token = outbox.begin_unit()
        g.correlation_token = bind_correlation_id(new_correlation_id())

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
