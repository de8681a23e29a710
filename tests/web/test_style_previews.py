"""The catalog's style previews are real pictures served by the app, not 404s."""

from __future__ import annotations

import io

from PIL import Image

from rules.catalog import STYLES
from scripts.make_style_previews import MAX_BYTES, SIZE
from tests.factories import make_user
from tests.web.api_helpers import auth


def test_every_catalog_preview_is_a_portrait_jpeg_served_by_the_app(client) -> None:
    for style in STYLES.values():
        response = client.get(style.preview)
        assert response.status_code == 200, style.preview
        assert response.mimetype == "image/jpeg"
        assert len(response.data) <= MAX_BYTES
        with Image.open(io.BytesIO(response.data)) as image:
            image.load()
            assert image.format == "JPEG" and image.size == SIZE == (600, 800)


def test_the_catalog_endpoint_points_at_the_served_previews(client, settings, services) -> None:
    user = make_user(services)
    response = client.get("/api/v1/catalog", headers=auth(settings, user))
    assert response.status_code == 200, response.get_json()
    previews = [style["preview"] for style in response.get_json()["styles"]]
    assert sorted(previews) == sorted(style.preview for style in STYLES.values())
    assert all(client.get(preview).status_code == 200 for preview in previews)
