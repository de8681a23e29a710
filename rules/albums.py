"""Splitting a job's photos into Telegram albums (2..10 items; a lone photo goes alone)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")
MAX_ALBUM = 10


def chunk_album(items: Sequence[T], size: int = MAX_ALBUM) -> list[list[T]]:
    """Chunks in order of at most ``size``: 7 → [7]; 15 → [10, 5]; 23 → [10, 10, 3]; 11 → [10, 1].

    A chunk of one is sent with sendPhoto, any other with sendMediaGroup.
    """
    if size < 2:
        raise ValueError("album size must be at least 2")
    return [list(items[i:i + size]) for i in range(0, len(items), size)]
