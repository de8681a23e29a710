"""Checking that bytes are an image we accept, by decoding them (never by name or declared type).

Untrusted bytes (uploads, the bot's files, Kie results) reach only the JPEG, PNG and WebP decoders of Pillow:
``Image.open(..., formats=ACCEPTED)`` never tries the others (TIFF, BMP, PCX, TGA, SGI, PPM, EPS — whose loader
calls Ghostscript — GIF, …); other image formats are recognised by their magic bytes alone, for the message.

Decompression bombs: the size an image declares is checked before any pixel is decoded. A JPEG is decoded at a
reduced scale (``draft``: 1/2, 1/4 or 1/8, the entropy data still fully read) when it is larger than the caller
needs, so a large phone photo costs a fraction of its pixels; PNG and WebP cannot be decoded smaller, so their cap
is the one that matters. Image work is bounded per process (``run_image_work``: ``IMAGE_WORKERS`` threads), so
a burst queues instead of multiplying memory.

Measured (``python -m tests.unit.image_burst SIDE 30 15``: 30 request threads × 15 files, peak RSS growth of
the process; this machine, 2 cores): the issue's bomb, a 4.8 KiB 1-bit palette PNG of 6300×6300 (39.7 Mpx), is
refused from its header — all 450 files IMAGE_TOO_LARGE in 0.01 s, +0 MiB (before: 530 MiB and 0.9 s per file;
4 at once peaked at +2.2 GiB, so the burst would have exhausted this 24 GiB machine). The worst bomb under the
cap, a 1.5 KiB palette PNG of 3464×3464 (12.0 Mpx), decoded 450 times: +217 MiB peak, 52 s — two decodes' worth,
whatever the burst (with a semaphore instead of fixed threads the same burst peaked at +977 MiB).
"""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from PIL import Image, UnidentifiedImageError

ACCEPTED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_BYTES = 10 * 1024 * 1024
# The caps bound a bomb's cost, because PNG and WebP are decoded at full size (a JPEG is decoded at a reduced
# scale, see ``open_image``, so it may declare more). Uploads and the bot's files (``rules.uploads``, converted to
# RGB and scaled: ~8 bytes a pixel at the peak): 12 Mpx — a 12 Mpx phone photo, a 4K desktop screenshot (8.3 Mpx),
# any phone's screenshot (≤ 5 Mpx); a 48/50 Mpx "high resolution" photo is a JPEG and passes at reduced scale.
# Kie results (only decoded, not converted: ~3 bytes a pixel): 17 Mpx, so a 4096×4096 model output passes.
MAX_PIXELS = 12_000_000
MAX_RESULT_PIXELS = 17_000_000
MAX_JPEG_PIXELS = 64_000_000  # e.g. 9248×6936 (a 64 Mpx phone); decoded at ≤ 1/4 scale when 2048 px are needed
CHECK_BOX = 2048  # the side a pure validity check decodes a large JPEG at
IMAGE_WORKERS = 2  # decodes at once per process (this machine kind has 2 cores; more only adds memory)

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
# Magic bytes of image formats we recognise only to refuse them by name (their decoders are never run)
_OTHER_FORMATS = ((b"GIF8", "GIF"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"BM", "BMP"),
                  (b"%!PS", "EPS"), (b"\xc5\xd0\xd3\xc6", "EPS"), (b"\x01\xda", "SGI"), (b"8BPS", "PSD"),
                  (b"\x00\x00\x01\x00", "ICO"), (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"))


T = TypeVar("T")


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


def run_image_work(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on one of the process's ``IMAGE_WORKERS`` image threads; waits for its turn.

    A fixed set of threads rather than a semaphore: the allocator keeps freed memory per thread (glibc arenas),
    so decodes spread over every web or worker thread would each leave their peak behind; on two threads the
    peak of a burst stays that of two decodes. The pool starts on first use (never at import or before a fork)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=IMAGE_WORKERS, thread_name_prefix="image")
        pool = _pool
    return pool.submit(fn, *args, **kwargs).result()


def open_image(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS,
               max_jpeg_pixels: int = MAX_JPEG_PIXELS, box: int | None = None) -> tuple[Image.Image, ImageInfo]:
    """Decode ``data`` (JPEG, PNG or WebP only) and describe it (the declared size), or raise ImageRejected.

    With ``box``, a JPEG larger than ``box``×``box`` is decoded at the smallest DCT scale still covering it, so
    the returned image may be smaller than the declared size (never smaller than ``box`` on its long side).
    Call it through ``run_image_work``."""
    if len(data) > max_bytes:
        raise ImageRejected("IMAGE_TOO_LARGE", f"image is larger than {max_bytes} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(ACCEPTED))
            fmt, (width, height) = image.format or "", image.size
            cap = max_jpeg_pixels if fmt == "JPEG" else max_pixels
            if width * height > cap:
                raise ImageRejected("IMAGE_TOO_LARGE", "image has too many pixels")
            if fmt == "JPEG" and (box is not None or width * height > max_pixels):
                side = box or CHECK_BOX
                image.draft(image.mode, (side, side))  # the DCT decodes at 1/2, 1/4 or 1/8 where that covers it
            image.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("IMAGE_TOO_LARGE", "image has too many pixels") from None
    except UnidentifiedImageError:
        other = next((name for magic, name in _OTHER_FORMATS if data.startswith(magic)), None)
        if other is not None:
            raise ImageRejected("UNSUPPORTED_IMAGE", f"{other} images are not accepted") from None
        raise ImageRejected("NOT_AN_IMAGE", "the data is not a readable image") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise ImageRejected("NOT_AN_IMAGE", "the data is not a readable image") from None
    info = ImageInfo(fmt, ACCEPTED[fmt], width, height, len(data), hashlib.sha256(data).hexdigest())
    return image, info


def inspect_image(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_RESULT_PIXELS) -> ImageInfo:
    """Decode ``data`` (a large JPEG at a reduced scale) and describe it, or raise ImageRejected."""
    return run_image_work(_inspect, data, max_bytes, max_pixels)


def _inspect(data: bytes, max_bytes: int, max_pixels: int) -> ImageInfo:
    image, info = open_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    image.close()
    return info
