"""GET /api/v1/catalog: what can be bought (tiers, from configuration) and in which styles; each tier's price in
Telegram Stars (null: card only) and whether a card checkout needs an e-mail for its receipt (54-FZ).
The same for everyone: it asks for a valid initData but reads no row (the first thing 100 people opening the app at
once ask for answers without the database)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from rules.catalog import STYLES, parse_tiers
from usecases.stars import stars_prices
from web.api.common import fleet
from web.auth import require_telegram_user

blueprint = Blueprint("catalog", __name__)


@blueprint.get("/v1/catalog")
@require_telegram_user
def catalog():
    settings = fleet().settings
    tiers = parse_tiers(settings.tiers)
    in_stars = stars_prices(settings.tier_stars)
    return jsonify({
        "tiers": [{"id": t.id, "photos": t.photos, "price_kopecks": t.price_kopecks, "price_stars": in_stars.get(t.id)}
                  for t in tiers.values()],
        "styles": [{"id": s.id, "title": s.title, "preview": s.preview} for s in STYLES.values()],
        "receipts_required": settings.tbank_receipts,
    })
