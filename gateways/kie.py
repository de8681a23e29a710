"""Kie.ai gateway: create image tasks, read their state, read the credit balance, verify signed callbacks.

Wire contract: docs/providers.md#kieai. Every answer is an envelope ``{"code", "msg" | "message", "data"}`` and the
business status is the envelope ``code``, not the HTTP status: an error can arrive with HTTP 200, so every
answer is classified from its body. Classification (``KieError.retryable``):

- 429 (rate limited, ``retry_after`` when the answer names one), 433 (sub-key limit), 455 (maintenance),
  500 and any other 5xx code except 501/505, transport failures: retryable;
- 401 (bad key), 402 (no credits — also ``KieError.out_of_credits``, callers alert on it), 404, 422
  (validation, and "recordInfo is null" for an unknown task), 501, 505 and unknown 4xx codes: permanent;
- a non-JSON answer: retryable when HTTP >= 500 (or 429), permanent otherwise.

The API key travels only in the ``Authorization`` header of each call and is never logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from gateways.errors import ProviderError
from gateways.http import HttpClient, json_body
from telemetry.logs import log

logger = logging.getLogger("gateways.kie")

MAX_PROMPT_CHARS = 5000
MAX_IMAGE_URLS = 10
NON_TERMINAL_STATES = frozenset({"waiting", "queuing", "generating"})
TERMINAL_STATES = frozenset({"success", "fail"})

_RETRYABLE_CODES = frozenset({429, 433, 455, 500})
_PERMANENT_5XX = frozenset({501, 505})


class KieError(ProviderError):
    """A Kie.ai call failed; ``code`` is the envelope code (422 also for local validation)."""

    provider = "kie"

    @property
    def out_of_credits(self) -> bool:
        """The account has no credits left (code 402): permanent, and worth an alert."""
        return self.code == 402


@dataclass(frozen=True)
class KieTaskInfo:
    """What Kie says about one task (from recordInfo or a callback body). Times are unix milliseconds."""

    task_id: str
    state: str
    result_urls: tuple[str, ...] = ()
    fail_code: str | None = None
    fail_msg: str | None = None
    cost_time_ms: int | None = None
    create_time_ms: int | None = None
    complete_time_ms: int | None = None

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def succeeded(self) -> bool:
        """Kie reports success. A success without ``result_urls`` is the caller's to treat as a failure."""
        return self.state == "success"

    @property
    def failed(self) -> bool:
        return self.state == "fail"


def parse_task_info(data: Mapping[str, Any]) -> KieTaskInfo:
    """Parse a recordInfo ``data`` object, or a whole envelope such as a callback body.

    ``resultJson`` may be a JSON string or an object (or a bare list of URLs); ``param`` may be a string or an
    object and is not interpreted; missing fields become ``None`` / empty. A body with no ``state`` takes it
    from the envelope code (200 success, 501 fail), else ``"unknown"`` (non-terminal). No ``taskId`` raises
    a permanent KieError.
    """
    envelope_code: int | None = None
    if "taskId" not in data and isinstance(data.get("data"), Mapping):
        envelope_code = _as_int(data.get("code"))
        data = data["data"]
    task_id = data.get("taskId")
    if not isinstance(task_id, str) or not task_id:
        raise KieError("task info without a taskId")
    state = data.get("state")
    if not isinstance(state, str) or not state:
        state = {200: "success", 501: "fail"}.get(envelope_code or 0, "unknown")
    return KieTaskInfo(
        task_id=task_id,
        state=state,
        result_urls=_result_urls(data.get("resultJson")),
        fail_code=_as_text(data.get("failCode")),
        fail_msg=_as_text(data.get("failMsg")),
        cost_time_ms=_as_int(data.get("costTime")),
        create_time_ms=_as_int(data.get("createTime")),
        complete_time_ms=_as_int(data.get("completeTime")),
    )


