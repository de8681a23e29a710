"""The fake Telegram's knobs and memory: flood-control buckets, stored files, sent messages, updates, answers.

Everything here is guarded by ``FakeTelegramState.lock``; the Flask views take it around each change so that a
threaded server sees every send admitted, numbered and recorded as one step.
"""

from __future__ import annotations

import hashlib
import math
import random
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.control import FaultRules
from sandbox.knobs import Knobs, knob, rate

# Bot API methods the fake answers (fault rules name these); the bot-settings ones live in bot_setup.
BOT_API_METHODS = ("sendMessage", "sendPhoto", "sendMediaGroup", "sendDocument", "getFile", "getMe",
                   "setWebhook", "deleteWebhook", "getWebhookInfo", "setMyCommands", "getMyCommands",
                   "deleteMyCommands", "setChatMenuButton", "getChatMenuButton", "createInvoiceLink",
                   "answerPreCheckoutQuery", "refundStarPayment", "getStarTransactions")
# Steps of a Stars payment that fault rules may name too (not calls: ``sandbox.telegram.stars`` documents them).
STARS_STEPS = ("pre_checkout_query", "successful_payment")

DEFAULT_BOT_TOKEN = "100000:SANDBOX-bot-token"  # the fleet's default TELEGRAM_BOT_TOKEN; the runner passes the real one
CALL_LOG_SIZE = 5000


@dataclass(frozen=True)
class TelegramFakeConfig(Knobs):
    """The fake's knobs (documented in ``sandbox.telegram.app``); invalid values raise ValueError."""

    PROVIDER = "telegram"

    bot_token: str = knob(DEFAULT_BOT_TOKEN, secret=True)
    bot_username: str = "PinGlassBot"
    chat_rate_per_s: float = knob(1.0, above=0)
    chat_burst: int = knob(20, low=1)
    global_rate_per_s: float = knob(30.0, above=0)
    global_burst: int = knob(30, low=1)
    blocked_chats: tuple[int, ...] = ()
    duplicate_updates: int = knob(0, low=0)
    server_error_rate: float = rate()
    lost_answer_rate: float = rate()
    strict_button_urls: bool = False
    webhook_timeout_ms: int = knob(10_000, low=1)
    pre_checkout_timeout_ms: int = knob(10_000, low=1)
    seed: int | None = None

    def check(self) -> None:
        if not self.bot_token or ":" not in self.bot_token:
            raise ValueError("bot_token must look like '<bot id>:<secret>'")


config_from_env = TelegramFakeConfig.from_env


class TokenBucket:
    """Holds up to ``burst`` sends, refilled at ``rate`` per second; an album may overdraw it."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst, self.tokens, self.updated = rate, burst, float(burst), now

    def wait(self, items: int, now: float) -> float:
        """Seconds until ``items`` sends fit (0 = now). Needing more than the burst waits for a full bucket."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        need = min(items, self.burst)
        return 0.0 if self.tokens >= need else (need - self.tokens) / self.rate

    def spend(self, items: int) -> None:
        self.tokens -= items


