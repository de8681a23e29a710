"""The Telegram gateway against the Telegram fake on loopback: sends, files, limits, errors, webhook updates."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import socket
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask, Response, request
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from gateways.telegram import TelegramClient, TelegramError, inline_keyboard, url_button, web_app_button
from sandbox.client import SandboxClient
from sandbox.server import ServerHandle, serve
from sandbox.telegram import FakeTelegramState, TelegramFakeConfig, config_from_env, create_app

TOKEN = "100000:SANDBOX-bot-token"
SECRET = "hook-secret_1"
CHAT = 5001


def _png(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30), *,
         prompt: str | None = None, mode: str = "RGB") -> bytes:
    info = PngInfo()
    if prompt is not None:
        info.add_text("prompt", prompt)
    out = io.BytesIO()
    Image.new(mode, (width, height), color if mode == "RGB" else 1).save(out, "PNG", pnginfo=info)
    return out.getvalue()


@pytest.fixture(scope="module")
def fake_server() -> Iterator[tuple[ServerHandle, FakeTelegramState]]:
    app = create_app(TelegramFakeConfig(bot_token=TOKEN, webhook_timeout_ms=2000))
    handle = serve("telegram", app, port=0)
    yield handle, app.extensions["fake"]
    handle.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[ServerHandle, list[dict[str, Any]]]]:
    """Our webhook, for the fake to deliver updates to: records the secret header and the update, answers 200."""
    received: list[dict[str, Any]] = []
    app = Flask("telegram-test-receiver")

    @app.post("/webhooks/telegram")
    def hook() -> Response:
        received.append({"secret": request.headers.get("X-Telegram-Bot-Api-Secret-Token"),
                         "update": request.get_json()})
        return Response('{"ok":true}', 200, mimetype="application/json")

    handle = serve("telegram-receiver", app, port=0)
    yield handle, received
    handle.stop()


@pytest.fixture
def webhook(receiver: tuple[ServerHandle, list[dict[str, Any]]], client: TelegramClient) -> list[dict[str, Any]]:
    """What our webhook receives, empty, once the gateway has registered it with the fake."""
    handle, received = receiver
    received.clear()
    client.set_webhook(f"{handle.url}/webhooks/telegram", SECRET)
    return received


@pytest.fixture
def fake(fake_server: tuple[ServerHandle, FakeTelegramState]) -> FakeTelegramState:
    """The fake's state, reset before each test (the server itself lives for the module)."""
    fake_server[1].reset()
    return fake_server[1]


@pytest.fixture
def url(fake_server: tuple[ServerHandle, FakeTelegramState], fake: FakeTelegramState) -> str:
    return fake_server[0].url


@pytest.fixture
def client(url: str) -> TelegramClient:
    return TelegramClient(url, TOKEN)


def _messages(url: str, chat_id: int) -> list[dict[str, Any]]:
    return SandboxClient(telegram=url).telegram.messages(chat_id)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _configure(url: str, **knobs: Any) -> None:
    SandboxClient(telegram=url).telegram.configure(**knobs)


def test_album_arrives_in_order_with_the_caption_on_the_first_photo(client: TelegramClient, url: str) -> None:
    photos = [_png(color=(i * 60, 10, 10), prompt=f"portrait {i}") for i in range(3)]
    ids = client.send_media_group(CHAT, photos, caption="Your 3 portraits are ready")
    messages = _messages(url, CHAT)
    assert ids == [m["message_id"] for m in messages] == [1, 2, 3]
    assert [m["method"] for m in messages] == ["sendMediaGroup"] * 3
    assert len({m["media_group_id"] for m in messages}) == 1 and messages[0]["media_group_id"]
    assert [m["caption"] for m in messages] == ["Your 3 portraits are ready", None, None]
    assert [m["photos"][0]["sha256"] for m in messages] == [_sha256(p) for p in photos]
    assert [m["photos"][0]["prompt"] for m in messages] == ["portrait 0", "portrait 1", "portrait 2"]
    assert (messages[0]["photos"][0]["width"], messages[0]["photos"][0]["height"]) == (64, 48)
    assert SandboxClient(telegram=url).telegram.file(messages[2]["photos"][0]["file_id"]) == photos[2]


