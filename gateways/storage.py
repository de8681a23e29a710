"""Object storage (S3 API; Cloudflare R2 in production, moto on loopback in the sandbox).

The bucket is private: everything handed out is a presigned GET with a short life. Keys are namespaced and
unguessable: reference photos get a random uuid, generated photos and archives an HMAC of their ids, so a retry
writes the same key (no orphan copies) while nobody can derive the key of someone else's photo.

Every call logs one ``storage_call`` line (op, object key, latency, outcome) and counts in the provider metrics;
errors come out as ``StorageError`` (``retryable`` for 5xx, throttling and connection failures) or its subclass
``ObjectMissing``. Account keys and secrets never reach a log.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, IncompleteReadError
from botocore.exceptions import ConnectionError as BotoConnectionError

from gateways.errors import ProviderError
from gateways.http import DEFAULT_TIMEOUT
from telemetry import metrics, provider_stats
from telemetry.logs import log, monotonic_ms

if TYPE_CHECKING:
    from settings import Settings

logger = logging.getLogger("gateways.storage")

T = TypeVar("T")

MAX_PRESIGN_TTL_S = 7 * 24 * 3600  # the SigV4 ceiling; S3 and R2 reject longer presigned URLs
PRESIGN_REUSE_SHARE = 1 / 3  # a presigned URL is handed out again for this share of its life
PRESIGN_CACHE_SIZE = 20_000  # signed URLs kept per process (least recently handed out dropped first)
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_RETRYABLE_CODES = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
                              "TooManyRequestsException", "RequestTimeout", "InternalError", "ServiceUnavailable"})
# Failures of the connection or of reading the answer: the same call may well work on another attempt.
_TRANSPORT_ERRORS = (BotoConnectionError, HTTPClientError, IncompleteReadError)
_EXT = re.compile(r"^[a-z0-9]{1,8}$")


class StorageError(ProviderError):
    """A storage call failed; ``code`` is the S3 error code (e.g. ``SlowDown``, ``AccessDenied``)."""

    provider = "s3"


class ObjectMissing(StorageError):
    """The object does not exist (NoSuchKey / 404). Never retryable: waiting will not make it appear."""


class Storage:
    """One bucket of an S3-compatible store, addressed path-style and signed with SigV4.

    Construction opens no connection. The client is thread-safe and pooled; share one per process.
    ``max_attempts`` is the total attempts per call (botocore's standard retry mode, with its backoff).
    """

    def __init__(self, endpoint_url: str, bucket: str, access_key_id: str, secret_access_key: str,
                 region: str = "us-east-1", presign_ttl_s: int = 900, *,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT, max_attempts: int = 3,
                 pool_size: int = 20) -> None:
        self.bucket = bucket
        self.region = region
        self.presign_ttl_s = _check_ttl(presign_ttl_s)
        self._signed: OrderedDict[tuple[str, int], tuple[str, float]] = OrderedDict()  # → (url, reuse until)
        self._signed_lock = threading.Lock()
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=timeout[0],
            read_timeout=timeout[1],
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            max_pool_connections=pool_size,
            user_agent_extra="PinGlass-fleet",
            # Checksums only where the API demands them: S3-compatible stores (R2 among them) have rejected
            # the newer default CRC trailers, and the sandbox must not hide such an incompatibility.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._client: Any = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region, aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key, config=config)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> Storage:
        """The fleet's storage as configured; ``options`` pass through (timeout, max_attempts, pool_size)."""
        return cls(settings.s3_endpoint_url, settings.s3_bucket, settings.s3_access_key_id,
                   settings.s3_secret_access_key, settings.s3_region, settings.presign_ttl_s, **options)

    def ensure_bucket(self) -> None:
        """Create the bucket unless it exists already (idempotent, safe to race)."""
        if self.bucket_exists():
            return
        params: dict[str, Any] = {"Bucket": self.bucket}
        # us-east-1 takes no location constraint; R2's pseudo-region "auto" needs none either.
        if self.region not in ("us-east-1", "auto"):
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self._call("create_bucket", None, lambda: self._client.create_bucket(**params))
        except StorageError as exc:
            if exc.code != "BucketAlreadyOwnedByYou":  # another process won the race: same outcome
                raise

    def bucket_exists(self) -> bool:
        """Whether the bucket exists and these credentials can reach it."""
        try:
            self._call("head_bucket", None, lambda: self._client.head_bucket(Bucket=self.bucket))
        except ObjectMissing:
            return False
        except StorageError as exc:
            if exc.code == "NoSuchBucket":
                return False
            raise
        return True

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write ``data`` under ``key``, replacing any previous object (so a retried write is harmless)."""
        self._call("put", key, lambda: self._client.put_object(
            Bucket=self.bucket, Key=key, Body=data, ContentType=content_type))

    def get(self, key: str) -> bytes:
        """The object's bytes; ``ObjectMissing`` if there is none."""
        # The body is read inside the call so that a connection dropped mid-read is classified as retryable.
        return self._call("get", key, lambda: self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except ObjectMissing:
            return False
        return True

    def size(self, key: str) -> int:
        """The object's length in bytes; ``ObjectMissing`` if there is none."""
        head = self._call("head", key, lambda: self._client.head_object(Bucket=self.bucket, Key=key))
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing object succeeds (S3 semantics), so retries are safe."""
        self._call("delete", key, lambda: self._client.delete_object(Bucket=self.bucket, Key=key))

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object whose key starts with ``prefix`` and return how many there were."""
        if not prefix:
            raise ValueError("delete_prefix needs a non-empty prefix (refusing to empty the bucket)")
        return self._call("delete_prefix", prefix, lambda: self._delete_prefix(prefix))

    def presigned_get(self, key: str, ttl_s: int | None = None) -> str:
        """A URL anyone may GET the object with for at least two thirds of ``ttl_s`` (default ``presign_ttl_s``)
        seconds, and at most ``ttl_s``.

        Signing is local: this neither checks that the object exists nor touches the network. A URL is handed out
        again for the first third of its life (``PRESIGN_REUSE_SHARE``): a Mini App polling its order every
        second gets the same URLs, so the phone's browser keeps the images it has, and the web signs each photo
        once in five minutes, not on every poll (botocore takes ~2 ms of CPU a signature).
        """
        expires = self.presign_ttl_s if ttl_s is None else _check_ttl(ttl_s)
        now = time.monotonic()
        with self._signed_lock:
            signed = self._signed.get((key, expires))
            if signed is not None and now < signed[1]:
                self._signed.move_to_end((key, expires))
                return signed[0]
        url = self._call("presign", key, lambda: self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires))
        with self._signed_lock:
            self._signed[(key, expires)] = (url, now + expires * PRESIGN_REUSE_SHARE)
            self._signed.move_to_end((key, expires))
            while len(self._signed) > PRESIGN_CACHE_SIZE:
                self._signed.popitem(last=False)
        return url

    def close(self) -> None:
        self._client.close()

    def _delete_prefix(self, prefix: str) -> int:
        deleted = 0
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if not objects:
                continue
            answer = self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
            errors = answer.get("Errors") or []
            if errors:
                code = errors[0].get("Code", "DeleteFailed")
                raise StorageError(f"delete_prefix: {len(errors)} objects not deleted", code=code,
                                   retryable=code in _RETRYABLE_CODES)
            deleted += len(objects)
        return deleted

    def _call(self, op: str, key: str | None, action: Callable[[], T]) -> T:
        start = time.monotonic()
        try:
            result = action()
        except ClientError as exc:
            error = _from_client_error(op, exc)
            outcome = "missing" if isinstance(error, ObjectMissing) else "error"
            self._record(op, key, start, outcome, error)
            raise error from exc
        except _TRANSPORT_ERRORS as exc:
            error = StorageError(f"{op}: {type(exc).__name__}", retryable=True)
            self._record(op, key, start, "transport_error", error)
            raise error from exc
        except BotoCoreError as exc:  # bad parameters, missing credentials: our bug, not the store's mood
            error = StorageError(f"{op}: {type(exc).__name__}", retryable=False)
            self._record(op, key, start, "error", error)
            raise error from exc
        self._record(op, key, start, "ok", None)
        return result

    def _record(self, op: str, key: str | None, start: float, outcome: str, error: StorageError | None) -> None:
        elapsed = monotonic_ms(start)
        metrics.PROVIDER_LATENCY.labels("s3", op).observe(elapsed / 1000)
        metrics.PROVIDER_CALLS.labels("s3", op, outcome).inc()
        provider_stats.record("s3", op, elapsed, failed=outcome not in ("ok", "missing"))
        fields: dict[str, object] = {"provider": "s3", "op": op, "key": key, "latency_ms": elapsed,
                                     "outcome": outcome}
        level = logging.INFO
        if error is not None:
            fields.update(code=error.code, http_status=error.http_status, retryable=error.retryable)
            level = logging.INFO if outcome == "missing" else logging.WARNING
        log(logger, "storage_call", level=level, **fields)


def reference_key(avatar_id: int, *, secret: str) -> str:
    """``references/<avatar>/<uuid4>.jpg``: a fresh random key per upload.

    ``secret`` is accepted so that every key function has the same call shape; a random uuid needs none.
    """
    del secret
    return f"references/{_non_negative(avatar_id, 'avatar_id')}/{uuid.uuid4()}.jpg"


def delete_references_of(storage: Storage, avatar_id: int) -> int:
    """Delete every selfie object of the avatar — by prefix, so objects whose rows were never written (an upload
    that failed half-way) go too; the number deleted."""
    return storage.delete_prefix(f"references/{_non_negative(avatar_id, 'avatar_id')}/")


def delete_album_of(storage: Storage, job_id: int) -> int:
    """Delete every portrait and archive object of the job, by prefix; the number deleted."""
    job = _non_negative(job_id, "job_id")
    return storage.delete_prefix(f"photos/{job}/") + storage.delete_prefix(f"archives/{job}/")


def photo_key(job_id: int, prompt_index: int, *, secret: str, ext: str = "png") -> str:
    """``photos/<job>/<index>-<hmac>.<ext>``: the same for the same (job, index) and unguessable without ``secret``."""
    job = _non_negative(job_id, "job_id")
    index = _non_negative(prompt_index, "prompt_index")
    return f"photos/{job}/{index}-{_mac(secret, f'{job}:{index}')}.{_check_ext(ext)}"


def archive_key(job_id: int, *, secret: str, ext: str = "zip") -> str:
    """``archives/<job>/<hmac>.zip``: deterministic per job, unguessable without ``secret``."""
    job = _non_negative(job_id, "job_id")
    # A message shape no photo key can produce, so an archive and a photo never share a MAC.
    return f"archives/{job}/{_mac(secret, f'archive:{job}')}.{_check_ext(ext)}"


def _mac(secret: str, message: str) -> str:
    if not secret:
        raise ValueError("a key secret is required (an empty secret makes keys guessable)")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()[:32]


def _non_negative(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")
    return value


def _check_ext(ext: str) -> str:
    if not _EXT.match(ext):
        raise ValueError("ext must be 1-8 lowercase letters or digits")
    return ext


def _check_ttl(ttl_s: int) -> int:
    if not 1 <= ttl_s <= MAX_PRESIGN_TTL_S:
        raise ValueError(f"a presigned URL lives 1..{MAX_PRESIGN_TTL_S} seconds")
    return ttl_s


def _from_client_error(op: str, exc: ClientError) -> StorageError:
    error = exc.response.get("Error", {})
    meta = exc.response.get("ResponseMetadata", {})
    code = str(error.get("Code") or "Unknown")
    status = meta.get("HTTPStatusCode")
    retry_after = _retry_after(meta.get("HTTPHeaders", {}))
    if code in _MISSING_CODES:
        return ObjectMissing(f"{op}: no such object", code=code, http_status=status)
    retryable = code in _RETRYABLE_CODES or status == 429 or (isinstance(status, int) and status >= 500)
    return StorageError(f"{op}: {code}", code=code, retryable=retryable, retry_after=retry_after,
                        http_status=status)


def _retry_after(headers: dict[str, str]) -> float | None:
    try:
        return float(headers["retry-after"])
    except (KeyError, ValueError):
        return None
