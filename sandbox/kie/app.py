"""A fake Kie.ai on loopback that speaks the jobs API of docs/providers.md#kieai, quirks included.

API (Bearer auth; every answer an envelope ``{"code", "msg", "data"}``, business errors in HTTP 200 unless
``mirror_http_status``):
- ``POST /api/v1/jobs/createTask`` → ``data.taskId``; 401 unknown key, 422 validation (no model or prompt,
  prompt > 5000 chars, 0 or > 10 image_urls, unknown output_format/aspect_ratio), 402 no credits (each task
  costs 1), 429 over the sliding window of the key's account (keys of one account share it), 433 when the key is
  over its own cap (``key_cap``) — either way the request is dropped, no task is made.
- ``GET /api/v1/jobs/recordInfo?taskId=`` → the documented ``data``; a task is visible only to the key that
  created it (otherwise 422 "recordInfo is null"); 429 over the per-key recordInfo limit.
- ``GET /api/v1/chat/credit`` → ``data`` = the key's balance.
- ``GET /files/<taskId>.<png|jpeg>?expires=`` → the result image (prompt inside, see ``sandbox.kie.image``);
  403 once ``result_ttl_s`` has passed since the task finished, 404 if unknown.
Each task fetches its image_urls in the background (never beyond loopback; at most 16 tasks fetch and render at
once, ``worker.WORK_SLOTS``), then ends ``success`` or ``fail``
after its latency and POSTs a callback (``code`` 200 / 501) to callBackUrl, up to 3 attempts, signed when
``webhook_key`` is set.

Control: the shared ``/_sandbox/`` API (``sandbox.control``). The state has knobs with secrets masked, counts
(incl. rejected_429, rejected_433, record_info_429 and injected ``failures`` by kind), accounts and tasks by key index —
never the key — fetches and callback attempts. Fault rules: ``method`` is ``createTask``, ``recordInfo``,
``credit`` or ``task`` (the task is created, then ends in ``fail``; ``error_code`` is its failCode, default
500); ``match`` looks in the prompt; ``error_code`` is the envelope code (default 500), in HTTP 200 unless
``http_status`` or ``mirror_http_status`` says otherwise; ``body`` answers that raw page instead. E.g.
``{"method": "createTask", "error_code": 455}`` (maintenance), ``{"method": "createTask", "http_status": 502,
"body": "<html>…"}`` (a proxy's page).

Knobs (``POST /_sandbox/config`` or env ``SANDBOX_KIE_<KNOB>``):
  api_keys (empty: any non-empty Bearer) · credits=1000000 per key (setting it resets every balance) ·
  rate_limit=20 / rate_window_s=10 new tasks per account, sliding, 0 = off · key_accounts (one account label
  per key of api_keys; empty: each key its own account) · key_cap=0 / key_cap_window_s=3600 (a key's own cap:
  433 over it, 0 = none; key_cap_keys: the indexes of the keys it applies to, empty = every key) ·
  record_info_rate_limit=10 per s per key, 0 = off · record_info_unknown_ms=0 (a task younger than this
  answers 422 "recordInfo is null", or 404 with record_info_unknown_404=true: just created, not yet visible) ·
  retry_after_hint=false (429 carries Retry-After and data.retryAfter) ·
  latency_ms_min=300 / latency_ms_max=1200 · fail_rate · error_500_rate · http200_error_rate (0..1; the two
  error rates hit every /api call) · mirror_http_status=false · result_json_as_object=false ·
  result_ttl_s=86400 · callback_drop_rate · callback_duplicate_rate · callback_retry_ms=200 (doubling) ·
  webhook_key · reference_reuse_s=0 (a reference URL fetched fine less than this ago, and not expired, is not
  fetched again: for make bench's throughput part only; the fetch log marks it ``reused``).
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Flask, Response, request

from sandbox.control import FaultRule, mount_control
from sandbox.kie import worker as kie_worker
from sandbox.kie.config import KieFakeConfig
from sandbox.kie.image import CONTENT_TYPES
from sandbox.kie.state import KieFake

MAX_PROMPT_CHARS = 5000
MAX_IMAGE_URLS = 10
ASPECT_RATIOS = frozenset({"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9", "auto"})
_MESSAGES = {
    401: "You do not have access permissions", 402: "Credits insufficient", 429: "Rate limited",
    433: "Sub-key usage exceeds the limit",
    455: "Service is under maintenance, please try again later", 500: "Server exception, please try again later",
}


def create_app(config: KieFakeConfig | None = None) -> Flask:
    """The fake as a WSGI app; its state (a ``KieFake``) is ``app.extensions["fake"]``."""
    app = Flask("sandbox.kie")
    fake = KieFake(config or KieFakeConfig())
    app.extensions["fake"] = fake

    def envelope(code: int, msg: str, data: Any = None, *, http: int | None = None) -> Response:
        status = http if http is not None else (code if fake.config.mirror_http_status and code != 200 else 200)
        return Response(_json({"code": code, "msg": msg, "data": data}), status=status,
                        mimetype="application/json")

    def bearer() -> str | None:
        header = request.headers.get("Authorization", "")
        key = header[7:].strip() if header[:7].lower() == "bearer " else ""
        return key if fake.accepts_key(key) else None

    def injected(rule: FaultRule) -> Response:
        fake.count("failures", _failure_kind(rule))
        if rule.body is not None:
            return Response(rule.body, status=rule.http_status or 502, mimetype="text/html")
        code = _int_code(rule.error_code, 500)
        return envelope(code, _MESSAGES.get(code, "Injected failure (sandbox)"), http=rule.http_status)

    def fault(method: str, prompt: str = "") -> FaultRule | None:
        """A fault rule for this call, else one drawn from the error-rate knobs."""
        rule = fake.faults.take(method, prompt)
        if rule is not None:
            return rule
        if fake.roll(fake.config.error_500_rate):
            return FaultRule(method, 1, error_code=500, http_status=500)
        if fake.roll(fake.config.http200_error_rate):
            return FaultRule(method, 1, error_code=500, http_status=200)
        return None

    def rejected(code: int, msg: str) -> Response:
        fake.count(f"rejected_{code}")
        return envelope(code, msg)

    def admit(counter: str, method: str, prompt: str = "") -> str | Response:
        """Count the call, then what comes before its work: the API key (401), then an injected fault; the key,
        or the answer that ends the call."""
        fake.count(counter)
        key = bearer()
        if key is None:
            return rejected(401, _MESSAGES[401])
        rule = fault(method, prompt)
        return injected(rule) if rule else key

    @app.post("/api/v1/jobs/createTask")
    def create_task() -> Response:
        body = request.get_json(silent=True)
        body = body if isinstance(body, dict) else {}
        params = body.get("input") if isinstance(body.get("input"), dict) else {}
        prompt = params.get("prompt") if isinstance(params.get("prompt"), str) else ""
        key = admit("create_calls", "createTask", prompt)
        if isinstance(key, Response):
            return key
        problem = _validation_problem(body, params)
        if problem:
            return rejected(422, problem)
        with fake.lock:  # balance, window and creation as one step: concurrent calls must not overspend
            if fake.balance(key) < 1:
                return rejected(402, _MESSAGES[402])
            wait_s = fake.take_create_slot(key)
            if wait_s is not None:
                fake.count("rejected_429")
                return rate_limited(wait_s)
            if fake.over_key_cap(key):  # after the account's window: a 429 spends none of the key's cap
                return rejected(433, _MESSAGES[433])
            # Decided only now, so that a "fail" rule is spent on a task that exists, not on a dropped request.
            planned_failure = None
            doomed = fake.faults.take("task", prompt, any_method=False)
            if doomed or fake.roll(fake.config.fail_rate):
                fail_code = str(doomed.error_code) if doomed and doomed.error_code is not None else "500"
                planned_failure = (fail_code, "Generation failed (sandbox)")
            task = fake.new_task(
                api_key=key, request=body, prompt=prompt, image_urls=list(params["image_urls"]),
                callback_url=body.get("callBackUrl") or None,
                output_format=params.get("output_format") or "png",
                aspect_ratio=params.get("aspect_ratio") or params.get("image_size") or "1:1",
                planned_failure=planned_failure,
                public_base=request.host_url.rstrip("/"))
            if planned_failure:
                fake.counts["failures"]["fail"] += 1
        kie_worker.start(fake, task)
        return envelope(200, "success", {"taskId": task.task_id})

    def rate_limited(wait_s: float) -> Response:
        if not fake.config.retry_after_hint:
            return envelope(429, _MESSAGES[429])
        seconds = round(wait_s, 3)
        response = envelope(429, _MESSAGES[429], {"retryAfter": seconds})
        response.headers["Retry-After"] = str(max(1, int(seconds + 0.999)))
        return response

    @app.get("/api/v1/jobs/recordInfo")
    def record_info() -> Response:
        key = admit("record_info_calls", "recordInfo", request.args.get("taskId", ""))
        if isinstance(key, Response):
            return key
        if fake.take_record_info_slot(key) is not None:
            fake.count("record_info_429")
            return envelope(429, _MESSAGES[429])
        task = fake.find_task(key, request.args.get("taskId", ""))
        config = fake.config
        if task is not None and kie_worker.now_ms() - task.create_ms < config.record_info_unknown_ms:
            fake.count("record_info_unknown")
            if config.record_info_unknown_404:
                return rejected(404, "Not Found")
            return rejected(422, "recordInfo is null")
        if task is None:
            return rejected(422, "recordInfo is null")
        with fake.lock:
            data = kie_worker.record_info_data(task, fake.config.result_json_as_object)
        return envelope(200, "success", data)

    @app.get("/api/v1/chat/credit")
    def credit() -> Response:
        key = admit("credit_calls", "credit")
        return key if isinstance(key, Response) else envelope(200, "success", fake.balance(key))

    @app.get("/files/<task_id>.<ext>")
    def result_file(task_id: str, ext: str) -> Response:
        with fake.lock:
            task = fake.tasks.get(task_id)
            if task is None or task.image is None or ext != task.output_format:
                return Response("not found", status=404, mimetype="text/plain")
            if task.expires_at is None or time.time() >= task.expires_at:
                return Response("expired", status=403, mimetype="text/plain")
            return Response(task.image, mimetype=CONTENT_TYPES[task.output_format])

    mount_control(app, fake)
    return app


def _int_code(code: str | int | None, default: int) -> int:
    try:
        return default if code is None else int(code)
    except ValueError:
        return default


def _failure_kind(rule: FaultRule) -> str:
    """How ``counts.failures`` names an injected answer: ``500`` (code 500 in HTTP 500), ``455``,
    ``http200_500`` (code 500 forced into HTTP 200), ``html_502`` (a raw page under HTTP 502)."""
    if rule.body is not None:
        return f"html_{rule.http_status or 502}"
    code = _int_code(rule.error_code, 500)
    return f"http200_{code}" if rule.http_status == 200 else str(code)


def _validation_problem(body: dict[str, Any], params: dict[str, Any]) -> str | None:
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model is required"
    prompt = params.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return "input.prompt is required"
    if len(prompt) > MAX_PROMPT_CHARS:
        return f"input.prompt must be at most {MAX_PROMPT_CHARS} characters"
    urls = params.get("image_urls")
    if not isinstance(urls, list) or not 1 <= len(urls) <= MAX_IMAGE_URLS:
        return f"input.image_urls must hold 1 to {MAX_IMAGE_URLS} URLs"
    if not all(isinstance(url, str) and url for url in urls):
        return "input.image_urls must be URL strings"
    if params.get("output_format", "png") not in CONTENT_TYPES:
        return "input.output_format must be png or jpeg"
    ratio = params.get("aspect_ratio") or params.get("image_size") or "1:1"
    if ratio not in ASPECT_RATIOS:
        return "input.aspect_ratio is not supported"
    callback = body.get("callBackUrl")
    if callback is not None and not isinstance(callback, str):
        return "callBackUrl must be a string"
    return None


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
