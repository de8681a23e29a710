"""Normalising an uploaded reference photo before it is stored: checked by decoding (``rules.images``), then
orientation applied, every piece of metadata (EXIF, XMP, comments) dropped, scaled down to a sane size and
re-encoded as JPEG. The SHA-256 of the normalised bytes is what recognises the same photo uploaded twice.

A reference must also be a usable selfie: at least MIN_SIDE pixels on its short side and exactly one face
(``rules.faces``) — refused otherwise, before anything is stored or counted toward the avatar's photos.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps

from rules.faces import count_faces
from rules.images import MAX_BYTES, MAX_PIXELS, ImageRejected, open_image, run_image_work

MAX_SIDE = 2048  # plenty for a face reference; keeps what Kie downloads far below its 10 MB limit
MIN_SIDE = 256  # short side of the stored photo: below this a face is too few pixels to learn from
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
                     max_side: int = MAX_SIDE, min_side: int = MIN_SIDE) -> NormalisedImage:
    """Check ``data`` and return it upright, without metadata, at most ``max_side`` pixels on its long side, as
    JPEG. ImageRejected codes: NOT_AN_IMAGE, UNSUPPORTED_IMAGE, IMAGE_TOO_LARGE (bytes or pixels),
    IMAGE_TOO_SMALL (short side under ``min_side`` once scaled), NO_FACE, MANY_FACES.

    Deterministic: the same input bytes always give the same output bytes (and so the same SHA-256). Decoded
    once, on one of the process's image threads (``rules.images.run_image_work``), a large JPEG at a reduced
    scale.
    """
    return run_image_work(_normalise, data, max_bytes, max_pixels, max_side, min_side)


def _normalise(data: bytes, max_bytes: int, max_pixels: int, max_side: int, min_side: int) -> NormalisedImage:
    opened, info = open_image(data, max_bytes=max_bytes, max_pixels=max_pixels, box=max_side)
    try:
        ImageOps.exif_transpose(opened, in_place=True)  # the EXIF orientation applied, without a copy
        image = _to_rgb(opened)
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        check_selfie(image, min_side=min_side)
        # A fresh info dict: nothing of the original (EXIF, XMP, ICC, comments, GPS) reaches the encoder.
        image.info = {}
        out = io.BytesIO()
        image.save(out, "JPEG", quality=JPEG_QUALITY, exif=b"")
    except ImageRejected:
        raise
    except (OSError, ValueError, SyntaxError, TypeError, Image.DecompressionBombError):
        raise ImageRejected("UNSUPPORTED_IMAGE", "the image cannot be processed") from None
    encoded = out.getvalue()
    return NormalisedImage(data=encoded, width=image.width, height=image.height,
                           sha256=hashlib.sha256(encoded).hexdigest(), source_format=info.format)


def check_selfie(image: Image.Image, *, min_side: int = MIN_SIDE) -> None:
    """Refuse a photo too small to show a face well (IMAGE_TOO_SMALL), or without exactly one face (NO_FACE,
    MANY_FACES)."""
    if min(image.size) < min_side:
        raise ImageRejected("IMAGE_TOO_SMALL", f"the photo is {image.width}x{image.height}; its short side must "
                                               f"be at least {min_side} pixels")
    faces = count_faces(image)
    if faces == 0:
        raise ImageRejected("NO_FACE", "no face was found in the photo")
    if faces > 1:
        raise ImageRejected("MANY_FACES", f"{faces} faces were found; a reference photo shows one person")


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB pixels; transparency is flattened onto white (JPEG has no alpha, and black would hide a face)."""
    if image.mode == "RGB":
        return image
    if image.mode == "P" and "transparency" not in image.info:
        return image.convert("RGB")  # straight to RGB: an RGBA step would cost a third more memory
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
