"""The sandbox's generated selfies: real photographs (scikit-image's bundled sample images, nothing downloaded)
varied per seed, so tests and scenarios upload pictures the face check judges as a person would.

- ``selfie(seed)``: one face (NASA's public-domain portrait of Eileen Collins, scikit-image's ``astronaut``),
  a distinct JPEG per seed, varied by crop, mirror, colour and scale, always passing ``rules.faces``;
- ``no_face(seed)``: a cup of coffee, a cat, or a landscape of sky and ground — no face;
- ``two_faces(seed)``: two people side by side;
- ``small_selfie(seed)``: a selfie too small to be a reference (under 256 px on its short side).

This is test data, not a fake: it may use the fleet's ``rules.faces`` to guarantee what each picture is,
which the fakes in ``sandbox/<provider>/`` must never do (they import nothing of the fleet's code).
"""

from __future__ import annotations

import functools
import io
import random

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from rules.faces import count_faces

FACE_BOX = (177, 66, 274, 163)  # where the face is in the 512 x 512 astronaut: left, top, right, bottom
MARGIN = 24  # of the original's pixels kept around the face box in every crop
ASPECTS = ((1, 1), (3, 4), (4, 5), (4, 3))  # width : height of the crop
MAX_TRIES = 16


def selfie(seed: int) -> bytes:
    """A JPEG of one face, different for every seed (320–1024 px on its short side, at most 1280 on its long
    side), in which ``rules.faces.count_faces`` finds exactly one face."""
    rng = random.Random(seed)
    for _ in range(MAX_TRIES):
        data = _encode(_vary(_astronaut(), rng), rng)
        with Image.open(io.BytesIO(data)) as decoded:
            if count_faces(decoded) == 1:  # what the server will see: the decoded JPEG
                return data
    raise RuntimeError(f"no variant of the astronaut passed the face check for seed {seed}")


def small_selfie(seed: int, short_side: int = 200) -> bytes:
    """A selfie scaled down to ``short_side`` pixels on its short side (the face still shows)."""
    with Image.open(io.BytesIO(selfie(seed))) as image:
        return _encode(_rescale(image.convert("RGB"), short_side), random.Random(seed))


def no_face(seed: int) -> bytes:
    """A JPEG without a face: coffee, a cat, or a landscape, by seed."""
    rng = random.Random(seed)
    kind = seed % 3
    if kind == 0:
        image = _sample("coffee")
    elif kind == 1:
        image = _sample("chelsea")
    else:
        image = _landscape(rng)
    image = _colour(image, rng)
    return _encode(_rescale(image, rng.randint(360, 900)), rng)


def two_faces(seed: int) -> bytes:
    """A JPEG of two people side by side (two variants of the astronaut)."""
    rng = random.Random(seed)
    left, right = (_colour(_astronaut(), rng) for _ in range(2))
    if rng.random() < 0.5:
        right = ImageOps.mirror(right)
    pair = Image.new("RGB", (left.width + right.width, left.height))
    pair.paste(left, (0, 0))
    pair.paste(right, (left.width, 0))
    return _encode(_rescale(pair, rng.randint(400, 800)), rng)


def _vary(image: Image.Image, rng: random.Random) -> Image.Image:
    image = _crop_around_face(image, rng)
    if rng.random() < 0.5:
        image = ImageOps.mirror(image)
    image = _colour(image, rng)
    return _rescale(image, rng.randint(320, 1024))


def _crop_around_face(image: Image.Image, rng: random.Random) -> Image.Image:
    """A crop of the given aspect that keeps the face and MARGIN around it."""
    left, top, right, bottom = FACE_BOX
    aw, ah = rng.choice(ASPECTS)
    need_w, need_h = right - left + 2 * MARGIN, bottom - top + 2 * MARGIN
    unit_lo = max(need_w / aw, need_h / ah)
    unit_hi = min(image.width / aw, image.height / ah)
    unit = rng.uniform(unit_lo, unit_hi)
    width, height = round(aw * unit), round(ah * unit)
    x_lo, x_hi = max(0, right + MARGIN - width), min(image.width - width, left - MARGIN)
    y_lo, y_hi = max(0, bottom + MARGIN - height), min(image.height - height, top - MARGIN)
    x0, y0 = rng.randint(x_lo, max(x_lo, x_hi)), rng.randint(y_lo, max(y_lo, y_hi))
    return image.crop((x0, y0, x0 + width, y0 + height))


def _colour(image: Image.Image, rng: random.Random) -> Image.Image:
    """Saturation, brightness, contrast and a warm or cool tint, each a little different."""
    image = ImageEnhance.Color(image).enhance(rng.uniform(0.5, 1.4))
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.85, 1.15))
    image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.85, 1.2))
    gains = np.array([rng.uniform(0.9, 1.1) for _ in range(3)], dtype=np.float32)
    pixels = np.clip(np.asarray(image, dtype=np.float32) * gains, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def _rescale(image: Image.Image, short_side: int) -> Image.Image:
    scale = short_side / min(image.size)
    size = (round(image.width * scale), round(image.height * scale))
    if max(size) > 1280:
        scale = 1280 / max(image.size)
        size = (round(image.width * scale), round(image.height * scale))
    return image.resize(size, Image.Resampling.LANCZOS)


def _encode(image: Image.Image, rng: random.Random) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=rng.randint(80, 93))
    return out.getvalue()


def _landscape(rng: random.Random) -> Image.Image:
    """Sky over ground with a horizon somewhere in the middle, and a little noise: no face anywhere."""
    width, height = rng.randint(600, 900), rng.randint(400, 600)
    horizon = rng.randint(height // 3, 2 * height // 3)
    sky = np.linspace([rng.randint(60, 120), rng.randint(130, 180), 230], [210, 225, 255], horizon)
    ground = np.linspace([rng.randint(50, 90), rng.randint(110, 150), 40], [30, 70, 20], height - horizon)
    column = np.concatenate([sky, ground])
    pixels = np.repeat(column[:, None, :], width, axis=1)
    noise = np.random.default_rng(rng.getrandbits(32)).normal(0, 6, pixels.shape)
    return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))


def _astronaut() -> Image.Image:
    return _sample("astronaut")


def _sample(name: str) -> Image.Image:
    return _loaded(name).copy()


@functools.cache
def _loaded(name: str) -> Image.Image:
    """A scikit-image sample, read from the installed package on first use."""
    from skimage import data  # imported late: loading scikit-image costs ~0.5 s, only the sandbox needs it

    return Image.fromarray(getattr(data, name)()).convert("RGB")
