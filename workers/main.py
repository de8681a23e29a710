"""The worker entry: ``dramatiq workers.main``. It encodes the start-up order — settings, logging, broker set,
then the actors imported — and nothing else. Services (pool, clients) open after each process boots."""

from __future__ import annotations

import os

import dramatiq

import actors
from settings import Settings
from telemetry import logs
from workers.broker import build_broker

settings = Settings.from_env(os.environ)
logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
broker = build_broker(settings, namespace=settings.broker_namespace)
dramatiq.set_broker(broker)
actors.load()
