from __future__ import annotations


def test_health_checks_database_and_redis(client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_metrics_are_prometheus_text_for_the_admin_token(client, settings) -> None:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {settings.admin_token}"})
    assert response.status_code == 200
    assert b"pinglass_messages_total" in response.data


def test_metrics_are_not_public(client) -> None:
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.get_json()["error"]["code"] == "UNAUTHORIZED"
    wrong = client.get("/metrics", headers={"Authorization": "Bearer é-not-the-token"})
    assert wrong.status_code == 403
    assert b"pinglass_" not in anonymous.data + wrong.data


def test_a_separate_metrics_token_reads_the_metrics(app, client, settings) -> None:
    app.extensions["pinglass"].settings = settings.with_overrides(metrics_token="scrape-only-7c1e")
    response = client.get("/metrics", headers={"Authorization": "Bearer scrape-only-7c1e"})
    assert response.status_code == 200
    assert b"pinglass_messages_total" in response.data


def test_unknown_path_is_a_json_404(client) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "NOT_FOUND"
