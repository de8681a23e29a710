"""The life of one fake Kie.ai task, run in its own daemon thread: fetch every reference URL (as the real
service must), "generate", finish in ``success`` or ``fail``, then deliver the callback with retries.

waiting (fetching references) → generating → success | fail, the end no sooner than the task's latency
after creation. A reference that does not answer HTTP 200 with a decodable image fails the task.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import io
import ipaddress
import json
import threading
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from PIL import Image

from sandbox.kie import image as kie_image
from sandbox.kie.state import FakeTask, KieFake, now_ms

MAX_REFERENCE_BYTES = 10 * 1024 * 1024
FETCH_FAIL_CODE = "422"
FETCH_TIMEOUT_S = 5.0
CALLBACK_MAX_ATTEMPTS = 3
CALLBACK_TIMEOUT_S = 15.0
USER_AGENT = "KieSandbox/1.0"
# Tasks that fetch their references and render at once, per fake process; the rest wait their turn, as on a busy
# real service. Unbounded, hundreds of tasks fetched at once from the S3 fake (one thread per connection there)
# and every fetch crawled past FETCH_TIMEOUT_S: the fake failed its tasks for its own overload (make bench's
# throughput part: 395 connections open to the S3 fake, 0.2 photos/s).
WORK_SLOTS = threading.BoundedSemaphore(16)


def start(fake: KieFake, task: FakeTask) -> None:
    threading.Thread(target=run_task, args=(fake, task), name=f"kie-task-{task.task_id[:8]}", daemon=True).start()


def run_task(fake: KieFake, task: FakeTask) -> None:
    """Drive ``task`` to a terminal state and deliver its callback. Does nothing once the fake was reset."""
    with WORK_SLOTS:
        # References are fetched even for a task bound to fail: the real service downloads before it generates.
        fetch_failure = _fetch_references(fake, task)
        failure = fetch_failure or task.planned_failure
        image = None
        if fetch_failure is None:
            _set_state(fake, task, "generating")
        if failure is None:
            image = kie_image.render(task.task_id, task.prompt, task.output_format, task.aspect_ratio)
    remaining_s = (task.create_ms + task.latency_ms - now_ms()) / 1000
    if remaining_s > 0:
        time.sleep(remaining_s)
    if not _finish(fake, task, failure, image):
        return
    if task.callback_url:
        deliver_callbacks(fake, task)


def record_info_data(task: FakeTask, result_json_as_object: bool) -> dict[str, Any]:
    """The ``data`` of recordInfo (and of a callback) in the documented shape."""
    result: Any = {"resultUrls": list(task.result_urls)} if task.state == "success" else None
    if not result_json_as_object:
        result = json.dumps(result) if result is not None else ""
    cost = task.complete_ms - task.create_ms if task.complete_ms is not None else None
    return {
        "taskId": task.task_id, "model": task.model, "state": task.state,
        "param": json.dumps(task.request, ensure_ascii=False), "resultJson": result,
        "failCode": task.fail_code, "failMsg": task.fail_msg, "costTime": cost,
        "createTime": task.create_ms, "updateTime": task.update_ms, "completeTime": task.complete_ms,
    }


def callback_body(task: FakeTask, result_json_as_object: bool) -> dict[str, Any]:
    if task.state == "success":
        return {"code": 200, "msg": "Playground task completed successfully.",
                "data": record_info_data(task, result_json_as_object)}
    return {"code": 501, "msg": f"Playground task failed: {task.fail_msg}",
            "data": record_info_data(task, result_json_as_object)}


def sign(key: str, task_id: str, timestamp: str) -> str:
    """X-Webhook-Signature: base64(HMAC-SHA256(key, f"{taskId}.{timestamp}"))."""
    digest = hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def deliver_callbacks(fake: KieFake, task: FakeTask) -> None:
    """POST the result to callBackUrl: maybe dropped, maybe twice, each delivery retried until HTTP 200."""
    config = fake.config
    if not fake.is_current(task):
        return
    if fake.roll(config.callback_drop_rate):
        fake.count("callbacks_dropped")
        fake.record("callbacks", {"task_id": task.task_id, "delivery": 1, "attempt": 0, "outcome": "dropped",
                                  "epoch": task.epoch})
        return
    deliveries = 2 if fake.roll(config.callback_duplicate_rate) else 1
    for delivery in range(1, deliveries + 1):
        _deliver_once(fake, task, delivery)


def _deliver_once(fake: KieFake, task: FakeTask, delivery: int) -> None:
    config = fake.config
    body = callback_body(task, config.result_json_as_object)
    for attempt in range(1, CALLBACK_MAX_ATTEMPTS + 1):
        if not fake.is_current(task):
            return
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if config.webhook_key:
            timestamp = str(int(time.time()))
            headers["X-Webhook-Timestamp"] = timestamp
            headers["X-Webhook-Signature"] = sign(config.webhook_key, task.task_id, timestamp)
        entry: dict[str, Any] = {"task_id": task.task_id, "delivery": delivery, "attempt": attempt,
                                 "url": task.callback_url, "signed": bool(config.webhook_key), "at_ms": now_ms(),
                                 "status": None, "error": None, "epoch": task.epoch}
        status = None
        refusal = _refusal(task.callback_url or "")
        if refusal:
            entry["error"] = refusal
        else:
            try:
                response = requests.post(task.callback_url or "", data=json.dumps(body), headers=headers,
                                         timeout=CALLBACK_TIMEOUT_S)
                status = entry["status"] = response.status_code
            except requests.RequestException as exc:
                entry["error"] = type(exc).__name__
        entry["outcome"] = "delivered" if status == 200 else "failed"
        fake.count("callbacks_sent")
        fake.record("callbacks", entry)
        if status == 200:
            return
        if attempt < CALLBACK_MAX_ATTEMPTS:
            # The real schedule is minutes apart; compressed here so tests and chaos runs stay quick.
            time.sleep(config.callback_retry_ms * 2 ** (attempt - 1) / 1000)
    fake.count("callbacks_given_up")


def _set_state(fake: KieFake, task: FakeTask, state: str) -> None:
    with fake.lock:
        if fake.is_current(task):
            task.state = state
            task.update_ms = now_ms()
            if state == "generating":
                task.generating_ms = task.update_ms


def _finish(fake: KieFake, task: FakeTask, failure: tuple[str, str] | None, image: bytes | None) -> bool:
    with fake.lock:
        if not fake.is_current(task):
            return False
        task.complete_ms = task.update_ms = now_ms()
        if failure is not None:
            task.state, (task.fail_code, task.fail_msg) = "fail", failure
            return True
        ext = task.output_format
        task.image = image
        task.expires_at = time.time() + fake.config.result_ttl_s
        expires = int(min(task.expires_at, 2 ** 62))
        task.result_urls = [f"{task.public_base}/files/{task.task_id}.{ext}?expires={expires}"]
        task.state = "success"
        fake.counts["succeeded"] += 1
        return True


def _fetch_references(fake: KieFake, task: FakeTask) -> tuple[str, str] | None:
    """GET every reference URL; the first that is not an image fails the task with (failCode, failMsg)."""
    failure = None
    for index, url in enumerate(task.image_urls):
        entry: dict[str, Any] = {"task_id": task.task_id, "url": url, "status": None, "ok": False,
                                 "error": None, "epoch": task.epoch}
        error = _refusal(url)
        if error is None and _reusable(fake, url):
            entry["status"], entry["reused"] = 200, True
        elif error is None:
            try:
                response = requests.get(url, timeout=FETCH_TIMEOUT_S, headers={"User-Agent": USER_AGENT})
                entry["status"] = response.status_code
                error = _image_problem(response)
            except requests.RequestException as exc:
                error = type(exc).__name__
            if error is None and fake.config.reference_reuse_s > 0:
                with fake.lock:
                    fake.fetched_ok[url] = time.time()
        entry["ok"], entry["error"] = error is None, error
        fake.record("fetches", entry)
        if error is not None and failure is None:
            failure = (FETCH_FAIL_CODE, f"image_urls[{index}] could not be fetched: {error}")
    if failure is not None:
        with fake.lock:
            if fake.is_current(task):
                fake.counts["failures"]["fetch"] += 1
    return failure


def _reusable(fake: KieFake, url: str) -> bool:
    """Whether ``url`` was fetched fine within ``reference_reuse_s`` and has not expired since (its presigned
    X-Amz-Date + X-Amz-Expires, when it carries them)."""
    reuse_s = fake.config.reference_reuse_s
    if reuse_s <= 0:
        return False
    with fake.lock:
        fetched_at = fake.fetched_ok.get(url)
    now = time.time()
    if fetched_at is None or now - fetched_at >= reuse_s:
        return False
    query = dict(parse_qsl(urlsplit(url).query))
    try:
        signed = calendar.timegm(time.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ"))
        return now < signed + int(query["X-Amz-Expires"])
    except (KeyError, ValueError):
        return True  # not a presigned S3 URL: nothing expires it


def _image_problem(response: requests.Response) -> str | None:
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    if len(response.content) > MAX_REFERENCE_BYTES:
        return "larger than 10 MB"
    try:
        with Image.open(io.BytesIO(response.content)) as image:
            image.verify()
            kind = (image.format or "").lower()
    except Exception:  # noqa: BLE001 — Pillow raises many types for "not an image"
        return "not an image"
    if kind not in ("jpeg", "png", "webp"):
        return f"unsupported image type {kind}"
    return None


def _refusal(url: str) -> str | None:
    """Why the fake will not contact ``url`` (it never leaves loopback), or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "not an http(s) URL"
    if parts.hostname == "localhost":
        return None
    try:
        if ipaddress.ip_address(parts.hostname).is_loopback:
            return None
    except ValueError:
        pass
    return "refused: not a loopback address"