def test_send_photo_with_a_button_is_recorded_with_caption_and_keyboard(client: TelegramClient, url: str) -> None:
    markup = inline_keyboard([url_button("Gallery", "http://127.0.0.1:8000/g/abc")])
    photo = _png(prompt="lone")
    message_id = client.send_photo(CHAT, photo, caption="One more", reply_markup=markup)
    [message] = _messages(url, CHAT)
    assert message["message_id"] == message_id
    assert (message["method"], message["caption"], message["reply_markup"]) == ("sendPhoto", "One more", markup)
    assert message["photos"][0]["sha256"] == _sha256(photo) and message["media_group_id"] is None


def test_send_message_keeps_url_and_web_app_buttons(client: TelegramClient, url: str) -> None:
    markup = inline_keyboard([web_app_button("Open gallery", "http://127.0.0.1:8000/app")],
                             [url_button("Download ZIP", "http://127.0.0.1:8000/zip/1")])
    message_id = client.send_message(CHAT, "Done ✨", reply_markup=markup)
    [message] = _messages(url, CHAT)
    assert (message["message_id"], message["text"], message["reply_markup"]) == (message_id, "Done ✨", markup)


def test_strict_button_urls_refuse_loopback_web_app_links_like_telegram(client: TelegramClient, url: str) -> None:
    _configure(url, strict_button_urls=True)
    markup = inline_keyboard([web_app_button("Open", "http://127.0.0.1:8000/app")])
    with pytest.raises(TelegramError) as caught:
        client.send_message(CHAT, "hi", reply_markup=markup)
    assert caught.value.code == 400 and "Only HTTPS" in caught.value.message
    client.send_message(CHAT, "hi", reply_markup=inline_keyboard([web_app_button("Open", "https://pinglass.app")]))
    assert [m["text"] for m in _messages(url, CHAT)] == ["hi"]


def test_send_document_is_recorded_and_downloadable(client: TelegramClient, url: str) -> None:
    data = b"PK\x03\x04" + bytes(range(256)) * 4
    message_id = client.send_document(CHAT, data, "portraits.zip", caption="All photos")
    [message] = _messages(url, CHAT)
    document = message["document"]
    assert (message["message_id"], message["caption"]) == (message_id, "All photos")
    assert (document["file_name"], document["file_size"], document["sha256"]) == ("portraits.zip", 1028, _sha256(data))
    located = client.get_file(document["file_id"])
    assert located.file_size == len(data) and client.download_file(located.file_path) == data


def test_get_file_and_download_return_a_sent_photo(client: TelegramClient, url: str) -> None:
    photos = [_png(700, 500, (1, 2, 3)), _png(30, 30, (9, 9, 9))]
    client.send_media_group(CHAT, photos)
    file_id = _messages(url, CHAT)[0]["photos"][0]["file_id"]
    located = client.get_file(file_id)
    assert located.file_id == file_id and located.file_size == len(photos[0])
    assert client.download_file(located.file_path) == photos[0]


def test_files_over_20_mb_cannot_be_located_or_downloaded(client: TelegramClient, url: str,
                                                         fake: FakeTelegramState) -> None:
    big = b"\0" * (20 * 1024 * 1024 + 1)
    client.send_document(CHAT, big, "huge.zip")
    file_id = _messages(url, CHAT)[0]["document"]["file_id"]
    with pytest.raises(TelegramError) as located:
        client.get_file(file_id)
    assert (located.value.code, located.value.http_status) == (400, 400) and "too big" in located.value.message
    with pytest.raises(TelegramError) as downloaded:
        client.download_file(fake.files[file_id].file_path)  # the path, had getFile given it
    assert (downloaded.value.code, downloaded.value.http_status, downloaded.value.retryable) == (400, None, False)


def test_unknown_file_id_is_400_and_unknown_path_is_404(client: TelegramClient) -> None:
    with pytest.raises(TelegramError) as unknown_id:
        client.get_file("AgACnope")
    with pytest.raises(TelegramError) as unknown_path:
        client.download_file("photos/file_999.png")
    assert (unknown_id.value.code, unknown_id.value.retryable) == (400, False)
    assert (unknown_path.value.code, unknown_path.value.retryable) == (404, False)


