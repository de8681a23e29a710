"""The Kie.ai fake's "generated" image: a small real PNG or JPEG that shows the prompt and the task id.

The full prompt is also embedded as metadata so tests can read back which prompt produced which photo:
a PNG text chunk ``prompt`` (iTXt when it is not Latin-1) plus ``task_id``; for JPEG, the COM comment
holds the prompt as UTF-8.
"""

from __future__ import annotations

import hashlib
import io
import textwrap

from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

LONG_SIDE = 512
_FONT_SIZE = 14
_MARGIN = 12

CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}


def image_size(aspect_ratio: str) -> tuple[int, int]:
    """(width, height) with the long side LONG_SIDE, e.g. 384x512 for "3:4"; square when the ratio is unknown."""
    try:
        w_part, h_part = aspect_ratio.split(":", 1)
        w_ratio, h_ratio = float(w_part), float(h_part)
    except ValueError:
        return LONG_SIDE, LONG_SIDE
    if w_ratio <= 0 or h_ratio <= 0:
        return LONG_SIDE, LONG_SIDE
    if w_ratio >= h_ratio:
        return LONG_SIDE, max(1, round(LONG_SIDE * h_ratio / w_ratio))
    return max(1, round(LONG_SIDE * w_ratio / h_ratio)), LONG_SIDE


def render(task_id: str, prompt: str, output_format: str, aspect_ratio: str) -> bytes:
    """Encode the result image of one task (``output_format`` "png" or "jpeg")."""
    width, height = image_size(aspect_ratio)
    digest = hashlib.sha256(task_id.encode()).digest()
    # A per-task background colour makes mixed-up photos visible at a glance in a gallery.
    background = (40 + digest[0] % 120, 40 + digest[1] % 120, 40 + digest[2] % 120)
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(_FONT_SIZE)
    draw.text((_MARGIN, _MARGIN), f"task {task_id}", font=font, fill=(255, 255, 160))
    line_height = _FONT_SIZE + 4
    chars_per_line = max(10, int((width - 2 * _MARGIN) / (_FONT_SIZE * 0.55)))
    max_lines = max(1, (height - 3 * _MARGIN - line_height) // line_height)
    lines = textwrap.wrap(prompt, chars_per_line)
    if len(lines) > max_lines:
        lines = lines[:max_lines - 1] + ["…"]
    y = _MARGIN * 2 + line_height
    for line in lines:
        draw.text((_MARGIN, y), line, font=font, fill=(255, 255, 255))
        y += line_height
    out = io.BytesIO()
    if output_format == "jpeg":
        image.save(out, "JPEG", quality=85, comment=prompt.encode("utf-8"))
    else:
        info = PngInfo()
        info.add_text("prompt", prompt)
        info.add_text("task_id", task_id)
        image.save(out, "PNG", pnginfo=info)
    return out.getvalue()
