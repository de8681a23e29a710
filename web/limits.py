"""Request body bounds, enforced for every route before any view (or any authentication) reads the body.

Every body is bounded to ``MAX_BODY_BYTES`` (64 KiB: the largest JSON we accept, a T-Bank notification, a Kie
callback or a Telegram update, is a few KiB) except the routes in ``LARGE_BODIES`` (the selfie upload). The
bound is checked before the view: on ``Content-Length`` when the client declares one (Werkzeug then never reads
past it), and for a body without one (chunked) by reading at most bound + 1 bytes here, so a longer stream is
refused after 64 KiB instead of being buffered (Werkzeug's own maximum silently truncates at the bound). A
chunked body to a large-bound route answers 411: its client must declare the length. Either way an oversized
body answers 413 ``PAYLOAD_TOO_LARGE`` in the one JSON error shape, and memory stays flat whatever is sent.
"""

from __future__ import annotations

from flask import Flask, request

from web.errors import ApiError

MAX_BODY_BYTES = 64 * 1024
MAX_UPLOAD_BYTES = 16 * 10 * 1024 * 1024  # a whole multipart call: up to 15 photos of 10 MB plus slack
LARGE_BODIES = {"api.references.upload_references": MAX_UPLOAD_BYTES}


def body_limit(endpoint: str | None) -> int:
    """The most bytes a request to ``endpoint`` may carry."""
    return LARGE_BODIES.get(endpoint or "", MAX_BODY_BYTES)


def register(app: Flask) -> None:
    """Bound every request's body; call before any other ``before_request`` hook is registered."""
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES  # the default for anything that bypasses the hook

    @app.before_request
    def _bound_body() -> None:
        limit = body_limit(request.endpoint)
        if request.content_length is not None:
            if request.content_length > limit:
                raise ApiError(413, "PAYLOAD_TOO_LARGE", f"the body is larger than {limit} bytes")
            request.max_content_length = limit
            return
        if "wsgi.input_terminated" not in request.environ:
            return  # no length and no server-side framing: Werkzeug reads no body at all
        if limit > MAX_BODY_BYTES:
            raise ApiError(411, "LENGTH_REQUIRED", "send this body with a Content-Length")
        request.max_content_length = limit + 1  # a streamed body: read (and cache) at most one byte too many
        if len(request.get_data(cache=True)) > limit:
            raise ApiError(413, "PAYLOAD_TOO_LARGE", f"the body is larger than {limit} bytes")
