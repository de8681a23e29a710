"""GET /api/openapi.json: an OpenAPI 3.0 description of what the server really does — every path, every status
a view can answer with, and the one error shape. Written by hand next to the views (the tiers come from the
running configuration); ``tests/web/test_openapi_fuzz.py`` holds the server to it with Schemathesis.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from rules.catalog import STYLES, parse_tiers
from web.api.common import fleet
from web.api.openapi_schemas import ID_SCHEMA, ref, schemas

blueprint = Blueprint("openapi", __name__)

_ERRORS = {
    400: "Malformed request: invalid JSON, a missing field or a wrong type (INVALID_JSON, INVALID_REQUEST, ...).",
    401: "initData missing, malformed, forged or stale (INITDATA_MISSING, INITDATA_BAD_HASH, INITDATA_EXPIRED...).",
    402: "The payment is not confirmed (PAYMENT_REQUIRED).",
    403: "The link's signature is wrong or it has expired (BAD_SIGNATURE, LINK_EXPIRED).",
    404: "No such resource — or it belongs to someone else (NOT_FOUND).",
    409: "Conflicts with the current state (TOO_MANY_REFERENCES, PAYMENT_CONSUMED, AVATAR_BUSY, NO_PHOTOS, "
         "PRIVACY_NOT_ACCEPTED, USER_BUSY, ...).",
    413: "Too large: the request, a JSON body or an image (PAYLOAD_TOO_LARGE, IMAGE_TOO_LARGE).",
    415: "Wrong body type, or a file that is not a JPEG, PNG or WebP image (NOT_AN_IMAGE, UNSUPPORTED_IMAGE).",
    422: "Well-formed but not acceptable (UNKNOWN_TIER, UNKNOWN_STYLE, AVATAR_NOT_READY, INVALID_NAME; at "
         "checkout UNKNOWN_RAIL, STARS_UNAVAILABLE (the tier has no Stars price), EMAIL_REQUIRED or INVALID_EMAIL "
         "(a card payment when receipts are on); NO_CREDITS when redeeming an empty balance; a selfie with "
         "NO_FACE, MANY_FACES or IMAGE_TOO_SMALL, whose error also names the file's index and filename).",
    429: "Too many requests from this user (RATE_LIMITED), or too many open checkouts at once "
         "(TOO_MANY_CHECKOUTS: pay or let one expire first); wait Retry-After seconds when given.",
    502: "The payment provider failed (PAYMENT_PROVIDER_ERROR); the payment was not created there.",
    503: "Storage or database briefly unavailable, or every upload turn taken (STORAGE_UNAVAILABLE, "
         "DATABASE_UNAVAILABLE, UPLOADS_BUSY); nothing was done: send again after Retry-After.",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}}
_COMMON = (401, 429, 503)
_JSON_BODY = (400, 413, 415)


def _error(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {"description": _ERRORS[status],
                                "content": {"application/json": {"schema": ref("Error")}}}
    if status in (429, 503):
        response["headers"] = _RETRY_AFTER
    return response


def _ok(status: int, schema: str, description: str) -> dict[str, dict[str, Any]]:
    return {str(status): {"description": description, "content": {"application/json": {"schema": ref(schema)}}}}


def _op(summary: str, ok: dict[str, Any], errors: tuple[int, ...], *, body: str | None = None,
        params: list[dict[str, Any]] | None = None, public: bool = False) -> dict[str, Any]:
    statuses = sorted(set(errors) | (set() if public else set(_COMMON)) | (set(_JSON_BODY) if body else set()))
    operation: dict[str, Any] = {"summary": summary, "responses": {**ok, **{str(s): _error(s) for s in statuses}}}
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(body)}}}
    if params:
        operation["parameters"] = params
    if public:
        operation["security"] = []
    return operation


def _id(name: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": ID_SCHEMA}]


def document() -> dict[str, Any]:
    """The OpenAPI document for the running configuration."""
    settings = fleet().settings
    tier_ids, style_ids = list(parse_tiers(settings.tiers)), list(STYLES)
    upload = _op("Add reference photos (multipart, field 'files'; 5–15 per avatar in total)",
                 {**_ok(201, "ReferencesAdded", "Photos stored (duplicates listed)."),
                  **_ok(200, "ReferencesAdded", "Every photo was a duplicate: nothing new stored.")},
                 (400, 404, 409, 413, 415, 422), params=_id("avatar_id"))
    upload["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": ref("ReferenceFiles")}}}
    archive = _op("The album as a streamed ZIP",
                  {"200": {"description": "ZIP of the album's photos.",
                           "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}},
                  (404, 409), params=_id("job_id"))
    return {
        "openapi": "3.0.3",
        "info": {"title": "PinGlass Mini App API", "version": "1.0.0",
                 "description": "Every /api/v1 call needs `Authorization: tma <raw initData>` and is rate-limited "
                                "per user. Every error is `{\"error\": {\"code\", \"message\"}}`; another user's "
                                "ids answer 404. Amounts are integer kopecks."},
        "servers": [{"url": settings.public_base_url.rstrip("/")}],
        "security": [{"tma": []}],
        "paths": {
            "/api/v1/catalog": {"get": _op("Tiers and styles", _ok(200, "Catalog", "The catalog."), ())},
            "/api/v1/avatars": {
                "get": _op("The user's avatars", _ok(200, "AvatarList", "Avatars, oldest first."), ()),
                "post": _op("Create an avatar (it becomes the user's draft)", _ok(201, "Avatar", "Created."),
                            (422,), body="NewAvatar")},
            "/api/v1/avatars/{avatar_id}": {
                "get": _op("An avatar and its reference photos", _ok(200, "AvatarDetail", "The avatar."), (404,),
                           params=_id("avatar_id")),
                "delete": _op("Erase an avatar, its references and its generated photos",
                              _ok(200, "AvatarErased", "Erased."), (404, 409), params=_id("avatar_id"))},
            "/api/v1/avatars/{avatar_id}/references": {"post": upload},
            "/api/v1/avatars/{avatar_id}/references/{reference_id}": {"delete": _op(
                "Remove one reference photo", _ok(200, "Avatar", "Removed; the avatar as it is now."), (404, 409),
                params=_id("avatar_id") + _id("reference_id"))},
            "/api/v1/home": {"get": _op(
                "Everything the home screen shows in one call: avatars, orders, referral card, free portraits",
                _ok(200, "Home", "Each part exactly as its own route answers it."), ())},
            "/api/v1/orders": {"get": _op("The user's orders with their generations' progress, newest first",
                                          _ok(200, "OrderList", "Orders."), ())},
            "/api/v1/payments": {"post": _op(
                "Create a payment: rail card (a T-Bank payment page) or stars (a Telegram Stars invoice link)",
                _ok(201, "Payment", "Created; card: send the user to payment_url; stars: open invoice_url with "
                                    "Telegram.WebApp.openInvoice."),
                (404, 422, 502), body="NewPayment")},
            "/api/v1/client-errors": {"post": _op(
                "Report a JavaScript error the Mini App caught (grouped for the admins)",
                _ok(202, "ClientErrorRecorded", "Recorded."), (400, 413), body="ClientError")},
            "/api/v1/credits": {"get": _op("Free portraits owed to the user (missing portraits of a Stars order)",
                                           _ok(200, "Credits", "The balance and its history, newest first."), ())},
            "/api/v1/credits/redeem": {"post": _op(
                "Spend the whole free-portrait balance on a generation (no payment)",
                _ok(201, "CreditsRedeemed", "Started; follow the job at /api/v1/generations/{job_id}."),
                (404, 422), body="RedeemCredits")},
            "/api/v1/payments/{payment_id}": {"get": _op("A payment, and the job it paid for", _ok(
                200, "Payment", "The payment."), (404,), params=_id("payment_id"))},
            "/api/v1/payments/{payment_id}/cancel": {"post": _op(
                "Cancel an unpaid Telegram Stars payment whose invoice the user closed (frees its checkout slot)",
                _ok(200, "Payment", "Cancelled."), (404, 409), params=_id("payment_id"))},
            "/api/v1/generations": {"post": {**_op(
                "Start the generation a confirmed payment paid for (once per payment)",
                _ok(201, "GenerationStarted", "Started (or the replayed first answer of this Idempotency-Key)."),
                (402, 404, 409, 422), body="NewGeneration",
                params=[{"name": "Idempotency-Key", "in": "header", "required": False,
                         "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"}}])}},
            "/api/v1/generations/{job_id}": {"get": _op("A generation's progress, photos and refunds", _ok(
                200, "Generation", "The generation."), (404,), params=_id("job_id"))},
            "/api/v1/generations/{job_id}/archive.zip": {"get": archive},
            "/api/v1/generations/{job_id}/share": {
                "post": _op("Share the album by an expiring link", _ok(201, "Share", "The link."), (404, 409),
                            params=_id("job_id")),
                "delete": _op("Revoke every share link of the album", _ok(200, "SharesRevoked", "Revoked."), (404,),
                              params=_id("job_id"))},
            "/api/v1/photos/{photo_id}/regenerate": {"post": _op(
                "Make this portrait again (within the album's allowance)",
                _ok(202, "RegenerationStarted", "A one-photo job started."), (404, 409), params=_id("photo_id"))},
            "/api/v1/me": {
                "get": _op("Who the user is and whether they accepted the privacy policy", _ok(200, "Me", "The user."),
                           ()),
                "delete": _op("Erase the user's avatars, selfies, portraits, archives, share links and profile "
                              "(payments stay, anonymised)", _ok(200, "MeErased", "Erased."), (409,))},
            "/api/v1/me/privacy": {"post": _op("Accept the privacy policy (idempotent; needed before uploading photos)",
                                               _ok(200, "Me", "Accepted."), ())},
            "/api/v1/referrals/me": {"get": _op("Invite code, link, people invited and earnings",
                                                _ok(200, "Referrals", "Referral summary."), ())},
            "/g/{token}": {"get": {
                "summary": "A shared gallery (HTML), until its link expires or is revoked", "security": [],
                "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {str(s): {"description": d, "content": {"text/html": {"schema": {"type": "string"}}}}
                              for s, d in ((200, "The gallery."), (404, "Unknown, expired or revoked link."))}}},
            "/privacy": {"get": {"summary": "The privacy policy (HTML, Russian)", "security": [], "responses": {
                "200": {"description": "The policy.", "content": {"text/html": {"schema": {"type": "string"}}}}}}},
            "/download/{job_id}.zip": {"get": {**_op(
                "The album as a ZIP, by the signed link of the Telegram summary message",
                {"200": archive["responses"]["200"]}, (403, 404, 409), public=True), "parameters": [
                *_id("job_id"),
                {"name": "exp", "in": "query", "required": True, "schema": {"type": "string"}},
                {"name": "sig", "in": "query", "required": True, "schema": {"type": "string"}}]}},
        },
        "components": {
            "securitySchemes": {"tma": {"type": "apiKey", "in": "header", "name": "Authorization",
                                        "description": "`tma <raw initData>` as the Mini App received it."}},
            "schemas": schemas(tier_ids, style_ids),
        },
    }


@blueprint.get("/openapi.json")
def openapi_json():
    return jsonify(document())
