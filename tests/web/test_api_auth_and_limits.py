"""Authentication, rate limiting and the one JSON error shape, over HTTP."""

from __future__ import annotations

import time

from gateways.initdata import sign_init_data
from runtime.limits import ApiLimit
from tests.conftest import tma_header


def _error(response) -> str:
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return body["error"]["code"]


def test_missing_initdata_is_401(client) -> None:
    response = client.get("/api/v1/catalog")
    assert response.status_code == 401
    assert _error(response) == "INITDATA_MISSING"


def test_forged_initdata_is_401_and_registers_nobody(client, settings, services) -> None:
    forged = sign_init_data({"id": 4242, "first_name": "Mallory"}, "999:not-our-bot-token",
                            auth_date=int(time.time()))
    response = client.get("/api/v1/avatars", headers={"Authorization": f"tma {forged}"})
    assert response.status_code == 401
    assert _error(response) == "INITDATA_BAD_HASH"
    with services.pool.connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM users").fetchone()["n"] == 0


def test_altered_initdata_is_401(client, settings) -> None:
    header = tma_header(settings, 5151)
    tampered = {"Authorization": header["Authorization"].replace("5151", "5152")}
    response = client.get("/api/v1/avatars", headers=tampered)
    assert response.status_code == 401
    assert _error(response) == "INITDATA_BAD_HASH"


def test_stale_initdata_is_401(client, settings) -> None:
    stale = tma_header(settings, 6161, auth_date=int(time.time()) - settings.initdata_max_age_s - 60)
    response = client.get("/api/v1/avatars", headers=stale)
    assert response.status_code == 401
    assert _error(response) == "INITDATA_EXPIRED"


def test_a_user_over_the_rate_limit_gets_429_with_retry_after(app, client, settings) -> None:
    app.config["API_RATE_LIMIT"] = ApiLimit(rate_per_s=0.5, burst=3)
    headers = tma_header(settings, 7171)
    statuses = [client.get("/api/v1/catalog", headers=headers).status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3:] == [429, 429]
    limited = client.get("/api/v1/catalog", headers=headers)
    assert _error(limited) == "RATE_LIMITED"
    assert int(limited.headers["Retry-After"]) >= 1
    # the bucket is per user: someone else is not slowed down
    assert client.get("/api/v1/catalog", headers=tma_header(settings, 7272)).status_code == 200


def test_malformed_json_is_400_never_500(client, settings) -> None:
    headers = tma_header(settings, 8181)
    for raw in (b"{", b"[1, 2]", b"null", b'"name"', b"\xff\xfe", b"[" * 50_000):
        response = client.post("/api/v1/avatars", headers=headers, data=raw, content_type="application/json")
        assert response.status_code == 400, raw[:10]
        assert _error(response) == "INVALID_JSON"


def test_wrong_types_are_400(client, settings) -> None:
    headers = tma_header(settings, 8282)
    for body in ({"name": 5}, {"name": None}, {}, {"name": ["a"]}, {"name": "a\u0000b"}):
        response = client.post("/api/v1/avatars", headers=headers, json=body)
        assert response.status_code == 400, body
        assert _error(response) == "INVALID_REQUEST"
    for body in ({"avatar_id": "1", "style_id": "business", "tier": "starter"},
                 {"avatar_id": True, "style_id": "business", "tier": "starter"},
                 {"avatar_id": 2**63, "style_id": "business", "tier": "starter"},
                 {"avatar_id": 1, "style_id": 7, "tier": "starter"}):
        response = client.post("/api/v1/payments", headers=headers, json=body)
        assert response.status_code == 400, body
        assert _error(response) == "INVALID_REQUEST"


def test_a_body_that_is_not_json_is_415(client, settings) -> None:
    response = client.post("/api/v1/avatars", headers=tma_header(settings, 8383), data={"name": "x"})
    assert response.status_code == 415
    assert _error(response) == "UNSUPPORTED_MEDIA_TYPE"


def test_ids_beyond_bigint_and_unknown_paths_are_json_404(client, settings) -> None:
    headers = tma_header(settings, 8484)
    for path in (f"/api/v1/avatars/{2**63}", "/api/v1/avatars/0", "/api/v1/avatars/-1", "/api/v1/nope",
                 f"/api/v1/generations/{2**70}/archive.zip"):
        response = client.get(path, headers=headers)
        assert response.status_code == 404, path
        assert _error(response) == "NOT_FOUND"