# -- limits and refusals --------------------------------------------------------------------------------------


def test_chat_flood_limit_answers_429_with_retry_after_and_drops_the_message(
        client: TelegramClient, url: str, fake: FakeTelegramState) -> None:
    _configure(url, chat_burst=3, chat_rate_per_s=0.5)
    client.send_media_group(CHAT, [_png(), _png(), _png()])  # an album spends one send per photo
    with pytest.raises(TelegramError) as caught:
        client.send_message(CHAT, "too soon")
    error = caught.value
    assert (error.code, error.retryable, error.retry_after, error.http_status) == (429, True, 2.0, 429)
    assert "retry after 2" in error.message
    assert [m["text"] for m in _messages(url, CHAT)] == [None, None, None]
    assert [(r["chat_id"], r["scope"], r["retry_after"]) for r in fake.snapshot()["rejections"]] == [(CHAT, "chat", 2)]
    client.send_message(CHAT + 1, "another chat has its own bucket")


def test_global_flood_limit_applies_across_chats(client: TelegramClient, url: str,
                                                 fake: FakeTelegramState) -> None:
    _configure(url, global_burst=3, global_rate_per_s=1)
    for chat in (1, 2, 3):
        client.send_message(chat, "hello")
    with pytest.raises(TelegramError) as caught:
        client.send_message(4, "hello")
    assert caught.value.code == 429 and caught.value.retry_after == 1.0
    assert _messages(url, 4) == []
    assert fake.snapshot()["rejections"][0]["scope"] == "global"


def test_blocked_chat_answers_403_and_the_error_says_blocked(client: TelegramClient, url: str) -> None:
    assert SandboxClient(telegram=url).telegram.block(CHAT) == [CHAT]
    with pytest.raises(TelegramError) as caught:
        client.send_media_group(CHAT, [_png(), _png()])
    error = caught.value
    assert (error.code, error.blocked, error.retryable) == (403, True, False)
    assert "bot was blocked by the user" in error.message
    assert _messages(url, CHAT) == []
    client.send_message(CHAT + 1, "others still receive")
    assert len(_messages(url, CHAT + 1)) == 1


@pytest.mark.parametrize("count", [1, 11])
def test_album_of_wrong_size_is_refused_locally_without_a_call(client: TelegramClient, fake: FakeTelegramState,
                                                               count: int) -> None:
    with pytest.raises(TelegramError) as caught:
        client.send_media_group(CHAT, [_png()] * count)
    assert (caught.value.code, caught.value.retryable, caught.value.http_status) == (400, False, None)
    assert fake.snapshot()["call_counts"] == {}


def test_overlong_caption_and_text_are_refused_locally(client: TelegramClient, fake: FakeTelegramState) -> None:
    for send in (lambda: client.send_photo(CHAT, _png(), caption="x" * 1025),
                 lambda: client.send_media_group(CHAT, [_png(), _png()], caption="😀" * 513),  # 1026 UTF-16 units
                 lambda: client.send_message(CHAT, "x" * 4097),
                 lambda: client.send_message(CHAT, "  "),
                 lambda: client.send_document(CHAT, b"", "empty.zip")):
        with pytest.raises(TelegramError) as caught:
            send()
        assert caught.value.code == 400
    assert fake.snapshot()["call_counts"] == {}


def test_non_image_in_an_album_fails_the_whole_group_with_400(url: str) -> None:
    media = [{"type": "photo", "media": "attach://p0", "caption": "hi"}, {"type": "photo", "media": "attach://p1"}]
    answer = requests.post(f"{url}/bot{TOKEN}/sendMediaGroup",
                           data={"chat_id": str(CHAT), "media": json.dumps(media)},
                           files={"p0": ("p0.png", _png()), "p1": ("p1.png", b"%PDF-1.4 not an image")}, timeout=5)
    body = answer.json()
    assert answer.status_code == 400 and (body["ok"], body["error_code"]) == (False, 400)
    assert "#2" in body["description"] and "IMAGE_PROCESS_FAILED" in body["description"]
    assert _messages(url, CHAT) == []


