"""The web process's composition root for gunicorn: ``gunicorn 'web.wsgi:build()'``.

Settings from the environment, the broker set and the actors declared (so messages can be published by
name), the services opened, then the app."""

from __future__ import annotations

import os

import dramatiq

import actors
from actors import runtime
from settings import Settings
from telemetry import logs
from web import create_app
from workers.broker import build_broker


def build():
    settings = Settings.from_env(os.environ)
    logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
    broker = build_broker(settings, namespace=settings.broker_namespace, manage_services=False)
    dramatiq.set_broker(broker)
    actors.load()
    services = runtime.build(settings, pool_size=int(os.environ.get("WEB_POOL_SIZE", "10")))
    return create_app(settings, services=services, broker=broker)

