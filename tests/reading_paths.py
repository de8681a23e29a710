"""Which of the fleet's files a reader passes through on one purchase and on one photo (docs/architecture.md,
"Reading one purchase" / "Reading one photo"): a pytest plugin that records, while a test runs, every call from
one of the fleet's functions into another, then lists the modules reachable from each path's entry points.

    .venv/bin/python -m pytest -q -p tests.reading_paths tests/integration/test_purchase_trace.py

It prints both lists (the counted files, then the ones left out by the method) and writes them to
``out/reading_paths.json``. Only what runs is seen: a module read only for a constant is not listed, and a branch
the test does not take (a retry, a refund owed, an alert) adds nothing. Not part of ``make test``.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import defaultdict
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = str(Path(__file__).resolve().parent.parent) + "/"
NOT_FLEET = tuple(ROOT + part for part in (".venv/", "tests/", "sandbox/", "scenarios/"))

# The entry points: the HTTP views and webhooks a path starts from, and each actor it passes through.
PATHS = {
    "purchase": ("web/api/payments.py:create_payment", "web/auth.py:require_user.<locals>.wrapped",
                 "web/webhooks/tbank.py:receive", "actors/payments.py:consume_payment"),
    "photo": ("actors/generation.py:create_kie_task", "web/webhooks/kie.py:receive", "actors/generation.py:poll_task",
              "actors/generation.py:store_photo", "actors/delivery.py:deliver_album"),
}
# Left out of the count (the method, docs/architecture.md): what does not change what the path does, and the
# plumbing every query, provider call or Mini App request goes through the same way.
LEFT_OUT = {
    "settings/__init__.py": "configuration values, read by name",
    "telemetry/context.py": "correlation ids", "telemetry/logs.py": "log lines", "telemetry/metrics.py": "metrics",
    "telemetry/provider_stats.py": "provider call counts, recorded by every gateway call",
    "rules/plural.py": "wording", "rules/bot_texts.py": "wording",
    "db/queries.py": "the named-query runner", "db/errors.py": "database error types",
    "gateways/http.py": "the HTTP client every gateway uses", "gateways/errors.py": "the provider error type",
    "runtime/__init__.py": "the services container", "runtime/outages.py": "the outage guard around every gateway",
    "web/api/common.py": "JSON body parsing of every view",
}

_edges: set[tuple[str, str]] = set()
_recording = {"on": False}


def _fleet(filename: str) -> bool:
    return filename.startswith(ROOT) and not filename.startswith(NOT_FLEET)


def _key(frame: FrameType) -> str:
    code = frame.f_code
    return f"{code.co_filename[len(ROOT):]}:{code.co_qualname}"


def _profile(frame: FrameType, event: str, _arg: Any) -> None:
    if event != "call" or not _recording["on"] or not _fleet(frame.f_code.co_filename):
        return
    caller = frame.f_back
    while caller is not None and not _fleet(caller.f_code.co_filename):
        caller = caller.f_back  # through Flask, Dramatiq, psycopg, contextlib: the nearest fleet caller
    _edges.add((_key(caller) if caller is not None else "<outside>", _key(frame)))


def reachable(edges: set[tuple[str, str]], roots: tuple[str, ...]) -> set[str]:
    """The modules of every function reachable from ``roots`` over ``edges``."""
    callees: dict[str, set[str]] = defaultdict(set)
    for caller, callee in edges:
        callees[caller].add(callee)
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(callees.get(node, ()))
    return {node.split(":")[0] for node in seen}


def pytest_configure(config: Any) -> None:
    threading.setprofile(_profile)
    sys.setprofile(_profile)


def pytest_runtest_call(item: Any) -> None:
    _recording["on"] = True


def pytest_runtest_teardown(item: Any) -> None:
    _recording["on"] = False


def pytest_unconfigure(config: Any) -> None:
    sys.setprofile(None)
    threading.setprofile(None)  # type: ignore[arg-type]
    report: dict[str, Any] = {}
    for name, roots in PATHS.items():
        modules = reachable(_edges, roots)
        counted = sorted(m for m in modules if m not in LEFT_OUT)
        left = sorted(m for m in modules if m in LEFT_OUT)
        report[name] = {"counted": counted, "left_out": left}
        print(f"\n{name}: {len(counted)} files ({len(left)} left out: {', '.join(left)})")
        for module in counted:
            print(f"  {module}")
    out = Path(ROOT) / "out" / "reading_paths.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=1), encoding="utf-8")
