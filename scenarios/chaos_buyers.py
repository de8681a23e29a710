"""The chaos run's buyers: each ``Buyer`` becomes an ``Order`` that a person drives over HTTP as the Mini App
user and the payer would (some arriving through another buyer's invite link, some paying only once a fault on
the timeline has happened), plus I5's probe, a forged T-Bank notification.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from gateways.initdata import sign_init_data
from gateways.tbank import make_token
from sandbox.client import SandboxClient
from sandbox.selfies import selfie
from scenarios.demo import MiniApp
from settings import Settings

PAY_WAIT_S = 180.0  # the longest a buyer waits for the timeline event it pays on


@dataclass(frozen=True)
class Buyer:
    """One purchase: the tier, the buyer (by index) whose invite link brought this one, the timeline event
    on which this one pays (None: at once), the rail (``card`` through T-Bank, ``stars`` through Telegram), and
    whether the person blocks the bot right after paying (Telegram then answers 403 to every send)."""

    tier: str
    invited_by: int | None = None
    pay_on: str | None = None
    rail: str = "card"
    blocks_bot: bool = False


@dataclass
class Order:
    """One buyer's purchase as it went; ``error`` is set when the person could not complete it."""

    index: int
    buyer: Buyer
    telegram_id: int
    start_param: str | None = None
    payment_id: int | None = None
    provider_payment_id: str | None = None
    order_id: str = ""
    amount_kopecks: int = 0
    paid_at: float | None = None
    error: str = ""
    failed_attempts: list[str] = field(default_factory=list)  # tries that failed before one succeeded


class ChaosApp(MiniApp):
    """The demo's Mini App user — arriving through an invite link when ``start_param`` is given — who simply
    tries again while the web is down or answers 5xx (its database restarting); any other HTTP answer outside
    ``expect`` is still an error."""

    RETRY_S = 150.0
    TIMEOUT_S = 120.0

    def __init__(self, base: str, settings: Settings, telegram_id: int, start_param: str | None = None) -> None:
        super().__init__(base, settings, telegram_id)
        if start_param:
            user = {"id": telegram_id, "first_name": "Demo", "username": f"demo{telegram_id}", "language_code": "ru"}
            init = sign_init_data(user, settings.telegram_bot_token, auth_date=int(time.time()),
                                  extra={"start_param": start_param})
            self.http.headers["Authorization"] = f"tma {init}"

    def call(self, method: str, path: str, expect: tuple[int, ...] = (200, 201), **kwargs: Any) -> dict:
        """As the Mini App calls (``MiniApp.call``), but waiting up to ``TIMEOUT_S`` for an answer (a hundred
        people uploading selfies at once keep the web busy), and trying again for ``RETRY_S`` while the web is
        down, answers 5xx, or — for a GET — does not answer in time."""
        deadline = time.monotonic() + self.RETRY_S
        while True:
            try:
                response = self.http.request(method, f"{self.base}{path}", timeout=self.TIMEOUT_S, **kwargs)
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
                continue
            except requests.Timeout:
                if method != "GET" or time.monotonic() > deadline:
                    raise
                continue
            if (response.status_code >= 500 or response.status_code == 429) and time.monotonic() < deadline:
                after = response.headers.get("Retry-After", "")
                time.sleep(min(float(after), 5.0) if after.isdigit() else 1.0)
                continue
            if response.status_code not in expect:
                raise RuntimeError(f"{method} {path} → {response.status_code} {response.text[:300]}")
            return response.json()


def make_orders(buyers: tuple[Buyer, ...], base: str, settings: Settings) -> list[Order]:
    """One order per buyer; inviters register first so the invited can arrive through their links."""
    first_id = 800_000_000 + int(time.time()) % 100_000 * 100
    orders = [Order(i, buyer, first_id + i) for i, buyer in enumerate(buyers)]
    for order in orders:
        if order.buyer.invited_by is not None:
            inviter = orders[order.buyer.invited_by]
            code = ChaosApp(base, settings, inviter.telegram_id).call("GET", "/api/v1/referrals/me")["code"]
            order.start_param = f"ref_{code}"
    return orders


