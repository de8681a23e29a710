"""HMAC signatures of the URLs we hand out: Kie callbacks and anything else a third party calls back."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_LENGTH = 64  # hex SHA-256


def sign(key: str, purpose: str, value: str | int) -> str:
    """A hex HMAC-SHA256 of ``purpose:value`` (the purpose keeps one signature from being reused elsewhere)."""
    return hmac.new(key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def verify(key: str, purpose: str, value: str | int, signature: str) -> bool:
    """Whether ``signature`` is ``sign(key, purpose, value)``. Shape first: a signature from a query string may be
    anything, and ``compare_digest`` raises on non-ASCII text (a 500 instead of a refusal)."""
    if not isinstance(signature, str) or len(signature) != SIGNATURE_LENGTH or not signature.isascii():
        return False
    return hmac.compare_digest(sign(key, purpose, value), signature)


def kie_callback_url(public_base_url: str, key: str, task_id: int) -> str:
    """The callBackUrl of our task ``task_id``: the web checks ``sig`` before it polls the task."""
    return f"{public_base_url.rstrip('/')}/webhooks/kie?task={task_id}&sig={sign(key, 'kie-callback', task_id)}"


def zip_download_path(key: str, job_id: int, expires: int) -> str:
    """The path of the signed, expiring ZIP link of a job's album (``web.public.download`` checks it)."""
    return f"/download/{job_id}.zip?exp={expires}&sig={sign(key, 'zip', f'{job_id}:{expires}')}"
