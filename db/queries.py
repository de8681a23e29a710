"""Named SQL queries loaded from ``db/queries/*.sql``.

A file holds blocks that start with ``-- name: <query_name>``; each block is one statement with ``%(param)s``
placeholders. The files are parsed once, on first use, into one dict keyed by ``<file>.<query_name>``.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

QUERY_DIR = Path(__file__).with_name("queries")
_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


@functools.cache
def _all() -> dict[str, str]:
    queries: dict[str, str] = {}
    for path in sorted(QUERY_DIR.glob("*.sql")):
        parts = _NAME.split(path.read_text(encoding="utf-8"))
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            key = f"{path.stem}.{name}"
            if key in queries:
                raise ValueError(f"duplicate query {key}")
            queries[key] = body.strip()
    return queries


def sql(name: str) -> str:
    """The text of query ``<file>.<name>``; KeyError names a missing query."""
    return _all()[name]
