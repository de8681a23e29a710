"""Build the catalog's style previews (``rules.catalog.STYLES[*].preview``) as JPEGs under ``web/static/``.

    .venv/bin/python -m scripts.make_style_previews [--out web/static]

Each preview is the same portrait (NASA's public-domain photo of Eileen Collins, bundled with scikit-image as
``astronaut``) given a treatment that shows what the style does: business — a clean, desaturated studio look on
neutral grey; cinematic — teal shadows, orange skin, hard contrast and letterbox bars; fairytale — a soft glow,
posterised pastel colours and a little sparkle. 3:4 portrait, SIZE pixels, at most MAX_BYTES each. The output
is deterministic, so running it again changes no committed file.
"""

from __future__ import annotations

import argparse
import io
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from rules.catalog import STYLES

SIZE = (600, 800)
MAX_BYTES = 80_000
PORTRAIT_CROP = (96, 0, 480, 512)  # 3:4 around the astronaut's head and shoulders
ROOT = Path(__file__).resolve().parent.parent


def business(image: Image.Image) -> Image.Image:
    """Clean studio: little colour, even light, a neutral grey vignette closing in on the face."""
    image = ImageEnhance.Color(image).enhance(0.25)
    image = ImageEnhance.Contrast(image).enhance(1.1)
    image = ImageEnhance.Brightness(image).enhance(1.05)
    grey = Image.new("RGB", image.size, (138, 140, 142))
    return Image.composite(image, grey, _vignette(image.size, inner=0.45, outer=0.95))


def cinematic(image: Image.Image) -> Image.Image:
    """Teal and orange: colourful things (skin, the suit) pushed to orange, the greyish rest (backdrop, shadows)
    to teal, crushed contrast, letterboxed."""
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    luma = pixels @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    saturation = pixels.max(axis=2) - pixels.min(axis=2)
    teal, orange = np.array([0.1, 0.55, 0.62]), np.array([1.0, 0.6, 0.32])
    weight = np.clip((saturation - 0.06) * 6, 0, 1)[..., None]
    tint = teal * (1 - weight) + orange * weight
    graded = np.clip(0.45 * pixels + 0.55 * tint * luma[..., None] * 1.5, 0, 1)
    contrast = np.clip((graded - 0.5) * 1.3 + 0.48, 0, 1)
    image = Image.fromarray((contrast * 255).astype(np.uint8))
    bar = round(image.height * 0.11)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, image.width, bar), fill=(0, 0, 0))
    draw.rectangle((0, image.height - bar, image.width, image.height), fill=(0, 0, 0))
    return image


def fairytale(image: Image.Image) -> Image.Image:
    """Soft glow, posterised pastel colours and a few sparkles."""
    glow = image.filter(ImageFilter.GaussianBlur(14))
    image = ImageChops.screen(image, ImageEnhance.Brightness(glow).enhance(0.6))
    image = ImageOps.posterize(image, 3)
    image = image.filter(ImageFilter.SMOOTH_MORE)
    pastel = Image.new("RGB", image.size, (250, 205, 235))
    image = Image.blend(ImageEnhance.Contrast(image).enhance(0.8), pastel, 0.25)
    draw = ImageDraw.Draw(image)
    rng = random.Random(7)  # fixed: the same sparkles every run
    for _ in range(70):
        x, y, r = rng.randrange(image.width), rng.randrange(image.height), rng.choice((1, 1, 2, 3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 240))
    return image


TREATMENTS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "business": business, "cinematic": cinematic, "fairytale": fairytale}


def build(out: Path) -> dict[Path, int]:
    """Write every catalog style's preview under ``out`` (the static folder); their paths and sizes."""
    missing = set(STYLES) - set(TREATMENTS)
    if missing:
        raise SystemExit(f"no preview treatment for styles {sorted(missing)}")
    base = _portrait()
    written = {}
    for style in STYLES.values():
        path = out / style.preview.removeprefix("/static/")
        path.parent.mkdir(parents=True, exist_ok=True)
        data = _jpeg(TREATMENTS[style.id](base.copy()))
        path.write_bytes(data)
        written[path] = len(data)
    return written


def _portrait() -> Image.Image:
    from skimage import data  # the sample photo ships inside the scikit-image wheel: nothing is downloaded

    return Image.fromarray(data.astronaut()).crop(PORTRAIT_CROP).resize(SIZE, Image.Resampling.LANCZOS)


def _vignette(size: tuple[int, int], *, inner: float, outer: float) -> Image.Image:
    """A mask: 255 inside ``inner`` of the half-diagonal from the centre, fading to 0 at ``outer``."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width]
    distance = np.hypot((xs - width / 2) / (width / 2), (ys - height * 0.42) / (height / 2)) / np.sqrt(2)
    mask = np.clip((outer - distance) / (outer - inner), 0, 1)
    return Image.fromarray((mask * 255).astype(np.uint8))


def _jpeg(image: Image.Image) -> bytes:
    """The best quality that fits MAX_BYTES."""
    for quality in range(88, 40, -4):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
        if out.tell() <= MAX_BYTES:
            return out.getvalue()
    raise SystemExit("a preview does not fit in MAX_BYTES even at low quality")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "web" / "static", help="the static folder")
    args = parser.parse_args(argv)
    for path, size in build(args.out).items():
        print(f"{path}: {size} bytes")


if __name__ == "__main__":
    main()
