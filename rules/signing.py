"""HMAC signatures of the URLs we hand out: Kie callbacks and anything else a third party calls back."""

from __future__ import annotations

import hashlib
import hmac


def sign(key: str, purpose: str, value: str | int) -> str:
    """A hex HMAC-SHA256 of ``purpose:value`` (the purpose keeps one signature from being reused elsewhere)."""
    return hmac.new(key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def verify(key: str, purpose: str, value: str | int, signature: str) -> bool:
    return hmac.compare_digest(sign(key, purpose, value), signature or "")


def kie_callback_url(public_base_url: str, key: str, task_id: int) -> str:
    """The callBackUrl of our task ``task_id``: the web checks ``sig`` before it polls the task."""
    return f"{public_base_url.rstrip('/')}/webhooks/kie?task={task_id}&sig={sign(key, 'kie-callback', task_id)}"


def zip_download_path(key: str, job_id: int, expires: int) -> str:
    """The path of the signed, expiring ZIP link of a job's album (``web.public.download`` checks it)."""
    return f"/download/{job_id}.zip?exp={expires}&sig={sign(key, 'zip', f'{job_id}:{expires}')}"
