"""Waiting for and reading back the outcomes of the pipeline."""

from __future__ import annotations

import time
from typing import Any

from db import jobs
from runtime import Services
from sandbox.client import SandboxClient


def wait_for_job(services: Services, *, payment_id: int | None = None, job_id: int | None = None,
                 statuses: tuple[str, ...] = ("delivered", "delivered_partial", "failed"),
                 timeout_s: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    job = None
    while time.monotonic() < deadline:
        with services.pool.connection() as conn:
            job = jobs.get_job(conn, id=job_id) if job_id else jobs.get_job_by_payment(conn, payment_id=payment_id)
        if job is not None and job["status"] in statuses:
            return job
        time.sleep(0.25)
    raise AssertionError(f"job did not reach {statuses} in {timeout_s}s: {job}")


def chat_messages(services: Services, chat_id: int) -> list[dict[str, Any]]:
    return SandboxClient.from_settings(services.settings).telegram.messages(chat_id)


def kie_state(services: Services) -> dict[str, Any]:
    return SandboxClient.from_settings(services.settings).kie.state()


def tbank_state(services: Services) -> dict[str, Any]:
    return SandboxClient.from_settings(services.settings).tbank.state()


def refunds_at_bank(services: Services, provider_payment_id: str) -> list[dict[str, Any]]:
    """The refunds the T-Bank fake recorded for one payment (asserting the fake knows the payment)."""
    found = [p for p in tbank_state(services)["payments"]
             if str(p.get("payment_id", p.get("PaymentId"))) == provider_payment_id]
    assert found, "the T-Bank fake does not know the payment"
    return found[0].get("refunds", [])


def kie_config(services: Services, **knobs: Any) -> None:
    SandboxClient.from_settings(services.settings).kie.configure(**knobs)


def kie_faults(services: Services, rules: list[dict[str, Any]]) -> None:
    SandboxClient.from_settings(services.settings).kie.fail(*rules)


def fast_kie(services: Services, **knobs: Any) -> None:
    """Compressed time at the Kie fake: quick tasks and the provider's limit over our (short) window."""
    kie_config(services, latency_ms_min=100, latency_ms_max=300, rate_limit=services.settings.kie_rate_limit,
               rate_window_s=services.settings.kie_rate_window_s, **knobs)


def albums_in_chat(services: Services, chat_id: int) -> list[list[dict[str, Any]]]:
    """The photo messages of the chat grouped as the user sees them: one list per album or lone photo."""
    groups: list[list[dict[str, Any]]] = []
    last_group = object()
    for message in chat_messages(services, chat_id):
        if not message.get("photos"):
            continue
        group = message.get("media_group_id")
        if group is not None and group == last_group:
            groups[-1].append(message)
        else:
            groups.append([message])
        last_group = group
    return groups


def prompts_in_chat(services: Services, chat_id: int) -> list[str]:
    return [photo.get("prompt") or "" for group in albums_in_chat(services, chat_id) for message in group
            for photo in message["photos"][-1:]]


def wait_until(predicate: Any, *, timeout_s: float = 30, what: str = "condition") -> Any:
    """Poll ``predicate()`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen in {timeout_s}s")
