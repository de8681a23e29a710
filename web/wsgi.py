"""The web process's composition root for gunicorn: ``gunicorn 'web.wsgi:build()'`` — the shared boot
(``workers.boot``: settings, logging, broker, actors declared so messages can be published by name, services),
then the app."""

from __future__ import annotations

import os

from web import create_app
from workers.boot import boot


def build():
    booted = boot("web", os.environ)
    return create_app(booted.settings, services=booted.services, broker=booted.broker)
