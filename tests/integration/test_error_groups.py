"""Error tracking (issue 11, "Error tracking"): an unhandled exception in a view, an actor failing with a bug and a
JavaScript error the Mini App reports are each grouped by cause — one group however often the same bug fires,
whatever its message — counted, with the latest occurrence and its correlation id, and listed on /admin."""

from __future__ import annotations

import dramatiq
import pytest

from tests.conftest import tma_header
from tests.factories import make_user
from tests.integration.pipeline_helpers import wait_until
from web import create_app


def groups(services) -> list[dict]:
    with services.pool.connection() as conn:
        return conn.execute("SELECT * FROM error_groups ORDER BY source, kind").fetchall()


def test_a_views_bug_is_one_group_counted_with_its_latest_occurrence(settings, services, broker) -> None:
    app = create_app(settings, services=services, broker=broker)

    @app.get("/boom/<int:n>")
    def boom(n: int):
        raise KeyError(f"no such thing {n}")  # the message varies, the cause does not

    client = app.test_client()
    for n in (1, 2, 3):
        answer = client.get(f"/boom/{n}", headers={"X-Correlation-ID": f"boom-request-{n}"})
        assert answer.status_code == 500 and answer.get_json()["error"]["code"] == "INTERNAL"

    [group] = groups(services)
    assert (group["source"], group["kind"], group["occurrences"]) == ("web", "KeyError", 3)
    assert group["location"].endswith(":boom") and "no such thing 3" in group["message"]
    assert group["last_correlation_id"] == "boom-request-3" and "Traceback" in group["traceback"]
    listed = client.get("/admin/api/errors", headers={"Authorization": f"Bearer {settings.admin_token}"})
    assert [e["occurrences"] for e in listed.get_json()["errors"]] == [3]


def test_an_actor_bug_is_grouped_and_a_providers_answer_is_not(services, worker, broker) -> None:
    @dramatiq.actor(queue_name="ops", max_retries=0, actor_name=f"buggy_{id(services)}")
    def buggy() -> None:
        raise ZeroDivisionError("division by zero")

    try:
        buggy.send()
        found = wait_until(lambda: [g for g in groups(services) if g["source"] == "worker"] or None, timeout_s=20,
                           what="the actor's error recorded")
        assert found[0]["kind"] == "ZeroDivisionError" and found[0]["location"].endswith(":buggy")
    finally:
        broker.actors.pop(buggy.actor_name, None)


@pytest.mark.parametrize("body, status", [({"message": "x" * 2001}, 413), ({"where": "#/"}, 400)])
def test_the_mini_apps_reports_are_bounded(client, settings, services, body, status) -> None:
    user = make_user(services)
    answer = client.post("/api/v1/client-errors", json=body, headers=tma_header(settings, user["telegram_id"]))
    assert answer.status_code == status and groups(services) == []


def test_the_mini_apps_javascript_errors_are_grouped_by_message_and_screen(client, settings, services) -> None:
    user = make_user(services)
    headers = tma_header(settings, user["telegram_id"])
    for _ in range(2):
        answer = client.post("/api/v1/client-errors", headers=headers,
                             json={"message": "TypeError: x is undefined\nmore", "where": "#/credits",
                                   "stack": "at draw (credits.js:10)"})
        assert answer.status_code == 202
    assert client.post("/api/v1/client-errors", json={"message": "x"}).status_code == 401  # not without a login

    [group] = groups(services)
    assert (group["source"], group["kind"], group["location"], group["occurrences"]) == (
        "miniapp", "TypeError: x is undefined", "#/credits", 2)
