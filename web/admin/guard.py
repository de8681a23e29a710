"""Who may see the admin pages: the holder of ``ADMIN_TOKEN``.

Sent as ``Authorization: Bearer <token>`` (scripts), or once as ``?token=<token>`` (a browser), which sets an
HttpOnly, SameSite=Strict cookie holding an HMAC of the token — never the token itself — and, for a GET,
redirects to the same address without the token, so it does not linger in the address bar or history.
Nothing sent: 401. Something wrong sent: 403. No token configured: the admin surface is off (403).
"""

from __future__ import annotations

import hmac
from urllib.parse import urlencode, urlsplit

from flask import Response, current_app, g, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from rules.signing import sign
from web.errors import ApiError

COOKIE = "pinglass_admin"
COOKIE_MAX_AGE_S = 12 * 3600


def session_value(admin_token: str) -> str:
    """The cookie's value: keyed by the token, so a new token logs every browser out."""
    return sign(admin_token, "admin-session", "v1")


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def check() -> BaseResponse | None:
    """The blueprint's before_request: None to let the request through, a redirect, or raise ApiError."""
    token = current_app.extensions["pinglass"].settings.admin_token
    if not token:
        raise ApiError(403, "ADMIN_DISABLED", "the admin surface is off: ADMIN_TOKEN is not set")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and given.strip():
        if _same(given.strip(), token):
            return None
        raise ApiError(403, "ADMIN_FORBIDDEN", "wrong admin token")
    query_token = request.args.get("token")
    if query_token is not None:
        if not _same(query_token, token):
            raise ApiError(403, "ADMIN_FORBIDDEN", "wrong admin token")
        g.admin_set_cookie = True
        if request.method == "GET":
            rest = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
            return redirect(request.path + (f"?{urlencode(rest)}" if rest else ""), code=303)
        return None
    cookie = request.cookies.get(COOKIE)
    if cookie:
        if not _same(cookie, session_value(token)):
            raise ApiError(403, "ADMIN_FORBIDDEN", "the admin session is not valid any more")
        _check_origin()
        return None
    raise ApiError(401, "ADMIN_AUTH_REQUIRED", "send Authorization: Bearer <admin token>",
                   headers={"WWW-Authenticate": "Bearer"})


def _check_origin() -> None:
    """A cookie rides along with cross-site requests in old browsers: a state change must come from us."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc != request.host:
        raise ApiError(403, "ADMIN_FORBIDDEN", "cross-site request refused")


def set_cookie(response: Response) -> Response:
    """The blueprint's after_request: hand the browser its session cookie after a ``?token=`` login."""
    if g.pop("admin_set_cookie", False):
        settings = current_app.extensions["pinglass"].settings
        response.set_cookie(COOKIE, session_value(settings.admin_token), max_age=COOKIE_MAX_AGE_S, path="/admin",
                            httponly=True, samesite="Strict", secure=settings.public_base_url.startswith("https"))
    return response
