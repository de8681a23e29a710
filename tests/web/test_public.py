"""Public pages over real HTTP: the signed ZIP link of the Telegram summary message, and forged, expired or
malformed links refused."""

from __future__ import annotations

import io
import time
import zipfile
from urllib.parse import parse_qs, urlsplit

import requests

from rules.signing import sign
from tests.factories import make_avatar, make_user
from tests.web.api_helpers import make_delivered_job
from usecases.delivery import summary_buttons


def _zip_link(services, job_id: int) -> str:
    """The URL behind the summary message's "Скачать ZIP" button, exactly as the delivery actor builds it."""
    keyboard = summary_buttons(services, job_id)["inline_keyboard"]
    return next(button["url"] for row in keyboard for button in row if "url" in button)


def test_the_summary_messages_zip_link_downloads_the_album(live_web, settings, services) -> None:
    user = make_user(services)
    job = make_delivered_job(services, user, make_avatar(services, user))
    link = _zip_link(services, job["id"])
    assert link.startswith(live_web)

    response = requests.get(link, timeout=10)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert len(zipfile.ZipFile(io.BytesIO(response.content)).namelist()) == 7


def test_a_forged_or_altered_zip_link_is_403(live_web, settings, services) -> None:
    user = make_user(services)
    job = make_delivered_job(services, user, make_avatar(services, user))
    other = make_delivered_job(services, user, make_avatar(services, user))
    link = _zip_link(services, job["id"])
    query = parse_qs(urlsplit(link).query)
    exp, sig = query["exp"][0], query["sig"][0]
    for url in (f"{live_web}/download/{other['id']}.zip?exp={exp}&sig={sig}",  # someone else's album
                f"{live_web}/download/{job['id']}.zip?exp={int(exp) + 1}&sig={sig}",  # a longer life
                f"{live_web}/download/{job['id']}.zip?exp={exp}&sig={'0' * 64}",
                f"{live_web}/download/{job['id']}.zip?exp={exp}&sig=%C3%A9%C3%A9",
                f"{live_web}/download/{job['id']}.zip"):
        response = requests.get(url, timeout=10)
        assert response.status_code == 403, url
        assert response.json()["error"]["code"] == "BAD_SIGNATURE"


def test_an_expired_zip_link_is_403(live_web, settings, services) -> None:
    user = make_user(services)
    job = make_delivered_job(services, user, make_avatar(services, user))
    exp = int(time.time()) - 5
    sig = sign(settings.callback_signing_key, "zip", f"{job['id']}:{exp}")
    response = requests.get(f"{live_web}/download/{job['id']}.zip?exp={exp}&sig={sig}", timeout=10)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "LINK_EXPIRED"


def test_a_signed_link_to_a_missing_job_is_404(live_web, settings) -> None:
    exp = int(time.time()) + 60
    sig = sign(settings.callback_signing_key, "zip", f"424242:{exp}")
    response = requests.get(f"{live_web}/download/424242.zip?exp={exp}&sig={sig}", timeout=10)
    assert response.status_code == 404


def test_an_unknown_gallery_is_an_html_404(live_web) -> None:
    response = requests.get(f"{live_web}/g/not-a-real-token", timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Cache-Control"] == "no-store"
