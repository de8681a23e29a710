"""The Mini App: the page a Telegram user opens at ``/app/`` — plain ES modules, no build step.

``/app/`` answers ``static/index.html`` with a strict Content-Security-Policy: scripts and styles only from
our origin (and Telegram's ``telegram-web-app.js``), API calls only to our origin (and the ``uploads`` role's, for
selfies, when UPLOADS_BASE_URL names one: its origin is in a ``pinglass-uploads`` meta tag), images from our
origin and the photo storage's (presigned URLs), no inline scripts, framed only by Telegram's web clients. Assets are
under ``/app/assets/``.

In production the page loads Telegram's ``telegram-web-app.js``; in sandbox mode it does not (the machine has
no Telegram), and the app reads ``tgWebAppData`` from the URL hash as Telegram passes it. Sandbox mode also has
``/app/dev-login``, which signs initData for a test user so a person can open the app in a desktop browser;
outside sandbox mode that path does not exist (404).
"""

from __future__ import annotations

import json
import time
from functools import cache
from pathlib import Path
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, current_app, redirect, request, send_from_directory

from gateways.initdata import sign_init_data
from web.errors import ApiError

STATIC = Path(__file__).with_name("static")
blueprint = Blueprint("miniapp", __name__, url_prefix="/app", static_folder="static", static_url_path="/assets")
# Browsers ask every origin for /favicon.ico (the shared gallery page too): answer with our icon, not a 404.
favicon = Blueprint("favicon", __name__)

TELEGRAM_SDK = '<script src="https://telegram.org/js/telegram-web-app.js?59"></script>'
DEV_USER_ID = 700_000_001  # the development login's default user
THEMES = {  # what Telegram passes as tgWebAppThemeParams (its light and dark defaults), for the development login
    "light": {"bg_color": "#ffffff", "text_color": "#000000", "hint_color": "#999999", "link_color": "#2481cc",
              "button_color": "#2481cc", "button_text_color": "#ffffff", "secondary_bg_color": "#efeff3",
              "section_bg_color": "#ffffff", "destructive_text_color": "#cc2929", "accent_text_color": "#2481cc",
              "subtitle_text_color": "#999999", "section_header_text_color": "#6d6d71"},
    "dark": {"bg_color": "#212d3b", "text_color": "#ffffff", "hint_color": "#7d8b99", "link_color": "#5eabe1",
             "button_color": "#5288c1", "button_text_color": "#ffffff", "secondary_bg_color": "#151e27",
             "section_bg_color": "#1d2733", "destructive_text_color": "#ec3942", "accent_text_color": "#64b5ef",
             "subtitle_text_color": "#7b8790", "section_header_text_color": "#5eabe1"},
}


@cache
def _index_template() -> str:
    return (STATIC / "index.html").read_text(encoding="utf-8")


def _storage_origin() -> str:
    """The origin of the presigned photo URLs (R2's in production, the local S3 fake in the sandbox)."""
    key = "pinglass.miniapp.storage_origin"
    if key not in current_app.extensions:
        probe = urlsplit(current_app.extensions["pinglass"].services.storage.presigned_get("csp-probe", 60))
        current_app.extensions[key] = f"{probe.scheme}://{probe.netloc}"
    return current_app.extensions[key]


def content_security_policy(storage_origin: str, uploads_origin: str = "") -> str:
    return "; ".join((
        "default-src 'none'",
        "script-src 'self' https://telegram.org",
        "style-src 'self'",
        f"img-src 'self' data: blob: {storage_origin}",
        f"connect-src 'self' {uploads_origin}".rstrip(),
        "font-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'self' https://web.telegram.org https://*.telegram.org",
    ))


@favicon.get("/favicon.ico")
def favicon_ico() -> Response:
    response = send_from_directory(STATIC, "icon.svg", mimetype="image/svg+xml", max_age=86400)
    return response


@blueprint.get("")
def app_root():
    return redirect("/app/", 308)


@blueprint.get("/")
def index() -> Response:
    sandbox = current_app.extensions["pinglass"].settings.sandbox_mode
    html = _index_template().replace("<!--telegram-sdk-->", "" if sandbox else TELEGRAM_SDK)
    html = html.replace("<!--sandbox-->", "1" if sandbox else "0")
    uploads = current_app.extensions["pinglass"].settings.uploads_origin
    html = html.replace("<!--uploads-->", uploads)
    return Response(html, mimetype="text/html", headers={
        "Content-Security-Policy": content_security_policy(_storage_origin(), uploads),
        "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})


@blueprint.get("/dev-login")
def dev_login():
    """Sandbox only: sign initData for a test user and open the app with it, as Telegram would.

    Query: ``user`` (a Telegram id; default a fixed development user), ``start`` (a start parameter, e.g.
    ``ref_<code>``), ``theme`` (``light`` or ``dark``), ``path`` (a screen, e.g. ``/generations/5``)."""
    settings = current_app.extensions["pinglass"].settings
    if not settings.sandbox_mode:
        raise ApiError(404, "NOT_FOUND", "not found")
    user_arg = request.args.get("user", "")
    user_id = int(user_arg) if user_arg.isdigit() and 0 < int(user_arg) < 2**52 else DEV_USER_ID
    start = request.args.get("start", "")[:64]
    theme = THEMES.get(request.args.get("theme", "light"), THEMES["light"])
    path = request.args.get("path", "")
    path = path if path.startswith("/") and "?" not in path and "#" not in path else ""
    extra = {"start_param": start} if start else None
    init = sign_init_data({"id": user_id, "first_name": "Тестовый", "last_name": "Пользователь",
                           "username": f"dev{user_id}", "language_code": "ru"}, settings.telegram_bot_token,
                          auth_date=int(time.time()), extra=extra)
    params = {"tgWebAppData": init, "tgWebAppVersion": "8.0", "tgWebAppPlatform": "unknown",
              "tgWebAppThemeParams": json.dumps(theme, separators=(",", ":"))}
    if start:
        params["tgWebAppStartParam"] = start
    fragment = "&".join(f"{name}={quote(value, safe='')}" for name, value in params.items())
    return redirect(f"/app/#{path}{'?' if path else ''}{fragment}", 302)
