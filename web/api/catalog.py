"""GET /api/v1/catalog: what can be bought (tiers, from configuration) and in which styles."""

from __future__ import annotations

from flask import Blueprint, jsonify

from rules.catalog import STYLES, parse_tiers
from web.api.common import fleet
from web.auth import require_user

blueprint = Blueprint("catalog", __name__)


@blueprint.get("/v1/catalog")
@require_user
def catalog():
    tiers = parse_tiers(fleet().settings.tiers)
    return jsonify({
        "tiers": [{"id": t.id, "photos": t.photos, "price_kopecks": t.price_kopecks} for t in tiers.values()],
        "styles": [{"id": s.id, "title": s.title, "preview": s.preview} for s in STYLES.values()],
    })
