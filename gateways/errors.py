"""The one error type every gateway raises: it says whether retrying can help, and after how long."""

from __future__ import annotations


class ProviderError(Exception):
    """A call to an outside service failed.

    ``retryable`` — the same call may succeed later (timeouts, 5xx, rate limits, maintenance);
    ``retry_after`` — seconds the provider asked us to wait, when it said;
    ``code`` — the provider's own error code (Kie envelope code, T-Bank ErrorCode, Telegram error_code, HTTP status).
    """

    provider = "provider"

    def __init__(self, message: str, *, code: str | int | None = None, retryable: bool = False,
                 retry_after: float | None = None, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after
        self.http_status = http_status

    def __str__(self) -> str:
        extra = f" code={self.code}" if self.code is not None else ""
        return f"{self.provider}: {self.message}{extra} retryable={self.retryable}"
