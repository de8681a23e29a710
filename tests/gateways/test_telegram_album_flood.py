"""Issue 10 item 14: sendMediaGroup can deliver part of an album and then answer HTTP 400 "Too Many Requests:
retry after N". The fake answers that way on request (a fault rule with ``partial``); the client reads it as a
flood wait (429, retryable, retry_after N), not as a bad request."""
from __future__ import annotations

import pytest

from gateways.telegram import TelegramClient, TelegramError
from sandbox.client import SandboxClient
from tests.gateways.test_telegram import CHAT, TOKEN, _png, fake, fake_server, url  # noqa: F401 — fixtures

FLOOD = {"method": "sendMediaGroup", "http_status": 400, "error_code": 400, "partial": 3,
         "description": "Too Many Requests: retry after 7"}


def test_a_400_too_many_requests_mid_album_is_a_flood_wait(url) -> None:  # noqa: F811
    control = SandboxClient(telegram=url).telegram
    control.fail(**FLOOD)
    with pytest.raises(TelegramError) as caught:
        TelegramClient(url, TOKEN).send_media_group(CHAT, [_png(color=(i * 40, 9, 9)) for i in range(5)])
    err = caught.value
    assert (err.code, err.retryable, err.retry_after, err.http_status) == (429, True, 7.0, 400)
    sent = [m for m in control.messages(CHAT) if m.get("photos")]
    assert len(sent) == 3, "the fake delivers the start of the album before the flood answer"
