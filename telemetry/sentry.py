"""Sentry, when ``SENTRY_DSN`` is set: exceptions the fleet records (``usecases.error_groups``) also go there,
through Sentry's official SDK. Off by default and in tests (nothing leaves the machine unless a DSN is given);
no personal data is sent (``send_default_pii`` off, no request bodies), no performance tracing."""

from __future__ import annotations

import sentry_sdk

_started = False


def start(dsn: str, *, role: str, environment: str) -> bool:
    """Start the SDK for this process (``role``: web, worker, scheduler); False when no DSN is configured."""
    global _started
    if not dsn:
        return False
    sentry_sdk.init(dsn=dsn, environment=environment, server_name=role, send_default_pii=False,
                    traces_sample_rate=0.0, max_request_body_size="never", default_integrations=False)
    _started = True
    return True


def capture(exc: BaseException, *, source: str, correlation_id: str | None) -> None:
    """Send ``exc`` to Sentry when it was started (tagged with where it came from and its correlation id)."""
    if not _started:
        return
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("source", source)
        if correlation_id:
            scope.set_tag("correlation_id", correlation_id)
        sentry_sdk.capture_exception(exc)


def capture_client_error(*, kind: str, where: str, message: str, stack: str, correlation_id: str | None) -> None:
    """Send a JavaScript error the Mini App reported to Sentry (when it was started), grouped there as we group it
    (its first line and the screen it happened on); the person's id stays with us."""
    if not _started:
        return
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("source", "miniapp")
        scope.set_tag("screen", where)
        if correlation_id:
            scope.set_tag("correlation_id", correlation_id)
        scope.fingerprint = ["miniapp", kind, where]
        scope.set_context("javascript", {"message": message, "stack": stack})
        sentry_sdk.capture_message(f"Mini App: {kind}", level="error")


def stop(timeout_s: float = 2.0) -> None:
    """Flush what is pending and stop sending (a process's exit; tests)."""
    global _started
    if _started:
        sentry_sdk.flush(timeout=timeout_s)
        sentry_sdk.get_client().close()
    _started = False
