"""The ``components`` of our OpenAPI document: the JSON shapes the API answers with, exactly as the views
build them (``web/api/*.py``), and the error shape shared by every 4xx/5xx."""

from __future__ import annotations

from typing import Any

from rules.states import JOB_MOVES, PAYMENT_MOVES, REFUND_MOVES
from web.api.common import MAX_ID

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    """An object whose listed properties are all required unless ``required`` says otherwise."""
    return {"type": "object", "required": list(properties) if required is None else required,
            "properties": properties}


INT = {"type": "integer"}
ID_SCHEMA = {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}
STR = {"type": "string"}
BOOL = {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}
NULL_TIME = {**TIME, "nullable": True}
NULL_ID = {**ID_SCHEMA, "nullable": True}
NULL_STR = {**STR, "nullable": True}
URL = {"type": "string", "format": "uri"}


def schemas(tier_ids: list[str], style_ids: list[str]) -> dict[str, Schema]:
    tier = {"type": "string", "enum": tier_ids}
    style = {"type": "string", "enum": style_ids}
    return {
        "Error": obj({"error": obj({"code": STR, "message": STR})}),
        "Catalog": obj({
            "tiers": {"type": "array", "items": obj({"id": STR, "photos": INT, "price_kopecks": INT,
                                                     "price_stars": {**INT, "nullable": True}})},
            "styles": {"type": "array", "items": obj({"id": STR, "title": STR, "preview": STR})},
            "receipts_required": BOOL}),
        "NewAvatar": obj({"name": {"type": "string", "minLength": 1, "maxLength": 64}}),
        "Avatar": obj({"id": ID_SCHEMA, "name": STR, "reference_count": INT, "min_references": INT,
                       "max_references": INT, "ready": BOOL, "created_at": TIME,
                       "selfies_delete_at": NULL_TIME}),
        "AvatarList": obj({"avatars": {"type": "array", "items": {"allOf": [ref("Avatar"), obj(
            {"thumbnail_url": {**URL, "nullable": True}})]}}}),
        "Reference": obj({"id": ID_SCHEMA, "url": URL, "width": INT, "height": INT, "size_bytes": INT,
                          "content_type": STR, "source": {"type": "string", "enum": ["upload", "telegram"]},
                          "created_at": TIME}),
        "AvatarDetail": {"allOf": [ref("Avatar"), obj({"references": {"type": "array",
                                                                      "items": ref("Reference")}})]},
        "AvatarErased": obj({"id": ID_SCHEMA, "deleted": BOOL, "references_deleted": INT, "photos_deleted": INT}),
        "ReferenceFiles": obj({"files": {"type": "array", "minItems": 1, "maxItems": 15,
                                         "items": {"type": "string", "format": "binary"}}}),
        "ReferencesAdded": obj({
            "avatar_id": ID_SCHEMA, "reference_count": INT, "ready": BOOL,
            "added": {"type": "array", "items": obj({"index": INT, "filename": STR, "reference_id": ID_SCHEMA,
                                                     "width": INT, "height": INT})},
            "duplicates": {"type": "array", "items": obj({"index": INT, "filename": STR})}}),
        "NewPayment": obj({"avatar_id": ID_SCHEMA, "style_id": style, "tier": tier,
                           "rail": {"type": "string", "enum": ["card", "stars"], "default": "card"},
                           "email": {"type": "string", "maxLength": 254}},
                          required=["avatar_id", "style_id", "tier"]),
        "Payment": obj({
            "payment_id": ID_SCHEMA, "rail": {"type": "string", "enum": ["card", "stars"]},
            "amount_stars": {**INT, "nullable": True}, "invoice_url": {**URL, "nullable": True},
            "status": {"type": "string", "enum": list(PAYMENT_MOVES)},
            "amount_kopecks": INT, "refunded_kopecks": INT, "order_id": STR, "provider_payment_id": NULL_STR,
            "payment_url": {**URL, "nullable": True}, "tier": STR, "photo_count": INT, "style_id": STR,
            "avatar_id": ID_SCHEMA, "consumed": BOOL, "job_id": NULL_ID, "created_at": TIME,
            "expires_at": TIME}),
        "NewGeneration": obj({"payment_id": ID_SCHEMA, "avatar_id": ID_SCHEMA, "style_id": style},
                             required=["payment_id"]),
        "GenerationStarted": obj({"job_id": ID_SCHEMA, "correlation_id": STR}),
        "Generation": obj({
            "job_id": ID_SCHEMA, "kind": {"type": "string", "enum": ["purchase", "regeneration", "credit"]},
            "parent_job_id": NULL_ID, "payment_id": NULL_ID, "avatar_id": ID_SCHEMA, "style_id": STR, "tier": STR,
            "status": {"type": "string", "enum": list(JOB_MOVES)},
            "correlation_id": STR,
            "progress": obj({"done": INT, "failed": INT, "total": INT, "percent": INT,
                             "stages": obj({"queued": INT, "submitted": INT, "generating": INT, "stored": INT,
                                            "failed": INT, "delivered_chunks": INT, "chunks": INT})}),
            "photos": {"type": "array", "items": obj({"id": ID_SCHEMA, "prompt_index": INT, "url": URL,
                                                      "width": INT, "height": INT, "content_type": STR,
                                                      "created_at": TIME})},
            "refunds": {"type": "array", "items": obj({
                "id": ID_SCHEMA, "amount_kopecks": INT, "photos_refunded": INT,
                "status": {"type": "string", "enum": list(REFUND_MOVES)}, "reason": STR,
                "created_at": TIME, "completed_at": NULL_TIME})},
            "regenerations": {"type": "array", "items": obj({"job_id": ID_SCHEMA, "status": STR,
                                                             "created_at": TIME})},
            "regenerations_used": INT, "regenerations_allowed": INT, "photos_delete_at": NULL_TIME,
            "zip_url": {**URL, "nullable": True},
            "timestamps": obj({"created_at": TIME, "generating_at": NULL_TIME, "delivering_at": NULL_TIME,
                               "finished_at": NULL_TIME})}),
        "Share": obj({"url": URL, "expires_at": TIME}),
        "Credits": obj({"balance": INT, "history": {"type": "array", "items": obj({
            "job_id": ID_SCHEMA, "photos": INT, "kind": {"type": "string", "enum": ["granted", "spent"]},
            "created_at": TIME})}}),
        "ClientError": obj({"message": {"type": "string", "minLength": 1, "maxLength": 2000},
                            "where": {"type": "string", "maxLength": 300},
                            "stack": {"type": "string", "maxLength": 8000}}, required=["message"]),
        "ClientErrorRecorded": obj({"recorded": {"type": "boolean"}}),
        "RedeemCredits": obj({"avatar_id": ID_SCHEMA, "style_id": style}),
        "CreditsRedeemed": obj({"job_id": ID_SCHEMA, "photos": INT}),
        "Home": obj({"avatars": ref("AvatarList"), "orders": ref("OrderList"), "referrals": ref("Referrals"),
                     "credits": ref("Credits")}),
        "OrderList": obj({"orders": {"type": "array", "items": obj({
            "payment_id": ID_SCHEMA, "payment_status": STR, "tier": STR, "photo_count": INT, "style_id": STR,
            "avatar_id": ID_SCHEMA, "avatar_name": STR, "rail": {"type": "string", "enum": ["card", "stars"]},
            "amount_kopecks": INT, "amount_stars": {**INT, "nullable": True}, "refunded_kopecks": INT,
            "created_at": TIME, "cover_url": {**URL, "nullable": True},
            "job": {**obj({"id": ID_SCHEMA, "status": STR, "done": INT, "failed": INT, "total": INT,
                           "finished_at": NULL_TIME}), "nullable": True}})}}),
        "SharesRevoked": obj({"job_id": ID_SCHEMA, "revoked": INT}),
        "RegenerationStarted": obj({"job_id": ID_SCHEMA, "parent_job_id": ID_SCHEMA, "regenerations_used": INT,
                                    "regenerations_left": INT}),
        "Me": obj({"telegram_id": {"type": "integer", "format": "int64"}, "first_name": NULL_STR,
                   "privacy": obj({"accepted": BOOL, "accepted_at": NULL_TIME, "policy_url": STR,
                                   "selfie_retention_days": INT, "portrait_retention_days": INT})}),
        "MeErased": obj({"erased": BOOL, "avatars": INT, "references": INT, "photos": INT}),
        "Referrals": obj({"code": STR, "invite_link": URL, "percent": INT, "invited": INT, "paying": INT,
                          "earnings_kopecks": INT, "reversed_kopecks": INT, "balance_kopecks": INT}),
    }
