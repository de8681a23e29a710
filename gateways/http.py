"""The HTTP helper every gateway goes through: mandatory timeouts, a User-Agent, the correlation id,
one structured log line per call (provider, method, latency, outcome; never secrets), and transport
failures turned into the gateway's retryable error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import requests

from gateways.errors import ProviderError
from telemetry import metrics, provider_stats
from telemetry.context import correlation_id
from telemetry.logs import log, monotonic_ms

USER_AGENT = "PinGlass-fleet/1.0 (+https://pinglass.app)"
DEFAULT_TIMEOUT = (3.05, 20.0)  # (connect, read) seconds

logger = logging.getLogger("gateways.http")


class HttpClient:
    """A pooled HTTP session bound to one provider's base URL."""

    def __init__(self, provider: str, base_url: str, *, error_type: type[ProviderError] = ProviderError,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT, pool_size: int = 20) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.error_type = error_type
        self.timeout = timeout
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = USER_AGENT

    def request(self, method: str, path: str, *, op: str | None = None, json: Any = None,
                params: Mapping[str, Any] | None = None, data: Any = None, files: Any = None,
                headers: Mapping[str, str] | None = None, timeout: tuple[float, float] | None = None,
                absolute_url: str | None = None, stream: bool = False) -> requests.Response:
        """Send one request and return the response whatever its status; transport failures raise retryable.

        ``op`` names the operation for logs and metrics (a bounded label, never a URL with ids or secrets).
        """
        url = absolute_url or f"{self.base_url}{path}"
        op = op or path.rsplit("/", 1)[-1]
        all_headers = dict(headers or {})
        cid = correlation_id()
        if cid:
            all_headers.setdefault("X-Correlation-Id", cid)
        start = time.monotonic()
        try:
            response = self.session.request(method, url, json=json, params=params, data=data, files=files,
                                            headers=all_headers, timeout=timeout or self.timeout, stream=stream)
        except requests.RequestException as exc:
            elapsed = monotonic_ms(start)
            metrics.PROVIDER_CALLS.labels(self.provider, op, "transport_error").inc()
            provider_stats.record(self.provider, op, elapsed, failed=True)
            log(logger, "provider_call", level=logging.WARNING, provider=self.provider, op=op,
                latency_ms=elapsed, outcome="transport_error", error=type(exc).__name__)
            raise self.error_type(f"{op}: {type(exc).__name__}", retryable=True) from exc
        elapsed = monotonic_ms(start)
        metrics.PROVIDER_LATENCY.labels(self.provider, op).observe(elapsed / 1000)
        metrics.PROVIDER_CALLS.labels(self.provider, op, str(response.status_code)).inc()
        provider_stats.record(self.provider, op, elapsed,
                              failed=response.status_code >= 500 or response.status_code == 429)
        log(logger, "provider_call", provider=self.provider, op=op, latency_ms=elapsed,
            status=response.status_code)
        return response

    def close(self) -> None:
        self.session.close()


def json_body(response: requests.Response, error_type: type[ProviderError], op: str) -> dict[str, Any]:
    """The response body as a JSON object; a non-JSON body is a retryable error for 5xx, permanent otherwise."""
    try:
        body = response.json()
    except ValueError:
        raise error_type(f"{op}: non-JSON answer (HTTP {response.status_code})",
                         retryable=response.status_code >= 500 or response.status_code == 429,
                         http_status=response.status_code) from None
    if not isinstance(body, dict):
        raise error_type(f"{op}: answer is not a JSON object", http_status=response.status_code)
    return body
