from __future__ import annotations


def test_health_checks_database_and_redis(client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_metrics_are_prometheus_text(client) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"pinglass_messages_total" in response.data


def test_unknown_path_is_a_json_404(client) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "NOT_FOUND"
