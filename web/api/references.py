"""POST /api/v1/avatars/<id>/references: reference selfies, multipart, one or more under the field ``files``.

Each file is checked by decoding it (JPEG, PNG or WebP; at most 10 MB and 40 Mpx; at least 256 px on its short
side; exactly one face), turned upright, stripped of its metadata and re-encoded (``rules.uploads``). A refused
file answers ``{"error": {"code", "message", "index", "filename"}}`` naming the file (the Mini App sends one file
per request and shows a sentence per code). A call is all or nothing (I8): one bad file, or a total past
15 references, and nothing of the call is stored. The same photo twice is one reference (UNIQUE avatar +
SHA-256 of the normalised bytes): the answer says which files were duplicates.

Objects go to S3 first, rows second, in one transaction under the avatar's row lock (so two concurrent calls
cannot both squeeze under the limit); if that transaction fails, the uploaded objects are deleted again.

Uploads take turns: decoding, the face check and re-encoding cost ~60 ms of CPU per selfie, and a web process has
16 threads (``WEB_THREADS``, deploy/launch.sh), so a burst of uploads could hold every thread while reads — a
payment's status, an order's progress — wait behind them (``make bench``'s 100 people saw reads wait seconds). At
most ``UPLOADS_AT_ONCE`` calls per process do that work at a time, and at most ``UPLOAD_WAITERS`` more are in the
waiting room (reading their bytes or waiting up to ``UPLOAD_TURN_WAIT_S`` for a turn): the rest of the threads stay
free for reads, slow phones included. A call that finds the room full is answered 503 ``UPLOADS_BUSY`` with
Retry-After at once, before its body is parsed or the database asked (under ``make bench``'s 100 people most upload
calls are such answers: 849 of 1,449); one that waits its whole time for a turn gets the same; nothing is stored
either way. The Mini App sends the file again after the wait, for up to a minute or
so. The bytes are read before the turn is taken: a slow phone holds a place, not a turn.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Blueprint, g, jsonify, request
from werkzeug.datastructures import FileStorage

from gateways.storage import Storage, StorageError, reference_key
from rules.catalog import MAX_REFERENCES, MIN_REFERENCES
from rules.images import MAX_BYTES, ImageRejected
from rules.uploads import NormalisedImage, normalise_upload
from telemetry.logs import log
from usecases.errors import Refused
from usecases.references import NewReference, add_references, known_hashes
from web.api.common import ID, fleet, not_found, safe_text, transaction
from web.api.me import require_consent
from web.auth import require_user
from web.errors import ApiError

logger = logging.getLogger("web.api.references")
blueprint = Blueprint("references", __name__)

UPLOADS_AT_ONCE = 2  # checking photos at once, per process (each check keeps a core busy)
UPLOAD_WAITERS = 6  # more calls that may wait for a turn; with the turns, half of the process's 16 threads
UPLOAD_TURN_WAIT_S = 5.0
UPLOAD_RETRY_AFTER_S = 2
_upload_turns = threading.BoundedSemaphore(UPLOADS_AT_ONCE)
_upload_room = threading.BoundedSemaphore(UPLOADS_AT_ONCE + UPLOAD_WAITERS)  # holding a turn or waiting for one

REJECTION_STATUS = {"NOT_AN_IMAGE": 415, "UNSUPPORTED_IMAGE": 415, "IMAGE_TOO_LARGE": 413,
                    "IMAGE_TOO_SMALL": 422, "NO_FACE": 422, "MANY_FACES": 422}


class FileRefused(ApiError):
    """One file of the call is not an acceptable reference photo; the error names it."""

    def __init__(self, index: int, filename: str, rejected: ImageRejected) -> None:
        super().__init__(REJECTION_STATUS.get(rejected.code, 422), rejected.code, f"{filename}: {rejected}")
        self.index = index
        self.filename = filename


@dataclass
class Upload:
    index: int
    filename: str
    image: NormalisedImage
    key: str | None = None


@blueprint.post(f"/v1/avatars/<{ID}:avatar_id>/references")
@require_user
def upload_references(avatar_id: int):
    user_id = g.user["id"]
    require_consent(g.user)  # selfies are personal data: stored only after consent
    with upload_place():  # a full waiting room answers 503 before the body is parsed or the database asked
        known, uploads = _checked(avatar_id, user_id)

    fresh: list[Upload] = []
    duplicates: list[Upload] = []
    seen = set(known)
    for upload in uploads:
        (duplicates if upload.image.sha256 in seen else fresh).append(upload)
        seen.add(upload.image.sha256)
    if len(known) + len(fresh) > MAX_REFERENCES:
        raise _too_many(len(known))

    storage = fleet().services.storage
    secret = fleet().settings.callback_signing_key
    try:
        for upload in fresh:
            upload.key = reference_key(avatar_id, secret=secret)
            storage.put(upload.key, upload.image.data, upload.image.content_type)
        added, late_duplicates, total = _record(avatar_id, user_id, fresh)
    except BaseException:
        _forget(storage, [u.key for u in fresh if u.key])
        raise
    _forget(storage, [u.key for u in late_duplicates if u.key])
    duplicates += late_duplicates

    log(logger, "references_uploaded", user_id=user_id, avatar_id=avatar_id, added=len(added),
        duplicates=len(duplicates), total=total)
    body = {"avatar_id": avatar_id, "reference_count": total, "ready": total >= MIN_REFERENCES,
            "added": [{"index": u.index, "filename": u.filename, "reference_id": ref_id, "width": u.image.width,
                       "height": u.image.height} for u, ref_id in added],
            "duplicates": [{"index": u.index, "filename": u.filename} for u in sorted(duplicates,
                                                                                      key=lambda u: u.index)]}
    return jsonify(body), 201 if added else 200


def _checked(avatar_id: int, user_id: int) -> tuple[set[str], list[Upload]]:
    """The avatar's known photos and the call's files read and checked (in an upload turn)."""
    try:
        with transaction() as conn:
            known = known_hashes(conn, avatar_id=avatar_id, user_id=user_id)
    except Refused:
        raise not_found("avatar") from None
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "send the photos as multipart/form-data under 'files'")
    files = request.files.getlist("files")
    if not files:
        raise ApiError(400, "NO_FILES", "send one or more photos under the multipart field 'files'")
    if len(files) > MAX_REFERENCES:  # refused before any decoding work
        raise _too_many(len(known))
    received = [(i, _filename(i, f), f.stream.read(MAX_BYTES + 1)) for i, f in enumerate(files)]  # never more
    with upload_turn():
        return known, [Upload(i, name, _normalise(i, name, data)) for i, name, data in received]


@contextmanager
def upload_place() -> Iterator[None]:
    """Hold a place in the process's upload waiting room for the block; 503 UPLOADS_BUSY at once when it is
    full."""
    if not _upload_room.acquire(blocking=False):
        _drain_body()
        raise _uploads_busy("room_full")
    try:
        yield
    finally:
        _upload_room.release()


def _drain_body() -> None:
    """Read and drop the call's body (bounded by its Content-Length, which an upload must declare: web/limits.py)
    without parsing it. Left unread, gunicorn drains at most 64 KiB of it after the answer and then closes the
    keep-alive connection, and the client's next call on it gets no answer (78 of 239 upload calls in a make
    bench run, "Remote end closed connection without response")."""
    while request.stream.read(64 * 1024):
        pass


@contextmanager
def upload_turn() -> Iterator[None]:
    """Hold one of the process's upload turns for the block (inside ``upload_place``); 503 UPLOADS_BUSY when
    none frees up within ``UPLOAD_TURN_WAIT_S``."""
    if not _upload_turns.acquire(timeout=UPLOAD_TURN_WAIT_S):
        raise _uploads_busy("no_turn")
    try:
        yield
    finally:
        _upload_turns.release()


def _uploads_busy(why: str) -> ApiError:
    log(logger, "uploads_busy", level=logging.WARNING, path=request.path, why=why)
    return ApiError(503, "UPLOADS_BUSY", "many photos are being checked right now; try again shortly",
                    headers={"Retry-After": str(UPLOAD_RETRY_AFTER_S)})


def _normalise(index: int, name: str, data: bytes) -> NormalisedImage:
    try:
        return normalise_upload(data)
    except ImageRejected as rejected:
        raise FileRefused(index, name, rejected) from None


@blueprint.errorhandler(FileRefused)
def _file_refused(err: FileRefused):
    """The API's one error shape, plus which file: ``index`` in the call's ``files`` and its ``filename``."""
    return jsonify({"error": {"code": err.code, "message": err.message, "index": err.index,
                              "filename": err.filename}}), err.status


def _filename(index: int, file: FileStorage) -> str:
    return safe_text(file.filename or "", limit=128) or f"file {index + 1}"


def _record(avatar_id: int, user_id: int,
            fresh: list[Upload]) -> tuple[list[tuple[Upload, int]], list[Upload], int]:
    """Insert the rows (``usecases.references.add_references``, all or nothing): (added with their ids,
    duplicates found only now, new total)."""
    photos = [NewReference(storage_key=u.key, image=u.image) for u in fresh if u.key]  # all stored by now
    try:
        with transaction() as conn:
            result = add_references(conn, avatar_id=avatar_id, user_id=user_id, photos=photos, source="upload",
                                    all_or_nothing=True)
    except Refused as refused:
        if refused.code == "NOT_FOUND":
            raise not_found("avatar") from None
        raise ApiError(409, refused.code, refused.message) from None
    return ([(fresh[i], ref_id) for i, ref_id in result.added], [fresh[i] for i in result.duplicates],
            result.total)


def _too_many(existing: int) -> ApiError:
    return ApiError(409, "TOO_MANY_REFERENCES",
                    f"an avatar holds at most {MAX_REFERENCES} reference photos ({existing} already)")


def _forget(storage: Storage, keys: list[str]) -> None:
    """Delete objects whose rows were not written; a failure here only leaves an orphan under the avatar's
    prefix, which erasing the avatar removes."""
    for key in keys:
        try:
            storage.delete(key)
        except StorageError as exc:
            log(logger, "reference_orphaned", level=logging.WARNING, key=key, error=exc.code)
