"""Untrusted image bytes reach only the JPEG, PNG and WebP decoders, and a decompression bomb costs bounded memory
(issue 10, items 3 and 4). The burst figures are in ``rules/images.py``'s docstring (``tests.unit.image_burst``)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import (
    BmpImagePlugin,
    EpsImagePlugin,
    GifImagePlugin,
    Image,
    PcxImagePlugin,
    PpmImagePlugin,
    SgiImagePlugin,
    TgaImagePlugin,
    TiffImagePlugin,
)

from rules.images import ImageRejected, inspect_image
from rules.uploads import normalise_upload
from sandbox.selfies import selfie

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"TIFF": TiffImagePlugin.TiffImageFile, "BMP": BmpImagePlugin.BmpImageFile,
             "PCX": PcxImagePlugin.PcxImageFile, "TGA": TgaImagePlugin.TgaImageFile,
             "SGI": SgiImagePlugin.SgiImageFile, "PPM": PpmImagePlugin.PpmImageFile,
             "EPS": EpsImagePlugin.EpsImageFile, "GIF": GifImagePlugin.GifImageFile}


def encoded(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 300), (120, 80, 60)).save(out, fmt)
    return out.getvalue()


@pytest.fixture
def decoders_opened(monkeypatch) -> list[str]:
    """Records every forbidden plugin whose parser is run on our bytes (and stops it there)."""
    opened: list[str] = []
    for name, plugin in FORBIDDEN.items():
        def _open(self, name=name):
            opened.append(name)
            raise SyntaxError("a forbidden decoder was run")
        monkeypatch.setattr(plugin, "_open", _open)
    return opened


@pytest.mark.parametrize("fmt", sorted(FORBIDDEN))
@pytest.mark.parametrize("check", [normalise_upload, inspect_image], ids=["upload", "kie_result"])
def test_other_formats_are_refused_without_running_their_decoders(fmt, check, decoders_opened) -> None:
    data = encoded(fmt)
    with pytest.raises(ImageRejected) as refused:
        check(data)
    assert refused.value.code in ("UNSUPPORTED_IMAGE", "NOT_AN_IMAGE")
    assert decoders_opened == []


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_the_accepted_formats_still_pass(fmt) -> None:
    with Image.open(io.BytesIO(selfie(3))) as photo:
        out = io.BytesIO()
        photo.convert("RGB").save(out, fmt)
    assert normalise_upload(out.getvalue()).source_format == fmt
    assert inspect_image(out.getvalue()).format == fmt


def test_a_large_jpeg_is_decoded_at_reduced_scale_and_kept_sharp_enough() -> None:
    with Image.open(io.BytesIO(selfie(3))) as photo:
        scale = 8000 / max(photo.size)
        big = photo.convert("RGB").resize((round(photo.width * scale), round(photo.height * scale)))
    out = io.BytesIO()
    big.save(out, "JPEG", quality=80)
    assert big.width * big.height > 12_000_000  # over the cap a PNG would have
    result = normalise_upload(out.getvalue())  # decoded at 1/2 or 1/4 scale, then scaled to 2048
    assert max(result.width, result.height) == 2048


def burst(side: int, requests: int, files: int) -> dict:
    result = subprocess.run([sys.executable, "-m", "tests.unit.image_burst", str(side), str(requests), str(files)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_issues_bomb_burst_is_refused_from_its_header_with_flat_memory() -> None:
    figures = burst(6300, 30, 15)  # 30 requests × 15 files of a ~5 KiB palette PNG of 6300×6300
    assert figures["bomb_bytes"] < 6 * 1024
    assert figures["codes"] == {"IMAGE_TOO_LARGE": 450}
    assert figures["peak_rss_growth_mib"] < 20


def test_the_worst_bomb_under_the_cap_costs_two_decodes_whatever_the_burst() -> None:
    figures = burst(3464, 12, 2)  # 12.0 Mpx, just under the cap; 12 requests at once, 2 image threads
    assert figures["codes"] == {"NO_FACE": 24}
    assert figures["peak_rss_growth_mib"] < 300