@dataclass
class StoredFile:
    """A file the fake holds: what bots uploaded and what users sent (Telegram recompresses; we don't)."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    mime_type: str
    file_name: str | None = None
    width: int | None = None
    height: int | None = None

    def photo_size(self) -> dict[str, Any]:
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id, "width": self.width,
                "height": self.height, "file_size": len(self.data)}

    def file_object(self) -> dict[str, Any]:
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id, "file_size": len(self.data),
                "file_path": self.file_path}


@dataclass
class PreCheckoutWaiter:
    """A pre_checkout_query sent to the bot, waiting for answerPreCheckoutQuery (or the webhook's answer)."""

    event: threading.Event = field(default_factory=threading.Event)
    answer: dict[str, Any] | None = None


class FakeTelegramState:
    """Everything the fake received and did since the last reset."""

    def __init__(self, config: TelegramFakeConfig) -> None:
        self.start_config = config
        self.lock = threading.RLock()
        self.faults = FaultRules(BOT_API_METHODS + STARS_STEPS)
        self.reset()

    def reset(self) -> None:
        """Forget everything recorded; knobs go back to the start config."""
        with self.lock:
            self.config = self.start_config
            self.blocked: set[int] = set(self.config.blocked_chats)
            self.chats: dict[int, list[dict[str, Any]]] = {}
            self.users: dict[int, dict[str, Any]] = {}
            self.files: dict[str, StoredFile] = {}
            self.paths: dict[str, str] = {}
            self.photo_sizes: dict[str, list[dict[str, Any]]] = {}
            self.message_ids: dict[int, int] = {}
            self.rejections: list[dict[str, Any]] = []
            self.errors: list[dict[str, Any]] = []
            self.calls: deque[dict[str, Any]] = deque(maxlen=CALL_LOG_SIZE)
            self.call_counts: Counter[str] = Counter()
            self.webhook: dict[str, Any] | None = None
            self.webhook_last_error: tuple[int, str] | None = None  # (unix time, message), as getWebhookInfo says
            self.commands: dict[str, list[dict[str, str]]] = {}  # by scope and language ("default", "chat:1/ru")
            self.menu_buttons: dict[str, dict[str, Any]] = {}  # "default" (the bot's) or a chat id
            self.updates: list[dict[str, Any]] = []
            self.deliveries: list[dict[str, Any]] = []
            # from the clock, so a restarted fake never repeats an update_id our webhook has already deduplicated
            self.last_update_id = max(getattr(self, "last_update_id", 0), int(time.time() * 1000) % 10**12)
            self.last_group_id = 13_000_000_000_000_000
            # Telegram Stars (sandbox.telegram.stars): invoices by slug, charges by telegram_payment_charge_id,
            # the bot's Star transactions (oldest first; getStarTransactions answers newest first), and the
            # pre-checkout queries waiting for the bot's answer (query id -> waiter)
            self.invoices: dict[str, dict[str, Any]] = {}
            self.charges: dict[str, dict[str, Any]] = {}
            self.star_transactions: list[dict[str, Any]] = []
            self.pre_checkout_waiters: dict[str, PreCheckoutWaiter] = {}
            self.pre_checkout_answers: list[dict[str, Any]] = []
            self._restart_limits()

    def configure(self, changes: Mapping[str, Any]) -> TelegramFakeConfig:
        """Merge knobs; rate changes restart the flood buckets, ``blocked_chats`` replaces the blocked set."""
        with self.lock:
            self.config = self.config.merged(changes)
            if "blocked_chats" in changes:
                self.blocked = set(self.config.blocked_chats)
            if "seed" in changes or any("rate" in k or "burst" in k for k in changes):
                self._restart_limits()
            return self.config

    def _restart_limits(self) -> None:
        self.buckets: dict[int, TokenBucket] = {}
        self.global_bucket = TokenBucket(self.config.global_rate_per_s, self.config.global_burst, time.monotonic())
        self.random = random.Random(self.config.seed)

    # -- chaos ------------------------------------------------------------------------------------------------

    def draw_server_error(self) -> bool:
        """Whether this call answers 500 without doing anything (the ``server_error_rate`` knob)."""
        with self.lock:
            return self.random.random() < self.config.server_error_rate

    def draw_lost_answer(self) -> bool:
        """Whether a send that took effect answers 502 anyway, as when a proxy drops Telegram's answer."""
        with self.lock:
            return self.random.random() < self.config.lost_answer_rate

    # -- sending (call with the lock held) ---------------------------------------------------------------------

    def admit(self, chat_id: int, method: str, items: int) -> tuple[int, str] | None:
        """Spend ``items`` sends for ``chat_id`` or, over a limit, record the 429 and return (retry_after, scope)."""
        now = time.monotonic()
        bucket = self.buckets.get(chat_id)
        if bucket is None:
            bucket = self.buckets[chat_id] = TokenBucket(self.config.chat_rate_per_s, self.config.chat_burst, now)
        chat_wait, global_wait = bucket.wait(items, now), self.global_bucket.wait(items, now)
        if chat_wait > 0 or global_wait > 0:
            retry_after = max(1, math.ceil(max(chat_wait, global_wait)))
            scope = "chat" if chat_wait >= global_wait else "global"
            self.rejections.append({"chat_id": chat_id, "method": method, "items": items, "scope": scope,
                                    "retry_after": retry_after, "at": time.time()})
            return retry_after, scope
        bucket.spend(items)
        self.global_bucket.spend(items)
        return None

    def next_message_id(self, chat_id: int) -> int:
        """Message ids count up per chat, shared by what the bot sends and what the user sends."""
        self.message_ids[chat_id] = self.message_ids.get(chat_id, 0) + 1
        return self.message_ids[chat_id]

    def next_media_group_id(self) -> str:
        self.last_group_id += 1
        return str(self.last_group_id)

    def next_update_id(self) -> int:
        self.last_update_id += 1
        return self.last_update_id

    def store_file(self, data: bytes, *, folder: str, extension: str, mime_type: str, file_name: str | None = None,
                   width: int | None = None, height: int | None = None) -> StoredFile:
        prefix = "AgAC" if folder == "photos" else "BQAC"
        stored = StoredFile(file_id=prefix + secrets.token_urlsafe(24),
                            file_unique_id="AQAD" + hashlib.sha256(data).hexdigest()[:16],
                            file_path=f"{folder}/file_{len(self.files)}{extension}", data=data,
                            mime_type=mime_type, file_name=file_name, width=width, height=height)
        self.files[stored.file_id] = stored
        self.paths[stored.file_path] = stored.file_id
        return stored

    def store_photo(self, data: bytes, width: int, height: int, extension: str,
                    thumb: tuple[bytes, int, int] | None) -> tuple[StoredFile, list[dict[str, Any]]]:
        """Keep a photo and its thumbnail; return the original and the PhotoSize list (largest last)."""
        sizes: list[dict[str, Any]] = []
        if thumb is not None:
            sizes.append(self.store_file(thumb[0], folder="photos", extension=".jpg", mime_type="image/jpeg",
                                         width=thumb[1], height=thumb[2]).photo_size())
        original = self.store_file(data, folder="photos", extension=extension,
                                   mime_type=f"image/{extension.lstrip('.').replace('jpg', 'jpeg')}",
                                   width=width, height=height)
        sizes.append(original.photo_size())
        for size in sizes:
            self.photo_sizes[size["file_id"]] = sizes
        return original, sizes

    def chat_object(self, chat_id: int) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}
        user = self.users.get(chat_id)
        if user:
            chat.update({k: user[k] for k in ("first_name", "last_name", "username") if k in user})
        return chat

    def bot_user(self) -> dict[str, Any]:
        bot_id = self.config.bot_token.split(":", 1)[0]
        return {"id": int(bot_id) if bot_id.isdigit() else 0, "is_bot": True, "first_name": "PinGlass",
                "username": self.config.bot_username}

    def record_message(self, chat_id: int, record: dict[str, Any]) -> None:
        self.chats.setdefault(chat_id, []).append(record)

    def record_call(self, method: str, chat_id: int | None, status: int, description: str | None = None) -> None:
        with self.lock:
            entry = {"method": method, "chat_id": chat_id, "status": status, "at": time.time()}
            self.calls.append(entry)
            self.call_counts[method] += 1
            if status != 200:
                self.errors.append({**entry, "description": description})

    def snapshot(self) -> dict[str, Any]:
        """The whole recorded state as JSON-ready data (file bytes excepted)."""
        with self.lock:
            return {"config": self.config.public_view(), "webhook": self.webhook, "commands": dict(self.commands),
                    "menu_buttons": dict(self.menu_buttons), "blocked_chats": sorted(self.blocked),
                    "chats": {str(chat): list(messages) for chat, messages in self.chats.items()},
                    "rejections": list(self.rejections), "errors": list(self.errors), "calls": list(self.calls),
                    "call_counts": dict(self.call_counts), "updates": list(self.updates),
                    "deliveries": list(self.deliveries), "files": len(self.files),
                    "invoices": [dict(invoice) for invoice in self.invoices.values()],
                    "charges": [dict(charge) for charge in self.charges.values()],
                    "star_transactions": list(self.star_transactions),
                    "pre_checkout_answers": list(self.pre_checkout_answers)}
