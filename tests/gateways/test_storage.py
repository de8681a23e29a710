"""The storage gateway against the sandbox S3 (moto behind our front) over real HTTP on loopback."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import re
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from gateways.storage import (
    ObjectMissing,
    Storage,
    StorageError,
    archive_key,
    photo_key,
    reference_key,
)
from sandbox.client import SandboxClient
from sandbox.s3 import S3FakeConfig, config_from_env, start_s3
from sandbox.server import ServerHandle
from settings import Settings
from telemetry.metrics import PROVIDER_CALLS

pytestmark = pytest.mark.timeout(30)

BUCKET = "pinglass-storage-test"
ACCESS_KEY = "sandbox-access-key-id"
SECRET_KEY = "sandbox-secret-access-key-value"


@pytest.fixture(scope="module")
def s3() -> Iterator[ServerHandle]:
    handle = start_s3(0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def storage(s3: ServerHandle) -> Iterator[Storage]:
    store = Storage(s3.url, BUCKET, ACCESS_KEY, SECRET_KEY, "us-east-1", 900, max_attempts=2)
    store.ensure_bucket()
    yield store
    store.close()


@pytest.fixture(autouse=True)
def default_knobs(s3: ServerHandle) -> Iterator[None]:
    yield
    # Knobs only: a full reset would also empty buckets other tests in this process may be using.
    SandboxClient(s3=s3.url).s3.configure(**dataclasses.asdict(S3FakeConfig()))


def fake_state(s3: ServerHandle) -> dict:
    return SandboxClient(s3=s3.url).s3.state()


def configure(s3: ServerHandle, **knobs: object) -> None:
    SandboxClient(s3=s3.url).s3.configure(**knobs)


def stored_objects(s3: ServerHandle, prefix: str) -> dict[str, dict]:
    objects = fake_state(s3)["buckets"][BUCKET]
    return {item["key"]: item for item in objects if item["key"].startswith(prefix)}


def unique_prefix() -> str:
    return f"t/{uuid.uuid4().hex}/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_put_then_get_exists_size_and_delete_round_trip(storage: Storage, s3: ServerHandle) -> None:
    key = unique_prefix() + "photo.png"
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8

    storage.put(key, data, "image/png")

    assert storage.get(key) == data
    assert storage.exists(key) is True
    assert storage.size(key) == len(data)
    assert stored_objects(s3, key)[key] == {"key": key, "size": len(data), "content_type": "image/png"}
    storage.delete(key)
    assert storage.exists(key) is False
    assert stored_objects(s3, key) == {}


def test_writing_the_same_key_twice_leaves_one_object_with_the_latest_bytes(storage: Storage,
                                                                             s3: ServerHandle) -> None:
    prefix = unique_prefix()
    key = prefix + "0.png"
    storage.put(key, b"first attempt", "image/png")
    storage.put(key, b"retried attempt", "image/png")

    assert storage.get(key) == b"retried attempt"
    assert list(stored_objects(s3, prefix)) == [key]


def test_get_or_size_of_a_missing_key_raises_object_missing_that_is_not_retryable(storage: Storage) -> None:
    key = unique_prefix() + "never-written.png"
    with pytest.raises(ObjectMissing) as got:
        storage.get(key)
    assert got.value.retryable is False
    assert got.value.code == "NoSuchKey"
    assert got.value.http_status == 404
    with pytest.raises(ObjectMissing):
        storage.size(key)


def test_deleting_a_missing_object_succeeds_so_retries_are_harmless(storage: Storage) -> None:
    key = unique_prefix() + "gone.png"
    storage.delete(key)
    assert storage.exists(key) is False


def test_delete_prefix_removes_only_that_prefix_and_counts_what_it_removed(storage: Storage,
                                                                            s3: ServerHandle) -> None:
    base = unique_prefix()
    for index in range(5):
        storage.put(f"{base}photos/7/{index}.png", b"x" * index, "image/png")
    storage.put(f"{base}photos/70/0.png", b"neighbour", "image/png")

    assert storage.delete_prefix(f"{base}photos/7/") == 5

    assert list(stored_objects(s3, base)) == [f"{base}photos/70/0.png"]
    assert storage.delete_prefix(f"{base}photos/7/") == 0


def test_delete_prefix_refuses_an_empty_prefix(storage: Storage) -> None:
    with pytest.raises(ValueError):
        storage.delete_prefix("")


def test_presigned_get_url_serves_the_bytes_to_plain_requests(storage: Storage) -> None:
    key = unique_prefix() + "ref.jpg"
    storage.put(key, b"jpeg bytes", "image/jpeg")

    url = storage.presigned_get(key)
    answer = requests.get(url, timeout=5)

    assert answer.status_code == 200
    assert answer.content == b"jpeg bytes"
    assert answer.headers["Content-Type"] == "image/jpeg"
    parts = urlsplit(url)
    assert parts.path == f"/{BUCKET}/{key}"  # path-style addressing
    query = parse_qs(parts.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["900"]
    assert SECRET_KEY not in url


def test_presigned_get_url_expires_after_its_ttl(storage: Storage, s3: ServerHandle) -> None:
    key = unique_prefix() + "short.png"
    storage.put(key, b"short-lived", "image/png")
    url = storage.presigned_get(key, ttl_s=60)

    configure(s3, clock_offset_s=30)
    assert requests.get(url, timeout=5).content == b"short-lived"
    configure(s3, clock_offset_s=62)
    answer = requests.get(url, timeout=5)

    assert answer.status_code == 403
    assert "<Code>AccessDenied</Code>" in answer.text
    assert "Request has expired" in answer.text
    assert fake_state(s3)["counts"]["expired"] >= 1


def test_expiry_is_the_fronts_doing_moto_alone_would_serve_an_expired_url(storage: Storage,
                                                                          s3: ServerHandle) -> None:
    key = unique_prefix() + "lenient.png"
    storage.put(key, b"moto serves me", "image/png")
    url = storage.presigned_get(key, ttl_s=1)

    configure(s3, enforce_presign_expiry=False, clock_offset_s=3600)

    assert requests.get(url, timeout=5).content == b"moto serves me"


def test_presign_ttl_must_be_between_one_second_and_seven_days(storage: Storage) -> None:
    for bad in (0, -5, 7 * 24 * 3600 + 1):
        with pytest.raises(ValueError):
            storage.presigned_get("any.png", ttl_s=bad)
    assert "X-Amz-Expires=604800" in storage.presigned_get("any.png", ttl_s=7 * 24 * 3600)


def test_photo_key_is_deterministic_and_depends_on_the_secret() -> None:
    key = photo_key(42, 3, secret="s1")

    assert key == photo_key(42, 3, secret="s1")
    assert re.fullmatch(r"photos/42/3-[0-9a-f]{32}\.png", key)
    expected = hmac.new(b"s1", b"42:3", hashlib.sha256).hexdigest()[:32]
    assert key == f"photos/42/3-{expected}.png"
    assert photo_key(42, 3, secret="s2") != key
    assert photo_key(42, 4, secret="s1") != key
    assert photo_key(43, 3, secret="s1") != key
    assert photo_key(42, 3, secret="s1", ext="jpeg").endswith(f"3-{expected}.jpeg")


def test_archive_key_is_deterministic_unguessable_and_never_a_photo_key() -> None:
    key = archive_key(42, secret="s1")

    assert key == archive_key(42, secret="s1")
    assert re.fullmatch(r"archives/42/[0-9a-f]{32}\.zip", key)
    assert archive_key(42, secret="s2") != key
    assert archive_key(41, secret="s1") != key
    assert key.rsplit("/", 1)[1][:32] not in photo_key(42, 0, secret="s1")


def test_reference_key_is_random_per_upload_under_the_avatar() -> None:
    first = reference_key(9, secret="s1")
    second = reference_key(9, secret="s1")

    assert first != second
    uuid4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    for key in (first, second):
        assert re.fullmatch(rf"references/9/{uuid4}\.jpg", key)


def test_keys_refuse_an_empty_secret_or_bad_ids() -> None:
    with pytest.raises(ValueError):
        photo_key(1, 0, secret="")
    with pytest.raises(ValueError):
        archive_key(1, secret="")
    with pytest.raises(ValueError):
        photo_key(-1, 0, secret="s")
    with pytest.raises(ValueError):
        photo_key(1, 0, secret="s", ext="../png")


def test_a_dead_endpoint_gives_a_retryable_storage_error() -> None:
    store = Storage(f"http://127.0.0.1:{free_port()}", BUCKET, ACCESS_KEY, SECRET_KEY, max_attempts=1,
                    timeout=(0.5, 0.5))

    with pytest.raises(StorageError) as got:
        store.get("photos/1/0-x.png")
    assert not isinstance(got.value, ObjectMissing)
    assert got.value.retryable is True
    with pytest.raises(StorageError) as got_put:
        store.put("photos/1/0-x.png", b"x", "image/png")
    assert got_put.value.retryable is True


def test_a_store_slower_than_the_read_timeout_gives_a_retryable_error(s3: ServerHandle) -> None:
    store = Storage(s3.url, BUCKET, ACCESS_KEY, SECRET_KEY, max_attempts=1, timeout=(0.5, 0.2))
    configure(s3, latency_ms=600)

    with pytest.raises(StorageError) as got:
        store.get(unique_prefix() + "slow.png")
    assert got.value.retryable is True
    assert "ReadTimeout" in got.value.message


def test_one_slowdown_is_absorbed_by_the_retry_budget(storage: Storage, s3: ServerHandle) -> None:
    key = unique_prefix() + "retried.png"
    SandboxClient(s3=s3.url).s3.fail(match=key)

    storage.put(key, b"made it", "image/png")

    assert storage.get(key) == b"made it"
    attempts = [r["outcome"] for r in fake_state(s3)["requests"] if r["path"] == f"/{BUCKET}/{key}"
                and r["method"] == "PUT"]
    assert attempts == ["fault", "passed"]


def test_slowdown_beyond_the_retry_budget_is_a_retryable_error_after_exactly_that_many_attempts(
        storage: Storage, s3: ServerHandle) -> None:
    key = unique_prefix() + "throttled.png"
    SandboxClient(s3=s3.url).s3.fail(match=key, times=10)  # only this key: the rule outlives the test

    with pytest.raises(StorageError) as got:
        storage.put(key, b"no luck", "image/png")

    assert got.value.retryable is True
    assert got.value.code == "SlowDown"
    assert got.value.http_status == 503
    attempts = [r for r in fake_state(s3)["requests"] if r["path"] == f"/{BUCKET}/{key}"]
    assert len(attempts) == 2  # max_attempts=2 in the fixture


def test_a_missing_bucket_is_a_permanent_error_not_a_missing_object(s3: ServerHandle) -> None:
    store = Storage(s3.url, "no-such-bucket-here", ACCESS_KEY, SECRET_KEY, max_attempts=1)

    with pytest.raises(StorageError) as got:
        store.get("photos/1/0.png")
    assert not isinstance(got.value, ObjectMissing)
    assert got.value.code == "NoSuchBucket"
    assert got.value.retryable is False


def test_ensure_bucket_creates_a_missing_bucket_and_is_idempotent(s3: ServerHandle) -> None:
    name = f"pinglass-{uuid.uuid4().hex[:12]}"
    store = Storage(s3.url, name, ACCESS_KEY, SECRET_KEY, max_attempts=1)
    assert store.bucket_exists() is False

    store.ensure_bucket()
    store.ensure_bucket()

    assert store.bucket_exists() is True
    assert name in fake_state(s3)["buckets"]


def test_from_settings_uses_endpoint_bucket_and_presign_ttl(s3: ServerHandle, storage: Storage) -> None:
    settings = Settings(s3_endpoint_url=s3.url, s3_bucket=BUCKET, presign_ttl_s=120)
    store = Storage.from_settings(settings)
    key = unique_prefix() + "settings.png"

    store.put(key, b"via settings", "image/png")

    assert storage.get(key) == b"via settings"
    assert "X-Amz-Expires=120" in store.presigned_get(key)


def test_every_request_carries_the_pinglass_user_agent(storage: Storage, s3: ServerHandle) -> None:
    key = unique_prefix() + "ua.png"
    storage.put(key, b"ua", "image/png")

    agents = [r["user_agent"] for r in fake_state(s3)["requests"] if r["path"] == f"/{BUCKET}/{key}"]
    assert agents and all("PinGlass-fleet" in agent for agent in agents)


def test_each_call_logs_op_key_latency_and_outcome_but_no_account_secret(storage: Storage,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    key = unique_prefix() + "logged.png"
    with caplog.at_level(logging.INFO, logger="gateways.storage"):
        storage.put(key, b"log me", "image/png")
        with pytest.raises(ObjectMissing):
            storage.get(key + ".missing")

    calls = [r.fields for r in caplog.records if getattr(r, "event", None) == "storage_call"]
    assert [(c["op"], c["key"], c["outcome"]) for c in calls] == [("put", key, "ok"),
                                                                   ("get", key + ".missing", "missing")]
    assert all(isinstance(c["latency_ms"], float) for c in calls)
    assert SECRET_KEY not in caplog.text and ACCESS_KEY not in caplog.text
    assert all(SECRET_KEY not in str(c) and ACCESS_KEY not in str(c) for c in calls)


def test_sandbox_config_rejects_unknown_or_bad_knobs(s3: ServerHandle) -> None:
    assert SandboxClient(s3=s3.url).s3.post("config", {"nope": 1}).status_code == 400
    assert SandboxClient(s3=s3.url).s3.post("config", {"error_rate": 2}).status_code == 400
    assert SandboxClient(s3=s3.url).s3.post("config", {"latency_ms": "x"}).status_code == 400
    assert fake_state(s3)["config"] == dataclasses.asdict(S3FakeConfig())


def test_sandbox_reset_restores_start_knobs_forgets_requests_and_empties_buckets(storage: Storage,
                                                                                  s3: ServerHandle) -> None:
    key = unique_prefix() + "reset.png"
    storage.put(key, b"to be forgotten", "image/png")
    configure(s3, latency_ms=5)

    assert SandboxClient(s3=s3.url).s3.post("reset").status_code == 200

    state = fake_state(s3)
    assert state["config"] == dataclasses.asdict(S3FakeConfig())
    assert state["requests"] == [] and state["counts"] == {}
    assert state["buckets"][BUCKET] == []
    assert storage.bucket_exists() is True


def test_config_from_env_reads_sandbox_s3_knobs() -> None:
    config = config_from_env({"SANDBOX_S3_LATENCY_MS": "25", "SANDBOX_S3_ERROR_RATE": "0.5",
                              "SANDBOX_S3_ENFORCE_PRESIGN_EXPIRY": "false", "UNRELATED": "x"})

    assert config == S3FakeConfig(latency_ms=25, error_rate=0.5, enforce_presign_expiry=False)
    with pytest.raises(ValueError):
        config_from_env({"SANDBOX_S3_ERROR_RATE": "lots"})


def test_a_presigned_url_is_handed_out_again_for_a_third_of_its_life(storage: Storage,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A Mini App polling its order gets the same URLs (its browser keeps the images) and the web does not sign
    every photo on every poll; after a third of the TTL a new URL is signed, so each one handed out still has two
    thirds of its life."""
    key = unique_prefix() + "polled.png"
    storage.put(key, b"polled", "image/png")
    signed = PROVIDER_CALLS.labels("s3", "presign", "ok")
    now = [1000.0]
    monkeypatch.setattr("gateways.storage.time.monotonic", lambda: now[0])

    before = signed._value.get()
    first = storage.presigned_get(key, ttl_s=600)
    now[0] += 199
    assert storage.presigned_get(key, ttl_s=600) == first
    assert signed._value.get() == before + 1, "signed once"
    storage.presigned_get(key, ttl_s=60)
    assert signed._value.get() == before + 2, "another TTL, another signature"
    now[0] += 2  # 201 s: past a third of 600
    storage.presigned_get(key, ttl_s=600)
    assert signed._value.get() == before + 3, "signed again once a third of its life had passed"
    assert requests.get(first, timeout=5).content == b"polled"
