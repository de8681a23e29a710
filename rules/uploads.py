"""Normalising an uploaded reference photo before it is stored: checked by decoding (``rules.images``), then
orientation applied, every piece of metadata (EXIF, XMP, comments) dropped, scaled down to a sane size and
re-encoded as JPEG. The SHA-256 of the normalised bytes is what recognises the same photo uploaded twice.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps

from rules.images import MAX_BYTES, MAX_PIXELS, ImageRejected, inspect_image

MAX_SIDE = 2048  # plenty for a face reference; keeps what Kie downloads far below its 10 MB limit
JPEG_QUALITY = 90
CONTENT_TYPE = "image/jpeg"


@dataclass(frozen=True)
class NormalisedImage:
    """The bytes we store (always JPEG) and what describes them."""

    data: bytes
    width: int
    height: int
    sha256: str
    source_format: str  # what the user sent: JPEG, PNG or WEBP

    @property
    def content_type(self) -> str:
        return CONTENT_TYPE

    @property
    def size_bytes(self) -> int:
        return len(self.data)


def normalise_upload(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS,
                     max_side: int = MAX_SIDE) -> NormalisedImage:
    """Check ``data`` (ImageRejected with NOT_AN_IMAGE / UNSUPPORTED_IMAGE / IMAGE_TOO_LARGE) and return it
    upright, without metadata, at most ``max_side`` pixels on its long side, as JPEG.

    Deterministic: the same input bytes always give the same output bytes (and so the same SHA-256).
    """
    info = inspect_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    try:
        with Image.open(io.BytesIO(data)) as opened:
            upright = ImageOps.exif_transpose(opened)  # a copy with the EXIF orientation applied
            image = _to_rgb(upright)
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            # A fresh info dict: nothing of the original (EXIF, XMP, ICC, comments, GPS) reaches the encoder.
            image.info = {}
            out = io.BytesIO()
            image.save(out, "JPEG", quality=JPEG_QUALITY, exif=b"")
    except (OSError, ValueError, SyntaxError, TypeError, Image.DecompressionBombError):
        # inspect_image decoded it once already; a second decode failing means an image we cannot handle
        raise ImageRejected("UNSUPPORTED_IMAGE", "the image cannot be processed") from None
    encoded = out.getvalue()
    return NormalisedImage(data=encoded, width=image.width, height=image.height,
                           sha256=hashlib.sha256(encoded).hexdigest(), source_format=info.format)


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB pixels; transparency is flattened onto white (JPEG has no alpha, and black would hide a face)."""
    if image.mode == "RGB":
        return image
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        # 16-bit and float greyscale: scale to 8 bits before converting (a plain convert clips to white)
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    return image.convert("RGB")
