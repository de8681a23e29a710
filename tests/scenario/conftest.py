"""What the whole-fleet scenarios share: the scheduler (outbox relay and periodic messages) in a thread, for
tests that run their workers as separate processes."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from workers import scheduler


@pytest.fixture
def relay(services) -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(services.settings, stop), kwargs={"relay_every_s": 0.2},
                              daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)
