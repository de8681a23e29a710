"""How many reference photos (selfies) an avatar needs before it can be generated from, and holds at most."""

from __future__ import annotations

MIN_REFERENCES = 5
MAX_REFERENCES = 15


def is_ready(reference_count: int) -> bool:
    """Whether an avatar with this many references can start a generation."""
    return reference_count >= MIN_REFERENCES
