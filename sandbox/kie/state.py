"""What the Kie.ai fake knows: accounts (one per API key), tasks, rate windows, fault rules and a record of
everything it received and did. One lock guards it all; the HTTP handlers and the task threads share it.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sandbox.control import FaultRules
from sandbox.kie.config import KieFakeConfig

# Fault rule methods: the three API calls, and "task" (the task is created, then ends in ``fail``).
METHODS = ("createTask", "recordInfo", "credit", "task")
# How injected failures are counted in the state (``counts.failures``); "fetch": a reference URL failed.
FAILURE_KINDS = ("500", "455", "http200_500", "html_502", "fail", "fetch")
RECORD_INFO_WINDOW_S = 1.0


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class FakeTask:
    """One task. ``api_key`` is kept to answer only its owner and never leaves the fake."""

    task_id: str
    api_key: str
    key_index: int
    model: str
    request: dict[str, Any]
    prompt: str
    image_urls: list[str]
    callback_url: str | None
    output_format: str
    aspect_ratio: str
    latency_ms: int
    planned_failure: tuple[str, str] | None
    public_base: str
    epoch: int
    state: str = "waiting"
    create_ms: int = field(default_factory=now_ms)
    update_ms: int = 0
    generating_ms: int | None = None
    complete_ms: int | None = None
    fail_code: str = ""
    fail_msg: str = ""
    result_urls: list[str] = field(default_factory=list)
    image: bytes | None = None
    expires_at: float | None = None

    def public_view(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id, "key_index": self.key_index, "model": self.model, "state": self.state,
            "prompt": self.prompt, "image_urls": self.image_urls, "callback_url": self.callback_url,
            "output_format": self.output_format, "aspect_ratio": self.aspect_ratio, "request": self.request,
            "latency_ms": self.latency_ms, "fail_code": self.fail_code, "fail_msg": self.fail_msg,
            "result_urls": self.result_urls, "create_ms": self.create_ms, "complete_ms": self.complete_ms,
            "expires_at": self.expires_at,
        }


class KieFake:
    """The fake's whole state. Methods that read or change it take ``self.lock`` themselves unless noted."""

    def __init__(self, config: KieFakeConfig) -> None:
        self.start_config = config
        self.lock = threading.RLock()
        self.faults = FaultRules(METHODS)
        self.epoch = 0
        self._reset_locked()

    def reset(self) -> None:
        """Forget every task, account and record; knobs back to the start config. Running task threads of
        the old epoch finish without effect (no state change, no callback)."""
        with self.lock:
            self._reset_locked()

    def _reset_locked(self) -> None:
        self.config = self.start_config
        self.epoch += 1
        self.rng = random.Random()
        self.tasks: dict[str, FakeTask] = {}
        self.balances: dict[str, int] = {}
        self.key_indexes: dict[str, int] = {}
        self.create_windows: dict[str, deque[float]] = {}  # by account (account_of)
        self.key_cap_windows: dict[str, deque[float]] = {}
        self.record_info_windows: dict[str, deque[float]] = {}
        self.fetches: list[dict[str, Any]] = []
        self.fetched_ok: dict[str, float] = {}  # reference URL → when it was last fetched fine (reference_reuse_s)
        self.callbacks: list[dict[str, Any]] = []
        self.counts: dict[str, Any] = {
            "create_calls": 0, "record_info_calls": 0, "credit_calls": 0, "created": 0, "rejected_429": 0,
            "rejected_433": 0, "record_info_429": 0, "record_info_unknown": 0, "rejected_401": 0, "rejected_402": 0,
            "rejected_404": 0, "rejected_422": 0,
            "failures": {kind: 0 for kind in FAILURE_KINDS},
            "succeeded": 0, "callbacks_sent": 0, "callbacks_dropped": 0, "callbacks_given_up": 0,
        }

    def configure(self, changes: dict[str, Any]) -> KieFakeConfig:
        """Merge knobs. Setting ``credits`` sets every account's balance to it (accounts re-open lazily)."""
        with self.lock:
            self.config = self.config.merged(changes)
            if "credits" in changes:
                self.balances.clear()
            return self.config

    def count(self, name: str, kind: str | None = None) -> None:
        with self.lock:
            if kind is None:
                self.counts[name] += 1
            else:
                self.counts[name][kind] = self.counts[name].get(kind, 0) + 1

    def accepts_key(self, key: str) -> bool:
        return bool(key) and (not self.config.api_keys or key in self.config.api_keys)

    def key_index(self, key: str) -> int:
        """Configured keys are numbered by their position; others (any-key mode) in the order first seen."""
        with self.lock:
            if key not in self.key_indexes:
                keys = self.config.api_keys
                self.key_indexes[key] = keys.index(key) if key in keys else len(keys) + len(self.key_indexes)
            return self.key_indexes[key]

    def balance(self, key: str) -> int:
        with self.lock:
            return self.balances.setdefault(key, self.config.credits)

    def roll(self, rate: float) -> bool:
        with self.lock:
            return rate > 0 and self.rng.random() < rate

    def latency_ms(self) -> int:
        with self.lock:
            return self.rng.randint(self.config.latency_ms_min, self.config.latency_ms_max)

    def account_of(self, key: str) -> str:
        """The account ``key`` belongs to (``key_accounts``); a key not configured is its own account."""
        keys, accounts = self.config.api_keys, self.config.key_accounts
        if accounts and key in keys:
            return "account:" + accounts[keys.index(key)]
        return "key:" + key

    def over_key_cap(self, key: str) -> bool:
        """True when ``key`` has made ``key_cap`` tasks within ``key_cap_window_s`` (its own cap, Kie's 433);
        otherwise the task about to be made is counted against it. With ``key_cap_keys`` only those keys have it."""
        capped = self.config.key_cap_keys
        if capped and key not in {self.config.api_keys[index] for index in capped}:
            return False
        return self._take_slot(self.key_cap_windows, key, self.config.key_cap,
                               self.config.key_cap_window_s) is not None

    def take_create_slot(self, key: str) -> float | None:
        """Reserve a new-task slot in the sliding window of ``key``'s account; None when granted, else seconds
        until one frees. Only granted slots are counted, so a rejected (dropped) request does not extend the
        penalty."""
        limit, window = self.config.rate_limit, self.config.rate_window_s
        return self._take_slot(self.create_windows, self.account_of(key), limit, window)

    def take_record_info_slot(self, key: str) -> float | None:
        return self._take_slot(self.record_info_windows, key, self.config.record_info_rate_limit,
                               RECORD_INFO_WINDOW_S)

    def _take_slot(self, windows: dict[str, deque[float]], key: str, limit: int, window_s: float) -> float | None:
        if limit <= 0:
            return None
        with self.lock:
            now = time.monotonic()
            stamps = windows.setdefault(key, deque())
            while stamps and stamps[0] <= now - window_s:
                stamps.popleft()
            if len(stamps) >= limit:
                return max(0.0, stamps[0] + window_s - now)
            stamps.append(now)
            return None

    def new_task(self, *, api_key: str, request: dict[str, Any], prompt: str, image_urls: list[str],
                 callback_url: str | None, output_format: str, aspect_ratio: str,
                 planned_failure: tuple[str, str] | None, public_base: str) -> FakeTask:
        """Charge one credit and register a task. The caller has checked the balance and the rate window."""
        with self.lock:
            self.balances[api_key] = self.balance(api_key) - 1
            task = FakeTask(
                task_id=uuid.uuid4().hex, api_key=api_key, key_index=self.key_index(api_key),
                model=str(request.get("model")), request=request, prompt=prompt, image_urls=image_urls,
                callback_url=callback_url, output_format=output_format, aspect_ratio=aspect_ratio,
                latency_ms=self.latency_ms(), planned_failure=planned_failure, public_base=public_base,
                epoch=self.epoch)
            task.update_ms = task.create_ms
            self.tasks[task.task_id] = task
            self.counts["created"] += 1
            return task

    def find_task(self, key: str, task_id: str) -> FakeTask | None:
        """The task if ``key`` owns it: another account's task is as invisible as a missing one."""
        with self.lock:
            task = self.tasks.get(task_id)
            return task if task is not None and task.api_key == key else None

    def is_current(self, task: FakeTask) -> bool:
        return task.epoch == self.epoch

    def record(self, kind: str, entry: dict[str, Any]) -> None:
        """Append to ``fetches`` or ``callbacks`` unless the entry's task belongs to a reset epoch."""
        with self.lock:
            if entry.pop("epoch", self.epoch) == self.epoch:
                getattr(self, kind).append(entry)

    def snapshot(self) -> dict[str, Any]:
        """GET /_sandbox/state: knobs, counts, accounts (by key index), tasks, fetches, callbacks."""
        with self.lock:
            accounts = [{"key_index": self.key_index(key), "balance": self.balance(key),
                         "tasks": sum(1 for t in self.tasks.values() if t.api_key == key)}
                        for key in self.key_indexes]
            return {
                "config": self.config.public_view(),
                "counts": {k: (dict(v) if isinstance(v, dict) else v) for k, v in self.counts.items()},
                "accounts": sorted(accounts, key=lambda a: a["key_index"]),
                "tasks": [task.public_view() for task in self.tasks.values()],
                "fetches": list(self.fetches),
                "callbacks": list(self.callbacks),
            }
