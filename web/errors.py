"""One JSON error shape for the whole API: ``{"error": {"code": "...", "message": "..."}}``."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from db.errors import unavailable
from telemetry.logs import log
from usecases.error_groups import record_exception

logger = logging.getLogger("web.errors")

_HTTP_CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
               405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE",
               422: "UNPROCESSABLE", 429: "RATE_LIMITED"}


DB_RETRY_AFTER = "2"  # seconds; a Postgres restart or fail-over is over in a few


class ApiError(Exception):
    """Raise from a view to answer ``status`` with a machine-readable ``code``."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        return error_response(err.status, err.code, err.message, err.headers)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        status = err.code or 500
        return error_response(status, _HTTP_CODES.get(status, "HTTP_ERROR"), err.description or err.name)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        if unavailable(err):  # the database restarting or unreachable: a brief outage every client retries
            log(logger, "database_unavailable", level=logging.ERROR, error=type(err).__name__)
            return error_response(503, "DATABASE_UNAVAILABLE", "the service is briefly unavailable; try again",
                                  {"Retry-After": DB_RETRY_AFTER})
        log(logger, "unhandled_error", level=logging.ERROR, error=type(err).__name__)
        logger.exception("unhandled error")
        record_exception(app.extensions["pinglass"].services.pool, source="web", exc=err)
        return error_response(500, "INTERNAL", "internal error")
