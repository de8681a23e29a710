"""initData is accepted for a day (issue 10, item 16): Telegram never refreshes it while the Mini App stays open,
and people keep it open while their portraits are made; older than the maximum it answers 401 INITDATA_EXPIRED
(which the Mini App turns into "Сессия устарела — откройте приложение заново")."""

from __future__ import annotations

import time

from settings import Settings
from tests.conftest import tma_header


def test_the_default_maximum_age_is_a_day() -> None:
    assert Settings().initdata_max_age_s == 24 * 3600


def test_an_app_left_open_for_hours_still_works(client, settings) -> None:
    six_hours_ago = int(time.time()) - 6 * 3600
    response = client.get("/api/v1/me", headers=tma_header(settings, 6_200_001, auth_date=six_hours_ago))
    assert response.status_code == 200


def test_initdata_older_than_a_day_is_refused_as_expired(client, settings) -> None:
    stale = int(time.time()) - 24 * 3600 - 60
    response = client.get("/api/v1/me", headers=tma_header(settings, 6_200_002, auth_date=stale))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "INITDATA_EXPIRED"
