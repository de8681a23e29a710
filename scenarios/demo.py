"""``make run``: the whole fleet in sandbox mode, driving one real purchase per tier by card and one in Telegram
Stars, over HTTP only.

As the Mini App and a person would: a user with signed initData creates an avatar, uploads selfies, checks
out, completes the T-Bank payment page (card) or the Telegram invoice (Stars: the fake asks our webhook's
pre-checkout answer, then sends the paid message), watches live progress, and receives albums in the sandbox
Telegram chat. Prints a summary; stops everything it started unless KEEP_RUNNING=1. The last line is
``run: ok ...`` with the purchases by rail (exit 0) or ``run: FAILED ...`` (exit 1).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field

import requests

from gateways.initdata import sign_init_data
from sandbox import selfies
from sandbox.client import SandboxClient
from scenarios import fleet
from settings import Settings

# (tier, photos, the albums it arrives as, rail)
PURCHASES = (("starter", 7, [7], "card"), ("standard", 15, [10, 5], "card"), ("premium", 23, [10, 10, 3], "card"),
             ("standard", 15, [10, 5], "stars"))
RAIL_NAMES = {"card": "card", "stars": "Stars"}
JOB_TIMEOUT_S = 240
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)  # as the Mini App's api.js
RETRIES = len(BACKOFF_S)
BUSY_WAIT_S = 180.0  # as api.js: 503 UPLOADS_BUSY is a queue of selfies, sent again after each Retry-After this long


@dataclass
class Purchase:
    tier: str
    photos: int
    albums_expected: list[int]
    telegram_id: int
    rail: str = "card"  # or "stars"
    job_id: int | None = None
    status: str = "starting"
    progress: str = ""
    stages: dict[str, float] = field(default_factory=dict)
    albums: list[int] = field(default_factory=list)
    gallery_url: str = ""
    error: str = ""


def selfie(seed: int) -> bytes:
    """A distinct photo of one face per seed, which passes the upload's face check."""
    return selfies.selfie(seed)


class MiniApp:
    """What the Telegram Mini App does, over HTTP, as one user."""

    def __init__(self, base: str, settings: Settings, telegram_id: int) -> None:
        self.base = base
        init = sign_init_data({"id": telegram_id, "first_name": "Demo", "username": f"demo{telegram_id}",
                               "language_code": "ru"}, settings.telegram_bot_token, auth_date=int(time.time()))
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"tma {init}"

    def call(self, method: str, path: str, expect: tuple[int, ...] = (200, 201), **kwargs) -> dict:
        """One API call as the Mini App makes it (web/miniapp/static/js/api.js): a 429 or 503 — nothing was done,
        the answer says when to come back (Retry-After) — is tried again, a GET also after a 502/504 or a lost
        connection; up to RETRIES times (UPLOADS_BUSY: for up to BUSY_WAIT_S in all), then the error stands."""
        attempt, started = 0, time.monotonic()
        while True:
            try:
                response = self.http.request(method, f"{self.base}{path}", timeout=30, **kwargs)
            except requests.ConnectionError:
                if method != "GET" or attempt >= RETRIES:
                    raise
                time.sleep(BACKOFF_S[attempt])
                attempt += 1
                continue
            transient = response.status_code in (429, 503) or (method == "GET" and response.status_code in (502, 504))
            after = response.headers.get("Retry-After", "")
            wait_s = min(float(after), 30.0) if after.isdigit() else BACKOFF_S[min(attempt, RETRIES - 1)]
            busy = response.status_code == 503 and b"UPLOADS_BUSY" in response.content
            within = time.monotonic() - started + wait_s <= BUSY_WAIT_S if busy else attempt < RETRIES
            if not transient or not within:
                break
            time.sleep(wait_s)
            attempt += 1
        if response.status_code not in expect:
            raise RuntimeError(f"{method} {path} → {response.status_code} {response.text[:300]}")
        return response.json()


def buy(base: str, settings: Settings, purchase: Purchase) -> None:
    started = time.monotonic()
    app = MiniApp(base, settings, purchase.telegram_id)
    try:
        catalog = app.call("GET", "/api/v1/catalog")
        style = catalog["styles"][0]["id"]
        avatar = app.call("POST", "/api/v1/avatars", json={"name": f"Демо {purchase.tier}"})
        app.call("POST", "/api/v1/me/privacy")  # the consent the Mini App asks for before the first selfie
        files = [("files", (f"selfie{i}.jpg", selfie(purchase.telegram_id + i), "image/jpeg")) for i in range(6)]
        app.call("POST", f"/api/v1/avatars/{avatar['id']}/references", files=files)
        payment = app.call("POST", "/api/v1/payments", json={"avatar_id": avatar["id"], "style_id": style,
                                                             "tier": purchase.tier, "rail": purchase.rail})
        purchase.status = "paying"
        pay(settings, purchase, payment)
        purchase.stages["paid"] = time.monotonic() - started
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while purchase.job_id is None and time.monotonic() < deadline:
            purchase.job_id = app.call("GET", f"/api/v1/payments/{payment['payment_id']}")["job_id"]
            time.sleep(0.3)
        if purchase.job_id is None:
            raise RuntimeError("the payment never started a job")
        purchase.stages["job_started"] = time.monotonic() - started
        while time.monotonic() < deadline:
            job = app.call("GET", f"/api/v1/generations/{purchase.job_id}")
            progress = job["progress"]
            purchase.status = job["status"]
            purchase.progress = f"{progress['done']}/{progress['total']}"
            if job["status"] == "delivering" and "generated" not in purchase.stages:
                purchase.stages["generated"] = time.monotonic() - started
            if job["status"] in ("delivered", "delivered_partial", "failed"):
                purchase.stages.setdefault("generated", time.monotonic() - started)
                purchase.stages["delivered"] = time.monotonic() - started
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"the job did not finish in {JOB_TIMEOUT_S} s (at {purchase.progress})")
        purchase.gallery_url = app.call("POST", f"/api/v1/generations/{purchase.job_id}/share")["url"]
    except Exception as exc:  # noqa: BLE001 — reported in the summary and the exit code
        purchase.error = str(exc)


