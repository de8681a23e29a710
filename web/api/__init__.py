"""The Mini App API under ``/api``: one module per resource, each a blueprint nested here.

Every ``/api/v1`` view is wrapped in ``web.auth.require_user`` (``Authorization: tma <initData>``). Before any
view runs, a request whose initData is valid takes a token from its user's bucket (``web.ratelimit``), so a
flood is refused before it reaches the database; invalid initData is left to ``require_user``'s 401. The
initData is validated once per request (``web.auth.validated_init_data`` keeps the result on ``flask.g``).
Every id in a path is bounded to what a bigint can hold (404 beyond), and storage or database outages answer 503
with the one JSON error shape and a Retry-After.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, request
from psycopg_pool import PoolTimeout

from db.errors import DatabaseError
from gateways.storage import StorageError
from runtime.limits import ApiLimit, retry_after_header, take_api_request
from telemetry.logs import log
from web.api import (
    albums,
    avatars,
    catalog,
    client_errors,
    credits,
    generations,
    home,
    me,
    openapi,
    orders,
    payments,
    photos,
    references,
    referrals,
)
from web.api.common import check_path_ids
from web.auth import validated_init_data
from web.errors import ApiError, error_response

logger = logging.getLogger("web.api")
blueprint = Blueprint("api", __name__, url_prefix="/api")
for _module in (catalog, avatars, references, payments, credits, generations, albums, photos, referrals, orders, me,
                home, client_errors, openapi):
    blueprint.register_blueprint(_module.blueprint)

RATE_LIMIT_CONFIG = "API_RATE_LIMIT"  # app.config key: a runtime.limits.ApiLimit (tests and operators may tune it)


def register_extras(app: Flask) -> None:
    """Called by ``create_app`` after the blueprints: the public gallery and ZIP download, the web's own
    short-timeout T-Bank client, and the rate limit's defaults."""
    from web import public

    app.register_blueprint(public.blueprint)
    fleet = app.extensions["pinglass"]
    app.extensions[payments.EXTENSION_KEY] = payments.init_client(fleet.settings)
    app.config.setdefault(RATE_LIMIT_CONFIG, ApiLimit())


@blueprint.before_request
def _check_path_ids() -> None:
    check_path_ids(request.view_args)


@blueprint.before_request
def _rate_limit() -> None:
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "tma" or not raw.strip():
        return
    fleet = current_app.extensions["pinglass"]
    user = validated_init_data(raw.strip())
    if user is None:
        return
    limit = current_app.config.get(RATE_LIMIT_CONFIG) or ApiLimit()
    wait = take_api_request(fleet.services.redis, str(user.id), limit, namespace=fleet.settings.broker_namespace)
    if wait > 0:
        log(logger, "rate_limited", telegram_id=user.id, path=request.path)
        raise ApiError(429, "RATE_LIMITED", "too many requests; slow down",
                       headers={"Retry-After": retry_after_header(wait)})


@blueprint.errorhandler(StorageError)
def _storage_down(exc: StorageError):
    log(logger, "storage_unavailable", level=logging.ERROR, error=exc.code, path=request.path)
    return error_response(503, "STORAGE_UNAVAILABLE", "photo storage is unavailable; try again shortly",
                          {"Retry-After": "5"})


@blueprint.errorhandler(PoolTimeout)
def _pool_exhausted(exc: PoolTimeout):
    log(logger, "database_unavailable", level=logging.ERROR, error=type(exc).__name__, path=request.path)
    return error_response(503, "DATABASE_UNAVAILABLE", "the service is busy; try again shortly", {"Retry-After": "2"})


@blueprint.errorhandler(DatabaseError)
def _database_error(exc: DatabaseError):
    if not exc.retryable:  # a bug, not an outage: answered as the app answers any unexpected error
        log(logger, "unhandled_error", level=logging.ERROR, error=type(exc).__name__, path=request.path)
        logger.exception("unhandled database error")
        return error_response(500, "INTERNAL", "internal error")
    log(logger, "database_unavailable", level=logging.ERROR, error=type(exc).__name__, path=request.path)
    return error_response(503, "DATABASE_UNAVAILABLE", "the service is busy; try again shortly", {"Retry-After": "2"})