@pytest.mark.parametrize(("photo", "reason"), [
    (b"\x89PNG but truncated", "IMAGE_PROCESS_FAILED"),
    (_png(21, 1), "PHOTO_INVALID_DIMENSIONS"),  # ratio over 20
    (_png(9000, 1001, mode="1"), "PHOTO_INVALID_DIMENSIONS"),  # width + height over 10000
])
def test_photos_telegram_cannot_use_are_a_permanent_400_from_the_fake(client: TelegramClient, url: str,
                                                                      photo: bytes, reason: str) -> None:
    with pytest.raises(TelegramError) as caught:
        client.send_photo(CHAT, photo)
    assert (caught.value.code, caught.value.retryable, caught.value.http_status) == (400, False, 400)
    assert reason in caught.value.message and _messages(url, CHAT) == []


def test_caption_on_a_later_album_item_and_photo_urls_are_refused(url: str) -> None:
    media = [{"type": "photo", "media": "attach://p0"}, {"type": "photo", "media": "attach://p1", "caption": "2"}]
    second = requests.post(f"{url}/bot{TOKEN}/sendMediaGroup", data={"chat_id": CHAT, "media": json.dumps(media)},
                           files={"p0": ("a.png", _png()), "p1": ("b.png", _png())}, timeout=5)
    by_url = requests.post(f"{url}/bot{TOKEN}/sendPhoto",
                           json={"chat_id": CHAT, "photo": "https://tempfile.kie.ai/x.png"}, timeout=5)
    assert (second.status_code, by_url.status_code) == (400, 400)
    assert "CAPTION_NOT_FIRST" in second.json()["description"]
    assert _messages(url, CHAT) == []


# -- errors and the token ---------------------------------------------------------------------------------------


def test_wrong_token_is_answered_401_without_revealing_it(url: str, client: TelegramClient) -> None:
    assert (client.get_me()["id"], client.get_me()["username"]) == (100000, "PinGlassBot")
    wrong = "100000:WRONG-token"
    with pytest.raises(TelegramError) as caught:
        TelegramClient(url, wrong).get_me()
    assert (caught.value.code, caught.value.retryable) == (401, False)
    assert "Unauthorized" in caught.value.message and wrong not in str(caught.value)
    raw = requests.post(f"{url}/bot{wrong}/getMe", timeout=5)
    assert raw.status_code == 401 and raw.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


