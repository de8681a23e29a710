"""Checking that bytes are an image we accept, by decoding them (never by name or declared type)."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

ACCEPTED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a decompression bomb declares far more pixels than any selfie has


class ImageRejected(ValueError):
    """Not an acceptable image; ``code`` is machine-readable (NOT_AN_IMAGE, UNSUPPORTED_IMAGE, IMAGE_TOO_LARGE;
    for a reference selfie also IMAGE_TOO_SMALL, NO_FACE, MANY_FACES — see ``rules.uploads``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ImageInfo:
    format: str
    content_type: str
    width: int
    height: int
    size_bytes: int
    sha256: str


def inspect_image(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> ImageInfo:
    """Decode ``data`` fully and describe it, or raise ImageRejected."""
    if len(data) > max_bytes:
        raise ImageRejected("IMAGE_TOO_LARGE", f"image is larger than {max_bytes} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageRejected("IMAGE_TOO_LARGE", "image has too many pixels")
                fmt = image.format or ""
                image.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("IMAGE_TOO_LARGE", "image has too many pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ImageRejected("NOT_AN_IMAGE", "the data is not a readable image") from None
    if fmt not in ACCEPTED:
        raise ImageRejected("UNSUPPORTED_IMAGE", f"{fmt or 'unknown'} images are not accepted")
    return ImageInfo(fmt, ACCEPTED[fmt], width, height, len(data), hashlib.sha256(data).hexdigest())