class KieClient:
    """The Kie.ai jobs API for one model. Thread-safe; share one per process."""

    def __init__(self, base_url: str, model: str, *, http: HttpClient | None = None) -> None:
        self.model = model
        self.http = http or HttpClient("kie", base_url, error_type=KieError)

    def create_task(self, *, api_key: str, prompt: str, image_urls: Sequence[str], callback_url: str | None,
                    output_format: str = "png", aspect_ratio: str = "3:4") -> str:
        """Submit one generation task and return its taskId ("accepted", not "done").

        The input is checked locally first (1..10 URLs, a non-empty prompt of at most 5000 characters):
        a violation raises KieError code 422, not retryable, and nothing is sent. Only ``aspect_ratio`` is
        sent (the deprecated ``image_size`` is not). Kie has no idempotency key: a retryable error after the
        request left (a timeout) may still have created a task.
        """
        _validate_input(prompt, image_urls)
        payload: dict[str, Any] = {
            "model": self.model,
            "input": {"prompt": prompt, "image_urls": list(image_urls), "output_format": output_format,
                      "aspect_ratio": aspect_ratio},
        }
        if callback_url:
            payload["callBackUrl"] = callback_url
        response = self.http.request("POST", "/api/v1/jobs/createTask", op="createTask", json=payload,
                                     headers=_auth(api_key))
        data = _envelope_data(response, "createTask")
        task_id = data.get("taskId") if isinstance(data, Mapping) else None
        if not isinstance(task_id, str) or not task_id:
            # Retrying could create a second task: let a human-visible permanent error stop it instead.
            raise KieError("createTask: accepted without a taskId", http_status=response.status_code)
        log(logger, "kie_task_created", task_id=task_id, model=self.model, images=len(image_urls))
        return task_id

    def record_info(self, *, api_key: str, task_id: str) -> KieTaskInfo:
        """The task's current state. An unknown task (or another account's) raises KieError code 422."""
        response = self.http.request("GET", "/api/v1/jobs/recordInfo", op="recordInfo",
                                     params={"taskId": task_id}, headers=_auth(api_key))
        data = _envelope_data(response, "recordInfo")
        if not isinstance(data, Mapping):
            raise KieError("recordInfo: recordInfo is null", code=422, http_status=response.status_code)
        return parse_task_info(data)

    def credit(self, *, api_key: str) -> float:
        """The account's remaining credit balance."""
        response = self.http.request("GET", "/api/v1/chat/credit", op="credit", headers=_auth(api_key))
        data = _envelope_data(response, "credit")
        if isinstance(data, bool) or not isinstance(data, (int, float, str)):
            raise KieError("credit: balance is not a number", http_status=response.status_code)
        try:
            return float(data)
        except ValueError:
            raise KieError("credit: balance is not a number", http_status=response.status_code) from None

    def close(self) -> None:
        self.http.close()


def verify_webhook_signature(key: str, task_id: str, timestamp: str, signature: str, *,
                             now: float | None = None, max_age_s: int = 300) -> bool:
    """True when ``signature`` is base64(HMAC-SHA256(key, f"{task_id}.{timestamp}")) and the timestamp
    (unix seconds) is within ``max_age_s`` of ``now`` either way. Constant-time; False for any malformed input.
    """
    if not key or not task_id or not signature:
        return False
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > max_age_s:
        return False
    expected = hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    try:
        given = base64.b64decode(signature.encode(), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(expected, given)


def _auth(api_key: str) -> dict[str, str]:
    if not api_key:
        raise KieError("no API key given")
    return {"Authorization": f"Bearer {api_key}"}


def _validate_input(prompt: str, image_urls: Sequence[str]) -> None:
    if not isinstance(prompt, str) or not prompt.strip():
        raise KieError("createTask: prompt is empty", code=422)
    if len(prompt) > MAX_PROMPT_CHARS:
        raise KieError(f"createTask: prompt longer than {MAX_PROMPT_CHARS} characters", code=422)
    # A bare string is a Sequence too: it would be sent as a list of characters.
    if isinstance(image_urls, str) or not 1 <= len(image_urls) <= MAX_IMAGE_URLS:
        raise KieError(f"createTask: image_urls must hold 1..{MAX_IMAGE_URLS} URLs", code=422)
    if not all(isinstance(url, str) and url for url in image_urls):
        raise KieError("createTask: image_urls must be non-empty strings", code=422)


def _envelope_data(response: requests.Response, op: str) -> Any:
    """The envelope's ``data`` when its code is 200; any other code raises a classified KieError."""
    body = json_body(response, KieError, op)
    code = _as_int(body.get("code"))
    if code is None:
        raise KieError(f"{op}: answer without an envelope code", retryable=response.status_code >= 500,
                       http_status=response.status_code)
    if code == 200:
        return body.get("data")
    message = body.get("msg") or body.get("message") or "error"
    retryable = code in _RETRYABLE_CODES or (code >= 500 and code not in _PERMANENT_5XX)
    retry_after = _retry_after(response, body) if code == 429 else None
    log(logger, "kie_error", level=logging.WARNING, op=op, code=code, http_status=response.status_code,
        retryable=retryable, retry_after=retry_after)
    raise KieError(f"{op}: {message}", code=code, retryable=retryable, retry_after=retry_after,
                   http_status=response.status_code)


def _retry_after(response: requests.Response, body: Mapping[str, Any]) -> float | None:
    """Seconds to wait if the answer says so: a Retry-After header, or retryAfter / retry_after in the body."""
    candidates: list[Any] = [response.headers.get("Retry-After"), body.get("retryAfter"), body.get("retry_after")]
    data = body.get("data")
    if isinstance(data, Mapping):
        candidates += [data.get("retryAfter"), data.get("retry_after")]
    for value in candidates:
        if value is None or isinstance(value, bool):
            continue
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


def _result_urls(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        if not raw.strip():
            return ()
        try:
            raw = json.loads(raw)
        except ValueError:
            log(logger, "kie_bad_result_json", level=logging.WARNING)
            return ()
    if isinstance(raw, Mapping):
        raw = raw.get("resultUrls")
    if isinstance(raw, list):
        return tuple(url for url in raw if isinstance(url, str) and url)
    return ()


def _as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            return int(float(value.strip()))
        except (ValueError, OverflowError):
            return None
    return None


def _as_text(value: Any) -> str | None:
    """failCode / failMsg: Kie sends "" or null for none, sometimes a number for the code."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text or None