def test_transport_failure_is_retryable_and_never_carries_the_token(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client = TelegramClient(f"http://127.0.0.1:{closed_port}", TOKEN)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(TelegramError) as caught:
        client.send_message(CHAT, "hello")
    error = caught.value
    assert error.retryable and error.code is None
    assert error.__cause__ is None and error.__context__ is None
    rendered = "".join(traceback.format_exception(error)) + repr(error) + str(error) + repr(client)
    assert TOKEN not in rendered and "SANDBOX-bot-token" not in rendered
    assert caplog.records and TOKEN not in caplog.text and "SANDBOX-bot-token" not in caplog.text


def test_server_error_is_retryable_and_the_next_call_succeeds(client: TelegramClient, url: str) -> None:
    SandboxClient(telegram=url).telegram.fail(method="*", times=1)
    with pytest.raises(TelegramError) as caught:
        client.send_message(CHAT, "first")
    assert (caught.value.code, caught.value.retryable) == (500, True)
    client.send_message(CHAT, "second")
    assert [m["text"] for m in _messages(url, CHAT)] == ["second"]


def test_lost_answer_is_retryable_although_the_message_was_delivered(client: TelegramClient, url: str) -> None:
    _configure(url, lost_answer_rate=1.0)
    with pytest.raises(TelegramError) as caught:
        client.send_message(CHAT, "sent twice if retried blindly")
    assert caught.value.retryable and caught.value.http_status == 502
    assert [m["text"] for m in _messages(url, CHAT)] == ["sent twice if retried blindly"]


# -- webhook updates --------------------------------------------------------------------------------------------


def test_text_update_reaches_our_webhook_with_the_secret_header(url: str, webhook: list[dict[str, Any]]) -> None:
    user = {"id": 777, "first_name": "Ivan", "username": "ivan"}
    for text in ("/start ref_ABC", "hello"):
        answer = SandboxClient(telegram=url).telegram.post("updates/text", {"user": user, "text": text})
        assert answer.status_code == 200 and answer.json()["deliveries"][0]["status"] == 200
    first, second = webhook
    assert first["secret"] == second["secret"] == SECRET
    assert second["update"]["update_id"] == first["update"]["update_id"] + 1
    message = first["update"]["message"]
    assert (message["text"], message["chat"]["id"], message["from"]["id"]) == ("/start ref_ABC", 777, 777)
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert "entities" not in second["update"]["message"]


def test_user_album_arrives_as_updates_sharing_a_media_group_and_is_downloadable(
        client: TelegramClient, url: str, webhook: list[dict[str, Any]]) -> None:
    selfies = [_png(800, 600, (10, 20, 30)), _png(640, 640, (40, 50, 60))]
    answer = SandboxClient(telegram=url).telegram.post("updates/photos", {
        "user": {"id": 778, "first_name": "Olga"}, "as_album": True,
        "images": [base64.b64encode(s).decode() for s in selfies]})
    assert answer.status_code == 200
    messages = [r["update"]["message"] for r in webhook]
    assert len(messages) == 2 and messages[0]["media_group_id"] == messages[1]["media_group_id"] is not None
    for message, selfie in zip(messages, selfies, strict=True):
        sizes = message["photo"]
        assert len(sizes) == 2 and sizes[0]["width"] < sizes[-1]["width"]  # thumbnail first, the largest last
        located = client.get_file(sizes[-1]["file_id"])
        assert client.download_file(located.file_path) == selfie


def test_duplicate_updates_knob_redelivers_the_same_update(url: str, webhook: list[dict[str, Any]]) -> None:
    _configure(url, duplicate_updates=1)
    SandboxClient(telegram=url).telegram.send_text(9, "hi")
    update_ids = [r["update"]["update_id"] for r in webhook]
    assert len(update_ids) == 2 and update_ids[0] == update_ids[1]


def test_updates_without_a_webhook_are_refused_with_409(url: str, fake: FakeTelegramState) -> None:
    answer = SandboxClient(telegram=url).telegram.post("updates/text", {"user": {"id": 9}, "text": "hi"})
    assert answer.status_code == 409 and fake.snapshot()["updates"] == []


def test_config_rejects_unknown_knobs_and_reset_restores_the_start_config(url: str, client: TelegramClient) -> None:
    assert SandboxClient(telegram=url).telegram.post("config", {"nope": 1}).status_code == 400
    assert SandboxClient(telegram=url).telegram.post("config", {"chat_burst": "many"}).status_code == 400
    _configure(url, chat_burst=1)
    client.send_message(CHAT, "one")
    assert SandboxClient(telegram=url).telegram.post("reset").status_code == 200
    state = SandboxClient(telegram=url).telegram.state()
    assert state["config"]["chat_burst"] == 20 and state["chats"] == {} and state["calls"] == []


def test_config_from_env_reads_sandbox_telegram_variables() -> None:
    config = config_from_env({"SANDBOX_TELEGRAM_CHAT_RATE_PER_S": "2.5", "SANDBOX_TELEGRAM_BLOCKED_CHATS": "1, -2",
                              "SANDBOX_TELEGRAM_STRICT_BUTTON_URLS": "true", "SANDBOX_TELEGRAM_SEED": "7"})
    assert (config.chat_rate_per_s, config.blocked_chats, config.strict_button_urls, config.seed) == (2.5, (1, -2),
                                                                                                      True, 7)
    assert config_from_env({}).bot_token == TOKEN
    with pytest.raises(ValueError) as caught:
        config_from_env({"SANDBOX_TELEGRAM_BOT_TOKEN": "no-colon"})
    assert "no-colon" not in str(caught.value)