def place_order(base: str, settings: Settings, order: Order, happened: dict[str, threading.Event],
                ready: threading.Event | None = None) -> None:
    """As the person would: an avatar with six selfies, checkout, then — once the buyer's timeline event has
    happened — pay on the T-Bank page. ``ready`` is set once the buyer is at the payment page (or has failed
    before it): the timeline holds the event back until then. Any failure is kept on the order, never raised."""
    try:
        app = ChaosApp(base, settings, order.telegram_id, order.start_param)
        styles = app.call("GET", "/api/v1/catalog")["styles"]
        avatar = app.call("POST", "/api/v1/avatars", json={"name": f"Chaos {order.index}"})
        app.call("POST", "/api/v1/me/privacy")  # the consent the Mini App asks for before the first selfie
        files = [("files", (f"selfie{i}.jpg", selfie(order.telegram_id + i), "image/jpeg")) for i in range(6)]
        app.call("POST", f"/api/v1/avatars/{avatar['id']}/references", files=files)
        payment = app.call("POST", "/api/v1/payments", json={
            "avatar_id": avatar["id"], "style_id": styles[order.index % len(styles)]["id"], "tier": order.buyer.tier,
            "rail": order.buyer.rail})
        order.payment_id, order.provider_payment_id = payment["payment_id"], payment.get("provider_payment_id")
        order.order_id, order.amount_kopecks = payment.get("order_id") or "", payment["amount_kopecks"]
        if ready is not None:
            ready.set()
        if order.buyer.pay_on and not happened[order.buyer.pay_on].wait(PAY_WAIT_S):
            raise RuntimeError(f"{order.buyer.pay_on} never happened")
        if order.buyer.rail == "stars":
            pay_stars(settings, order, payment["invoice_url"])
        else:
            requests.get(payment["payment_url"], timeout=10).raise_for_status()
            requests.post(payment["payment_url"], json={"outcome": "success"}, timeout=10).raise_for_status()
        order.paid_at = time.time()
        if order.buyer.blocks_bot:
            SandboxClient.from_settings(settings).telegram.block(order.telegram_id)
    except Exception as exc:  # noqa: BLE001 — reported by the purchases check
        order.error = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        if ready is not None:
            ready.set()


def pay_stars(settings: Settings, order: Order, invoice_url: str, attempts: int = 5) -> None:
    """Pay the invoice as the person would; when Telegram says the payment failed (our pre-checkout answer came
    too late, or said no while the database was away), try again, as a person would, up to ``attempts`` times."""
    telegram = SandboxClient.from_settings(settings, timeout=30).telegram
    requests.get(invoice_url, timeout=30).raise_for_status()
    for attempt in range(attempts):
        status = telegram.pay_invoice(invoice_url, user=order.telegram_id)
        if status == "paid":
            return
        order.failed_attempts.append(f"Stars invoice {status}: {telegram.invoice(invoice_url).get('error_message')}")
        time.sleep(3.0 * (attempt + 1))
    raise RuntimeError(f"the Stars invoice ended {status} {attempts} times")


def forge_notification(settings: Settings, order: Order) -> dict[str, Any]:
    """I5's probe: a REFUNDED notification for a paid payment, signed with the wrong password. Our answer must
    refuse it, and the payment must not move (the checks compare it with the bank afterwards)."""
    body: dict[str, Any] = {"TerminalKey": settings.tbank_terminal_key, "OrderId": order.order_id,
                            "Success": True, "Status": "REFUNDED", "PaymentId": int(order.provider_payment_id or 0),
                            "ErrorCode": "0", "Amount": order.amount_kopecks}
    body["Token"] = make_token(body, "not-" + settings.tbank_password)
    answer = requests.post(settings.callback_url("/webhooks/tbank"), json=body, timeout=10)
    return {"payment_id": order.payment_id, "http_status": answer.status_code}
