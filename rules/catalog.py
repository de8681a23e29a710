"""The product catalog: tiers (photos and price in kopecks), styles (with their prompt sets), and what an order
needs from the person: how many reference photos (selfies) an avatar must have before it can be generated from,
and holds at most."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

MIN_REFERENCES = 5
MAX_REFERENCES = 15


def is_ready(reference_count: int) -> bool:
    """Whether an avatar with this many references can start a generation."""
    return reference_count >= MIN_REFERENCES


@dataclass(frozen=True)
class Tier:
    id: str
    photos: int
    price_kopecks: int


@dataclass(frozen=True)
class Style:
    id: str
    title: str
    preview: str
    base_prompt: str


@functools.lru_cache(maxsize=8)
def parse_tiers(spec: str) -> Mapping[str, Tier]:
    """Parse ``"starter:7:49900,standard:15:99900"`` into tiers by id (read-only); ValueError on anything
    malformed. Parsed once per spec and process: the views ask for ``settings.tiers`` on every request."""
    tiers: dict[str, Tier] = {}
    for item in spec.split(","):
        parts = item.strip().split(":")
        if len(parts) != 3:
            raise ValueError(f"tier spec {item!r} is not id:photos:price")
        tier_id, photos, price = parts[0].strip(), int(parts[1]), int(parts[2])
        if not tier_id or not 1 <= photos <= 100 or price <= 0 or tier_id in tiers:
            raise ValueError(f"tier spec {item!r} is out of range or repeated")
        tiers[tier_id] = Tier(tier_id, photos, price)
    if not tiers:
        raise ValueError("no tiers configured")
    return MappingProxyType(tiers)


STYLES: dict[str, Style] = {
    s.id: s for s in (
        Style("business", "Деловой портрет", "/static/styles/business.jpg",
              "a confident professional business portrait of the person, studio lighting, neutral backdrop"),
        Style("cinematic", "Кино", "/static/styles/cinematic.jpg",
              "a cinematic film still of the person, dramatic light, shallow depth of field"),
        Style("fairytale", "Сказка", "/static/styles/fairytale.jpg",
              "the person as the hero of a fairy tale, painterly, soft magical light"),
    )
}

# Variations are applied in order; index i of a job always gets the same variation, so a regenerated photo
# (same prompt index) is made from the same prompt.
VARIATIONS: tuple[str, ...] = (
    "close-up, looking at the camera", "three-quarter view, gentle smile", "full-length, walking",
    "profile view, golden hour", "seated, relaxed pose", "laughing, candid moment", "black and white",
    "outdoors, city street", "by a window, natural light", "wide shot, dramatic sky", "holding a cup of coffee",
    "in a library", "on a rooftop at dusk", "close-up, serious expression", "backlit, warm tones",
    "in a garden", "at the seaside", "night, neon lights", "minimalist background", "winter, snowfall",
    "vintage film look", "over the shoulder glance", "high fashion editorial",
)


def prompt_for(style: Style, prompt_index: int) -> str:
    """The prompt of slot ``prompt_index`` of a job in ``style`` (deterministic; the index is in the text)."""
    variation = VARIATIONS[prompt_index % len(VARIATIONS)]
    return f"{style.base_prompt}; {variation}; keep the face identical to the reference photos [#{prompt_index + 1}]"