def pay(settings: Settings, purchase: Purchase, payment: dict) -> None:
    """Pay as the person would: open the payment page (T-Bank's or the Telegram invoice) and press pay."""
    if purchase.rail == "stars":
        requests.get(payment["invoice_url"], timeout=10).raise_for_status()
        status = SandboxClient.from_settings(settings).telegram.pay_invoice(payment["invoice_url"],
                                                                            user=purchase.telegram_id)
        if status != "paid":
            raise RuntimeError(f"the Stars invoice ended {status}")
        return
    page = requests.get(payment["payment_url"], timeout=10)  # the person opens the payment page ...
    page.raise_for_status()
    requests.post(payment["payment_url"], json={"outcome": "success"}, timeout=10).raise_for_status()  # ... pays


def albums_in_chat(api_base: str, chat_id: int) -> list[int]:
    messages = SandboxClient(telegram=api_base).telegram.messages(chat_id)
    sizes: list[int] = []
    last_group = object()
    for message in messages:
        if not message.get("photos"):
            continue
        group = message.get("media_group_id")
        if group is not None and group == last_group:
            sizes[-1] += 1
        else:
            sizes.append(1)
        last_group = group
    return sizes


def bar(purchase: Purchase, width: int = 23) -> str:
    done = int(purchase.progress.split("/")[0]) if purchase.progress else 0
    filled = round(width * done / purchase.photos)
    progress = purchase.progress or f"0/{purchase.photos}"
    return f"{label(purchase):10}[{'█' * filled}{'·' * (width - filled)}] {progress:>6} {purchase.status}"


def label(purchase: Purchase) -> str:
    return purchase.tier if purchase.rail == "card" else f"{purchase.tier}★"  # ★: one column wide, ⭐ two


def main() -> int:
    env = dict(os.environ)
    env.setdefault("SANDBOX_MODE", "1")  # the fleet runs against the sandbox fakes
    settings = Settings.from_env(env)
    base = f"http://127.0.0.1:{settings.web_port}"
    keep = env.get("KEEP_RUNNING") == "1"
    started = time.monotonic()
    print(f"run: starting the fleet (sandbox, web, worker, scheduler) — logs in {fleet.RUN_DIR}/")
    try:
        fleet.start(env)
        fleet.wait_healthy(base)
        registered = fleet.register_bot(env)
        print(f"run: fleet up in {time.monotonic() - started:.1f} s; buying one album of each tier by card "
              "and one with Telegram Stars")
        print(fleet.dev_login_line(settings.web_port))
        print(f"run: bot registered at Telegram — {'; '.join(registered)}")
        seed = int(time.time()) % 100000 * 10
        purchases = [Purchase(tier, photos, albums, telegram_id=700_000_000 + seed + i, rail=rail)
                     for i, (tier, photos, albums, rail) in enumerate(PURCHASES)]
        threads = [threading.Thread(target=buy, args=(base, settings, p), daemon=True) for p in purchases]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            print("  " + "  |  ".join(bar(p, width=15) for p in purchases), flush=True)
            time.sleep(2)
        for purchase in purchases:
            if not purchase.error:
                purchase.albums = albums_in_chat(settings.telegram_api_base, purchase.telegram_id)
        return summarise(purchases, settings, base, time.monotonic() - started, keep)
    except Exception as exc:  # noqa: BLE001
        print(f"run: FAILED — {exc}")
        return 1
    finally:
        if not keep:
            stopped = fleet.stop()
            print(f"run: stopped {', '.join(stopped)}")
        else:
            print("run: fleet left running (KEEP_RUNNING=1); stop it with `make down`")


def summarise(purchases: list[Purchase], settings: Settings, base: str, elapsed: float, keep: bool) -> int:
    print("\n tier       job  status      photos  albums        paid  started  generated  delivered  gallery")
    failures = []
    for p in purchases:
        s = p.stages
        print(f" {label(p):10} {p.job_id or '-':>4}  {p.status:10} {sum(p.albums):>3}/{p.photos:<3} "
              f"{str(p.albums):13} {s.get('paid', 0):5.1f}s {s.get('job_started', 0):6.1f}s "
              f"{s.get('generated', 0):8.1f}s {s.get('delivered', 0):8.1f}s  {p.gallery_url}")
        if p.error:
            failures.append(f"{label(p)}: {p.error}")
        elif p.status != "delivered" or p.albums != p.albums_expected:
            failures.append(f"{label(p)}: status {p.status}, albums {p.albums} (expected {p.albums_expected})")
    print(f"\n dashboard: {base}/admin?token=<ADMIN_TOKEN>   metrics: {base}/metrics   "
          f"chat records: {SandboxClient.from_settings(settings).telegram.chat_url('<telegram id>')}")
    if failures:
        print("run: FAILED — " + "; ".join(failures))
        return 1
    total = sum(sum(p.albums) for p in purchases)
    by_rail = ", ".join(f"{sum(p.rail == rail for p in purchases)} {name}" for rail, name in RAIL_NAMES.items())
    print(f"run: ok — {len(purchases)} purchases ({by_rail}), {total} photos in "
          f"{sum(len(p.albums) for p in purchases)} albums, {elapsed:.0f} s end to end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
