"""Dramatiq actors: thin entry points that load by id, call a rule, save, and send through the outbox.

Importing this package declares nothing; ``load()`` imports the actor modules, and must run after the broker
is set (``workers.main`` and the tests do it in that order).
"""

from __future__ import annotations


def load() -> None:
    from actors import bot, delivery, generation, ops, payments  # noqa: F401 — importing declares the actors
