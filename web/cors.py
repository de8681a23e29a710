"""Cross-origin selfie uploads: with ``UPLOADS_BASE_URL`` the Mini App (served from PUBLIC_BASE_URL's origin) sends
its selfies to the ``uploads`` role on another origin, so this app, running as that role, answers the browser's
CORS preflight for the upload route and marks every answer of that route readable by the Mini App's origin —
errors included (a 503 UPLOADS_BUSY's Retry-After, a 422 NO_FACE's JSON).

Only the Mini App's own origin is admitted, only on the upload route, only for POST with the ``Authorization``
header; no cookies are involved (initData is the credential), so ``Access-Control-Allow-Credentials`` is never
sent. Every other route and origin gets no CORS header at all (the browser then refuses, as it should).
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

UPLOAD_ENDPOINT = "api.references.upload_references"
PREFLIGHT_MAX_AGE_S = 600  # the browser asks once per 10 minutes, not before each selfie


def register(app: Flask) -> None:
    """Answer preflights and mark answers of the upload route; call before other ``before_request`` hooks."""

    @app.before_request
    def _preflight() -> Response | None:
        if request.method != "OPTIONS" or request.endpoint != UPLOAD_ENDPOINT or not _admitted():
            return None
        response = Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = "Authorization"
        response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_S)
        return response

    @app.after_request
    def _mark(response: Response) -> Response:
        if request.endpoint == UPLOAD_ENDPOINT and _admitted():
            response.headers["Access-Control-Allow-Origin"] = request.headers["Origin"]
            response.headers["Access-Control-Expose-Headers"] = "Retry-After, X-Correlation-ID"
            response.vary.add("Origin")
        return response


def _admitted() -> bool:
    origin = request.headers.get("Origin")
    return bool(origin) and origin == current_app.extensions["pinglass"].settings.miniapp_origin
