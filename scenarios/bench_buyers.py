"""Bench buyers: Mini App users who get ready to buy (avatar, consent, 6 selfies, checkout) and pay when told,
so many orders can be paid at the same moment; and the records of a paid order in our database and the fakes'."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from scenarios.demo import MiniApp, Purchase, pay, selfie
from settings import Settings

_SELFIES: list[bytes] = []
_SELFIES_LOCK = threading.Lock()


def selfies() -> list[bytes]:
    """Six selfies made once per run (making one runs the face check: seconds of CPU on this machine)."""
    with _SELFIES_LOCK:
        if not _SELFIES:
            _SELFIES.extend(selfie(900 + i) for i in range(6))
        return list(_SELFIES)


def seed_selfies(made: list[bytes]) -> None:
    """Use selfies made by another process (a bench client process gets the parent's)."""
    with _SELFIES_LOCK:
        _SELFIES[:] = made


@dataclass
class Buyer:
    telegram_id: int
    tier: str
    rail: str = "card"
    payment: dict[str, Any] = field(default_factory=dict)
    paid_at: float | None = None  # time.time() when the payment page was completed
    job_id: int | None = None
    error: str = ""
    # (route, seconds, status, started: time.monotonic() when the call was made)
    calls: list[tuple[str, float, int, float]] = field(default_factory=list)


def prepare(base: str, settings: Settings, buyer: Buyer, uploads_base: str | None = None, *,
            as_the_app: bool = False) -> None:
    """Avatar, consent, six selfies, checkout: everything before paying. The selfies are made once per run
    (``selfies``), before anyone starts: the clients only send bytes. ``uploads_base``: where selfies go when
    the web runs as pools (``bench_common.POOLS``). ``as_the_app``: with every read the Mini App's screens make
    on the way (web/miniapp/static/js/screens), those it sends together sent together: the home screen's as it
    opens (the person's first call), the new avatar's, the consent screen's, the avatar's again after its
    selfies, and the order screen's catalog with the avatar."""
    try:
        app = MiniApp(base, settings, buyer.telegram_id)
        uploader = MiniApp(uploads_base, settings, buyer.telegram_id) if uploads_base else app
        if as_the_app:  # the home screen: one call for everything it shows
            timed(buyer, app, "GET /api/v1/home", "GET", "/api/v1/home")
        else:
            catalog = timed(buyer, app, "GET /api/v1/catalog", "GET", "/api/v1/catalog")
        avatar = timed(buyer, app, "POST /api/v1/avatars", "POST", "/api/v1/avatars", json={"name": "Bench"})
        mine = f"/api/v1/avatars/{avatar['id']}"
        if as_the_app:
            timed(buyer, app, "GET /api/v1/avatars/<id>", "GET", mine)
            timed(buyer, app, "GET /api/v1/me", "GET", "/api/v1/me")
        timed(buyer, app, "POST /api/v1/me/privacy", "POST", "/api/v1/me/privacy")
        for i, data in enumerate(selfies()):  # one file per request, one after the other, as the Mini App sends
            timed(buyer, uploader, "POST /api/v1/avatars/<id>/references", "POST",
                  f"{mine}/references", files=[("files", (f"selfie{i}.jpg", data, "image/jpeg"))])
        if as_the_app:
            timed(buyer, app, "GET /api/v1/avatars/<id>", "GET", mine)
            found = together(buyer, base, settings, [("GET /api/v1/catalog", "/api/v1/catalog"),
                                                     ("GET /api/v1/avatars/<id>", mine)])
            catalog = found[0]
        style = catalog["styles"][0]["id"]
        buyer.payment = timed(buyer, app, "POST /api/v1/payments", "POST", "/api/v1/payments",
                              json={"avatar_id": avatar["id"], "style_id": style, "tier": buyer.tier,
                                    "rail": buyer.rail})
    except Exception as exc:  # noqa: BLE001 — counted in the report
        buyer.error = f"prepare: {exc}"


def together(buyer: Buyer, base: str, settings: Settings, reads: list[tuple[str, str]]) -> list[Any]:
    """GETs a screen sends at once (``Promise.all``), each on its own connection as a browser does; their
    answers in order (an error raised when any failed)."""
    answers: list[Any] = [None] * len(reads)
    failures: list[BaseException] = []

    def one(index: int, route: str, path: str) -> None:
        try:
            answers[index] = timed(buyer, MiniApp(base, settings, buyer.telegram_id), route, "GET", path)
        except Exception as exc:  # noqa: BLE001 — raised below
            failures.append(exc)

    threads = [threading.Thread(target=one, args=(i, route, path), daemon=True)
               for i, (route, path) in enumerate(reads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return answers


def complete_payment(settings: Settings, buyer: Buyer) -> None:
    if buyer.error or not buyer.payment:
        return
    try:
        pay(settings, Purchase(buyer.tier, 0, [], buyer.telegram_id, rail=buyer.rail), buyer.payment)
        buyer.paid_at = time.time()
    except Exception as exc:  # noqa: BLE001
        buyer.error = f"pay: {exc}"


def timed(buyer: Buyer, app: MiniApp, route: str, method: str, path: str, **kwargs: Any) -> Any:
    """One Mini App call, its latency and status recorded under ``route`` (every try, as the server saw it)."""
    start, started = time.perf_counter(), time.monotonic()
    status = 200
    try:
        return app.call(method, path, **kwargs)
    except RuntimeError as exc:
        text = str(exc)
        status = int(text.split("→ ", 1)[1].split()[0]) if "→ " in text else 599
        raise
    except Exception:
        status = 599
        raise
    finally:
        buyer.calls.append((route, time.perf_counter() - start, status, started))


def ready_and_paid(base: str, settings: Settings, buyers: list[Buyer], *, timeout_s: float = 300) -> None:
    """Prepare every buyer in parallel, then pay them all at once."""
    selfies()
    threads = [threading.Thread(target=prepare, args=(base, settings, b), daemon=True) for b in buyers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.join(timeout=max(0.1, deadline - time.monotonic()))
    pay_all(settings, buyers)


def pay_all(settings: Settings, buyers: list[Buyer]) -> None:
    threads = [threading.Thread(target=complete_payment, args=(settings, b), daemon=True) for b in buyers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


def payment_ids(buyers: list[Buyer]) -> list[int]:
    return [int(b.payment["payment_id"]) for b in buyers if b.payment and not b.error]
