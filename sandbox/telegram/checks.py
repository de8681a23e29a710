"""What the fake Bot API refuses, in Telegram's words: photos it cannot use, over-long texts, bad keyboards.

Each check returns nothing when the input is acceptable and raises ``Refused`` with the Bot API's
``description`` otherwise; the caller answers 400 with it.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from PIL import Image, UnidentifiedImageError

PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_MAX_SIDES = 10_000  # width + height
PHOTO_MAX_RATIO = 20
DOCUMENT_MAX_BYTES = 50 * 1024 * 1024
DOWNLOAD_MAX_BYTES = 20 * 1024 * 1024
CAPTION_MAX = 1024
TEXT_MAX = 4096
THUMB_SIDE = 320
BUTTON_ACTIONS = ("url", "web_app", "callback_data", "login_url", "switch_inline_query",
                  "switch_inline_query_current_chat", "copy_text", "pay")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


class Refused(Exception):
    """Telegram would answer 400 with ``description``; ``reason`` is the bare upper-case error name if any."""

    def __init__(self, description: str, reason: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.reason = reason


@dataclass(frozen=True)
class PhotoInfo:
    """What the fake learned from an uploaded photo (recorded for inspection)."""

    sha256: str
    size: int
    width: int
    height: int
    format: str
    prompt: str | None  # the PNG text chunk "prompt", which the Kie fake writes into its images


def inspect_photo(data: bytes) -> PhotoInfo:
    """Decode ``data`` fully and apply Telegram's photo limits (10 MB, width + height <= 10000, ratio <= 20)."""
    if len(data) > PHOTO_MAX_BYTES:
        raise _photo_refused("PHOTO_SAVE_FILE_INVALID")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            # Checked from the header, before decoding: this also bounds the pixels load() may allocate.
            if width < 1 or height < 1 or width + height > PHOTO_MAX_SIDES \
                    or max(width, height) > PHOTO_MAX_RATIO * min(width, height):
                raise _photo_refused("PHOTO_INVALID_DIMENSIONS")
            image.load()  # header-only checks pass truncated files; Telegram decodes the whole image
            prompt = image.info.get("prompt")
            kind = image.format or "unknown"
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise _photo_refused("IMAGE_PROCESS_FAILED") from None
    return PhotoInfo(sha256=hashlib.sha256(data).hexdigest(), size=len(data), width=width, height=height,
                     format=kind, prompt=prompt if isinstance(prompt, str) else None)


def thumbnail(data: bytes) -> tuple[bytes, int, int] | None:
    """A small JPEG of an inspected photo (Telegram's smaller PhotoSize), or None when the photo is small."""
    with Image.open(io.BytesIO(data)) as image:
        if max(image.size) <= THUMB_SIDE:
            return None
        image.thumbnail((THUMB_SIDE, THUMB_SIDE), reducing_gap=2.0)
        out = io.BytesIO()
        image.convert("RGB").save(out, format="JPEG", quality=80)
        return out.getvalue(), image.width, image.height


def check_caption(caption: Any) -> str | None:
    """The caption to keep (None when absent); over 1024 characters is refused."""
    if caption is None or caption == "":
        return None
    if not isinstance(caption, str):
        raise Refused("Bad Request: caption must be a string")
    if utf16_len(caption) > CAPTION_MAX:
        raise Refused("Bad Request: message caption is too long", "MEDIA_CAPTION_TOO_LONG")
    return caption


def check_text(text: Any) -> str:
    """A message text of 1..4096 characters that is not only whitespace."""
    if not isinstance(text, str) or not text.strip():
        raise Refused("Bad Request: message text is empty")
    if utf16_len(text) > TEXT_MAX:
        raise Refused("Bad Request: message is too long")
    return text


def check_reply_markup(markup: Any, *, strict_urls: bool) -> dict[str, Any] | None:
    """A parsed reply_markup (JSON text or object); inline buttons need text and exactly one action.

    With ``strict_urls`` button URLs must be public, and Web App URLs HTTPS, as on the real Bot API
    (which refuses loopback links; the sandbox demo needs them, so it is off by default).
    """
    if markup is None or markup == "":
        return None
    if isinstance(markup, str):
        try:
            markup = json.loads(markup)
        except ValueError:
            raise Refused("Bad Request: can't parse reply keyboard markup JSON object") from None
    if not isinstance(markup, dict):
        raise Refused("Bad Request: can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return markup  # reply keyboards and the like are kept as given
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise Refused("Bad Request: field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays")
    for row in rows:
        for button in row:
            _check_button(button, strict_urls)
    return markup


def _check_button(button: Any, strict_urls: bool) -> None:
    if not isinstance(button, Mapping) or not isinstance(button.get("text"), str) or not button["text"]:
        raise Refused("Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the "
                      "inline keyboard")
    actions = [key for key in BUTTON_ACTIONS if key in button]
    if len(actions) != 1:
        raise Refused("Bad Request: can't parse inline keyboard button: exactly one action is required")
    if "url" in button:
        _check_url(button["url"], strict_urls, https_only=False, what="URL")
    if "web_app" in button:
        web_app = button["web_app"]
        if not isinstance(web_app, Mapping):
            raise Refused("Bad Request: can't parse inline keyboard button: web_app must be an object")
        _check_url(web_app.get("url"), strict_urls, https_only=True, what="Web App URL")


def _check_url(url: Any, strict: bool, *, https_only: bool, what: str) -> None:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https", "tg") or not (parts.netloc or parts.scheme == "tg"):
        raise Refused(f"Bad Request: inline keyboard button {what} '{url}' is invalid: Wrong HTTP URL")
    if strict and https_only and parts.scheme != "https":
        raise Refused(f"Bad Request: inline keyboard button {what} '{url}' is invalid: Only HTTPS links are allowed")
    if strict and (parts.hostname or "") in LOOPBACK_HOSTS:
        raise Refused(f"Bad Request: inline keyboard button {what} '{url}' is invalid: Wrong HTTP URL")


def utf16_len(text: str) -> int:
    """Telegram counts lengths in UTF-16 code units: an emoji outside the BMP counts twice."""
    return len(text.encode("utf-16-le")) // 2


def _photo_refused(reason: str) -> Refused:
    return Refused(f"Bad Request: {reason}", reason)
