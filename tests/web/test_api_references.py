"""Reference photo uploads over HTTP: decoded, not trusted by name; bombs and oversize refused; too small, no face
or several faces refused naming the file; EXIF gone and orientation applied; the same photo recognised; never more
than 15, and a refused call stores nothing; uploads take turns, and one without a turn stores nothing."""

from __future__ import annotations

import io
import os
import struct
import threading
import time
import zlib

import pytest
import requests
from PIL import Image

from db import avatars
from sandbox.selfies import no_face, small_selfie, two_faces
from tests.factories import make_avatar, make_user, selfie
from tests.web.api_helpers import auth, object_keys, upload
from web.api import references as references_api


def _photos(count: int, start: int = 0) -> list[tuple[bytes, str]]:
    return [(selfie(1000 + start + i), f"selfie{start + i}.jpg") for i in range(count)]


def _bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels (400 Mpx) but is a few hundred bytes on disk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * (width + 1) * 4))
            + chunk(b"IEND", b""))


def _reference_count(services, avatar_id: int) -> int:
    with services.pool.connection() as conn:
        return len(avatars.references_of_avatar(conn, avatar_id=avatar_id))


def test_five_photos_in_one_call_make_the_avatar_ready(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    response = upload(client, auth(settings, user), avatar["id"], _photos(5))
    assert response.status_code == 201
    body = response.get_json()
    assert body["reference_count"] == 5 and body["ready"] is True and body["duplicates"] == []
    assert [a["index"] for a in body["added"]] == [0, 1, 2, 3, 4]
    with services.pool.connection() as conn:
        rows = avatars.references_of_avatar(conn, avatar_id=avatar["id"])
    assert sorted(r["storage_key"] for r in rows) == object_keys(settings, f"references/{avatar['id']}/")
    assert all(r["content_type"] == "image/jpeg" and r["source"] == "upload" for r in rows)


def test_a_text_file_named_jpg_is_refused_and_nothing_is_stored(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    files = _photos(2) + [(b"I am not a photo, just text.\n" * 20, "holiday.jpg")]
    response = upload(client, auth(settings, user), avatar["id"], files)
    assert response.status_code == 415
    error = response.get_json()["error"]
    assert error["code"] == "NOT_AN_IMAGE" and "holiday.jpg" in error["message"]
    assert _reference_count(services, avatar["id"]) == 0
    assert object_keys(settings, f"references/{avatar['id']}/") == []


def test_a_decompression_bomb_is_refused_as_too_large(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    bomb = _bomb()
    assert len(bomb) < 2000
    response = upload(client, auth(settings, user), avatar["id"], [(bomb, "tiny.png")])
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "IMAGE_TOO_LARGE"
    assert _reference_count(services, avatar["id"]) == 0


def test_a_file_over_ten_megabytes_is_413(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    response = upload(client, auth(settings, user), avatar["id"], [(os.urandom(10 * 1024 * 1024 + 1), "big.jpg")])
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "IMAGE_TOO_LARGE"


def test_a_gif_is_an_unsupported_image(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), (200, 10, 10)).save(buffer, "GIF")
    response = upload(client, auth(settings, user), avatar["id"], [(buffer.getvalue(), "me.jpg")])
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "UNSUPPORTED_IMAGE"


def _portrait_selfie() -> Image.Image:
    """A decoded sandbox selfie that is taller than wide (so a rotation shows in its size)."""
    for seed in range(40, 80):
        with Image.open(io.BytesIO(selfie(seed))) as image:
            if image.height > image.width:
                return image.convert("RGB")
    raise AssertionError("no portrait-shaped selfie among the seeds")


def test_exif_is_stripped_and_orientation_applied_before_storing(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    upright = _portrait_selfie()
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the camera was turned; the picture must be rotated 90° clockwise to be upright
    exif[0x010F] = "SpyCam"  # Make
    exif[0x0131] = "secret-software"  # Software
    buffer = io.BytesIO()
    upright.rotate(90, expand=True).save(buffer, "JPEG", exif=exif.tobytes(), comment=b"gps here")

    # Lying on its side the face would not be found: a 201 also says the orientation was applied first.
    response = upload(client, auth(settings, user), avatar["id"], [(buffer.getvalue(), "turned.jpg")])

    assert response.status_code == 201, response.get_json()
    added = response.get_json()["added"][0]
    assert (added["width"], added["height"]) == upright.size
    with services.pool.connection() as conn:
        (row,) = avatars.references_of_avatar(conn, avatar_id=avatar["id"])
    stored = services.storage.get(row["storage_key"])
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and image.size == upright.size
        assert not image.getexif() and "exif" not in image.info and "comment" not in image.info
    assert b"SpyCam" not in stored and b"secret-software" not in stored and b"gps here" not in stored


def test_a_png_with_transparency_is_stored_as_jpeg_on_white(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    rgba = _portrait_selfie().convert("RGBA")
    rgba.putalpha(Image.new("L", rgba.size, 255))
    rgba.paste((0, 0, 0, 0), (0, 0, rgba.width, 12))  # a transparent strip along the top
    buffer = io.BytesIO()
    rgba.save(buffer, "PNG")
    response = upload(client, auth(settings, user), avatar["id"], [(buffer.getvalue(), "alpha.png")])
    assert response.status_code == 201, response.get_json()
    with services.pool.connection() as conn:
        (row,) = avatars.references_of_avatar(conn, avatar_id=avatar["id"])
    stored = services.storage.get(row["storage_key"])
    assert stored[:3] == b"\xff\xd8\xff"
    with Image.open(io.BytesIO(stored)) as image:
        assert min(image.getpixel((image.width // 2, 4))) > 240  # flattened onto white, not black


@pytest.mark.parametrize(("image", "code"), [
    (no_face(0), "NO_FACE"),  # a cup of coffee
    (no_face(1), "NO_FACE"),  # a cat
    (no_face(2), "NO_FACE"),  # sky and ground
    (two_faces(0), "MANY_FACES"),
    (small_selfie(0), "IMAGE_TOO_SMALL"),
])
def test_a_photo_without_exactly_one_face_or_too_small_is_refused_naming_the_file(
        client, settings, services, image, code) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    files = _photos(2) + [(image, "holiday.jpg")] + _photos(1, start=2)

    response = upload(client, auth(settings, user), avatar["id"], files)

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert (error["code"], error["index"], error["filename"]) == (code, 2, "holiday.jpg")
    assert "holiday.jpg" in error["message"]
    assert _reference_count(services, avatar["id"]) == 0
    assert object_keys(settings, f"references/{avatar['id']}/") == []


def test_a_one_pixel_image_is_too_small(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1), (120, 90, 80)).save(buffer, "PNG")
    response = upload(client, auth(settings, user), avatar["id"], [(buffer.getvalue(), "dot.png")])
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "IMAGE_TOO_SMALL"
    assert response.get_json()["error"]["index"] == 0


def test_a_refused_photo_does_not_count_toward_the_fifteen(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    headers = auth(settings, user)
    assert upload(client, headers, avatar["id"], _photos(4)).get_json()["ready"] is False

    refused = upload(client, headers, avatar["id"], [(no_face(5), "cat.jpg")])
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "NO_FACE"
    assert _reference_count(services, avatar["id"]) == 4

    fifth = upload(client, headers, avatar["id"], _photos(1, start=4))
    assert fifth.status_code == 201 and fifth.get_json()["reference_count"] == 5
    assert fifth.get_json()["ready"] is True
    assert len(object_keys(settings, f"references/{avatar['id']}/")) == 5


def test_the_same_photo_twice_is_recognised(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    headers = auth(settings, user)
    first = upload(client, headers, avatar["id"], _photos(3) + [(selfie(1000), "again.jpg")])
    assert first.status_code == 201
    assert first.get_json()["duplicates"] == [{"index": 3, "filename": "again.jpg"}]

    repeat = upload(client, headers, avatar["id"], [(selfie(1001), "once-more.jpg")])

    assert repeat.status_code == 200
    assert repeat.get_json()["added"] == [] and repeat.get_json()["reference_count"] == 3
    assert _reference_count(services, avatar["id"]) == 3
    assert len(object_keys(settings, f"references/{avatar['id']}/")) == 3


def test_a_sixteenth_reference_is_refused_and_nothing_of_that_call_is_stored(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    headers = auth(settings, user)
    assert upload(client, headers, avatar["id"], _photos(14)).status_code == 201

    over = upload(client, headers, avatar["id"], _photos(2, start=100))
    assert over.status_code == 409 and over.get_json()["error"]["code"] == "TOO_MANY_REFERENCES"
    assert _reference_count(services, avatar["id"]) == 14

    assert upload(client, headers, avatar["id"], _photos(1, start=200)).status_code == 201
    sixteenth = upload(client, headers, avatar["id"], _photos(1, start=300))
    assert sixteenth.status_code == 409 and sixteenth.get_json()["error"]["code"] == "TOO_MANY_REFERENCES"
    assert _reference_count(services, avatar["id"]) == 15
    assert len(object_keys(settings, f"references/{avatar['id']}/")) == 15


def test_sixteen_files_in_one_call_are_refused(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    response = upload(client, auth(settings, user), avatar["id"], _photos(16))
    assert response.status_code == 409
    assert _reference_count(services, avatar["id"]) == 0


def test_two_concurrent_uploads_cannot_pass_the_limit_together(live_web, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=5)
    headers = auth(settings, user)
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def send(start: int) -> None:
        files = [("files", (name, content, "image/jpeg")) for content, name in _photos(6, start=start)]
        barrier.wait()
        statuses.append(requests.post(f"{live_web}/api/v1/avatars/{avatar['id']}/references", headers=headers,
                                      files=files, timeout=30).status_code)

    threads = [threading.Thread(target=send, args=(start,)) for start in (500, 600)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201, 409]
    assert _reference_count(services, avatar["id"]) == 11
    assert len(object_keys(settings, f"references/{avatar['id']}/")) == 11


def test_upload_without_files_or_as_json_is_refused(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    headers = auth(settings, user)
    empty = client.post(f"/api/v1/avatars/{avatar['id']}/references", headers=headers, data={"other": "x"},
                        content_type="multipart/form-data")
    assert empty.status_code == 400 and empty.get_json()["error"]["code"] == "NO_FILES"
    as_json = client.post(f"/api/v1/avatars/{avatar['id']}/references", headers=headers, json={"files": []})
    assert as_json.status_code == 415


def _hold(semaphore: threading.BoundedSemaphore, count: int) -> list[bool]:
    return [semaphore.acquire(timeout=1) for _ in range(count)]


def _give_back(semaphore: threading.BoundedSemaphore, held: list[bool]) -> None:
    for taken in held:
        if taken:
            semaphore.release()


def test_an_upload_finding_the_waiting_room_full_is_503_at_once_with_nothing_stored(client, settings,
                                                                                    services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    room = references_api._upload_room
    held = _hold(room, references_api.UPLOADS_AT_ONCE + references_api.UPLOAD_WAITERS)  # others check or wait
    try:
        started = time.monotonic()
        busy = upload(client, auth(settings, user), avatar["id"], _photos(1))
        assert busy.status_code == 503 and busy.get_json()["error"]["code"] == "UPLOADS_BUSY"
        assert time.monotonic() - started < references_api.UPLOAD_TURN_WAIT_S / 2  # not kept waiting
        assert busy.headers["Retry-After"] == str(references_api.UPLOAD_RETRY_AFTER_S)
        assert _reference_count(services, avatar["id"]) == 0
        assert object_keys(settings, f"references/{avatar['id']}/") == []
    finally:
        _give_back(room, held)
    assert all(held)
    assert upload(client, auth(settings, user), avatar["id"], _photos(1)).status_code == 201


def test_an_upload_waits_for_a_turn_and_is_checked_when_one_frees(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    turns = references_api._upload_turns
    held = _hold(turns, references_api.UPLOADS_AT_ONCE)  # every turn taken by other calls
    assert all(held)
    freed = threading.Timer(0.4, _give_back, (turns, held))  # one of them finishes
    freed.start()
    started = time.monotonic()
    answer = upload(client, auth(settings, user), avatar["id"], _photos(1))
    waited = time.monotonic() - started
    freed.join()
    assert answer.status_code == 201, answer.get_json()
    assert waited >= 0.4
    assert _reference_count(services, avatar["id"]) == 1


def test_an_upload_that_waits_its_whole_time_for_a_turn_is_503_with_nothing_stored(client, settings, services,
                                                                                   monkeypatch) -> None:
    monkeypatch.setattr(references_api, "UPLOAD_TURN_WAIT_S", 0.3)
    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    turns = references_api._upload_turns
    held = _hold(turns, references_api.UPLOADS_AT_ONCE)
    try:
        started = time.monotonic()
        busy = upload(client, auth(settings, user), avatar["id"], _photos(1))
        assert busy.status_code == 503 and busy.get_json()["error"]["code"] == "UPLOADS_BUSY"
        assert time.monotonic() - started >= 0.3
        assert _reference_count(services, avatar["id"]) == 0
        assert object_keys(settings, f"references/{avatar['id']}/") == []
    finally:
        _give_back(turns, held)
    assert all(held)
    # the waiting room is whole again: every place given back
    places = _hold(references_api._upload_room, references_api.UPLOADS_AT_ONCE + references_api.UPLOAD_WAITERS)
    _give_back(references_api._upload_room, places)
    assert all(places)


def test_a_connection_outlives_the_wait_a_busy_upload_is_told() -> None:
    """The client sends again after Retry-After on the same keep-alive connection: the web keeps it longer."""
    from web import gunicorn_conf

    assert gunicorn_conf.keepalive >= references_api.UPLOAD_RETRY_AFTER_S + 2
