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

MAX_UPLOAD_BYTES = 16 * 10 * 1024 * 1024  # a whole multipart call: up to 15 photos of 10 MB plus slack


@dataclass
class Fleet:
    """What the views reach through ``current_app.extensions["pinglass"]``."""

    settings: Settings
    services: Services
    broker: dramatiq.Broker


def create_app(settings: Settings, *, services: Services, broker: dramatiq.Broker) -> Flask:
    from web import admin, api, errors, health, miniapp, unit, webhooks

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES
    app.json.ensure_ascii = False
    app.extensions["pinglass"] = Fleet(settings=settings, services=services, broker=broker)
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
