"""The worker entry: ``dramatiq workers.main``. The shared boot (``workers.boot``): settings, logging, the broker
set, then the actors imported. Services (pool, clients) open after each worker process boots."""

from __future__ import annotations

import os

from workers.boot import boot

booted = boot("worker", os.environ)
broker = booted.broker
settings = booted.settings
