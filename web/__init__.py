"""The Flask front door: Mini App API, provider webhooks, admin, health and metrics.

``create_app(settings, services=..., broker=...)`` is the composition root of the web process; it never calls
a slow provider inside a request: it validates, records and publishes messages.
"""

from __future__ import annotations

from dataclasses import dataclass

import dramatiq
from flask import Flask

from runtime import Services
from settings import Settings


@dataclass
class Fleet:
    """What the views reach through ``current_app.extensions["pinglass"]``."""

    settings: Settings
    services: Services
    broker: dramatiq.Broker


def create_app(settings: Settings, *, services: Services, broker: dramatiq.Broker) -> Flask:
    from web import admin, api, cors, errors, health, limits, miniapp, unit, webhooks

    app = Flask(__name__)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Flask's DefaultJSONProvider has it
    app.extensions["pinglass"] = Fleet(settings=settings, services=services, broker=broker)
    cors.register(app)  # a selfie upload's preflight has no body and no Content-Length: answered before the bound
    limits.register(app)  # then: every body is bounded before any other hook or view can read it
    errors.register(app)
    unit.register(app)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(webhooks.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(miniapp.blueprint)
    app.register_blueprint(miniapp.favicon)
    for extra in (api, admin):
        if hasattr(extra, "register_extras"):
            extra.register_extras(app)
    return app
