"""A job's album as a ZIP and as a shared gallery link.

GET /api/v1/generations/<id>/archive.zip streams the album: entries are written as each photo is read from
storage, so memory holds one photo at a time, whatever the album's size. POST .../share hands out an
unguessable link (``secrets.token_urlsafe(32)``; only its SHA-256 is stored) that lives a week unless DELETE
.../share revokes every link of the job first (I6).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, g, jsonify

from gateways.storage import Storage, StorageError
from telemetry.logs import log
from usecases import albums
from usecases.errors import Refused
from web.api.common import ID, fleet, iso, not_found, transaction
from web.auth import require_user
from web.errors import ApiError

logger = logging.getLogger("web.api.albums")
blueprint = Blueprint("albums", __name__)

SHARE_TTL_S = 7 * 24 * 3600
_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@blueprint.get(f"/v1/generations/<{ID}:job_id>/archive.zip")
@require_user
def archive(job_id: int):
    try:
        with transaction() as conn:
            album = albums.album_of_user(conn, user_id=g.user["id"], job_id=job_id)
    except Refused:
        raise not_found("generation") from None
    return zip_response(fleet().services.storage, job_id, album)


@blueprint.post(f"/v1/generations/<{ID}:job_id>/share")
@require_user
def share(job_id: int):
    token = secrets.token_urlsafe(32)
    try:
        with transaction() as conn:
            row = albums.share_album(conn, user_id=g.user["id"], job_id=job_id, token_hash=token_hash(token),
                                     ttl_s=SHARE_TTL_S)
    except Refused as refused:
        raise _http(refused) from None
    log(logger, "gallery_shared", user_id=g.user["id"], job_id=job_id, share_id=row["id"])
    return jsonify({"url": fleet().settings.public_url(f"/g/{token}"), "expires_at": iso(row["expires_at"])}), 201


@blueprint.delete(f"/v1/generations/<{ID}:job_id>/share")
@require_user
def unshare(job_id: int):
    try:
        with transaction() as conn:
            revoked = albums.unshare_album(conn, user_id=g.user["id"], job_id=job_id)
    except Refused as refused:
        raise _http(refused) from None
    log(logger, "gallery_unshared", user_id=g.user["id"], job_id=job_id, revoked=revoked)
    return jsonify({"job_id": job_id, "revoked": revoked})


def _http(refused: Refused) -> ApiError:
    if refused.code == "NOT_FOUND":
        return not_found("generation")
    return ApiError(409, refused.code, refused.message)


def zip_response(storage: Storage, job_id: int, photos: list[dict[str, Any]]) -> Response:
    """The photos as a streamed ZIP download (409 NO_PHOTOS when there are none yet)."""
    if not photos:
        raise ApiError(409, "NO_PHOTOS", "this generation has no photos yet")
    response = Response(_zip_stream(storage, job_id, photos), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="pinglass-{job_id}.zip"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


class _Sink:
    """A write-only, non-seekable file for ZipFile: what is written is handed on in pieces."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._offset = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self._offset

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def _zip_stream(storage: Storage, job_id: int, photos: list[dict[str, Any]]) -> Iterator[bytes]:
    sink = _Sink()
    stamp = datetime.now(UTC).timetuple()[:6]
    # ZIP_STORED: PNG and JPEG are compressed already; deflating them again costs CPU and saves nothing.
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive_file:  # type: ignore[call-overload]
        for photo in photos:
            try:
                data = storage.get(photo["storage_key"])
            except StorageError as exc:
                # Headers are gone already: the download ends short, and the log says why.
                log(logger, "archive_photo_unreadable", level=logging.ERROR, job_id=job_id, photo_id=photo["id"],
                    error=exc.code)
                raise
            name = f"pinglass-{job_id}-{photo['prompt_index'] + 1:02d}.{_EXT.get(photo['content_type'], 'png')}"
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_STORED
            archive_file.writestr(info, data)
            yield sink.drain()
    yield sink.drain()
