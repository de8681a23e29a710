"""Building test data through our own code paths (db functions, gateways against the sandbox)."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import Any

from PIL import Image

from db import avatars, payments, users
from gateways.storage import reference_key
from rules.catalog import parse_tiers
from runtime import Services
from sandbox import selfies
from sandbox.client import SandboxClient
from usecases import privacy
from usecases.payments import apply_payment_status


def selfie(seed: int) -> bytes:
    """A distinct JPEG of one face that passes the upload's face check (the sandbox's generated selfies)."""
    return selfies.selfie(seed)


def make_user(services: Services, *, telegram_id: int | None = None, referred_by: int | None = None,
              privacy_accepted: bool = True) -> dict[str, Any]:
    """A registered user; one who accepted the privacy policy (so may upload selfies) unless told otherwise."""
    telegram_id = telegram_id or int(uuid.uuid4().int % 10**9) + 10**9
    with services.pool.connection() as conn:
        user = users.upsert_user(conn, telegram_id=telegram_id, username=f"u{telegram_id}", first_name="Test",
                                 language_code="ru", referral_code=uuid.uuid4().hex[:8], referred_by=referred_by)
    return accept_privacy(services, user) if privacy_accepted else user


def accept_privacy(services: Services, user: dict[str, Any]) -> dict[str, Any]:
    """The user accepts the privacy policy, as POST /api/v1/me/privacy records it; the user row."""
    with services.pool.connection() as conn:
        return privacy.accept(conn, user_id=user["id"], now=datetime.now(UTC))


def make_avatar(services: Services, user: dict[str, Any], *, references: int = 5) -> dict[str, Any]:
    """An avatar whose reference photos are really in the sandbox S3."""
    with services.pool.connection() as conn, conn.transaction():
        avatar = avatars.insert_avatar(conn, user_id=user["id"], name="me")
        for i in range(references):
            data = selfie(avatar["id"] * 100 + i)
            key = reference_key(avatar["id"], secret=services.settings.callback_signing_key)
            services.storage.put(key, data, "image/jpeg")
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
            avatars.insert_reference(conn, avatar_id=avatar["id"], storage_key=key, sha256=uuid.uuid4().hex,
                                   width=width, height=height, size_bytes=len(data), content_type="image/jpeg")
    return avatar


def make_paid_payment(services: Services, user: dict[str, Any], avatar: dict[str, Any], *, tier: str = "starter",
                      style_id: str = "business", confirm: bool = True) -> dict[str, Any]:
    """A payment Init-ed at the T-Bank fake and paid there; with ``confirm`` it is also recorded as confirmed
    here (what the webhook does), which queues consume_payment through the outbox."""
    tiers = parse_tiers(services.settings.tiers)
    order_id = f"t-{uuid.uuid4().hex[:20]}"
    with services.pool.connection() as conn:
        payment = payments.insert(conn, user_id=user["id"], avatar_id=avatar["id"], style_id=style_id, tier=tier,
                                  photo_count=tiers[tier].photos, amount_kopecks=tiers[tier].price_kopecks,
                                  order_id=order_id, ttl_s=86400)
    init = services.tbank.init(order_id=order_id, amount=payment["amount_kopecks"], description="PinGlass test",
                               notification_url="http://127.0.0.1:9/unused")
    SandboxClient.from_settings(services.settings).tbank.pay(init.payment_id, "success")
    with services.pool.connection() as conn, conn.transaction():
        payment = payments.set_provider(conn, id=payment["id"], provider_payment_id=init.payment_id,
                                        payment_url=init.payment_url)
        if confirm:
            payment = apply_payment_status(conn, payment=payment, new_status="confirmed")
    return payment


def settings_env(settings: Any, **extra: str) -> dict[str, str]:
    """The environment a fleet process needs to run with exactly these Settings."""
    import dataclasses
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "KIE_", "TBANK_"))}
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        env[field.name.upper()] = ",".join(value) if isinstance(value, tuple) else str(value)
    env["SANDBOX_MODE"] = "1"  # test fleets run on the fakes' public secrets, which production refuses
    env.update(extra)
    return env
