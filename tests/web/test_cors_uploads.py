"""Selfies sent to the ``uploads`` role on its own origin (``UPLOADS_BASE_URL``, ``web/cors.py``): the browser's
preflight is answered for the Mini App's origin on the upload route only; every answer of that route, errors
included, is readable by that origin (Retry-After exposed); no other origin and no other route gets a CORS header;
and the Mini App page names the uploads origin and lets itself connect there (CSP)."""

from __future__ import annotations

import pytest

from tests.factories import make_avatar, make_user, selfie
from tests.web.api_helpers import auth, full_upload_room, upload

UPLOADS = "https://uploads.pinglass.example"


@pytest.fixture
def settings(settings):
    return settings.with_overrides(public_base_url="https://app.pinglass.example/", uploads_base_url=UPLOADS)


MINIAPP = "https://app.pinglass.example"


def test_the_preflight_admits_the_miniapps_origin_on_the_upload_route(client) -> None:
    answer = client.options("/api/v1/avatars/5/references", headers={
        "Origin": MINIAPP, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization"})

    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == MINIAPP
    assert answer.headers["Access-Control-Allow-Methods"] == "POST"
    assert answer.headers["Access-Control-Allow-Headers"] == "Authorization"
    assert int(answer.headers["Access-Control-Max-Age"]) >= 60
    assert "Access-Control-Allow-Credentials" not in answer.headers  # initData is the credential, not a cookie


@pytest.mark.parametrize("origin", ["https://evil.example", "https://app.pinglass.example:8443",
                                    "http://app.pinglass.example", "null"])
def test_no_other_origin_is_admitted(client, origin: str) -> None:
    answer = client.options("/api/v1/avatars/5/references", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_no_other_route_answers_cross_origin(client, services, settings) -> None:
    user = make_user(services)
    answer = client.get("/api/v1/catalog", headers={**auth(settings, user), "Origin": MINIAPP})
    assert answer.status_code == 200 and "Access-Control-Allow-Origin" not in answer.headers
    preflight = client.options("/api/v1/payments", headers={"Origin": MINIAPP,
                                                            "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_an_upload_and_its_refusals_are_readable_by_the_miniapp(client, services, settings) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    headers = {**auth(settings, user), "Origin": MINIAPP}

    added = upload(client, headers, avatar["id"], [(selfie(1), "me.jpg")])
    assert added.status_code == 201
    assert added.headers["Access-Control-Allow-Origin"] == MINIAPP and "Origin" in added.headers["Vary"]

    refused = upload(client, headers, avatar["id"], [(b"not an image", "notes.txt")])
    assert refused.status_code == 415 and refused.headers["Access-Control-Allow-Origin"] == MINIAPP

    with full_upload_room():
        busy = upload(client, headers, avatar["id"], [(selfie(2), "me2.jpg")])
    assert busy.status_code == 503 and busy.headers["Access-Control-Allow-Origin"] == MINIAPP
    assert "Retry-After" in busy.headers["Access-Control-Expose-Headers"]  # the Mini App waits as told


def test_the_page_names_the_uploads_origin_and_may_connect_to_it(client) -> None:
    page = client.get("/app/")
    assert '<meta name="pinglass-uploads" content="https://uploads.pinglass.example">' in page.get_data(as_text=True)
    assert f"connect-src 'self' {UPLOADS};" in page.headers["Content-Security-Policy"]


def test_without_an_uploads_role_the_page_uploads_to_itself(app, client, settings) -> None:
    app.extensions["pinglass"].settings = settings.with_overrides(uploads_base_url="")
    page = client.get("/app/")
    assert '<meta name="pinglass-uploads" content="">' in page.get_data(as_text=True)
    assert "connect-src 'self';" in page.headers["Content-Security-Policy"]
